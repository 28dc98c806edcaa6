"""REST and OAuth errors with the codes, texts and HTTP statuses real Bitrix24 uses.

Sources: b24restdocs ``_includes/system-errors.md``, method pages (``crm-deal-get.md``,
``event-bind.md``, ``crm-stage-history-list.md``) and ``settings/oauth/error-codes.md``.
"""

from __future__ import annotations

from ..errors import OAuthError, RestError

__all__ = ["SYSTEM_ERRORS", "OAuthError", "RestError", "crm_error", "invalid_arg", "system_error"]


SYSTEM_ERRORS: dict[str, tuple[int, str]] = {
    "INTERNAL_SERVER_ERROR": (500, "Internal server error"),
    "ERROR_UNEXPECTED_ANSWER": (500, "Server returned an unexpected response"),
    "QUERY_LIMIT_EXCEEDED": (503, "Too many requests"),
    "OVERLOAD_LIMIT": (503, "REST API is blocked due to overload"),
    "OPERATION_TIME_LIMIT": (429, "Method is blocked due to operation time limit"),
    "NO_AUTH_FOUND": (401, "Wrong authorization data"),
    "expired_token": (401, "The access token provided has expired"),
    "invalid_token": (401, "The access token provided is invalid"),
    "insufficient_scope": (
        401,
        "The request requires higher privileges than provided by the access token",
    ),
    "user_access_error": (401, "The user does not have access to the application"),
    "ACCESS_DENIED": (403, "Access denied!"),
    "ERROR_METHOD_NOT_FOUND": (404, "Method not found!"),
    "PORTAL_DELETED": (403, "Portal was deleted"),
}


def system_error(code: str, description: str | None = None) -> RestError:
    """A system error by code with its documented status and text."""
    status, text = SYSTEM_ERRORS[code]
    return RestError(code, description or text, status)


def crm_error(description: str) -> RestError:
    """Errors of the classic ``crm.*`` methods: empty code, text, HTTP 400 (see crm-deal-get.md)."""
    return RestError("", description, 400)


def invalid_arg(description: str) -> RestError:
    """``INVALID_ARG_VALUE`` (400) of the newer CRM API (stage history, categories)."""
    return RestError("INVALID_ARG_VALUE", description, 400)
