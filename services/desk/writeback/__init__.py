"""The write-back: our ``ticket.question``, ``ticket.resolved``, ``ticket.escalated`` and
``ticket.split`` on the requester's own ticket in Jira, ServiceNow or Zendesk. ``plan`` says what to
do (pure), ``notes`` what the people there read (pure), the vendor clients how, and ``run`` does it
exactly once per step despite crashes and redeliveries."""


class NotConfigured(Exception):
    """The write-back cannot be made as configured (no URL, no credential, no such transition):
    a permanent failure that names what is missing, never retried."""
