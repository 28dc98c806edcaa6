"""Writing neutral records into the canonical mirror (CRM-agnostic).

Upserts are idempotent and keyed by (portal, CRM id), so a record applied twice, or an older
copy applied after a newer one was re-fetched, leaves the mirror equal to the CRM.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from django.db import connection, transaction
from django.db.models import (
    Case,
    DateTimeField,
    Exists,
    F,
    Max,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from crmapp.models import (
    Activity,
    Deal,
    Department,
    Employee,
    Lead,
    Pipeline,
    Portal,
    Source,
    Stage,
    StageChange,
)
from integrations.records import (
    ActivityRecord,
    DealRecord,
    Directory,
    LeadRecord,
    StageChangeRecord,
)

UTM_FIELDS = ["utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term"]


def _upsert(model, portal: Portal, rows: list, fields: list[str], unique: Sequence[str]) -> None:
    """Insert or update by the unique key. A batch may carry one row twice (a record and its
    later, corrected copy): the last copy wins, as it would across two batches; PostgreSQL
    refuses an ON CONFLICT statement that touches a row twice."""
    key = [model._meta.get_field(name).attname for name in unique]
    latest = {tuple(getattr(row, name) for name in key): row for row in rows}
    if latest:
        model.objects.bulk_create(
            list(latest.values()),
            batch_size=1000,
            update_conflicts=True,
            unique_fields=["portal", *unique],
            update_fields=fields,
        )


def _ids(model, portal: Portal, **filters) -> dict:
    return dict(model.objects.for_portal(portal).filter(**filters).values_list("crm_id", "pk"))


def _employee_ids(portal: Portal, crm_ids: Iterable[int | None]) -> dict[int, int]:
    """Employee pks by CRM id, creating a stand-in row for someone hired since the last sync."""
    known = _ids(Employee, portal)
    missing = {crm_id for crm_id in crm_ids if crm_id and crm_id not in known}
    if missing:
        Employee.objects.bulk_create(
            [Employee(portal=portal, crm_id=crm_id, name=f"#{crm_id}") for crm_id in missing],
            ignore_conflicts=True,
        )
        known = _ids(Employee, portal)
    return known


def _touch(portal: Portal) -> None:
    Portal.objects.filter(pk=portal.pk).update(data_as_of=timezone.now())


# -- directory ---------------------------------------------------------------------------


@transaction.atomic
def mirror_directory_apply(portal: Portal, directory: Directory) -> None:
    """Departments, employees, pipelines, stages and sources: small, replaced as a whole."""
    departments, employees, pipelines = (
        directory.departments,
        directory.employees,
        directory.pipelines,
    )
    stages, sources = directory.stages, directory.sources
    _upsert(
        Department,
        portal,
        [Department(portal=portal, crm_id=d.crm_id, name=d.name, sort=d.sort) for d in departments],
        ["name", "sort"],
        ["crm_id"],
    )
    department_ids = _ids(Department, portal)
    _upsert(
        Employee,
        portal,
        [
            Employee(
                portal=portal,
                crm_id=e.crm_id,
                name=e.name,
                email=e.email,
                active=e.active,
                department_id=department_ids.get(e.department_crm_id),
            )
            for e in employees
        ],
        ["name", "email", "active", "department"],
        ["crm_id"],
    )
    employee_ids = _ids(Employee, portal)
    for record in departments:
        Department.objects.for_portal(portal).filter(crm_id=record.crm_id).update(
            parent_id=department_ids.get(record.parent_crm_id),
            head_id=employee_ids.get(record.head_crm_id),
        )
    _upsert(
        Pipeline,
        portal,
        [
            Pipeline(
                portal=portal, crm_id=p.crm_id, name=p.name, sort=p.sort, is_default=p.is_default
            )
            for p in pipelines
        ],
        ["name", "sort", "is_default"],
        ["crm_id"],
    )
    pipeline_ids = _ids(Pipeline, portal)
    _upsert(
        Stage,
        portal,
        [
            Stage(
                portal=portal,
                entity_type=s.entity_type,
                crm_id=s.crm_id,
                pipeline_id=pipeline_ids.get(s.pipeline_crm_id),
                name=s.name,
                sort=s.sort,
                semantic=s.semantic,
                color=s.color,
            )
            for s in stages
        ],
        ["pipeline", "name", "sort", "semantic", "color"],
        ["entity_type", "crm_id"],
    )
    _upsert(
        Source,
        portal,
        [Source(portal=portal, crm_id=s.crm_id, name=s.name) for s in sources],
        ["name"],
        ["crm_id"],
    )


# -- leads and deals ---------------------------------------------------------------------


@transaction.atomic
def mirror_leads_upsert(portal: Portal, records: list[LeadRecord], *, derive: bool = True) -> None:
    employees = _employee_ids(portal, (r.responsible_crm_id for r in records))
    statuses = _ids(Stage, portal, entity_type="lead")
    rows = [
        Lead(
            portal=portal,
            crm_id=r.crm_id,
            title=r.title[:255],
            status_id=statuses.get(r.status_crm_id),
            semantic=r.semantic,
            responsible_id=employees.get(r.responsible_crm_id),
            source=r.source,
            amount=r.amount,
            currency=r.currency,
            created_at=r.created_at,
            modified_at=r.modified_at,
            closed_at=r.closed_at if r.semantic != "open" else None,
            moved_at=r.moved_at,
            last_touch_at=max(r.created_at, r.moved_at or r.created_at),
            **_utm_fields(r.utm),
        )
        for r in records
    ]
    _upsert(
        Lead,
        portal,
        rows,
        ["title", "status", "semantic", "responsible", "source", "amount", "currency",
         "created_at", "modified_at", "closed_at", "moved_at", "last_touch_at", *UTM_FIELDS],
        ["crm_id"],
    )  # fmt: skip
    if derive:
        leads_derived_refresh(portal, [r.crm_id for r in records])
    _touch(portal)


@transaction.atomic
def mirror_deals_upsert(portal: Portal, records: list[DealRecord], *, derive: bool = True) -> None:
    employees = _employee_ids(portal, (r.responsible_crm_id for r in records))
    pipelines = _ids(Pipeline, portal)
    stages = _ids(Stage, portal, entity_type="deal")
    rows = [
        Deal(
            portal=portal,
            crm_id=r.crm_id,
            title=r.title[:255],
            pipeline_id=pipelines.get(r.pipeline_crm_id),
            stage_id=stages.get(r.stage_crm_id),
            semantic=r.semantic,
            amount=r.amount,
            currency=r.currency,
            responsible_id=employees.get(r.responsible_crm_id),
            company_crm_id=r.company_crm_id,
            contact_crm_id=r.contact_crm_id,
            lead_crm_id=r.lead_crm_id,
            source=r.source,
            created_at=r.created_at,
            modified_at=r.modified_at,
            close_date=r.close_date,
            # Until the stage history says when, a closed deal closed at its last move.
            closed_at=(r.moved_at or r.modified_at) if r.semantic != "open" else None,
            moved_at=r.moved_at,
            last_touch_at=max(r.created_at, r.moved_at or r.created_at),
            **_utm_fields(r.utm),
        )
        for r in records
    ]
    _upsert(
        Deal,
        portal,
        rows,
        ["title", "pipeline", "stage", "semantic", "amount", "currency", "responsible",
         "company_crm_id", "contact_crm_id", "lead_crm_id", "source", "created_at",
         "modified_at", "close_date", "closed_at", "moved_at", "last_touch_at", *UTM_FIELDS],
        ["crm_id"],
    )  # fmt: skip
    if derive:
        deals_derived_refresh(portal, [r.crm_id for r in records])
    _touch(portal)


def _utm_fields(utm) -> dict:
    return {
        "utm_source": utm.source[:255],
        "utm_medium": utm.medium[:255],
        "utm_campaign": utm.campaign[:255],
        "utm_content": utm.content[:255],
        "utm_term": utm.term[:255],
    }


# -- activities and stage history --------------------------------------------------------


@transaction.atomic
def mirror_activities_upsert(
    portal: Portal, records: list[ActivityRecord], *, derive: bool = True
) -> None:
    employees = _employee_ids(portal, (r.responsible_crm_id for r in records))
    rows = [
        Activity(
            portal=portal,
            crm_id=r.crm_id,
            kind=r.kind,
            subject=r.subject,
            responsible_id=employees.get(r.responsible_crm_id),
            owner_type=r.owner_type,
            owner_crm_id=r.owner_crm_id,
            created_at=r.created_at,
            deadline=r.deadline,
            completed=r.completed,
            completed_at=r.completed_at,
        )
        for r in records
    ]
    _upsert(
        Activity,
        portal,
        rows,
        ["kind", "subject", "responsible", "owner_type", "owner_crm_id", "created_at",
         "deadline", "completed", "completed_at"],
        ["crm_id"],
    )  # fmt: skip
    if derive:
        _derive_owners(portal, ((r.owner_type, r.owner_crm_id) for r in records))
    _touch(portal)


@transaction.atomic
def mirror_stage_changes_upsert(
    portal: Portal, records: list[StageChangeRecord], *, derive: bool = True
) -> None:
    rows = [
        StageChange(
            portal=portal,
            crm_id=r.crm_id,
            entity_type=r.entity_type,
            owner_crm_id=r.owner_crm_id,
            kind=r.kind,
            pipeline_crm_id=r.pipeline_crm_id,
            stage_crm_id=r.stage_crm_id,
            semantic=r.semantic,
            changed_at=r.changed_at,
        )
        for r in records
    ]
    _upsert(
        StageChange,
        portal,
        rows,
        ["owner_crm_id", "kind", "pipeline_crm_id", "stage_crm_id", "semantic", "changed_at"],
        ["entity_type", "crm_id"],
    )
    if derive:
        _derive_owners(portal, ((r.entity_type, r.owner_crm_id) for r in records))


@transaction.atomic
def mirror_delete(portal: Portal, entity_type: str, crm_ids: Iterable[int]) -> None:
    """Remove deleted CRM entities (and, for leads and deals, their stage history)."""
    crm_ids = list(crm_ids)
    if entity_type == "activity":
        owners = list(
            Activity.objects.for_portal(portal)
            .filter(crm_id__in=crm_ids)
            .values_list("owner_type", "owner_crm_id")
        )
        Activity.objects.for_portal(portal).filter(crm_id__in=crm_ids).delete()
        _derive_owners(portal, owners)
    else:
        model = {"deal": Deal, "lead": Lead}[entity_type]
        model.objects.for_portal(portal).filter(crm_id__in=crm_ids).delete()
        StageChange.objects.for_portal(portal).filter(
            entity_type=entity_type, owner_crm_id__in=crm_ids
        ).delete()
    _touch(portal)


# -- derived fields ----------------------------------------------------------------------


def _derive_owners(portal: Portal, owners: Iterable[tuple[str, int]]) -> None:
    by_type: dict[str, set[int]] = defaultdict(set)
    for owner_type, owner_crm_id in owners:
        by_type[owner_type].add(owner_crm_id)
    if by_type["deal"]:
        deals_derived_refresh(portal, by_type["deal"])
    if by_type["lead"]:
        leads_derived_refresh(portal, by_type["lead"])


def _owned(model, portal: Portal, entity_type: str):
    """Rows of `model` (Activity or StageChange) that belong to the outer lead or deal."""
    owner_field = "owner_type" if model is Activity else "entity_type"
    return model.objects.for_portal(portal).filter(
        **{owner_field: entity_type}, owner_crm_id=OuterRef("crm_id")
    )


def _latest_time(queryset, field: str):
    return Subquery(
        queryset.order_by().values("owner_crm_id").annotate(last=Max(field)).values("last")[:1]
    )


def _last_touch(portal: Portal, entity_type: str):
    """Latest of creation, last move, stage changes, activity creation and completion.

    Each term falls back to the creation time, so no NULL reaches GREATEST (SQLite's MAX()
    would return NULL for it).
    """
    activities = _owned(Activity, portal, entity_type)
    terms = [
        F("moved_at"),
        _latest_time(_owned(StageChange, portal, entity_type), "changed_at"),
        _latest_time(activities, "created_at"),
        _latest_time(activities.filter(completed=True), "completed_at"),
    ]
    return Greatest(F("created_at"), *(Coalesce(term, F("created_at")) for term in terms))


def _closed_at(portal: Portal, entity_type: str):
    """The latest entry into a stage of the current semantic: a deal won, reopened and won
    again closes at its last win (DESIGN.md "won"); open ones are not closed.

    When the last history row disagrees with the current state (the change left no row), the
    current state wins from the last modification, never before that row: the same rule as
    `reports.facts.open_steps`.
    """
    history = _owned(StageChange, portal, entity_type)
    entries = history.filter(semantic=OuterRef("semantic"))
    last_row = history.order_by("-changed_at", "-crm_id")
    last_time = Subquery(last_row.values("changed_at")[:1])
    return Case(
        When(semantic="open", then=Value(None)),
        When(
            ~Q(semantic=Subquery(last_row.values("semantic")[:1])),
            then=Greatest(Coalesce(F("modified_at"), last_time), last_time),
        ),
        default=Coalesce(_latest_time(entries, "changed_at"), F("closed_at")),
        output_field=DateTimeField(),
    )


def mirror_statistics_refresh() -> None:
    """Let the query planner see the rows an import just added.

    Right after a bulk load the statistics still describe near-empty tables, and PostgreSQL
    then plans the derived-field subqueries as scans: seconds per row instead of milliseconds.
    """
    tables = [model._meta.db_table for model in (Lead, Deal, Activity, StageChange)]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"ANALYZE {', '.join(tables)}")
        else:
            for table in tables:
                cursor.execute(f"ANALYZE {table}")


def deals_derived_refresh(portal: Portal, crm_ids: Iterable[int]) -> None:
    """Recompute closed_at, last_touch_at and has_next_step from history and activities,
    in one set-based UPDATE (the same path for one event and for a whole import)."""
    Deal.objects.for_portal(portal).filter(crm_id__in=list(crm_ids)).update(
        closed_at=_closed_at(portal, "deal"),
        last_touch_at=_last_touch(portal, "deal"),
        has_next_step=Exists(_owned(Activity, portal, "deal").filter(completed=False)),
    )


def leads_derived_refresh(portal: Portal, crm_ids: Iterable[int]) -> None:
    Lead.objects.for_portal(portal).filter(crm_id__in=list(crm_ids)).update(
        closed_at=_closed_at(portal, "lead"),
        last_touch_at=_last_touch(portal, "lead"),
    )
