"""Governance: records every event exactly once in an append-only audit trail."""
