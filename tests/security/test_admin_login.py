"""Django admin's login is throttled by address and by user name."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from crmapp.admin_login import FAILURES_ALLOWED


def _login(client, username: str, password: str, address: str = "10.0.0.1"):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password},
        REMOTE_ADDR=address,
    )


@pytest.mark.django_db
def test_it_locks_out_a_guesser_even_with_the_right_password(client):
    User.objects.create_superuser("boss", "boss@example.com", "right-password")

    for attempt in range(FAILURES_ALLOWED):
        assert _login(client, "boss", f"guess-{attempt}").status_code == 200
    locked = _login(client, "boss", "right-password")

    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.content.decode() or "Слишком" in (
        locked.content.decode()
    )
    assert "_auth_user_id" not in client.session
    # Another address guessing the same name is locked too.
    assert _login(client, "boss", "right-password", address="10.9.9.9").status_code == 429


@pytest.mark.django_db
def test_a_successful_sign_in_clears_the_count(client):
    User.objects.create_superuser("boss", "boss@example.com", "right-password")
    for attempt in range(FAILURES_ALLOWED - 1):
        _login(client, "boss", f"guess-{attempt}")

    assert _login(client, "boss", "right-password").status_code == 302
    client.logout()
    for attempt in range(FAILURES_ALLOWED - 1):
        assert _login(client, "boss", f"again-{attempt}").status_code == 200
    assert _login(client, "boss", "right-password").status_code == 302
