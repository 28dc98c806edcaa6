from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest

from crmapp.models import Department, Employee, Portal
from frontend.session import AppSession, session_issue, session_read
from tests.conftest import open_app


def _token(response) -> str:
    return re.search(rb'name="app-session" content="([^"]+)"', response.content).group(1).decode()


@pytest.mark.django_db
def test_it_opens_inside_the_portal_as_its_admin(client, connected, bitrix24):
    response = open_app(client, bitrix24, user_id=1)

    assert response.status_code == 200
    assert f"frame-ancestors https://{connected.domain}" in response[
        "Content-Security-Policy"
    ].split("; ")
    assert "X-Frame-Options" not in response
    session = session_read(_token(response))
    assert (session.portal_id, session.user_crm_id, session.role) == (connected.pk, 1, "admin")
    body = response.content.decode()
    assert "Загружаем историю из CRM" in body  # Russian by default, like the portal
    assert "Сделки" in body


@pytest.mark.django_db
def test_it_knows_a_department_head_and_a_manager(client, connected, bitrix24):
    head = (
        Department.objects.for_portal(connected).exclude(head=None).exclude(head__crm_id=1).first()
    ).head
    manager = (
        Employee.objects.for_portal(connected)
        .filter(active=True)
        .exclude(crm_id__in=[1, head.crm_id])
        .exclude(pk__in=Department.objects.for_portal(connected).values("head"))
        .first()
    )

    as_head = session_read(_token(open_app(client, bitrix24, user_id=head.crm_id)))
    as_manager = session_read(_token(open_app(client, bitrix24, user_id=manager.crm_id)))

    assert as_head.role == "head" and as_head.department_ids
    assert as_manager.role == "manager" and not as_manager.department_ids


@pytest.mark.django_db
def test_it_serves_htmx_requests_with_the_session_header_only(client, connected, bitrix24):
    token = _token(open_app(client, bitrix24))

    assert client.get("/app/progress/", headers={"X-App-Session": token}).status_code == 200
    assert client.get("/app/progress/").status_code == 401
    assert client.get("/app/progress/", headers={"X-App-Session": token + "x"}).status_code == 401
    assert client.get(f"/app/?{urlencode({'s': token})}").status_code == 200


@pytest.mark.django_db
def test_it_never_shows_one_portal_to_another(client, connected, make_portal):
    other = make_portal(domain="other.bitrix24.ru", key="other.bitrix24.ru")
    token = session_issue(AppSession(portal_id=other.pk, user_crm_id=1, role="admin"))

    response = client.get("/app/", headers={"X-App-Session": token})

    assert "frame-ancestors https://other.bitrix24.ru" in response["Content-Security-Policy"].split(
        "; "
    )
    assert connected.domain not in response.content.decode()


@pytest.mark.django_db
def test_it_refuses_a_forged_or_foreign_payload(client, connected, bitrix24):
    payload = bitrix24.control.placement(user_id=1)
    query = urlencode(payload["query"])

    forged = client.post(f"/bitrix24/app/?{query}", payload["body"] | {"AUTH_ID": "forged"})
    malformed = client.post(f"/bitrix24/app/?{query}", {"AUTH_ID": "x"})
    unknown = client.post(f"/bitrix24/app/?{query}", payload["body"] | {"member_id": "f" * 32})

    assert (forged.status_code, malformed.status_code, unknown.status_code) == (403, 400, 404)


@pytest.mark.django_db
def test_it_shows_when_the_portal_needs_reauthorisation(client, connected, bitrix24):
    Portal.objects.filter(pk=connected.pk).update(status=Portal.Status.NEEDS_REAUTH)
    manager_view = open_app(client, bitrix24, user_id=2)
    assert "Битрикс24 больше не принимает наш доступ" in manager_view.content.decode()

    # An admin opening the app hands over fresh tokens and ends it.
    open_app(client, bitrix24, user_id=1)
    assert Portal.objects.get(pk=connected.pk).status == Portal.Status.ACTIVE


@pytest.mark.django_db
def test_it_speaks_english_to_an_english_portal(client, connected, bitrix24):
    payload = bitrix24.control.placement(user_id=1)
    query = urlencode(payload["query"] | {"LANG": "en"})
    response = client.post(f"/bitrix24/app/?{query}", payload["body"])
    assert "Importing history from the CRM" in response.content.decode()


@pytest.mark.django_db
def test_the_overviews_counts_follow_the_import_to_its_end(client, installed, bitrix24):
    from crmapp.models import Lead

    token = _token(open_app(client, bitrix24))
    # The poll that sees the import done is the last one: it must carry the final counts.
    poll = client.get("/app/progress/", headers={"X-App-Session": token}).content.decode()
    leads = Lead.objects.for_portal(installed).count()
    assert leads and "hx-trigger" not in poll
    shown = re.search(r"Лиды</div><div class=\"value\">([^<]+)<", poll).group(1)
    assert int(shown.replace("\u00a0", "").replace(" ", "")) == leads
    # Once it is done, the page shows its figures first and fetches the counts when the
    # progress block is scrolled to.
    page = client.get("/app/", headers={"X-App-Session": token}).content.decode()
    assert "compact-counts" not in page
    assert re.search(r'hx-get="/app/progress/" hx-trigger="revealed"', page)
    # The portal's record counts are the administrator's alone.
    manager = Employee.objects.for_portal(installed).exclude(crm_id=1).filter(active=True).first()
    own = _token(open_app(client, bitrix24, user_id=manager.crm_id))
    page = client.get("/app/", headers={"X-App-Session": own}).content.decode()
    assert "compact-counts" not in page


@pytest.mark.django_db
def test_a_refused_page_is_framed_like_every_page_and_says_why(client, connected, bitrix24):
    head = (
        Department.objects.for_portal(connected).exclude(head=None).exclude(head__crm_id=1).first()
    ).head
    others = Employee.objects.for_portal(connected).exclude(department=head.department)
    token = _token(open_app(client, bitrix24, user_id=head.crm_id))
    stranger = others.exclude(crm_id=head.crm_id).first()

    for url, words in [
        (f"/app/reports/efficiency/?employee={stranger.crm_id}", "только ваши показатели"),
        ("/app/settings/", "администратор"),
    ]:
        page = client.get(url, headers={"X-App-Session": token})
        assert page.status_code == 403, url
        assert f"frame-ancestors https://{connected.domain}" in page[
            "Content-Security-Policy"
        ].split("; ")
        assert "X-Frame-Options" not in page
        body = page.content.decode()
        assert words in body and 'class="tabs"' in body, url


@pytest.mark.django_db
def test_the_trial_is_said_once_and_a_banner_only_in_its_last_days(client, connected, bitrix24):
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    page = open_app(client, bitrix24).content.decode()
    assert page.count("Затем бесплатный тариф") == 1  # the badge's title, no banner
    assert 'id="trial-notice"' in page and 'id="trial-ending"' not in page
    with time_machine.travel(timezone.now() + timedelta(days=12), tick=False):
        late = open_app(client, bitrix24).content.decode()
    assert 'id="trial-ending"' in late
