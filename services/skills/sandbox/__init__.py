"""Sandboxed enterprise systems: stateful simulators with the real APIs' resource models and errors."""
