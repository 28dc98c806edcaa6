from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.db import connection

from crmapp.fields import _fernet
from crmapp.models import Portal


def _raw_token(portal: Portal) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT access_token FROM crmapp_portal WHERE id = %s", [portal.id])
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_it_stores_tokens_encrypted(make_portal):
    portal = make_portal(access_token="secret-access-token", refresh_token="secret-refresh")

    raw = _raw_token(portal)
    assert "secret" not in raw
    assert Portal.objects.get(pk=portal.pk).access_token == "secret-access-token"
    assert Portal.objects.get(pk=portal.pk).refresh_token == "secret-refresh"


@pytest.mark.django_db
def test_it_decrypts_with_an_old_key_after_rotation(make_portal, settings):
    portal = make_portal(access_token="token-before-rotation")
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, *settings.FIELD_ENCRYPTION_KEYS]
    _fernet.cache_clear()

    assert Portal.objects.get(pk=portal.pk).access_token == "token-before-rotation"
    portal.save()
    assert Fernet(new_key).decrypt(_raw_token(portal).encode()) == b"token-before-rotation"
