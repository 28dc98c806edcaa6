"""A thin client of one amoCRM account's API v4 (AMOCRM.md §1, §4, §8).

None of the PyPI clients keeps a rotating refresh token safe across workers, so this one is
ours: every request waits for its account's slot (ratelimit), a 401 refreshes the pair once
through the locked service and retries once, 429 postpones the whole account, 402 and a
blocked 403 are stored on the portal (crm_state) and end the call, and every other failure
leaves as a CrmError saying whether a retry can help. 204 is an empty answer.
"""

from __future__ import annotations

from collections.abc import Iterator

import requests
from django.utils import timezone

from crmapp.models import Portal
from integrations.amocrm import oauth, ratelimit
from integrations.crm_state import (
    portal_crm_state_clear,
    portal_crm_state_mark,
    portal_crm_state_waiting,
)
from integrations.errors import CrmError, ReauthorisationRequired
from integrations.tokens import portal_tokens_refresh

Params = dict | list[tuple[str, object]] | None
TIMEOUT = 30
# How many 429s in a row one call sits out (each waits its retry_after, within WAIT_LIMIT).
TOO_MANY_RETRIES = 3


class Forbidden(CrmError):
    """The token's user may not do this (a JSON 403: rights or scope, not a blocked account)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


class AmoClient:
    """One account's API, as one portal's stored tokens reach it."""

    def __init__(self, portal: Portal) -> None:
        self.portal = portal
        self.domain = portal.domain
        self.account = portal.member_id or portal.domain
        self._access_token = portal.access_token

    @classmethod
    def for_access_token(cls, domain: str, access_token: str) -> AmoClient:
        """A client for a token just bought (install time): no portal yet, no refresh."""
        client = cls.__new__(cls)
        client.portal, client.domain, client.account = None, domain, domain
        client._access_token = access_token
        return client

    # -- verbs ------------------------------------------------------------------------------

    def get(self, path: str, params: Params = None) -> dict | None:
        return self._call("GET", path, params=params)

    def post(self, path: str, json: object) -> dict | None:
        return self._call("POST", path, json=json)

    def delete(self, path: str, json: object | None = None) -> None:
        self._call("DELETE", path, json=json)

    def pages(
        self, path: str, params: Params, embedded: str, *, limit: int = 250
    ) -> Iterator[dict]:
        """Every item of a list, page after page while `_links.next` says there is more."""
        base = list(params.items()) if isinstance(params, dict) else list(params or [])
        page = 1
        while True:
            body = self.get(path, [*base, ("limit", limit), ("page", page)])
            if body is None:
                return
            yield from (body.get("_embedded") or {}).get(embedded) or []
            if "next" not in (body.get("_links") or {}):
                return
            page += 1

    # -- plumbing ---------------------------------------------------------------------------

    def _call(self, verb: str, path: str, **request) -> dict | None:
        if self.portal is not None and portal_crm_state_waiting(self.portal, now=timezone.now()):
            state = Portal.CrmState(self.portal.crm_state).label
            raise CrmError(f"amoCRM: {state}; the next try is within the hour", retryable=False)
        refreshed, limited = False, 0
        while True:
            response = self._send(verb, path, **request)
            status = response.status_code
            if status == 401 and self.portal is not None and not refreshed:
                self._refresh()
                refreshed = True
                continue
            if status == 429 and limited < TOO_MANY_RETRIES:
                ratelimit.requests_postpone(self.account, _retry_after(response))
                limited += 1
                continue
            return self._answer(response)

    def _send(self, verb: str, path: str, **request) -> requests.Response:
        ratelimit.request_slot_wait(self.account)
        try:
            return requests.request(
                verb,
                f"https://{self.domain}{path}",
                headers={"Authorization": f"Bearer {self._access_token}"},
                timeout=TIMEOUT,
                **request,
            )
        except requests.RequestException as error:
            raise CrmError(f"amoCRM is unreachable: {error}", retryable=True) from error

    def _refresh(self) -> None:
        pair = portal_tokens_refresh(
            self.portal.pk,
            failed_access_token=self._access_token,
            refresh=oauth.tokens_refresher(self.domain),
        )
        self._access_token = pair.access_token

    def _answer(self, response: requests.Response) -> dict | None:
        status = response.status_code
        if status < 300:
            if self.portal is not None:
                portal_crm_state_clear(self.portal)
            return None if status == 204 or not response.content else response.json()
        detail = _detail(response)
        if status == 401:
            if self.portal is not None:
                # A fresh pair refused too: the integration was switched off in the account.
                Portal.objects.filter(pk=self.portal.pk).update(status=Portal.Status.NEEDS_REAUTH)
            raise ReauthorisationRequired(f"amoCRM refused our access: {detail}")
        if status == 402 or (status == 403 and not _is_json(response)):
            state = Portal.CrmState.UNPAID if status == 402 else Portal.CrmState.BLOCKED
            if self.portal is not None:
                portal_crm_state_mark(self.portal, state, now=timezone.now())
            raise CrmError(f"amoCRM: {state.label} ({status})", retryable=False)
        if status == 403:
            raise Forbidden(f"amoCRM refused: {detail}")
        if status == 429:
            raise CrmError(f"amoCRM: too many requests: {detail}", retryable=True)
        raise CrmError(f"amoCRM answered {status}: {detail}", retryable=status >= 500)


def _is_json(response: requests.Response) -> bool:
    return "json" in response.headers.get("Content-Type", "")


def _detail(response: requests.Response) -> str:
    if not _is_json(response):
        return response.text[:200]
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("title") or body)[:500]
    return str(body)[:500]


def _retry_after(response: requests.Response) -> float:
    """amoCRM's `retry_after` (JSON body, or the header; a non-JSON 429 has neither: 1 s)."""
    try:
        seconds = float(response.json().get("retry_after"))
    except (ValueError, TypeError, AttributeError):
        try:
            seconds = float(response.headers.get("Retry-After", 1))
        except ValueError:
            seconds = 1.0
    return max(seconds, 1.0)
