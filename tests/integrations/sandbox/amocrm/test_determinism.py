"""Same seed and anchor, same rows: the rendered account's SHA-256 does not depend on the run."""

from __future__ import annotations

from pathlib import Path

from integrations.sandbox.amocrm.server import AmoCRMServer
from integrations.sandbox.timeutil import to_ts

ANCHOR = to_ts("2026-03-10T12:00:00+03:00")


def _digest(seed: int, data_dir: Path) -> str:
    server = AmoCRMServer(seed=seed, scale="small", now=ANCHOR, data_dir=data_dir)
    try:
        return server.digest()
    finally:
        server.stop()


def test_the_same_seed_renders_the_same_rows(tmp_path: Path) -> None:
    first = _digest(5, tmp_path / "a")
    assert first == _digest(5, tmp_path / "b")
    assert first != _digest(6, tmp_path / "c")


def test_a_reset_restores_the_rendered_rows(amocrm) -> None:
    before = amocrm.control.request("GET", "digest")["digest"]
    amocrm.control.request("POST", "leads", {"fields": {"name": "Новая", "price": 1}})
    assert amocrm.control.request("GET", "digest")["digest"] != before
    amocrm.reset()
    assert amocrm.control.request("GET", "digest")["digest"] == before
