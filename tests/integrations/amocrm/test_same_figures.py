"""Done-when of issue 17: with the same seed, last month's efficiency, forgotten and plan
figures of the imported amoCRM account equal those of the imported Bitrix24 portal wherever
the two CRMs hold the same data (read through the report functions `manage.py report` calls).

How the fakes render one business (integrations/sandbox/amocrm/render.py): every Bitrix24
deal is one amoCRM lead (ids 20 000 000 + …, `sim_deal_id`), and so is every Bitrix24 lead
that never converted (`sim_deal_id` NULL): open ones sit in the incoming stage, junked ones
are lost (143). Employees are 7 000 000 + the Bitrix24 id, pipelines 7 700 000 + the
category, groups 300 000 + the department (the root department 1 is the default group 0).
Completed calls are call notes, meetings, to-dos and tasks are amoCRM tasks, e-mails are not
in amoCRM's API.

Must agree, and why the others differ:
- efficiency, per employee: won count, won sum, average check (the same deals won at the
  same moments, same amounts); calls and meetings (same activities, same times); amoCRM's
  "other" = Bitrix24's "tasks" (a Bitrix24 task or to-do is an amoCRM task of a custom
  type); activity points = Bitrix24's less its e-mails' and its "other" activities' points
  (neither exists in amoCRM), with tasks weighed as "other". Lost, in work, win rate and
  leads in work differ: the unconverted Bitrix24 leads are amoCRM deals too (lost when
  junked, in work while open). The cycle differs: an amoCRM lead is created when the
  Bitrix24 lead came in, not when its deal was.
- forgotten: a Bitrix24 deal without e-mails whose lead had no activity is forgotten on
  amoCRM exactly when it is on Bitrix24, idle as long, with the same amount, responsible and
  reasons (an e-mail touches it only on Bitrix24; its lead's activities touch the one amoCRM
  lead, so the deal there); amoCRM's other forgotten deals are
  unconverted Bitrix24 leads (Bitrix24 lists them as leads, after 3 idle days rather than
  14). Forgotten leads differ (on amoCRM every deal is a lead too); each forgotten
  unconverted Bitrix24 lead is a forgotten amoCRM lead as well.
- plan (the same plans set on both): plan, fact, completion, remaining and pace of the won
  sum and count, calls and meetings for every employee and every department but the root:
  amoCRM's groups are flat, so its default group does not add up the others' as Bitrix24's
  root department does. Deals created differ (unconverted leads), and so does the repeat
  share: the fake binds deals without a company to one nonexistent company 40 000 000
  (Bitrix24's COMPANY_ID 0), so they repeat one another.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from crmapp.models import Activity, Deal, Lead
from integrations.sandbox.amocrm import identity as ids
from reports.efficiency import efficiency
from reports.forgotten import forgotten
from reports.models import Plan, ReportSettings
from reports.plan_report import plan
from reports.scope import Viewer, default_period, period_preset, scope_resolve
from tests.integrations.amocrm.test_import import _import

pytestmark = pytest.mark.django_db

SAME_EFFICIENCY = ("won_count", "won_sum", "avg_check", "calls", "meetings")
SAME_PLAN = ("plan", "fact", "completion", "remaining", "planned_fact", "bonus")
PLAN_METRICS = ("won_sum", "won_count", "calls", "meetings")


def _last_month(portal):
    today = timezone.localdate(timezone=ZoneInfo(portal.time_zone))
    end = today.replace(day=1) - timedelta(days=1)
    return end.replace(day=1), end


def _scope(portal):
    start, end = _last_month(portal)
    return scope_resolve(portal, Viewer.operator(), start=start, end=end)


def _b24_employee(amo_id) -> int:
    return int(amo_id) - ids.USER_BASE


def _b24_department(amo_id) -> int:
    return 1 if int(amo_id) == 0 else int(amo_id) - ids.GROUP_BASE


@pytest.fixture
def both(installed, amo_portal, amo_account):
    """The Bitrix24 sandbox portal and the amoCRM sandbox account of the same seed, both
    installed and imported; and amoCRM lead id → the Bitrix24 deal it renders (or None)."""
    amo = _import(amo_portal)
    deal_of = dict(amo_account.portal.store.query("SELECT id, sim_deal_id FROM amo_leads"))
    lead_of = dict(amo_account.portal.store.query("SELECT id, sim_lead_id FROM amo_leads"))
    return installed, amo, deal_of, lead_of


def _same_data_deals(b24) -> set[int]:
    """Bitrix24 deals whose touches amoCRM holds alike: no e-mail on the deal (amoCRM has
    none), no activity on the lead it came from (amoCRM binds those to the one lead, so they
    touch the deal there)."""
    activities = Activity.objects.for_portal(b24)
    emailed = set(activities.filter(owner_type="deal", kind="email").values_list(
        "owner_crm_id", flat=True))  # fmt: skip
    busy_leads = set(activities.filter(owner_type="lead").values_list("owner_crm_id", flat=True))
    return {
        crm_id
        for crm_id, lead_id in Deal.objects.for_portal(b24).values_list("crm_id", "lead_crm_id")
        if crm_id not in emailed and lead_id not in busy_leads
    }


def _forgotten_scope(portal):
    """The forgotten report's own period (the one its page opens with): last month alone
    holds only the deals idle since its first days when today is early in a month."""
    today = timezone.localdate(timezone=ZoneInfo(portal.time_zone))
    start, end = period_preset(default_period("forgotten"), today)
    return scope_resolve(portal, Viewer.operator(), start=start, end=end)


def _dated_alike(b24, amo, deal_of, scope=_scope) -> set[int]:
    """Bitrix24 deals that amoCRM dates alike: created in the `scope`'s period (last month)
    in both (or in neither) and last touched at the same moment. amoCRM dates a converted
    deal from its lead, which may fall in the month before, and its moves from the lead's
    first stage on."""

    def dates(portal):
        first, last = scope(portal).span()
        rows = Deal.objects.for_portal(portal).values_list("crm_id", "created_at", "last_touch_at")
        return {crm_id: (first <= created <= last, touch) for crm_id, created, touch in rows}

    theirs = {deal_of[crm_id]: d for crm_id, d in dates(amo).items() if deal_of.get(crm_id)}
    return {crm_id for crm_id, d in dates(b24).items() if theirs.get(crm_id) == d}


def test_efficiency_agrees_on_won_deals_calls_and_meetings(both):
    b24, amo, _deal_of, _lead_of = both
    ours, theirs = efficiency(_scope(b24)), efficiency(_scope(amo))
    weights = ReportSettings.of(b24).weights
    assert weights == ReportSettings.of(amo).weights
    by_b24 = {int(row["id"]): row for row in ours["employees"]}
    by_amo = {_b24_employee(row["id"]): row for row in theirs["employees"]}
    assert ours["totals"]["won_count"] > 5, "last month must have won deals to compare"
    assert ours["totals"]["calls"] and ours["totals"]["meetings"] and ours["totals"]["tasks"]
    for employee in by_b24.keys() | by_amo.keys():
        b, a = by_b24.get(employee), by_amo.get(employee)
        assert b is not None and a is not None, employee
        assert {k: b[k] for k in SAME_EFFICIENCY} == {k: a[k] for k in SAME_EFFICIENCY}
        assert (a["emails"], a["tasks"], a["other"]) == (0, 0, b["tasks"])
        expected = (b["activity_points"] - b["emails"] * weights["email"]
                    - b["other"] * weights["other"]
                    + b["tasks"] * (weights["other"] - weights["task"]))  # fmt: skip
        assert a["activity_points"] == expected
    # What differs, differs for the reason the docstring gives.
    assert theirs["totals"]["emails"] == 0 < ours["totals"]["emails"]
    assert theirs["totals"]["lost_count"] > ours["totals"]["lost_count"]
    assert theirs["totals"]["in_work_count"] > ours["totals"]["in_work_count"]


def test_the_same_deals_are_forgotten_idle_as_long(both):
    b24, amo, deal_of, lead_of = both
    now = timezone.now()
    ours = forgotten(_forgotten_scope(b24), now=now)
    theirs = forgotten(_forgotten_scope(amo), now=now)
    assert ours["deals"], "the sandbox must have forgotten deals to compare"
    fields = ("idle_days", "amount", "reasons")
    b24_deals = {int(d["id"]): d for d in ours["deals"]}
    from_deals, from_leads = {}, set()
    for item in theirs["deals"]:
        if deal_of[int(item["id"])] is None:
            from_leads.add(lead_of[int(item["id"])])
        else:
            from_deals[deal_of[int(item["id"])]] = item
    same = _same_data_deals(b24) & _dated_alike(b24, amo, deal_of, _forgotten_scope)
    assert len(b24_deals.keys() & same) >= 3
    assert from_deals.keys() & same == b24_deals.keys() & same
    for deal_id in b24_deals.keys() & same:
        item, theirs_item = b24_deals[deal_id], from_deals[deal_id]
        assert {k: theirs_item[k] for k in fields} == {k: item[k] for k in fields}
        assert _b24_employee(theirs_item["responsible_id"]) == int(item["responsible_id"])
    # amoCRM's other forgotten deals are Bitrix24 leads that never converted.
    open_leads = set(Lead.objects.for_portal(b24).filter(
        crm_id__in=from_leads, semantic="open").values_list("crm_id", flat=True))  # fmt: skip
    assert open_leads == from_leads
    unconverted = {lead_id for amo_id, lead_id in lead_of.items() if deal_of[amo_id] is None}
    ours_unconverted = {int(item["id"]) for item in ours["leads"]} & unconverted
    amo_ids = {lead_id: amo_id for amo_id, lead_id in lead_of.items() if deal_of[amo_id] is None}
    assert {amo_ids[i] for i in ours_unconverted} <= {int(i["id"]) for i in theirs["leads"]}


def test_plans_meet_the_same_facts(both):
    b24, amo, _deal_of, _lead_of = both
    start, _end = _last_month(b24)
    now = timezone.now()
    won = efficiency(_scope(b24))["employees"][:3]
    assert won and won[0]["won_sum"] > 0
    department = next(d for d in ids.reference.DEPARTMENTS if d[0] != 1)[0]
    targets = [("employee", int(row["id"]), int(row["id"]) + ids.USER_BASE) for row in won]
    targets.append(("department", department, ids.group_of(department)))
    for level, b24_id, amo_id in targets:
        for metric, value in (("won_sum", 50_000_000), ("won_count", 3), ("calls", 10)):
            for portal, target in ((b24, b24_id), (amo, amo_id)):
                Plan.objects.create(portal=portal, month=start, level=level,
                                    target_crm_id=target, metric=metric, value=value,
                                    updated_at=now)  # fmt: skip

    def rows(report, amo_side: bool) -> dict:
        out = {}
        for row in report["rows"]:
            if row["metric"] not in PLAN_METRICS or row["pipeline_id"] is not None:
                continue
            target = int(row["id"])
            if amo_side:
                target = (_b24_employee if row["level"] == "employee" else _b24_department)(target)
            if row["level"] == "department" and target == 1:
                continue  # the root: see the module docstring
            out[(row["month"], row["level"], target, row["metric"])] = {
                k: row[k] for k in SAME_PLAN}  # fmt: skip
        return out

    ours, theirs = rows(plan(_scope(b24)), False), rows(plan(_scope(amo)), True)
    planned = {key for key, row in ours.items() if row["plan"] is not None}
    # A department without a plan of its own plans the sum of its employees'.
    assert len(planned) >= 3 * len(targets)
    common = ours.keys() & theirs.keys()
    assert planned <= common
    assert {k: ours[k] for k in common} == {k: theirs[k] for k in common}
    # Rows only one side lists are the people and departments with nothing to show there.
    for key in ours.keys() ^ theirs.keys():
        row = ours.get(key) or theirs[key]
        assert row["plan"] is None and not row["fact"], key


def test_the_two_mirrors_hold_the_same_deals_and_activities(both):
    """Under the figures: every Bitrix24 deal is an amoCRM deal with the same amount, and the
    completed calls and meetings are the same ones at the same times."""
    b24, amo, deal_of, _lead_of = both
    rendered = {b24_id: amo_id for amo_id, b24_id in deal_of.items() if b24_id is not None}
    amo_deals = dict(Deal.objects.for_portal(amo).values_list("crm_id", "amount"))
    for crm_id, amount in Deal.objects.for_portal(b24).values_list("crm_id", "amount"):
        # amoCRM's price is a whole number of roubles.
        assert abs(amo_deals[rendered[crm_id]] - amount) <= Decimal("0.5")
    for kind in ("call", "meeting"):

        def done(portal, kind=kind):
            return sorted(Activity.objects.for_portal(portal).filter(
                kind=kind, completed=True, owner_type__in=("lead", "deal")).values_list(
                "completed_at", flat=True))  # fmt: skip

        assert done(b24) == done(amo), kind
