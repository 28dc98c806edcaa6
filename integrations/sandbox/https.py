"""The HTTPS server every sandbox CRM runs on: TLS from a throwaway test CA, the cached generated
business, a control key, and serving in a thread or in the foreground.

A CRM's folder supplies the request handler (its routes) and the services over the store.
"""

from __future__ import annotations

import json
import logging
import secrets
import shutil
import ssl
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import trustme

from .generator import generate
from .store import Store
from .timeutil import default_anchor

log = logging.getLogger(__name__)


class HTTPServer(ThreadingHTTPServer):
    """The listening socket; ``sandbox`` is the :class:`SandboxHTTPS` it serves."""

    daemon_threads = True
    allow_reuse_address = True
    sandbox: Any


class BaseHandler(BaseHTTPRequestHandler, ABC):
    """TLS handshake, verbs and response writing; subclasses define :meth:`route`."""

    server: HTTPServer
    protocol_version = "HTTP/1.1"
    server_version = "nginx"
    sys_version = ""
    allow_headers = "Content-Type, X-Sandbox-Key"
    allow_methods = "GET, POST, DELETE, OPTIONS"

    def setup(self) -> None:
        self.request.settimeout(30)
        try:
            self.request.do_handshake()
        except (ssl.SSLError, OSError):
            self.close_connection = True
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("sandbox %s " + format, self.client_address[0], *args)

    def do_GET(self) -> None:
        self.route("GET")

    def do_POST(self) -> None:
        self.route("POST")

    def do_PATCH(self) -> None:
        self.route("PATCH")

    def do_DELETE(self) -> None:
        self.route("DELETE")

    def do_OPTIONS(self) -> None:
        self._send(204, b"", "text/plain")

    @abstractmethod
    def route(self, verb: str) -> None:
        """Answer one request of ``verb``."""

    def read_body(self) -> bytes:
        """The request body (empty without Content-Length)."""
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Headers", self.allow_headers)
        self.send_header("Access-Control-Allow-Methods", self.allow_methods)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _json(self, status: int, payload: Any, content_type: str = "application/json") -> None:
        body = json.dumps(payload, ensure_ascii=False).encode()
        self._send(status, body, f"{content_type}; charset=utf-8")


class SandboxHTTPS(ABC):
    """One sandbox CRM on ``host:port``: its socket, TLS, working copy of the generated store."""

    handler: ClassVar[type[BaseHandler]]
    #: Names the thread, the temporary directory and the cached base file.
    crm: ClassVar[str]

    def __init__(
        self,
        *,
        seed: int,
        scale: str,
        port: int,
        host: str,
        data_dir: str | Path | None,
        now: float | None,
    ) -> None:
        self.seed = seed
        self.scale = scale
        self.host = host
        self.now = default_anchor() if now is None else now
        self._tmp = tempfile.TemporaryDirectory(prefix=f"sandbox-{self.crm}-")
        self.data_dir = Path(data_dir) if data_dir else Path(self._tmp.name)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.control_key = control_key()
        self._httpd = HTTPServer((host, port), self.handler, bind_and_activate=True)
        self._httpd.sandbox = self
        self.port = self._httpd.server_address[1]
        self.domain = f"{host}:{self.port}"
        self.base_path = self._ensure_base()
        self.work_path = Path(self._tmp.name) / f"{self.crm}.sqlite"
        shutil.copyfile(self.base_path, self.work_path)
        self.store = Store(self.work_path)
        self.ca_bundle = self._tls()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    # --- setup ----------------------------------------------------------------------------------
    def base_name(self) -> str:
        """File name of the cached generated store for this seed, scale and anchor."""
        day = time.strftime("%Y%m%d", time.localtime(self.now))
        return f"{self.crm}-{self.scale}-seed{self.seed}-{day}-{int(self.now)}.sqlite"

    def build(self, store: Store) -> None:
        """Fill a new store: the simulated business (a CRM may render it further)."""
        generate(store, seed=self.seed, scale=self.scale, now=self.now)

    def _ensure_base(self) -> Path:
        base = self.data_dir / self.base_name()
        if base.exists():
            store = Store(base)
            try:
                done = (store.get_meta("generation") or {}).get("complete")
            except Exception:
                done = False
            store.close()
            if done:
                return base
            base.unlink()
        partial = base.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        store = Store(partial)
        self.build(store)
        store.close()
        partial.rename(base)
        return base

    def _tls(self) -> str:
        ca = trustme.CA()
        cert = ca.issue_cert(self.host, "localhost")
        ca_path = Path(self._tmp.name) / "sandbox-ca.pem"
        ca.cert_pem.write_to_path(str(ca_path))
        if self.data_dir != Path(self._tmp.name):
            stable = self.data_dir / f"sandbox-ca-{self.port}.pem"
            ca.cert_pem.write_to_path(str(stable))
            ca_path = stable
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        self._httpd.socket = context.wrap_socket(
            self._httpd.socket, server_side=True, do_handshake_on_connect=False
        )
        return str(ca_path)

    # --- lifecycle ------------------------------------------------------------------------------
    def start(self) -> SandboxHTTPS:
        """Serve in a background thread; returns self."""
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name=f"sandbox-{self.crm}-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until :meth:`stop` (or shutdown) is called."""
        self._httpd.serve_forever()

    @abstractmethod
    def stop_services(self) -> None:
        """Stop the CRM's background workers (event delivery) before the store closes."""

    def stop(self) -> None:
        """Stop serving and delete temporary files."""
        if self._thread is not None:  # shutdown() waits for a serve_forever() that never ran
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        self._httpd.server_close()
        self.stop_services()
        self.store.close()
        self._tmp.cleanup()

    @property
    def url(self) -> str:
        """``https://127.0.0.1:PORT``."""
        return f"https://{self.domain}"

    @property
    @abstractmethod
    def info(self) -> dict[str, Any]:
        """The info JSON ``manage.py sandbox serve`` prints first (DESIGN.md's sandbox contract)."""

    @abstractmethod
    def reset(self) -> dict[str, Any]:
        """Restore the generated data and a fresh installation; returns the new info."""


def control_key() -> str:
    """A fresh random control key."""
    return secrets.token_urlsafe(18)
