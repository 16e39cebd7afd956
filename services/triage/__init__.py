"""Triage: classifies each new ticket and routes it to a coworker's skill, or escalates it to a human."""
