"""What benchmarks need of the machine: loopback services and a server to come up."""

from __future__ import annotations

import socket
import time

import requests


def services_reachable() -> bool:
    """PostgreSQL (5432) and Redis (6379) accept connections on loopback."""
    for port in (5432, 6379):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return False
    return True


def http_wait(url: str) -> None:
    for _ in range(100):
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")
