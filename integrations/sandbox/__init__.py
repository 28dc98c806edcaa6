"""Sandbox CRMs: faithful fakes of Bitrix24 and amoCRM over HTTPS on loopback, for tests, the demo
and benchmarks. One simulated sales team (``generator``) feeds both; each CRM's folder renders it
into that CRM's shapes and serves its API.

Layout: shared parts here (``https`` server and TLS, ``store``, ``oauth`` tokens, ``ratelimit``,
``timeutil`` clock, ``generator``/``reference``/``schema`` simulation, ``client`` control client);
``bitrix24/`` and ``amocrm/`` hold each CRM's routes, shapes and event delivery. ``SERVERS`` is the
one line a new CRM adds.

Python API::

    sandbox = start_sandbox(seed=1, scale="small")   # serving in a background thread
    sandbox.info          # the info JSON `manage.py sandbox serve` prints
    sandbox.url           # https://127.0.0.1:PORT
    sandbox.control       # SandboxControl: change data, install_finish, expire_tokens ...
    sandbox.portal        # in-process access to the portal/account state (store, tokens, events)
    sandbox.stop()
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import Any

from .client import SandboxControl
from .https import SandboxHTTPS
from .ratelimit import parse_rate_limit

#: CRM kind → dotted path of its server class (imported only when started).
SERVERS = {
    "bitrix24": "integrations.sandbox.bitrix24.server.SandboxServer",
    "amocrm": "integrations.sandbox.amocrm.server.AmoCRMServer",
}


class Sandbox:
    """A started sandbox: server plus a control client."""

    def __init__(self, server: SandboxHTTPS) -> None:
        self.server = server
        self.control = SandboxControl(server.info)

    @property
    def info(self) -> dict[str, Any]:
        """Current info JSON (the install form changes after reset/reinstall)."""
        return self.server.info

    @property
    def url(self) -> str:
        """``https://127.0.0.1:PORT``."""
        return self.server.url

    @property
    def portal(self) -> Any:
        """The in-process portal (Bitrix24) or account (amoCRM) state."""
        return self.server.portal

    def reset(self) -> dict[str, Any]:
        """Restore generated data and a fresh installation."""
        return self.server.reset()

    def stop(self) -> None:
        """Stop the server and delete temporary files."""
        self.server.stop()


def server_class(crm: str) -> type[SandboxHTTPS]:
    """The server class of a CRM kind (``ValueError`` for an unknown one)."""
    try:
        dotted = SERVERS[crm]
    except KeyError as error:
        raise ValueError(f"unknown sandbox CRM {crm!r}; known: {', '.join(SERVERS)}") from error
    module, name = dotted.rsplit(".", 1)
    return getattr(import_module(module), name)


def start_sandbox(
    *,
    crm: str = "bitrix24",
    seed: int = 1,
    scale: str = "small",
    port: int = 0,
    host: str = "127.0.0.1",
    data_dir: str | Path | None = None,
    rate_limit: str | tuple[float, float] | None = None,
    now: float | None = None,
    **options: Any,
) -> Sandbox:
    """Generate (or reuse from ``data_dir``) a CRM's data and serve it in a background thread.

    ``rate_limit`` (``"X/Y"`` or a tuple) and ``options`` (``access_lifetime``, ``client_id``,
    ``client_secret``, and amoCRM's ``redirect_uri``) default to the CRM's own values.
    """
    if isinstance(rate_limit, str):
        options["rate_limit"] = parse_rate_limit(rate_limit)
    elif rate_limit is not None:
        options["rate_limit"] = rate_limit
    server = server_class(crm)(
        seed=seed, scale=scale, port=port, host=host, data_dir=data_dir, now=now, **options
    )
    return Sandbox(server.start())


__all__ = ["SERVERS", "Sandbox", "SandboxControl", "start_sandbox"]
