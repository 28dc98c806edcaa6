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


def test_it_serves_amocrm_with_the_contract_info_first(tmp_path: Path) -> None:
    redirect = "http://127.0.0.1:9201/amocrm/oauth/callback/"
    command = ["sandbox", "serve", "--crm", "amocrm", "--seed", "2", "--scale", "small",
               "--port", "0", "--data-dir", str(tmp_path), "--redirect-uri", redirect]  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "manage.py", *command], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        info = json.loads(process.stdout.readline())
        assert {"domain", "subdomain", "account_id", "client_id", "client_secret",
                "redirect_uri", "ca_bundle", "install", "control"} <= set(info)  # fmt: skip
        assert info["redirect_uri"] == redirect
        assert set(info["install"]) == {"code", "referer", "from_widget"}
        assert info["install"]["referer"] == info["domain"]
        assert {"url", "key", "header", "widget_token_url", "authorize_url"} <= set(info["control"])
        token = requests.post(
            f"https://{info['domain']}/oauth2/access_token",
            json={"client_id": info["client_id"], "client_secret": info["client_secret"],
                  "grant_type": "authorization_code", "code": info["install"]["code"],
                  "redirect_uri": redirect},
            verify=info["ca_bundle"],
            timeout=30,
        )  # fmt: skip
        assert token.status_code == 200
        account = requests.get(
            f"https://{info['domain']}/api/v4/account",
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
            verify=info["ca_bundle"],
            timeout=30,
        )
        assert account.json()["id"] == info["account_id"]
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0


def test_it_refuses_a_redirect_uri_for_bitrix24() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "sandbox", "serve", "--crm", "bitrix24",
         "--redirect-uri", "http://x/"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert "--redirect-uri is an amoCRM setting" in result.stderr
