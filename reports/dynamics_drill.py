"""Drill-downs of the sales dynamics report: the entities behind its own numbers, selected
by the definitions its figures use (so a list's length is the number).

`options` are the cell's coordinates: a stage (`stage`, with `entity` lead or deal), a state
of the period's deals (`state`: won, lost, in_work) and the deals list's age filter.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from django.db.models import F
from django.utils.translation import gettext as _

from crmapp.models import Deal, Lead, StageChange
from integrations.registry import card_path, card_url
from reports.aggregates import owner_history
from reports.dynamics import deal_rows, period_deals, responsible_in, sorted_deals
from reports.facts import LONG_CYCLE_SECONDS
from reports.metrics import IS_OPEN, IS_WON, won_in
from reports.paging import rows_slice
from reports.scope import Scope

DYNAMICS_LISTS = {"converted_leads", "period_deals", "long_cycles", "stage_exits", "stage_now"}
STATES = {"won": "won", "lost": "lost", "in_work": "open"}


def dynamics_drill(
    scope: Scope, what: str, options: Mapping, *, now: datetime, limit, offset: int
) -> dict:
    page = {"limit": limit, "offset": offset}
    if what == "period_deals":
        rows = period_deals(
            scope, now=now, age_min=_days(options, "age_min"), age_max=_days(options, "age_max")
        )
        if stage := options.get("stage"):
            rows = rows.filter(stage__crm_id=stage)
        if state := options.get("state"):
            if state not in STATES:
                raise ValueError(_("Unknown deal state %(value)r") % {"value": state})
            rows = rows.filter(semantic=STATES[state])
        rows = sorted_deals(rows, options.get("sort") or "-age_days")
        return {
            "kind": "deals",
            "total": rows.count(),
            "rows": _with_links(scope, "deal", deal_rows(scope, rows_slice(rows, **page), now=now)),
        }
    if what == "long_cycles":
        span = scope.span()
        rows = sorted_deals(
            period_deals(scope, now=now).filter(
                won_in(span), age__gt=timedelta(seconds=LONG_CYCLE_SECONDS)
            ),
            "-age_days",
        )
        return {
            "kind": "deals",
            "total": rows.count(),
            "rows": _with_links(scope, "deal", deal_rows(scope, rows_slice(rows, **page), now=now)),
        }
    if what == "converted_leads":
        rows = _owners(scope, Lead).filter(IS_WON, created_at__range=scope.span())
        rows = rows.order_by("-created_at", "crm_id")
        return {
            "kind": "leads",
            "total": rows.count(),
            "rows": _lead_rows(scope, rows_slice(rows, **page)),
        }
    entity_type = options.get("entity") or "deal"
    if entity_type not in ("deal", "lead"):
        raise ValueError(_("Unknown entity %(value)r") % {"value": entity_type})
    stage = options.get("stage") or ""
    if not stage:
        raise ValueError(_("Name the stage to list."))
    stays = _stays(scope, entity_type, stage, now=now, ended=what == "stage_exits")
    chosen = stays[offset:] if limit is None else stays[offset : offset + limit]
    return {"kind": f"{entity_type}s", "total": len(stays), "rows": chosen}


def _days(options: Mapping, name: str) -> float | None:
    value = (options.get(name) or "").strip()
    if not value:
        return None
    try:
        return float(value.replace(",", "."))
    except ValueError as error:
        message = _("%(name)s must be a number of days, not %(value)r")
        raise ValueError(message % {"name": name, "value": value}) from error


def _with_links(scope: Scope, entity_type: str, rows: list[dict]) -> list[dict]:
    return [
        row
        | {
            "url": card_url(scope.portal, entity_type, int(row["id"])),
            "path": card_path(scope.portal, entity_type, int(row["id"])),
        }
        for row in rows
    ]


def _owners(scope: Scope, model):
    rows = model.objects.for_portal(scope.portal)
    if scope.employees is not None:
        rows = rows.filter(responsible_in(scope))
    return rows


def _lead_rows(scope: Scope, rows) -> list[dict]:
    values = rows.values(
        "crm_id", "title", "created_at", "closed_at",
        responsible_name=F("responsible__name"), stage_name=F("status__name"),
    )  # fmt: skip
    return [
        {
            "id": str(row["crm_id"]),
            "title": row["title"],
            "responsible": row["responsible_name"] or "—",
            "stage": row["stage_name"] or "",
            "created_at": row["created_at"],
            "closed_at": row["closed_at"],
            "url": card_url(scope.portal, "lead", row["crm_id"]),
            "path": card_path(scope.portal, "lead", row["crm_id"]),
        }
        for row in values
    ]


def _stays(scope: Scope, entity_type: str, stage: str, *, now: datetime, ended: bool):
    """One row per stay in `stage`: those that ended in P (`ended`), or the stays going on
    now, walked through the same ordered history the aggregates count."""
    model = Deal if entity_type == "deal" else Lead
    history = StageChange.objects.for_portal(scope.portal).filter(entity_type=entity_type)
    candidates = _owners(scope, model).filter(
        crm_id__in=history.filter(stage_crm_id=stage).values("owner_crm_id")
    )
    if not ended:
        candidates = candidates.filter(IS_OPEN)
    owners = {
        row["crm_id"]: row
        for row in candidates.values(
            "crm_id", "title", "semantic", responsible_name=F("responsible__name"),
            **({"pipeline_id_crm": F("pipeline__crm_id")} if model is Deal else {}),
        )
    }  # fmt: skip
    start, end = scope.span()
    stays = []
    for owner, changes in owner_history(scope.portal, entity_type, list(owners)).items():
        entity = owners[owner]
        for entered, left in zip(changes, [*changes[1:], None], strict=True):
            if entered["stage_crm_id"] != stage:
                continue
            pipeline = entered["pipeline_crm_id"]
            if pipeline is None:
                pipeline = entity.get("pipeline_id_crm")
            if entity_type == "deal" and scope.pipeline is not None and pipeline != scope.pipeline:
                continue
            if ended and left is not None and start <= left["changed_at"] <= end:
                days = (left["changed_at"] - entered["changed_at"]).total_seconds() / 86400
            elif not ended and left is None and entered["semantic"] == "open":
                days = (now - entered["changed_at"]).total_seconds() / 86400
            else:
                continue
            stays.append(
                {
                    "id": str(owner),
                    "title": entity["title"],
                    "responsible": entity["responsible_name"] or "—",
                    "entered_at": entered["changed_at"],
                    "left_at": left["changed_at"] if left is not None else None,
                    "days": round(days, 2),
                    "url": card_url(scope.portal, entity_type, owner),
                    "path": card_path(scope.portal, entity_type, owner),
                }
            )
    stays.sort(key=lambda row: (-row["days"], int(row["id"])))
    return stays
