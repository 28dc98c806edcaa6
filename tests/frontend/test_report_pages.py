from __future__ import annotations

import html
import re
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from crmapp.models import Deal, Department, Employee
from frontend.paging import PAGE_ROWS
from frontend.session import AppSession, session_issue
from reports.aggregates import facts_add
from reports.metrics import DEAL_WON
from tests.conftest import open_app
from tests.frontend.test_app_page import _token

PERIOD = "period=quarter"


def _manager(portal) -> Employee:
    heads = Department.objects.for_portal(portal).values("head")
    return (
        Employee.objects.for_portal(portal)
        .filter(active=True, department__isnull=False)
        .exclude(crm_id=1)
        .exclude(pk__in=heads)
        .first()
    )


def _get(client, url: str, token: str, **headers):
    return client.get(url, headers={"X-App-Session": token, **headers})


@pytest.mark.django_db
def test_the_admin_reads_drills_down_and_exports_efficiency(client, installed, bitrix24):
    token = _token(open_app(client, bitrix24, user_id=1))
    page = _get(client, f"/app/reports/efficiency/?{PERIOD}", token)
    assert page.status_code == 200
    body = page.content.decode()
    assert "Эффективность менеджеров" in body or "Manager efficiency" in body
    assert f"frame-ancestors https://{installed.domain}" in page["Content-Security-Policy"].split(
        "; "
    )

    # A number is a link to the deals that make it up, and there are as many of them.
    link = re.search(
        r'drill/\?[^"]*what=won_count&(?:amp;)?employee=(\d+)"[^>]*>([\d\xa0]+)<', body
    )
    employee, shown = link.group(1), int(link.group(2).replace("\xa0", ""))
    drill = _get(
        client, f"/app/reports/efficiency/drill/?{PERIOD}&what=won_count&employee={employee}", token
    )
    assert drill.status_code == 200
    assert drill.content.decode().count('data-crm-path="/crm/deal/details/') == shown

    # Filters through HTMX re-render the report part and put the filters in the address.
    partial = _get(client, f"/app/reports/efficiency/?{PERIOD}&employee={employee}", token,
                   HX_Request="true", HX_Target="report")  # fmt: skip
    assert partial.content.decode().strip().startswith('<section id="report">')
    assert f"employee={employee}" in partial["HX-Push-Url"]

    export = client.get(f"/app/reports/efficiency/?{PERIOD}&format=xlsx&s={token}")
    assert export["Content-Type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(BytesIO(export.content))
    assert len(book.worksheets) >= 2
    assert book.worksheets[0].max_row > 5


@pytest.mark.django_db
def test_forgotten_deals_notify_their_responsibles_in_the_crm(client, installed, bitrix24):
    token = _token(open_app(client, bitrix24, user_id=1))
    page = _get(client, "/app/reports/forgotten/?period=custom&from=2025-01-01", token)
    assert page.status_code == 200
    assert 'data-crm-path="/crm/deal/details/' in page.content.decode()

    before = len(bitrix24.control.notifications())
    sent = client.post("/app/reports/forgotten/notify/?period=custom&from=2025-01-01",
                       headers={"X-App-Session": token})  # fmt: skip
    assert sent.status_code == 200
    notifications = bitrix24.control.notifications()[before:]
    assert notifications
    assert all("[URL=https://" in n["message"] for n in notifications)


@pytest.mark.django_db
def test_a_manager_cannot_reach_anothers_data_through_any_url(client, installed, bitrix24):
    manager = _manager(installed)
    other = Employee.objects.for_portal(installed).exclude(crm_id=manager.crm_id).first()
    token = _token(open_app(client, bitrix24, user_id=manager.crm_id))
    department = manager.department.crm_id

    own = _get(client, f"/app/reports/efficiency/?{PERIOD}", token).content.decode()
    assert other.name not in own
    for url in (
        f"/app/reports/efficiency/?employee={other.crm_id}",
        f"/app/reports/efficiency/drill/?what=won_count&employee={other.crm_id}",
        f"/app/reports/forgotten/?employee={other.crm_id}",
        f"/app/reports/forgotten/drill/?what=forgotten_deals&employee={other.crm_id}",
        f"/app/reports/efficiency/?department={department}",
        f"/app/reports/efficiency/?employee={other.crm_id}&format=xlsx",
        f"/app/reports/plan/?employee={other.crm_id}",
        f"/app/reports/plan/drill/?what=repeat_sales&employee={other.crm_id}",
        f"/app/reports/plan/?department={department}&format=xlsx",
        "/app/plan/",
        "/app/plan/export/",
    ):
        assert _get(client, url, token).status_code == 403, url
    assert (
        client.post("/app/reports/forgotten/notify/", headers={"X-App-Session": token}).status_code
        == 403
    )
    for url in ("/app/plan/cell/", "/app/plan/tv/", "/app/plan/bonus/"):
        assert client.post(url, headers={"X-App-Session": token}).status_code == 403, url
    # Without a session, nothing at all.
    assert client.get("/app/reports/efficiency/").status_code == 401


@pytest.mark.django_db
def test_bad_filters_get_a_clear_error(client, installed, bitrix24):
    token = _token(open_app(client, bitrix24, user_id=1))
    for query, words in [
        ("period=custom&from=2026-13-01", "2026-13-01"),
        ("period=decade", "decade"),
        ("employee=abc", "abc"),
        ("period=custom&from=2026-02-01&to=2026-01-01", "Период начинается позже"),
        ("department=999999", "999999"),
    ]:
        response = _get(client, f"/app/reports/efficiency/?{query}", token)
        assert response.status_code == 400, query
        assert words in response.content.decode()


@pytest.mark.django_db
def test_the_api_serves_the_pages_data_to_the_same_viewer(client, installed, bitrix24):
    from reports.efficiency import efficiency
    from reports.scope import Viewer, period_preset, scope_resolve

    token = _token(open_app(client, bitrix24, user_id=1))
    response = _get(client, f"/api/reports/efficiency/?{PERIOD}", token)
    assert response.status_code == 200
    today = timezone.now().astimezone(ZoneInfo(installed.time_zone)).date()
    start, end = period_preset("quarter", today)
    expected = efficiency(scope_resolve(installed, Viewer.operator(), start=start, end=end))
    assert response.json()["totals"] == pytest.approx(expected["totals"])
    drill_url = f"/api/reports/efficiency/drill/?{PERIOD}&what=won_count"
    page = _get(client, f"{drill_url}&limit=3&offset=1", token).json()
    won = expected["totals"]["won_count"]
    assert page["total"] == won and len(page["rows"]) == min(3, won - 1)
    bad = _get(client, f"{drill_url}&limit=-1", token)
    assert bad.status_code == 400 and "limit" in bad.json()["detail"]

    manager = _manager(installed)
    manager_token = _token(open_app(client, bitrix24, user_id=manager.crm_id))
    other = Employee.objects.for_portal(installed).exclude(crm_id=manager.crm_id).first()
    refused = _get(client, f"/api/reports/forgotten/?employee={other.crm_id}", manager_token)
    assert refused.status_code == 403
    assert client.get("/api/reports/efficiency/").status_code in (401, 403)
    schema = client.get("/api/schema/")
    assert b"/api/reports/{name}/drill/" in schema.content


@pytest.mark.django_db
def test_the_admin_edits_the_settings_and_the_reports_follow(client, installed, bitrix24):
    from reports.models import ReportSettings

    token = _token(open_app(client, bitrix24, user_id=1))
    form = {"lead_days": "5", "deal_days": "30", "digest_at": "09:30", "weight_call": "3",
            "weight_meeting": "10", "weight_email": "1", "weight_task": "1",
            "weight_other": "0"}  # fmt: skip
    saved = client.post("/app/settings/", form, headers={"X-App-Session": token})
    assert saved.status_code == 200
    settings = ReportSettings.of(installed)
    assert (settings.deal_days, settings.weights["meeting"], str(settings.digest_at)) == (
        30,
        10,
        "09:30:00",
    )
    forgotten = _get(client, "/api/reports/forgotten/", token).json()
    assert (forgotten["lead_days"], forgotten["deal_days"]) == (5, 30)

    bad = client.post(
        "/app/settings/", form | {"deal_days": "-1"}, headers={"X-App-Session": token}
    )
    assert bad.status_code == 400
    assert ReportSettings.of(installed).deal_days == 30
    # A change needs the header: a token in the address does not authorise it.
    assert client.post(f"/app/settings/?s={token}", form).status_code == 401
    manager_token = _token(open_app(client, bitrix24, user_id=_manager(installed).crm_id))
    assert (
        client.post("/app/settings/", form, headers={"X-App-Session": manager_token}).status_code
        == 403
    )


@pytest.mark.django_db
def test_the_daily_digest_goes_out_once_at_its_time(installed, bitrix24):
    from datetime import datetime, time

    from reports.digest import portal_digest_send, portals_digest_due
    from reports.models import ReportSettings

    settings = ReportSettings.of(installed)
    settings.digest_at = time(9, 0)
    settings.save()
    zone = ZoneInfo(installed.time_zone)
    today = timezone.now().astimezone(zone).date()
    before, after = (
        datetime.combine(today, time(8, 59), zone),
        datetime.combine(today, time(9, 1), zone),
    )

    assert installed.pk not in portals_digest_due(now=before)
    assert installed.pk in portals_digest_due(now=after)
    sent_before = len(bitrix24.control.notifications())
    sent = portal_digest_send(installed, now=after)
    assert sent and len(bitrix24.control.notifications()) - sent_before == len(sent)
    assert portal_digest_send(installed, now=after) is None
    assert installed.pk not in portals_digest_due(now=after)


@pytest.mark.django_db
def test_forgotten_shows_the_last_90_days_unless_asked_for_everything_forgotten_now(
    client, installed, bitrix24
):
    from datetime import date, timedelta

    from reports.forgotten import forgotten
    from reports.scope import Viewer, scope_resolve

    token = _token(open_app(client, bitrix24, user_id=1))
    today = timezone.now().astimezone(ZoneInfo(installed.time_zone)).date()
    recent = scope_resolve(installed, Viewer.operator(), start=today - timedelta(days=89),
                           end=today)  # fmt: skip
    everything = scope_resolve(installed, Viewer.operator(), start=date.min, end=today)

    def forgotten_deals(scope) -> int:
        return sum(row["forgotten_deals"] for row in forgotten(scope)["by_employee"])

    assert forgotten_deals(everything) > forgotten_deals(recent)

    page = _get(client, "/app/reports/forgotten/", token).content.decode()
    start = (today - timedelta(days=89)).strftime("%d.%m.%Y")
    assert f"созданных {start} — {today.strftime('%d.%m.%Y')}" in page
    assert "Показать всё забытое сейчас" in page and 'value="last_90" selected' in page
    api = _get(client, "/api/reports/forgotten/", token).json()
    assert sum(row["forgotten_deals"] for row in api["by_employee"]) == forgotten_deals(recent)
    drill = _get(client, "/api/reports/forgotten/drill/?what=forgotten_deals", token).json()
    assert drill["total"] == forgotten_deals(recent)

    every = _get(client, "/app/reports/forgotten/?period=all", token).content.decode()
    assert "Всё, что забыто сейчас" in every and 'id="clamp-notice"' not in every
    api = _get(client, "/api/reports/forgotten/?period=all", token).json()
    assert sum(row["forgotten_deals"] for row in api["by_employee"]) == forgotten_deals(everything)
    assert not api.get("clamped_from")


@pytest.mark.django_db
def test_efficiency_sorts_by_won_sum_unless_asked_and_keeps_the_sort_in_the_address(
    client, installed, bitrix24
):
    token = _token(open_app(client, bitrix24, user_id=1))

    def names(query: str) -> list[str]:
        body = _get(client, f"/app/reports/efficiency/?{PERIOD}{query}", token).content.decode()
        return re.findall(r'class="employee"[^>]*>([^<]+)</a>', body)

    from reports.efficiency import efficiency
    from reports.scope import Viewer, period_preset, scope_resolve

    today = timezone.now().astimezone(ZoneInfo(installed.time_zone)).date()
    start, end = period_preset("quarter", today)
    rows = efficiency(scope_resolve(installed, Viewer.operator(), start=start, end=end))
    rows = rows["employees"]
    by_won = sorted(rows, key=lambda r: r["name"].casefold())
    by_won.sort(key=lambda r: r["won_sum"], reverse=True)
    assert names("") == [r["name"] for r in by_won]
    assert names("&sort=name") == sorted((r["name"] for r in rows), key=str.casefold)
    rated = [r for r in rows if r["win_rate"] is not None]
    assert names("&sort=win_rate")[: len(rated)] == [
        r["name"] for r in sorted(sorted(rated, key=lambda r: r["name"].casefold()),
                                  key=lambda r: r["win_rate"])
    ]  # fmt: skip
    partial = _get(client, f"/app/reports/efficiency/?{PERIOD}&sort=-calls", token,
                   HX_Request="true", HX_Target="report")  # fmt: skip
    assert "sort=-calls" in partial["HX-Push-Url"]
    assert 'aria-sort="descending"' in partial.content.decode()
    bad = _get(client, f"/app/reports/efficiency/?{PERIOD}&sort=salary", token)
    assert bad.status_code == 400 and "salary" in bad.content.decode()


@pytest.mark.django_db
def test_the_pages_speak_as_sales_people_do(client, connected, bitrix24):
    manager = _manager(connected)
    mine = _get(
        client, "/app/reports/efficiency/", _token(open_app(client, bitrix24, manager.crm_id))
    )
    body = mine.content.decode()
    assert "<h1>Моя эффективность</h1>" in body
    assert "Сумма успешных" in body and "Проваленные" in body
    assert "Выиграно" not in body and "Проиграно" not in body
    admin = _get(client, "/app/reports/efficiency/", _token(open_app(client, bitrix24, 1)))
    assert "<h1>Эффективность менеджеров</h1>" in admin.content.decode()


def test_periods_read_in_the_pages_language():
    from django.utils import translation

    from frontend.templatetags.humanize_ru import period

    with translation.override("ru"):
        assert [period("2026-01"), period("2025 Q3"), period("всё")] == [
            "Янв 2026", "3 кв. 2025", "всё",
        ]  # fmt: skip
    with translation.override("en"):
        assert [period("2026-05"), period("2025 Q3")] == ["May 2026", "Q3 2025"]


@pytest.mark.django_db
def test_the_dynamics_headers_and_chart_say_months_not_keys(client, connected, bitrix24):
    from django.utils import translation

    from frontend.templatetags.humanize_ru import period

    admin = _token(open_app(client, bitrix24, 1))
    body = _get(client, "/app/reports/efficiency/?period=quarter&grain=month", admin).text
    month = timezone.now().astimezone(ZoneInfo(connected.time_zone)).strftime("%Y-%m")
    assert month not in re.sub(r"\d{4}-\d{2}-\d{2}", "", body)  # nor in the chart's labels
    with translation.override("ru"):
        assert f">{period(month)}<" in body


@pytest.mark.django_db
def test_the_employee_list_follows_the_department_and_a_pipeline_says_what_it_leaves(
    client, connected, bitrix24
):
    admin = _token(open_app(client, bitrix24, 1))
    department = (  # a department below the top one, so that it is not everyone
        Department.objects.for_portal(connected)
        .filter(employees__active=True, parent__isnull=False)
        .distinct()
        .first()
    )
    body = _get(client, f"/app/reports/efficiency/?department={department.crm_id}", admin).text

    def employees_listed(page: str) -> set[int]:
        listed = re.search(r'<select name="employee">(.*?)</select>', page, re.S).group(1)
        return {int(i) for i in re.findall(r'<option value="(\d+)"', listed)}

    shown = employees_listed(body)
    within, grown = {department.pk}, True
    while grown:  # the department and all below it
        below = set(Department.objects.for_portal(connected).filter(parent__in=within)
                    .values_list("pk", flat=True))  # fmt: skip
        within, grown = within | below, not below <= within
    members = set(
        Employee.objects.for_portal(connected)
        .filter(department__in=within)
        .values_list("crm_id", flat=True)
    )
    assert shown and shown <= members
    everyone = _get(client, "/app/reports/efficiency/", admin).text
    assert employees_listed(everyone) > shown
    assert 'data-note="activity-pipeline"' not in everyone
    pipeline = re.search(r'<select name="pipeline">.*?<option value="(\d+)"', everyone, re.S)
    chosen = _get(client, f"/app/reports/efficiency/?pipeline={pipeline.group(1)}", admin).text
    assert 'data-note="activity-pipeline"' in chosen


@pytest.mark.django_db
def test_who_takes_part_in_the_sales_reports(client, installed, bitrix24):
    """By default whoever sold in the window (not a director with nothing); the admin can
    choose departments and people in Settings; a fired seller is marked."""
    from reports.models import ReportSettings

    director = Employee.objects.create(portal=installed, crm_id=9001, name="Директор Без Сделок")
    admin = _token(open_app(client, bitrix24, 1))
    body = _get(client, "/app/reports/efficiency/?period=quarter", admin).text
    listed = _get(client, "/api/reports/efficiency/?period=quarter", admin).json()["employees"]
    rows = {int(row["id"]): row["name"] for row in listed}
    assert director.crm_id not in rows and f">{director.name}</a>" not in body
    fired = Employee.objects.for_portal(installed).filter(active=False, crm_id__in=rows)
    assert fired, "the sandbox plants fired owners with deals"
    for person in fired:
        assert re.search(re.escape(rows[person.crm_id]) + r'</a> <span class="fired">', body)
    assert body.count('<span class="fired">') == len(fired)

    department = Department.objects.for_portal(installed).filter(
        employees__active=True, parent__isnull=False).first()  # fmt: skip
    form = {"lead_days": "3", "deal_days": "14", "digest_at": "", "weight_call": "1",
            "weight_meeting": "1", "weight_email": "1", "weight_task": "1", "weight_other": "0",
            "participant_departments": [str(department.crm_id)],
            "participant_employees": [str(director.crm_id)]}  # fmt: skip
    assert client.post("/app/settings/", form, headers={"X-App-Session": admin}).status_code == 200
    chosen = ReportSettings.of(installed)
    assert (chosen.participant_departments, chosen.participant_employees) == (
        [department.crm_id], [director.crm_id],
    )  # fmt: skip
    data = _get(client, "/api/reports/efficiency/?period=quarter", admin).json()
    rows = {int(row["id"]) for row in data["employees"]}
    members = set(Employee.objects.for_portal(installed).filter(department=department)
                  .values_list("crm_id", flat=True))  # fmt: skip
    assert director.crm_id in rows and rows - {director.crm_id} <= members

    unknown = form | {"participant_employees": ["123456789"]}
    refused = client.post("/app/settings/", unknown, headers={"X-App-Session": admin})
    assert refused.status_code == 400
    assert ReportSettings.of(installed).participant_employees == [director.crm_id]


@pytest.mark.django_db
def test_forgotten_draws_its_split_by_department(client, installed, bitrix24):
    from tests.frontend.test_plan_pages import _charts

    admin = _token(open_app(client, bitrix24, 1))
    body = _get(client, "/app/reports/forgotten/?period=all", admin).text
    chart = dict(_charts(body))["Забытые по отделам"]
    data = _get(client, "/api/reports/forgotten/?period=all", admin).json()
    departments = [row for row in data["by_department"] if row.get("id")]
    assert chart["labels"] == [row["name"] for row in departments]
    assert chart["datasets"][0]["values"] == [row["forgotten_deals"] for row in departments]


@pytest.mark.django_db
def test_exports_read_as_a_head_of_sales_reads_them(client, installed, bitrix24):
    """Russian titles, names instead of ids and codes, formatted numbers and dates, a filter on
    the header and columns as wide as their values."""
    admin = _token(open_app(client, bitrix24, 1))
    department = Department.objects.for_portal(installed).filter(parent__isnull=False).first()
    page = _get(client, f"/app/reports/plan/?period=quarter&department={department.crm_id}",
                admin).text  # fmt: skip
    link = re.search(r'href="(/app/reports/plan/\?[^"]*format=xlsx[^"]*)"', page).group(1)
    book = load_workbook(BytesIO(client.get(link.replace("&amp;", "&")).content))
    sheet = book.worksheets[0]
    assert sheet["A1"].value.startswith("План-факт, ")
    assert [sheet["A3"].value, sheet["B3"].value] == ["Отдел", department.name]
    header = next(r for r in range(1, 10) if sheet.cell(r, 1).value == "Месяц")
    columns = [cell.value for cell in sheet[header]]
    assert columns[:4] == ["Месяц", "Уровень", "Имя", "Воронка"]
    assert sheet.auto_filter.ref.startswith(f"A{header}:")
    levels = {sheet.cell(r, 2).value for r in range(header + 1, sheet.max_row + 1)}
    metrics = {sheet.cell(r, columns.index("Показатель") + 1).value
               for r in range(header + 1, sheet.max_row + 1)}  # fmt: skip
    assert levels <= {"сотрудник", "отдел"} and "employee" not in levels
    assert "Сумма успешных" in metrics and "won_sum" not in metrics
    names = {sheet.cell(r, 3).value for r in range(header + 1, sheet.max_row + 1)}
    assert department.name in names

    drill = _get(client, "/app/reports/efficiency/drill/?period=quarter&what=won_count",
                 admin).text  # fmt: skip
    link = re.search(r'href="(/app/reports/efficiency/drill/\?[^"]*format=xlsx[^"]*)"', drill)
    deals = load_workbook(BytesIO(client.get(link.group(1).replace("&amp;", "&")).content))
    sheet = deals.worksheets[0]
    header = next(r for r in range(1, 10) if sheet.cell(r, 1).value == "ID")
    columns = [cell.value for cell in sheet[header]]
    amount = sheet.cell(header + 1, columns.index("Сумма") + 1)
    closed = sheet.cell(header + 1, columns.index("Закрыто") + 1)
    assert amount.number_format == "#,##0.00" and closed.number_format == "DD.MM.YYYY HH:MM"
    title = sheet.column_dimensions["B"].width
    longest = max(len(str(sheet.cell(r, 2).value or "")) for r in range(header, sheet.max_row + 1))
    assert title >= min(60, longest)


@pytest.mark.django_db
def test_forgotten_pages_its_employees_and_exports_them_all(
    client, installed, bitrix24, monkeypatch
):
    import html

    monkeypatch.setattr("frontend.paging.PAGE_ROWS", 3)
    admin = _token(open_app(client, bitrix24, 1))
    everyone = _get(client, "/api/reports/forgotten/?period=all", admin).json()["by_employee"]
    assert len(everyone) > 3, "the sandbox has forgotten deals of several employees"
    url, seen = "/app/reports/forgotten/?period=all", []
    while url:
        body = _get(client, url, admin, HX_Request="true", HX_Target="report").text
        table = body.split('data-pager="employees"')[0]
        seen += re.findall(r'class="employee"[^>]*>([^<]+)</a>', table)
        found = re.search(r'rel="next" href="([^"]+)" hx-get="([^"]+)"', body)
        url = html.unescape(found.group(2)) if found else None
        if found:  # without JS the same page is the address with its number
            assert client.get(html.unescape(found.group(1))).status_code == 200
    assert seen == [html.escape(row["name"]) for row in everyone if row.get("id")]
    export = _get(client, "/app/reports/forgotten/?period=all&format=xlsx&page=2", admin)
    book = load_workbook(BytesIO(export.content))
    cells = {cell for sheet in book for row in sheet.iter_rows(values_only=True) for cell in row}
    assert all(row["name"] in cells for row in everyone)


@pytest.mark.django_db
@pytest.mark.parametrize("report", ["efficiency", "quality", "dynamics"])
def test_a_table_of_many_sellers_comes_a_page_at_a_time(client, make_portal, report):
    portal = make_portal()
    now = timezone.now()
    today = now.astimezone(ZoneInfo(portal.time_zone)).date()
    for crm_id in range(1, 121):  # each sold crm_id roubles today, and has crm_id open deals
        seller = Employee.objects.create(portal=portal, crm_id=crm_id,
                                         name=f"Продавец {crm_id:03d}")  # fmt: skip
        facts_add(portal, {(today, DEAL_WON, crm_id, 0, "", ""): [1, crm_id * 100, 0]})
        Deal.objects.bulk_create(
            Deal(portal=portal, crm_id=crm_id * 1000 + n, semantic="open", responsible=seller,
                 created_at=now, modified_at=now, last_touch_at=now)
            for n in range(crm_id)
        )  # fmt: skip
    token = session_issue(AppSession(portal_id=portal.pk, user_crm_id=1, role="admin"))
    seen, url = [], f"/app/reports/{report}/"
    if report == "dynamics":  # its employees are a block of their own, paged in place
        url = "/app/reports/dynamics/block/employees/?metric=won_count"
    while url:
        body = _get(client, url, token, HX_Request="true", HX_Target="report").content.decode()
        table = body.split("quality-rules")[0] if report == "quality" else body
        names = re.findall(r'class="employee"[^>]*>(Продавец \d{3})<', table)
        assert 0 < len(names) <= PAGE_ROWS
        seen += names
        if report == "efficiency":  # the totals are the whole table's on every page
            assert re.search(r"<tfoot>.*?7\xa0260", body, re.S)
        found = re.search(r'rel="next" href="[^"]*" hx-get="([^"]+)" hx-target="([^"]+)"', body)
        url = html.unescape(found.group(1)) if found else None
        if found and report == "dynamics":
            assert found.group(2) == "#dynamics-employees" and "metric=won_count" in url
    assert seen == [f"Продавец {crm_id:03d}" for crm_id in range(120, 0, -1)]  # most first
    export = _get(client, f"/app/reports/{report}/?format=xlsx", token)
    sheets = load_workbook(BytesIO(export.content)).worksheets
    cells = {cell for sheet in sheets for row in sheet.iter_rows(values_only=True) for cell in row}
    assert {f"Продавец {crm_id:03d}" for crm_id in range(1, 121)} <= cells
