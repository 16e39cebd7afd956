"""The service-desk connector: tickets in from Jira, ServiceNow and Zendesk webhooks; our questions,
resolutions, escalations and splits written back to the requester's ticket."""
