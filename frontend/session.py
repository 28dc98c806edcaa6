"""The app session inside the CRM iframe, without cookies.

Browsers block third-party cookies in iframes, so the page issues a signed, short-lived token
that every HTMX request carries in a header (links that cannot set headers, such as file
downloads, carry it as `?s=`). It names the portal, the user and the role; nothing else is
trusted from the browser.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
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


def session_issue(session: AppSession) -> str:
    return signing.dumps(asdict(session), salt=SALT, compress=True)


def session_read(token: str) -> AppSession:
    """Raises signing.BadSignature (or its SignatureExpired) for anything not ours or too old."""
    data = signing.loads(token, salt=SALT, max_age=MAX_AGE_SECONDS)
    try:
        session = AppSession(**(data | {"department_ids": tuple(data["department_ids"])}))
    except (TypeError, KeyError, ValueError) as error:
        # Signed by us but not a session of this version (a field added or dropped).
        raise signing.BadSignature("not an app session") from error
    if not (isinstance(session.portal_id, int) and isinstance(session.user_crm_id, int)):
        raise signing.BadSignature("not an app session")
    return session


def app_session_required(view):
    """Resolve request.app_session and request.portal from the token, or answer 401."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        token = request.headers.get(HEADER, "")
        if not token and request.method == "GET":
            # Only reads may carry the token in the address (downloads, reloads); a change
            # needs the header, which a cross-site form cannot send.
            token = request.GET.get(QUERY, "")
        try:
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
