"""Installing into a Bitrix24 portal, and recognising who opens the app.

Bitrix24 POSTs the same placement payload to the install page and to the app page: DOMAIN,
PROTOCOL, LANG, APP_SID in the query string, AUTH_ID, REFRESH_ID, member_id, status, PLACEMENT
in the body (https://apidocs.bitrix24.com/settings/oauth/simple-way.html). Nothing in it is
signed, so it is trusted only after app.info, called with its own token, confirms our client
id, the member_id and the domain.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from b24pysdk import BitrixToken
from b24pysdk.credentials import OAuthPlacementData
from b24pysdk.errors import BitrixSDKException
from django.conf import settings
from django.db import transaction

from crmapp.lifecycle import portal_uninstall_confirmed, portal_uninstall_revert
from crmapp.models import Department, Portal
from crmapp.tiers import trial_start_for
from integrations.bitrix24.sdk import bitrix_app, oauth_refresh
from integrations.errors import CrmError, InvalidPayload, ReauthorisationRequired
from integrations.tokens import TokenPair, portal_tokens_store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AppUser:
    """Who opened the app, and what they may see."""

    crm_id: int
    is_admin: bool
    headed_department_ids: tuple[int, ...]


def placement_parse(query: dict, form: dict) -> OAuthPlacementData:
    try:
        return OAuthPlacementData.from_dict(query | form)
    except OAuthPlacementData.ValidationError as error:
        raise InvalidPayload(str(error)) from error


def placement_verify(placement: OAuthPlacementData) -> None:
    """Ask Bitrix24 (app.info with the payload's own token) whether the payload is genuine."""
    try:
        info = placement.get_app_info(bitrix_app())
        placement.validate_against_app_info(info)
    except (BitrixSDKException, OAuthPlacementData.ValidationError) as error:
        raise InvalidPayload(f"Bitrix24 did not confirm this request: {error}") from error
    if info.client_id != settings.BITRIX24_CLIENT_ID:
        raise InvalidPayload("the token belongs to another application")


def _pair(placement: OAuthPlacementData) -> TokenPair:
    token = placement.oauth_token
    return TokenPair(token.access_token, token.refresh_token or "", token.expires)


@transaction.atomic
def portal_install(
    placement: OAuthPlacementData, *, application_token: str, now: datetime
) -> Portal:
    """Create the portal, or bring back an installed or uninstalled one with its data."""
    portal, created = Portal.objects.select_for_update().get_or_create(
        kind=Portal.Kind.BITRIX24,
        member_id=placement.member_id,
        defaults={"key": placement.domain, "domain": placement.domain},
    )
    if created:
        # A CLEAN=1 uninstall deleted the portal, not the record of its first install.
        portal.trial_started_at = trial_start_for(portal.kind, portal.member_id, now=now)
    portal.key = portal.domain = placement.domain
    portal.language = (placement.lang or "ru")[:2]
    portal.client_endpoint = f"https://{placement.domain}/rest/"
    portal.status = Portal.Status.ACTIVE
    portal.uninstalled_at = portal.purge_after = None
    # An admin's confirmed install is a source the CRM vouches for. A reinstall gets a new
    # event secret, which a real install page does not carry (PlacementRequestTest fixture):
    # the old one is dropped so that only ONAPPINSTALL, confirmed by app.info and user.admin,
    # can bring the new one.
    portal.application_token = application_token
    portal.save()
    portal_tokens_store(portal, _pair(placement))
    log.info("%s %s", "installed" if created else "reinstalled", portal)
    return portal


def portal_for_placement(placement: OAuthPlacementData) -> Portal:
    portal = Portal.objects.filter(kind=Portal.Kind.BITRIX24, member_id=placement.member_id).first()
    if portal is None or portal.status == Portal.Status.UNINSTALLED:
        raise Portal.DoesNotExist(f"the app is not installed on {placement.domain}")
    return portal


def app_user(placement: OAuthPlacementData, portal: Portal) -> AppUser:
    """Identify the user through their own token (user.current, user.admin in one batch)."""
    token = BitrixToken(
        domain=placement.domain,
        auth_token=placement.oauth_token.access_token,
        bitrix_app=bitrix_app(),
    )
    try:
        batch = token.call_batch({"me": ("user.current", {}), "admin": ("user.admin", {})})
    except BitrixSDKException as error:
        raise InvalidPayload(f"Bitrix24 did not recognise the user: {error}") from error
    results = batch["result"]["result"]
    if "me" not in results:
        raise InvalidPayload(f"Bitrix24 did not recognise the user: {batch['result']}")
    crm_id = int(results["me"]["ID"])
    headed = Department.objects.for_portal(portal).filter(head__crm_id=crm_id)
    return AppUser(
        crm_id=crm_id,
        is_admin=bool(results.get("admin")),
        headed_department_ids=tuple(headed.values_list("crm_id", flat=True)),
    )


def portal_reauthorise(portal: Portal, placement: OAuthPlacementData, user: AppUser) -> bool:
    """An admin opening the app hands us fresh tokens: use them to leave "needs re-auth"."""
    if portal.status != Portal.Status.NEEDS_REAUTH or not user.is_admin:
        return False
    if not placement.oauth_token.refresh_token:
        return False
    portal_tokens_store(portal, _pair(placement))
    return True


def placement_user_is_admin(placement: OAuthPlacementData) -> bool:
    """user.admin with the payload's own token: whether whoever posted it administers the portal."""
    return access_token_is_admin(placement.domain, placement.oauth_token.access_token)


def access_token_is_admin(domain: str, access_token: str) -> bool:
    token = BitrixToken(domain=domain, auth_token=access_token, bitrix_app=bitrix_app())
    try:
        return bool(token.call_method("user.admin")["result"])
    except BitrixSDKException as error:
        raise InvalidPayload(
            f"Bitrix24 did not say whether the user is an admin: {error}"
        ) from error


def portal_application_token_learn(portal: Portal, user: AppUser, token: str) -> bool:
    """The app page payload carries the application token (simple-way.md), but the browser
    posts it and any employee can change it: it fills a missing secret only when an admin
    opens the app, and never replaces one. A different token is an alert, not an update."""
    if not token or hmac.compare_digest(token, portal.application_token):
        return False
    if portal.application_token:
        log.error(
            "ALERT: app page of %s posted by user %s carries an application token that differs "
            "from the stored one; not updated",
            portal,
            user.crm_id,
        )
        return False
    if not user.is_admin:
        log.warning("application token of %s offered by non-admin %s: ignored", portal, user.crm_id)
        return False
    portal.application_token = token
    portal.save(update_fields=["application_token"])
    log.info("application token of %s learnt from its admin's app page", portal)
    return True


def portal_uninstall_confirm(portal: Portal, *, clean: bool, now: datetime) -> bool:
    """ONAPPUNINSTALL carries no OAuth token, only the event secret (on-app-uninstall.md); the
    CRM has revoked the app's tokens by then. So the uninstall is real only if the OAuth
    server now refuses our refresh token; if it still renews it, the app is installed and
    the event was forged: it is reverted and nothing is deleted. Returns whether confirmed.
    A CRM that cannot answer raises CrmError (retryable); the data meanwhile stays."""
    if not portal.refresh_token:
        # Nothing to ask with: keep the data for the retention period, whatever CLEAN says.
        portal_uninstall_confirmed(portal, purge_after=uninstall_purge_after(now, clean=False))
        return True
    try:
        pair = oauth_refresh(portal.refresh_token)
    except ReauthorisationRequired:
        portal_uninstall_confirmed(portal, purge_after=uninstall_purge_after(now, clean=clean))
        return True
    except BitrixSDKException as error:
        raise CrmError(
            f"Bitrix24 could not confirm the uninstall: {error}", retryable=True
        ) from error
    portal_tokens_store(portal, pair)
    portal_uninstall_revert(portal)
    return False


def uninstall_purge_after(now: datetime, *, clean: bool) -> datetime:
    """When an uninstalled portal's data goes: at once if the admin asked, else after N days."""
    return now if clean else now + timedelta(days=settings.UNINSTALL_RETENTION_DAYS)


def install_event_confirm(portal: Portal, body: str) -> None:
    """ONAPPINSTALL (it may come late): keep its application_token once Bitrix24 confirms,
    through app.info called with the event's own token, that the event is genuine."""
    from integrations.bitrix24.events import bitrix24_event_parse

    parsed = bitrix24_event_parse(body)
    if portal.application_token and hmac.compare_digest(
        portal.application_token, parsed.application_token
    ):
        return
    if not parsed.access_token:
        raise InvalidPayload("ONAPPINSTALL without a token cannot be confirmed")
    try:
        info = bitrix_app().get_app_info(parsed.access_token).result
    except BitrixSDKException as error:
        raise InvalidPayload(f"Bitrix24 did not confirm ONAPPINSTALL: {error}") from error
    if info.client_id != settings.BITRIX24_CLIENT_ID or info.install.member_id != portal.member_id:
        raise InvalidPayload("ONAPPINSTALL belongs to another application or portal")
    # app.info accepts any employee's token of this app; an install is made by an admin.
    if not access_token_is_admin(portal.domain, parsed.access_token):
        log.error("ALERT: ONAPPINSTALL of %s carries a non-admin's token: refused", portal)
        raise InvalidPayload("ONAPPINSTALL was not made by a portal administrator")
    portal.application_token = parsed.application_token
    portal.save(update_fields=["application_token"])
    if parsed.refresh_token:
        portal_tokens_store(portal, TokenPair(parsed.access_token, parsed.refresh_token))
    log.info("application token of %s confirmed by ONAPPINSTALL", portal)
