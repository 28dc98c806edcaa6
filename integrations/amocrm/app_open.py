"""Opening the app inside amoCRM: the widget's one-time JWT, then the framed page.

The widget (integrations/amocrm/widget/script.js) calls `$authorizedAjax` → POST
/amocrm/app/session/, which carries amoCRM's one-time JWT in X-Auth-Token (HS256 with our
client secret, 30 minutes; AMOCRM.md §6.1). We verify it as amoCRM's own SDK does (signature,
audience, time) and more (our client, a known account, a user), read that user's rights with
the account's token, and answer the address of our page with a one-minute, one-use opening
token. The widget frames that address: GET /amocrm/app/?open=… is Crm.app_open.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import jwt
from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.http import HttpRequest
from django.utils.translation import gettext as _

from crmapp.models import Portal
from integrations.amocrm.client import AmoClient
from integrations.base import RUSSIAN_SPEAKING, AppOpening, AppOpenRefused
from integrations.errors import CrmError

log = logging.getLogger(__name__)
OPENING_SALT = "amocrm.app-open"
OPENING_SECONDS = 60
LEEWAY_SECONDS = 30
WIDGET_TOKEN_SECONDS = 1800 + 2 * LEEWAY_SECONDS
RIGHTS_REMEMBERED_SECONDS = 30 * 86400


class WidgetTokenRefused(Exception):
    """The widget's JWT does not verify: the status (401 not ours, 403 not installed) and
    the sentence to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass(frozen=True)
class Viewer:
    """Who the widget says opens the app, and what amoCRM's rights let him see."""

    user_crm_id: int
    role: str  # admin | head | manager
    department_ids: tuple[int, ...]
    language: str


def _audience() -> str:
    parts = urlsplit(settings.AMOCRM_REDIRECT_URI)
    return f"{parts.scheme}://{parts.netloc}"


def widget_token_verify(token: str) -> tuple[Portal, int]:
    """The installed portal and the user a widget JWT vouches for (WidgetTokenRefused)."""
    if not token:
        raise WidgetTokenRefused(401, _("The request carries no amoCRM token."))
    try:
        claims = jwt.decode(
            token,
            settings.AMOCRM_CLIENT_SECRET,
            algorithms=["HS256"],
            audience=_audience(),
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "aud", "account_id", "user_id"]},
        )
    except jwt.InvalidTokenError as error:
        log.warning("amoCRM widget token refused: %s", error)
        raise WidgetTokenRefused(401, _("amoCRM did not confirm who you are.")) from error
    if claims.get("client_uuid") not in (None, settings.AMOCRM_CLIENT_ID):
        raise WidgetTokenRefused(401, _("amoCRM did not confirm who you are."))
    portal = Portal.objects.filter(
        kind=Portal.Kind.AMOCRM, member_id=str(claims["account_id"])
    ).first()
    if portal is None or portal.status == Portal.Status.UNINSTALLED:
        raise WidgetTokenRefused(403, _("The application is not installed in this account."))
    try:
        return portal, int(claims["user_id"])
    except (TypeError, ValueError) as error:
        raise WidgetTokenRefused(401, _("amoCRM did not confirm who you are.")) from error


def viewer_read(portal: Portal, user_crm_id: int) -> Viewer:
    """The user's role from his amoCRM rights: an administrator, or lead view right "A", sees
    everything; "G" his group as its head; "M" (or anything else) only himself."""
    user = AmoClient(portal).get(f"/api/v4/users/{user_crm_id}") or {}
    rights = user.get("rights") or {}
    if not user or not rights.get("is_active", True):
        raise WidgetTokenRefused(403, _("This amoCRM user cannot open the application."))
    view = (rights.get("leads") or {}).get("view")
    if rights.get("is_admin") or view == "A":
        role, departments = "admin", ()
    elif view == "G":
        role, departments = "head", (int(rights.get("group_id") or 0),)
    else:
        role, departments = "manager", ()
    language = "ru" if str(user.get("lang") or "ru")[:2] in RUSSIAN_SPEAKING else "en"
    return Viewer(user_crm_id, role, departments, language)


def opening_url(portal: Portal, viewer: Viewer, *, jti: str) -> str:
    """Our page's address for this opening, valid for a minute and once."""
    token = signing.dumps(
        {
            "portal": portal.pk,
            "user": viewer.user_crm_id,
            "role": viewer.role,
            "departments": list(viewer.department_ids),
            "language": viewer.language,
            "jti": jti,
        },
        salt=OPENING_SALT,
        compress=True,
    )
    return f"{settings.PUBLIC_URL}/amocrm/app/?{urlencode({'open': token})}"


def app_open(request: HttpRequest) -> AppOpening:
    """GET /amocrm/app/?open=… (integrations.base.Crm.app_open)."""
    try:
        data = signing.loads(
            request.GET.get("open", ""), salt=OPENING_SALT, max_age=OPENING_SECONDS
        )
    except signing.BadSignature as error:
        message = _("This link to the application has expired; open it again from amoCRM.")
        raise AppOpenRefused(403, message) from error
    # One use: a link copied out of the frame does not open the app a second time.
    if not cache.add(f"amocrm:opened:{data['jti']}", 1, timeout=OPENING_SECONDS * 2):
        message = _("This link to the application has expired; open it again from amoCRM.")
        raise AppOpenRefused(403, message, language=data["language"])
    portal = Portal.objects.filter(pk=data["portal"], kind=Portal.Kind.AMOCRM).first()
    if portal is None or portal.status == Portal.Status.UNINSTALLED:
        message = _("The application is not installed in this account.")
        raise AppOpenRefused(404, message, language=data["language"])
    return AppOpening(
        portal=portal,
        user_crm_id=int(data["user"]),
        role=data["role"],
        department_ids=tuple(int(d) for d in data["departments"]),
        language=data["language"],
    )


def session_open(token: str) -> tuple[Portal, str]:
    """The widget's call: its JWT verified, the user's rights read, our page's address."""
    portal, user_crm_id = widget_token_verify(token)
    jti = str(jwt.decode(token, options={"verify_signature": False}).get("jti") or token)
    # One use: a token read off the wire does not open a second session.
    if not cache.add(f"amocrm:widget-token:{jti}", 1, timeout=WIDGET_TOKEN_SECONDS):
        raise WidgetTokenRefused(401, _("This amoCRM token was already used."))
    remembered = f"amocrm:rights:{portal.pk}:{user_crm_id}"
    try:
        viewer = viewer_read(portal, user_crm_id)
    except CrmError as error:
        log.warning("rights of user %s on %s not read: %s", user_crm_id, portal, error)
        # An account amoCRM holds as unpaid or blocked answers nothing for hours; its users
        # still open the page (with its banner saying so) with the rights last read.
        viewer = cache.get(remembered) if portal.crm_state else None
        if viewer is None:
            message = _("amoCRM did not answer; please try again.")
            raise WidgetTokenRefused(503, message) from error
    else:
        cache.set(remembered, viewer, timeout=RIGHTS_REMEMBERED_SECONDS)
    return portal, opening_url(portal, viewer, jti=uuid.uuid4().hex)
