"""Bitrix24 opens the app by POSTing the placement payload into the iframe: who is it?"""

from __future__ import annotations

import logging

from django.http import HttpRequest
from django.utils import translation
from django.utils.translation import gettext as _

from crmapp.models import Portal
from integrations.base import RUSSIAN_SPEAKING, AppOpening, AppOpenRefused
from integrations.bitrix24.install import (
    app_user,
    placement_parse,
    placement_verify,
    portal_application_token_learn,
    portal_for_placement,
    portal_reauthorise,
)
from integrations.errors import InvalidPayload

log = logging.getLogger(__name__)


def app_open(request: HttpRequest) -> AppOpening:
    """The placement call, confirmed by Bitrix24 (integrations.base.Crm.app_open)."""
    try:
        placement = placement_parse(request.GET.dict(), request.POST.dict())
    except InvalidPayload as error:
        raise AppOpenRefused(400, _("Malformed request from Bitrix24: %s") % error) from error
    language = "ru" if placement.lang in RUSSIAN_SPEAKING else "en"
    with translation.override(language):
        try:
            portal = portal_for_placement(placement)
        except Portal.DoesNotExist:
            message = _("The application is not installed on this portal.")
            raise AppOpenRefused(404, message, language=language) from None
        try:
            placement_verify(placement)
            user = app_user(placement, portal)
        except InvalidPayload as error:
            log.warning("unconfirmed app open on %s: %s", placement.domain, error)
            message = _("Bitrix24 did not confirm who you are.")
            raise AppOpenRefused(403, message, language=language) from error
    portal_reauthorise(portal, placement, user)
    portal_application_token_learn(portal, user, request.POST.get("APPLICATION_TOKEN", ""))
    role = "admin" if user.is_admin else "head" if user.headed_department_ids else "manager"
    return AppOpening(
        portal=portal,
        user_crm_id=user.crm_id,
        role=role,
        department_ids=user.headed_department_ids,
        language=language,
    )
