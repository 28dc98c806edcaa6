"""The one error type adapters raise: it says whether trying again can help."""

from __future__ import annotations


class CrmError(Exception):
    """A CRM call failed. `retryable` is False when repeating the call cannot succeed."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class ReauthorisationRequired(CrmError):
    """The CRM refused our refresh token: an admin must open or reinstall the app."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


class InvalidPayload(ValueError):
    """A request from a CRM (install, placement, event) is malformed or does not verify."""
