"""Transport and response headers: CSP beyond frame-ancestors, no-store on data, https."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from frontend.session import AppSession, session_issue


def _policy(response) -> dict[str, list[str]]:
    directives = [part.split() for part in response["Content-Security-Policy"].split("; ")]
    return {words[0]: words[1:] for words in directives}


@pytest.fixture
def admin(connected):
    return session_issue(AppSession(portal_id=connected.pk, user_crm_id=1, role="admin"))


@pytest.mark.django_db
def test_app_pages_restrict_scripts_and_keep_the_crm_frame(client, connected, admin):
    response = client.get("/app/", headers={"X-App-Session": admin})

    policy = _policy(response)
    assert policy["frame-ancestors"] == [f"https://{connected.domain}"]
    assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'none'"]
    assert "'self'" in policy["script-src"] and "'unsafe-inline'" not in policy["script-src"]
    assert "X-Frame-Options" not in response


@pytest.mark.django_db
def test_the_install_page_runs_only_its_own_nonced_script(client, bitrix24):
    from tests.conftest import install_post

    response = install_post(client, bitrix24)

    nonce = next(s for s in _policy(response)["script-src"] if s.startswith("'nonce-"))
    assert f'<script nonce="{nonce[7:-1]}">' in response.content.decode()


@pytest.mark.django_db
def test_a_page_outside_the_crm_cannot_be_framed(client):
    assert _policy(client.get("/"))["frame-ancestors"] == ["'none'"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/app/",
        "/app/reports/efficiency/?format=xlsx",
        "/app/reports/efficiency/drill/?what=won_count&format=xlsx",
        "/app/plan/export/",
        "/api/reports/efficiency/",
    ],
)
def test_data_pages_and_exports_are_never_stored(client, admin, url):
    response = client.get(url, headers={"X-App-Session": admin})

    assert response.status_code == 200, url
    assert "no-store" in response["Cache-Control"]


def test_https_public_url_turns_on_hsts_proxy_header_and_secure_cookies(tmp_path):
    script = (
        "from django.conf import settings as s; "
        "print(s.SECURE_HSTS_SECONDS, s.SECURE_PROXY_SSL_HEADER, s.SESSION_COOKIE_SECURE, "
        "s.CSRF_COOKIE_SECURE)"
    )
    env = os.environ | {
        "DJANGO_SETTINGS_MODULE": "crmapp.settings",
        "VAR_DIR": str(tmp_path),
        "PUBLIC_URL": "https://reports.example.com",
    }
    for key in ("DATABASE_URL", "REDIS_URL"):
        env.pop(key, None)
    out = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {script}"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split(maxsplit=1)

    assert int(out[0]) >= 180 * 24 * 3600
    assert out[1].strip() == "('HTTP_X_FORWARDED_PROTO', 'https') True True"
