"""A bounded schemathesis run over /api/schema/ with a valid session: no 5xx, ever.

Bounded (EXAMPLES per operation and generation mode, derandomized) so it takes seconds and
finds the same cases on every run; `SCHEMATHESIS_EXAMPLES` raises it for a deeper probe.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.generation.modes import GenerationMode

from frontend.session import HEADER, AppSession, session_issue

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "25"))


@pytest.fixture
def wsgi_app():
    """The real WSGI application, kept off the per-request connection close (as Django's
    test client does) so it answers from the test's database."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        for signal in (request_started, request_finished):
            signal.connect(close_old_connections)


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["admin", "manager"])
def test_the_api_never_answers_a_server_error(connected, wsgi_app, role):
    token = session_issue(AppSession(portal_id=connected.pk, user_crm_id=1, role=role))
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", wsgi_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/api/reports/{name}/", "/api/reports/{name}/drill/"}
    failures: list[str] = []
    calls = 0

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def probe(case):
                nonlocal calls
                calls += 1
                response = case.call(headers={HEADER: token})
                if response.status_code >= 500:
                    failures.append(f"{response.status_code} {case.as_curl_command()}")

            probe()

    assert not failures, "\n".join(failures[:10])
    assert calls >= 2 * EXAMPLES


@pytest.mark.django_db
def test_the_schema_declares_the_session_and_the_refusals(client):
    schema = client.get("/api/schema/?format=json").json()

    assert schema["components"]["securitySchemes"]["AppSession"] == {
        "type": "apiKey",
        "in": "header",
        "name": HEADER,
        "description": "The app session token the page inside the CRM carries.",
    }
    for path in ("/api/reports/{name}/", "/api/reports/{name}/drill/"):
        operation = schema["paths"][path]["get"]
        assert operation["security"] == [{"AppSession": []}]
        assert {"400", "401", "403", "404"} <= set(operation["responses"])
