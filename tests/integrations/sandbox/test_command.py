"""``manage.py sandbox serve`` prints the info JSON first and stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[3]


def test_it_prints_info_first_and_stops_on_sigterm(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "sandbox",
            "serve",
            "--crm",
            "bitrix24",
            "--seed",
            "3",
            "--scale",
            "small",
            "--port",
            "0",
            "--data-dir",
            str(tmp_path),
            "--rate-limit",
            "50/2",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        info = json.loads(process.stdout.readline())
        assert {"domain", "client_id", "client_secret", "oauth_url", "ca_bundle", "install"} <= set(
            info
        )
        assert (
            info["install"]["PLACEMENT"] == "DEFAULT"
            and info["install"]["DOMAIN"] == info["domain"]
        )
        response = requests.post(
            f"{info['oauth_url']}/rest/user.current",
            data={"auth": info["install"]["AUTH_ID"]},
            verify=info["ca_bundle"],
            timeout=10,
        )
        assert response.json()["result"]["ID"] == "1"
        assert list(tmp_path.glob("bitrix24-small-seed3-*.sqlite"))
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0


def test_it_refuses_amocrm_for_now() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "sandbox", "serve", "--crm", "amocrm"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "unknown sandbox CRM" in result.stderr
