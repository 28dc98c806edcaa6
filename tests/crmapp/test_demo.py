"""`make demo` as a newcomer runs it: it serves the portal with the app inside, and Ctrl-C
stops every process it started, says so and exits 0 (make then reports no error)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _bindable(port: int) -> bool:
    """Whether a server could listen here again (as gunicorn does: connections closed a
    moment ago may linger in TIME_WAIT, a listener left behind may not)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
            probe.listen()
        except OSError:
            return False
        return True


def test_ctrl_c_stops_the_demo_cleanly_every_time(tmp_path):
    # The embedded default in a folder of its own, whichever pass the suite is in.
    env = {key: value for key, value in os.environ.items()
           if key not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")}  # fmt: skip
    env |= {"VAR_DIR": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    manage = [sys.executable, str(ROOT / "manage.py")]  # on a fresh database: demo migrates
    # Ports of its own: the other pass may be running this test at the same moment.
    port, sandbox_port, amocrm_port = _free_port(), _free_port(), _free_port()
    demo = subprocess.Popen(
        [*manage, "demo", "--scale", "small", "--port", str(port),
         "--sandbox-port", str(sandbox_port), "--amocrm-port", str(amocrm_port)],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: list[str] = []
    serving = threading.Event()

    def read() -> None:
        for line in demo.stdout:
            lines.append(line)
            if line.startswith("Serving on"):
                serving.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert serving.wait(timeout=240), "".join(lines[-40:])
        page = requests.get(f"http://127.0.0.1:{port}/", timeout=10)
        assert page.status_code == 200 and "iframe" in page.text

        demo.send_signal(signal.SIGINT)  # what Ctrl-C in the terminal sends it
        assert demo.wait(timeout=60) == 0, "".join(lines[-40:])
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    reader.join(timeout=10)
    output = "".join(lines)
    assert "stopped the web server, the worker and the sandbox CRM" in output
    assert "CommandError" not in output and "Traceback" not in output
    assert all(
        _bindable(each) for each in (port, sandbox_port, amocrm_port)
    )  # nothing is left holding them
