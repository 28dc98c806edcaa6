"""Installing into an amoCRM account: the marketplace's redirect to our OAuth callback.

amoCRM sends the admin's browser to our redirect URI with `code`, `referer` (the account's
host) and `from_widget`. Nothing in that request is signed, so nothing is trusted until the
account itself has confirmed it: the referer must be an amoCRM host (our client secret goes
only there), the code must buy a token pair there, the pair must be ours and of the account
that answers at the referer, and the installing user must be that account's administrator.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import jwt
from django.conf import settings
from django.db import transaction

from crmapp.models import Portal
from crmapp.tiers import trial_start_for
from integrations.amocrm import oauth
from integrations.amocrm.client import AmoClient, Forbidden
from integrations.errors import CrmError, InvalidPayload
from integrations.tokens import TokenPair, portal_tokens_store

log = logging.getLogger(__name__)
# What amoCRM tells us of a lead, its tasks and its notes (AMOCRM.md §5).
WEBHOOK_SETTINGS = [
    "add_lead", "update_lead", "delete_lead", "restore_lead", "status_lead", "responsible_lead",
    "add_task", "update_task", "delete_task", "note_lead",
]  # fmt: skip


class NotAdministrator(Exception):
    """The user granting access is not the account's administrator."""


@dataclass(frozen=True)
class Installation:
    """An install the account has confirmed: where it lives, who it is, the pair it gave."""

    domain: str
    account_id: int
    subdomain: str
    language: str
    time_zone: str
    currency: str
    pair: TokenPair


def referer_check(referer: str) -> str:
    """The account's host, if it is one of amoCRM's (InvalidPayload otherwise)."""
    host = referer.strip().lower()
    if not host or "/" in host or "@" in host or urlsplit(f"//{host}").netloc != host:
        raise InvalidPayload(f"not an account address: {referer!r}")
    allowed = settings.AMOCRM_ACCOUNT_HOSTS
    if not any(host == suffix or host.endswith(f".{suffix}") for suffix in allowed):
        raise InvalidPayload(f"{host} is not an amoCRM account")
    return host


def installation_confirm(code: str, referer: str) -> Installation:
    """Buy the pair and have the account vouch for it (InvalidPayload when it does not)."""
    if not code:
        raise InvalidPayload("the authorization code is missing")
    domain = referer_check(referer)
    pair = oauth.code_exchange(domain, code)
    claims = _token_claims(pair.access_token)
    if claims.get("aud") not in (None, settings.AMOCRM_CLIENT_ID):
        raise InvalidPayload("the access token belongs to another integration")
    client = AmoClient.for_access_token(domain, pair.access_token)
    account = client.get("/api/v4/account", {"with": "datetime_settings"}) or {}
    self_host = urlsplit(((account.get("_links") or {}).get("self") or {}).get("href", "")).netloc
    if not account.get("id") or self_host.lower() != domain:
        raise InvalidPayload(f"the account at {domain} does not confirm this install")
    if "account_id" in claims and int(claims["account_id"]) != int(account["id"]):
        raise InvalidPayload("the access token is another account's")
    try:
        # Only an administrator may read users (a JSON 403 for anyone else).
        user = client.get(f"/api/v4/users/{int(account['current_user_id'])}") or {}
    except Forbidden:
        user = {}
    if not (user.get("rights") or {}).get("is_admin"):
        raise NotAdministrator(f"user {account['current_user_id']} is not an administrator")
    zone = ((account.get("_embedded") or {}).get("datetime_settings") or {}).get("timezone")
    return Installation(
        domain=domain,
        account_id=int(account["id"]),
        subdomain=str(account.get("subdomain") or domain.split(".")[0]),
        language=str(user.get("lang") or "ru")[:2],
        time_zone=zone or "Europe/Moscow",
        currency=str(account.get("currency") or "RUB")[:3],
        pair=pair,
    )


def _token_claims(access_token: str) -> dict:
    # amoCRM signs its access tokens with a key of its own: the claims are read, not checked;
    # the account's API, which does check the token, confirms them.
    try:
        return jwt.decode(access_token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        return {}


@transaction.atomic
def portal_install(installation: Installation, *, now: datetime) -> Portal:
    """Create the portal, or bring back an installed or uninstalled one with its data."""
    portal, created = Portal.objects.select_for_update().get_or_create(
        kind=Portal.Kind.AMOCRM,
        member_id=str(installation.account_id),
        defaults={"key": installation.subdomain, "domain": installation.domain},
    )
    if created:
        portal.trial_started_at = trial_start_for(portal.kind, portal.member_id, now=now)
        portal.time_zone = installation.time_zone
        portal.currency = installation.currency
    portal.key, portal.domain = installation.subdomain, installation.domain
    portal.client_endpoint = f"https://{installation.domain}/api/v4/"
    portal.language = installation.language
    portal.status = Portal.Status.ACTIVE
    portal.crm_state, portal.crm_state_at = Portal.CrmState.OK, None
    portal.uninstalled_at = portal.purge_after = None
    # The secret in our webhook's address (amoCRM signs no hook); a reinstall keeps it, so
    # hooks already on their way still verify.
    portal.application_token = portal.application_token or secrets.token_urlsafe(32)
    portal.save()
    portal_tokens_store(portal, installation.pair)
    log.info("%s %s", "installed" if created else "reinstalled", portal)
    return portal


def webhook_url(portal: Portal) -> str:
    return f"{settings.PUBLIC_URL}/amocrm/webhooks/{portal.application_token}/"


def webhook_subscribe(client: AmoClient, portal: Portal) -> None:
    """Ask the account to send us its lead, task and note changes (an upsert by address)."""
    body = {"destination": webhook_url(portal), "settings": WEBHOOK_SETTINGS, "sort": 10}
    try:
        client.post("/api/v4/webhooks", body)
    except CrmError as error:
        message = f"subscribing our webhook failed: {error}"
        raise CrmError(message, retryable=error.retryable) from error
