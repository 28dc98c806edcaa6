"""Fixtures for the sandbox amoCRM tests.

- ``sandbox_amocrm`` (session): small account, seed 1, rate limit relaxed to 1000/200 so the suite
  does not trip 429 (limit tests set it with the control API; reset restores it).
- ``amocrm`` (function): the same account reset: rendered data restored, fresh install code, no
  hooks, clock offset 0, limits back.
- ``amocrm_api`` (function): an :class:`AmoAPI` holding the installing admin's token pair.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from integrations.sandbox import Sandbox, start_sandbox

from .helpers import AmoAPI, HookReceiver, exchange

RELAXED = (1000.0, 200.0)


@pytest.fixture(scope="session")
def sandbox_amocrm() -> Iterator[Sandbox]:
    sandbox = start_sandbox(crm="amocrm", seed=1, scale="small", rate_limit=RELAXED)
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture
def amocrm(sandbox_amocrm: Sandbox) -> Sandbox:
    sandbox_amocrm.reset()
    return sandbox_amocrm


@pytest.fixture
def amocrm_api(amocrm: Sandbox) -> AmoAPI:
    return AmoAPI(amocrm, exchange(amocrm, amocrm.info["install"]["code"]))


@pytest.fixture
def receiver() -> Iterator[HookReceiver]:
    hooks = HookReceiver()
    try:
        yield hooks
    finally:
        hooks.stop()
