"""Sandbox amoCRM: the simulated business rendered into an amoCRM account, with API v4, OAuth 2,
webhooks and amoCRM's limits (facts: ../shared/crm/AMOCRM.md)."""
