"""amoCRM's error answers: ``application/problem+json`` bodies with its titles and texts, the
OAuth endpoint's own body, and nginx's HTML page for a blocked account (AMOCRM.md §4)."""

from __future__ import annotations

from typing import Any

TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
}

BLOCKED_HTML = (
    b"<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n"
    b"<center><h1>403 Forbidden</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
#: A 429 as amoCRM.ru sometimes sends it: not JSON (PHPLIB expects both).
TOO_MANY_TEXT = b"Too Many Requests"


class ApiError(Exception):
    """An API v4 error: HTTP status and its problem+json body."""

    def __init__(self, status: int, detail: str, **extra: Any) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail
        self.extra = extra

    def body(self) -> dict[str, Any]:
        """The problem+json body."""
        return {
            **self.extra,
            "title": TITLES.get(self.status, "Error"),
            "type": f"https://httpstatus.es/{self.status}",
            "status": self.status,
            "detail": self.detail,
        }


def validation(errors: list[tuple[str, str, str, str]]) -> ApiError:
    """400 "Request validation failed" with ``(request_id, code, path, detail)`` entries."""
    grouped: dict[str, list[dict[str, str]]] = {}
    for request_id, code, path, detail in errors:
        grouped.setdefault(request_id, []).append({"code": code, "path": path, "detail": detail})
    return ApiError(
        400,
        "Request validation failed",
        **{
            "validation-errors": [
                {"request_id": rid, "errors": items} for rid, items in grouped.items()
            ]
        },
    )


def unauthorized() -> ApiError:
    """401 for a missing, unknown, expired or revoked access token (real capture's text)."""
    return ApiError(401, "Неверный логин или пароль")


def oauth_error(hint: str) -> dict[str, Any]:
    """The OAuth endpoint's 4xx body (``amocrm_oauth_error_token_revoked_real.json``)."""
    return {
        "hint": hint,
        "title": "Некорректный запрос",
        "type": "https://developers.amocrm.ru/v3/errors/OAuthProblemJson",
        "status": 401 if hint == "Token has been revoked" else 400,
        "detail": "В запросе отсутствует ряд параметров или параметры невалидны",
    }
