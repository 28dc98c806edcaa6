"""What the screenshot pass found: pages that the CSP quietly broke, and tables that read badly."""

from __future__ import annotations

import re

import pytest

from tests.conftest import open_app
from tests.frontend.test_app_page import _token

PAGES = [
    "/app/",
    "/app/reports/efficiency/",
    "/app/reports/forgotten/",
    "/app/reports/quality/",
    "/app/reports/plan/",
    "/app/reports/dynamics/",
    "/app/reports/marketing/",
    "/app/settings/",
    "/app/plan/",
    "/app/spend/",
]


@pytest.mark.django_db
def test_no_page_carries_a_style_attribute_the_csp_would_ignore(client, installed, bitrix24):
    # default-src 'self' covers style attributes: a width written in one is dropped, and
    # every bar was drawn full whatever its value.
    token = _token(open_app(client, bitrix24, user_id=1))
    for url in PAGES:
        response = client.get(url, headers={"X-App-Session": token})
        assert response.status_code == 200, url
        policy = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "unsafe-inline" not in policy
        assert not re.search(r"\sstyle=", response.content.decode()), url


@pytest.mark.django_db
def test_a_plan_bar_shows_its_completion(client, installed, bitrix24):
    token = _token(open_app(client, bitrix24, user_id=1))
    body = client.get("/app/reports/plan/", headers={"X-App-Session": token}).content.decode()
    # No plan yet: the month's bar is empty, not full.
    assert re.search(r'<progress class="bar" max="100" value="0">', body)


def test_percentages_keep_one_decimal_and_bars_clamp():
    from frontend.templatetags.humanize_ru import percent, percent_text, progress_bar

    assert [percent(84.3125), percent(90.0), percent(1234.5), percent(None)] == [
        "84,3",
        "90,0",
        "1\u00a0234,5",
        "—",
    ]
    assert [percent_text(60.0), percent_text(None)] == ["60,0\u00a0%", "—"]
    assert 'value="100"' in progress_bar(182.0) and "over" in progress_bar(182.0)
    assert 'value="0"' in progress_bar(None) and "over" not in progress_bar(None)
    assert 'class="reach-bar" max="100" value="38"' in progress_bar(37.6, "reach-bar")


@pytest.mark.django_db
def test_the_efficiency_table_puts_money_first_and_its_percentages_alike(
    client, installed, bitrix24
):
    token = _token(open_app(client, bitrix24, user_id=1))
    body = client.get(
        "/app/reports/efficiency/?period=quarter", headers={"X-App-Session": token}
    ).content.decode()
    groups = re.findall(r'<th[^>]*class="group"[^>]*>([^<]+)</th>', body)
    assert groups[0].strip() == "Деньги" and groups[-1].strip() == "Активность", groups
    # Every win rate has exactly one decimal (or a dash: no closed deal to divide by).
    rates = re.findall(r"what=win_rate[^>]*>([^<]+)</a>", body)
    assert any(rate != "—" for rate in rates)
    assert all(re.fullmatch(r"[\d\u00a0]+,\d|—", rate) for rate in rates), [
        rate for rate in rates if not re.fullmatch(r"[\d\u00a0]+,\d|—", rate)
    ]


@pytest.mark.django_db
def test_the_source_filter_is_a_menu_of_checkboxes_naming_the_chosen(client, installed, bitrix24):
    from crmapp.models import Portal
    from reports.sources import source_names

    token = _token(open_app(client, bitrix24, user_id=1))
    names = source_names(Portal.objects.get())
    (first, first_name), (second, _) = [(crm_id, name) for crm_id, name in names.items() if crm_id][
        :2
    ]
    body = client.get(
        f"/app/reports/efficiency/?source={first}&source={second}",
        headers={"X-App-Session": token},
    ).content.decode()
    assert '<select name="source"' not in body
    assert f'<input type="checkbox" name="source" value="{first}" checked>' in body
    summary = re.search(r'<details class="pick-menu">\s*<summary>([^<]+)</summary>', body)
    assert summary and first_name in summary.group(1)
    unfiltered = client.get(
        "/app/reports/efficiency/", headers={"X-App-Session": token}
    ).content.decode()
    assert "<summary>Все источники</summary>" in unfiltered


@pytest.mark.django_db
def test_settings_come_in_groups_with_every_field_in_one(client, installed, bitrix24):
    from frontend.settings_views import ReportSettingsForm

    token = _token(open_app(client, bitrix24, user_id=1))
    body = client.get("/app/settings/", headers={"X-App-Session": token}).content.decode()
    legends = re.findall(r'<fieldset class="section"><legend>([^<]+)</legend>', body)
    assert legends == [
        "Забытые лиды и сделки",
        "Кто участвует в отчётах по продажам",
        "Баллы за дела",
        "Проверки заполнения CRM",
        "Маркетинг",
        "План активности: сделки, дошедшие до этапа",
    ]
    form = ReportSettingsForm(portal=installed)
    grouped = [field.name for _legend, fields in form.sections() for field in fields]
    assert sorted(grouped) == sorted(form.fields)
    # A tick comes before its words.
    assert re.search(r'<label class="choice"><input type="checkbox" name="rule_', body)


@pytest.mark.django_db
def test_the_plan_and_spend_grids_name_their_months_in_words(client, installed, bitrix24):
    token = _token(open_app(client, bitrix24, user_id=1))
    for url in ("/app/plan/", "/app/spend/"):
        body = client.get(url, headers={"X-App-Session": token}).content.decode()
        assert re.search(r'<th class="num">Янв \d{4}</th>', body), url
        assert not re.search(r"<th class=\"num\">\d{4}-\d\d</th>", body), url
