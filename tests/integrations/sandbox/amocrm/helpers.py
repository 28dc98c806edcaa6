"""Plain-HTTP helpers for the sandbox amoCRM tests: API calls with a bearer token, the OAuth code
exchange, and a hook receiver whose replies a test chooses."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests

from integrations.sandbox import Sandbox


class AmoAPI:
    """Plain-HTTP calls to the account's API v4 with a bearer token."""

    def __init__(self, sandbox: Sandbox, token: dict[str, Any]) -> None:
        self.sandbox = sandbox
        self.token = token
        self.verify = sandbox.info["ca_bundle"]

    def call(self, verb: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token['access_token']}"}
        headers |= kwargs.pop("headers", {})
        return requests.request(
            verb, f"{self.sandbox.url}/api/v4/{path}", headers=headers, verify=self.verify,
            timeout=30, **kwargs,
        )  # fmt: skip

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("GET", path, **kwargs)

    def all(self, path: str, key: str, params: dict[str, Any] | None = None) -> list[dict]:
        """Every item of a list, following ``_links.next`` until 204 or no next."""
        items: list[dict] = []
        url: str | None = f"{self.sandbox.url}/api/v4/{path}"
        query = params
        while url:
            response = requests.get(
                url, params=query, verify=self.verify, timeout=30,
                headers={"Authorization": f"Bearer {self.token['access_token']}"},
            )  # fmt: skip
            if response.status_code == 204:
                break
            assert response.status_code == 200, response.text
            body = response.json()
            items += body["_embedded"][key]
            url = body["_links"].get("next", {}).get("href")
            query = None
        return items


def exchange(sandbox: Sandbox, code: str) -> dict[str, Any]:
    """Trade an authorization code for a token pair (plain HTTP, as amoCRM documents)."""
    info = sandbox.info
    response = requests.post(
        f"{sandbox.url}/oauth2/access_token",
        json={
            "client_id": info["client_id"],
            "client_secret": info["client_secret"],
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": info["redirect_uri"],
        },
        verify=info["ca_bundle"],
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()


class HookReceiver:
    """Records hook POSTs (and the uninstall GET); answers with ``statuses`` in turn, then 200."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.posts: list[list[tuple[str, str]]] = []
        self.gets: list[dict[str, str]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self) -> None:
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                receiver.posts.append(parse_qsl(self.rfile.read(length).decode(), True))
                self._reply()

            def do_GET(self) -> None:
                receiver.gets.append(dict(parse_qsl(urlsplit(self.path).query)))
                self._reply()

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/amocrm/webhooks/secret/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.posts) < count and time.monotonic() < deadline:
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
