"""The app session inside the CRM iframe, without cookies.

Browsers block third-party cookies in iframes, so the page issues a signed, short-lived token
that every HTMX request carries in a header (links that cannot set headers carry it as
`?s=`). It names the portal, the user and the role; nothing else is trusted from the browser.
Each answer renews the token for MAX_AGE_SECONDS of inactivity, but never past
ABSOLUTE_SECONDS from the app's opening: then the user reopens the app in the CRM, which
checks his role again (user.admin, departments). Downloads get their own token, valid for one
address and a few minutes, so the session does not end up in access logs.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from functools import wraps

from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.translation import gettext

from crmapp.models import Portal

SALT = "frontend.app-session"
HEADER = "X-App-Session"
QUERY = "s"
MAX_AGE_SECONDS = 2 * 3600
ABSOLUTE_SECONDS = 10 * 3600
DOWNLOAD_SALT = "frontend.download"
DOWNLOAD_QUERY = "d"
DOWNLOAD_MAX_AGE_SECONDS = 15 * 60


class Role:
    ADMIN = "admin"
    HEAD = "head"
    MANAGER = "manager"


@dataclass(frozen=True)
class AppSession:
    portal_id: int
    user_crm_id: int
    role: str
    department_ids: tuple[int, ...] = ()
    language: str = "ru"
    # When the app was opened from the CRM (unix seconds); renewals keep it.
    started_at: int = field(default_factory=lambda: int(time.time()))


def session_issue(session: AppSession) -> str:
    return signing.dumps(asdict(session), salt=SALT, compress=True)


def session_read(token: str) -> AppSession:
    """Raises signing.BadSignature (or its SignatureExpired) for anything not ours or too old."""
    session = _session_from(signing.loads(token, salt=SALT, max_age=MAX_AGE_SECONDS))
    if time.time() - session.started_at > ABSOLUTE_SECONDS:
        raise signing.SignatureExpired("the session has reached its absolute lifetime")
    return session


def download_token_issue(session: AppSession, path: str) -> str:
    """A token that opens `path` (a file download) only, for a few minutes."""
    return signing.dumps({"session": asdict(session), "path": path}, salt=DOWNLOAD_SALT)


def download_token_read(token: str, path: str) -> AppSession:
    data = signing.loads(token, salt=DOWNLOAD_SALT, max_age=DOWNLOAD_MAX_AGE_SECONDS)
    if not isinstance(data, dict) or data.get("path") != path:
        raise signing.BadSignature("this download token is for another address")
    session = _session_from(data.get("session"))
    if time.time() - session.started_at > ABSOLUTE_SECONDS:
        raise signing.SignatureExpired("the session has reached its absolute lifetime")
    return session


def _session_from(data) -> AppSession:
    try:
        session = AppSession(**(data | {"department_ids": tuple(data["department_ids"])}))
    except (TypeError, KeyError, ValueError) as error:
        # Signed by us but not a session of this version (a field added or dropped).
        raise signing.BadSignature("not an app session") from error
    fields = (session.portal_id, session.user_crm_id, session.started_at)
    if not all(isinstance(value, int) for value in fields):
        raise signing.BadSignature("not an app session")
    return session


def app_session_required(view):
    """Resolve request.app_session and request.portal from the token, or answer 401."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        token = request.headers.get(HEADER, "")
        download = "" if token or request.method != "GET" else request.GET.get(DOWNLOAD_QUERY)
        if not token and request.method == "GET":
            # Only reads may carry the token in the address (links, reloads); a change
            # needs the header, which a cross-site form cannot send.
            token = request.GET.get(QUERY, "")
        try:
            if download:
                session = download_token_read(download, request.path)
            else:
                session = session_read(token)
            portal = Portal.objects.get(pk=session.portal_id, status__in=_OPEN_STATUSES)
        except (signing.BadSignature, Portal.DoesNotExist):
            return HttpResponse(
                gettext("Your session has expired: reopen the application in the CRM."),
                status=401,
                content_type="text/plain; charset=utf-8",
            )
        request.app_session, request.portal = session, portal
        request.app_session_token = session_issue(session)
        with translation.override(session.language):
            return view(request, *args, **kwargs)

    return wrapped


_OPEN_STATUSES = (Portal.Status.ACTIVE, Portal.Status.NEEDS_REAUTH)
