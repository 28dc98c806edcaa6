"""A real Celery worker process for benchmarks, and its peak memory."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings


def worker_start(
    env: dict, *, pool: str = "threads", concurrency: int = 4, name: str = "celery"
) -> subprocess.Popen:
    """A worker process; several at once need different `name`s (Celery's node names)."""
    command = [sys.executable, "-m", "celery", "-A", "crmapp", "worker", f"--pool={pool}",
               f"--concurrency={concurrency}", f"--hostname={name}@%h",
               "--loglevel=WARNING"]  # fmt: skip
    log = (Path(settings.VAR_DIR) / "bench-worker.log").open("a")
    return subprocess.Popen(command, env=os.environ | env, stdout=log, stderr=subprocess.STDOUT)


def workers_ready(names: list[str], *, timeout: float = 120) -> None:
    """Wait until the workers of these `name`s answer a ping (a broker with remote control)."""
    from crmapp.celery import app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        nodes = {node.split("@")[0] for reply in app.control.ping(timeout=1) for node in reply}
        if nodes >= set(names):
            return
    raise TimeoutError(f"workers {names} did not answer in {timeout} s")


def worker_peak_rss_mb(worker: subprocess.Popen) -> float:
    """The process tree's high-water resident memory (VmHWM), read before it is stopped."""
    total = 0
    for pid in [worker.pid, *_children(worker.pid)]:
        status = Path(f"/proc/{pid}/status")
        if status.exists():
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
    return total / 1024


def worker_stop(worker: subprocess.Popen) -> None:
    worker.terminate()
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        worker.kill()


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []
