"""Sandbox Bitrix24: a faithful fake portal + OAuth server over HTTPS on loopback.

Python API::

    sandbox = start_sandbox(seed=1, scale="small")   # serving in a background thread
    sandbox.info          # info JSON: domain, client_id, client_secret, oauth_url, ca_bundle,
                          #   install, control, portal
    sandbox.url           # https://127.0.0.1:PORT
    sandbox.control       # SandboxControl: change data, install_finish, expire_tokens ...
    sandbox.portal        # in-process access to the portal state (store, tokens, events)
    sandbox.stop()
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .client import SandboxControl
from .ratelimit import parse_rate_limit
from .server import SandboxServer


class Sandbox:
    """A started sandbox: server plus a control client."""

    def __init__(self, server: SandboxServer) -> None:
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
        """The in-process :class:`~.portal.Portal`."""
        return self.server.portal

    def reset(self) -> dict[str, Any]:
        """Restore generated data and a fresh installation."""
        return self.server.reset()

    def stop(self) -> None:
        """Stop the server and delete temporary files."""
        self.server.stop()


def start_sandbox(
    *,
    seed: int = 1,
    scale: str = "small",
    port: int = 0,
    host: str = "127.0.0.1",
    data_dir: str | Path | None = None,
    rate_limit: str | tuple[float, float] = (50.0, 2.0),
    access_lifetime: int = 3600,
    now: float | None = None,
    client_id: str | None = None,
    client_secret: str | None = None,
) -> Sandbox:
    """Generate (or reuse from ``data_dir``) a portal and serve it in a background thread."""
    limits = parse_rate_limit(rate_limit) if isinstance(rate_limit, str) else rate_limit
    server = SandboxServer(
        seed=seed,
        scale=scale,
        port=port,
        host=host,
        data_dir=data_dir,
        rate_limit=limits,
        access_lifetime=access_lifetime,
        now=now,
        client_id=client_id,
        client_secret=client_secret,
    )
    return Sandbox(server.start())


__all__ = ["Sandbox", "SandboxControl", "SandboxServer", "start_sandbox"]
