"""Billing: counts every token against its team and coworker, per day."""
