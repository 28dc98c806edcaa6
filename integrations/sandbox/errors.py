"""Errors every sandbox CRM answers with: a JSON error body with an HTTP status.

Each CRM's folder builds its own codes and texts on these (``bitrix24/errors.py``,
``amocrm/errors.py``).
"""

from __future__ import annotations

from typing import Any


class RestError(Exception):
    """An error answered as ``{"error": code, "error_description": text}`` with ``status``."""

    def __init__(self, code: str, description: str, status: int = 400) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description
        self.status = status

    def body(self) -> dict[str, Any]:
        """JSON body of the error response."""
        return {"error": self.code, "error_description": self.description}


class OAuthError(RestError):
    """An OAuth server error: ``{"error", "error_description"}`` with an HTTP status."""
