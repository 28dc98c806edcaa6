"""A plain-HTTP event handler on loopback that records what the sandbox posts to it."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl


class EventReceiver:
    """Collects form-encoded POST bodies as lists of (key, value) pairs."""

    def __init__(self) -> None:
        self.bodies: list[list[tuple[str, str]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                receiver.bodies.append(parse_qsl(body, keep_blank_values=True))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/bitrix24/events/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def events(self, name: str | None = None) -> list[dict[str, str]]:
        """Received bodies as dicts, optionally only those of event ``name``."""
        decoded = [dict(pairs) for pairs in self.bodies]
        return [d for d in decoded if name is None or d.get("event") == name]

    def wait_for(self, count: int, timeout: float = 5.0) -> None:
        """Wait until ``count`` bodies arrived."""
        deadline = time.monotonic() + timeout
        while len(self.bodies) < count and time.monotonic() < deadline:
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop the server."""
        self.server.shutdown()
        self.server.server_close()
