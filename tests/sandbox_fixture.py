"""Shared sandbox-CRM fixtures."""
