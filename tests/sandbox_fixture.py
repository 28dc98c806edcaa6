"""Shared pytest fixtures for the sandbox Bitrix24 portal.

- ``sandbox_bitrix24`` (session): small portal, seed 1, free port, served in a thread. Its rate
  limit is relaxed to 1000/200 so a whole suite does not trip QUERY_LIMIT_EXCEEDED; tests of the
  limit set it with ``sandbox.control.rate_limit(...)`` (reset restores the relaxed default).
  REQUESTS_CA_BUNDLE points at the sandbox CA for the session (the SDK calls ``requests`` without
  ``verify``).
- ``sandbox_bitrix24_fresh`` (function): the same sandbox reset first: generated data restored,
  handlers/notifications/event log/faults/knobs cleared, clock offset 0, app.info defaults and a
  new, unfinished installation (``sandbox.info["install"]`` has new tokens).
- ``sandbox_bitrix24_env`` (function): the fresh sandbox plus BITRIX24_CLIENT_ID/SECRET/OAUTH_URL
  in the environment and the SDK's OAuth URLs pointed at the sandbox (restored afterwards).
- ``sandbox_b24_token`` (function): a b24pysdk ``BitrixToken`` of the installing admin.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from integrations.sandbox import Sandbox, start_sandbox

RELAXED_RATE_LIMIT = (1000.0, 200.0)


@pytest.fixture(scope="session")
def sandbox_bitrix24() -> Iterator[Sandbox]:
    """A running small sandbox portal (seed 1) for the whole test session."""
    sandbox = start_sandbox(seed=1, scale="small", rate_limit=RELAXED_RATE_LIMIT)
    previous = os.environ.get("REQUESTS_CA_BUNDLE")
    os.environ["REQUESTS_CA_BUNDLE"] = sandbox.info["ca_bundle"]
    try:
        yield sandbox
    finally:
        if previous is None:
            os.environ.pop("REQUESTS_CA_BUNDLE", None)
        else:
            os.environ["REQUESTS_CA_BUNDLE"] = previous
        sandbox.stop()


@pytest.fixture
def sandbox_bitrix24_fresh(sandbox_bitrix24: Sandbox) -> Sandbox:
    """The session sandbox, reset to its generated state and a fresh installation."""
    sandbox_bitrix24.reset()
    return sandbox_bitrix24


@pytest.fixture
def sandbox_bitrix24_env(
    sandbox_bitrix24_fresh: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> Sandbox:
    """Fresh sandbox with the app's environment and the SDK's OAuth URLs pointing at it."""
    from b24pysdk.api.requesters import BitrixOAuthRequester

    info = sandbox_bitrix24_fresh.info
    monkeypatch.setenv("BITRIX24_CLIENT_ID", info["client_id"])
    monkeypatch.setenv("BITRIX24_CLIENT_SECRET", info["client_secret"])
    monkeypatch.setenv("BITRIX24_OAUTH_URL", info["oauth_url"])
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", info["ca_bundle"])
    monkeypatch.setattr(
        BitrixOAuthRequester, "_OAUTH_TOKEN_URL", f"{info['oauth_url']}/oauth/token/"
    )
    monkeypatch.setattr(
        BitrixOAuthRequester, "_APP_INFO_URL", f"{info['oauth_url']}/rest/app.info/"
    )
    return sandbox_bitrix24_fresh


@pytest.fixture
def sandbox_b24_token(sandbox_bitrix24_env: Sandbox) -> Any:
    """A b24pysdk BitrixToken for the admin who installs the app (refreshes itself)."""
    from b24pysdk import BitrixApp, BitrixToken

    info = sandbox_bitrix24_env.info
    app = BitrixApp(client_id=info["client_id"], client_secret=info["client_secret"])
    return BitrixToken(
        domain=info["domain"],
        auth_token=info["install"]["AUTH_ID"],
        refresh_token=info["install"]["REFRESH_ID"],
        bitrix_app=app,
    )


def sandbox_deal_ids(sandbox: Sandbox, where: str, count: int = 1) -> list[int]:
    """The first `count` generated deals (by id) matching an SQL condition on the sandbox's
    own deals table: tests choose deals by what they need, never by a generated id, since
    the generator lays its portal out from the day it runs."""
    rows = sandbox.portal.store.query(
        f"SELECT ID FROM deals WHERE {where} ORDER BY ID LIMIT ?",  # noqa: S608 - test SQL
        (count,),
    )
    ids = [row[0] for row in rows]
    assert len(ids) == count, f"the sandbox has fewer than {count} deals where {where}"
    return ids
