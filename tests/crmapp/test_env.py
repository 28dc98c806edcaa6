from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from crmapp.env import database_from_url, env_bool, env_int, env_url, persistent_secret


def test_it_parses_a_postgres_url():
    db = database_from_url("postgres://app:p%40ss@db.local:6432/reports", sqlite_default=Path())
    assert (db["ENGINE"], db["NAME"], db["USER"], db["PASSWORD"]) == (
        "django.db.backends.postgresql",
        "reports",
        "app",
        "p@ss",
    )
    assert (db["HOST"], db["PORT"]) == ("db.local", "6432")


def test_it_defaults_to_sqlite(tmp_path):
    db = database_from_url("", sqlite_default=tmp_path / "db.sqlite3")
    assert db["ENGINE"] == "django.db.backends.sqlite3"


@pytest.mark.parametrize("url", ["mysql://x/y", "postgres://host/", "nonsense"])
def test_it_rejects_a_bad_database_url(url):
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL"):
        database_from_url(url, sqlite_default=Path())


def test_it_rejects_bad_scalars(monkeypatch):
    monkeypatch.setenv("SOME_FLAG", "maybe")
    monkeypatch.setenv("SOME_NUMBER", "ten")
    monkeypatch.setenv("SOME_URL", "ftp://x")
    with pytest.raises(ImproperlyConfigured, match="SOME_FLAG"):
        env_bool("SOME_FLAG")
    with pytest.raises(ImproperlyConfigured, match="SOME_NUMBER"):
        env_int("SOME_NUMBER", 1)
    with pytest.raises(ImproperlyConfigured, match="SOME_URL"):
        env_url("SOME_URL")


def test_a_base_url_loses_its_trailing_slash_a_redirect_uri_keeps_it(monkeypatch):
    monkeypatch.setenv("SOME_URL", "https://app.example/amocrm/oauth/callback/")
    assert env_url("SOME_URL") == "https://app.example/amocrm/oauth/callback"
    assert env_url("SOME_URL", exact=True) == "https://app.example/amocrm/oauth/callback/"


def test_it_keeps_a_generated_secret(tmp_path, monkeypatch):
    monkeypatch.delenv("SOME_SECRET", raising=False)
    first = persistent_secret("SOME_SECRET", tmp_path / "s", lambda: "generated-1")
    second = persistent_secret("SOME_SECRET", tmp_path / "s", lambda: "generated-2")
    assert first == second == "generated-1"
    monkeypatch.setenv("SOME_SECRET", "from-env")
    assert persistent_secret("SOME_SECRET", tmp_path / "s", lambda: "x") == "from-env"
