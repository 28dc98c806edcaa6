"""Render the simulated business into amoCRM's entities, in the same SQLite file.

amoCRM has no lead entity, so every simulation lead and deal becomes one amoCRM lead
(``amo_leads``):
- a deal with its source lead: created when the lead came in, in pipeline 0's incoming stage, moved
  to the deal's first stage when the lead converted (a responsible change too when the deal went to
  someone else), then through the deal's stage history;
- a deal without a lead: created in its first stage;
- a lead that never converted: sits in the incoming stage, or is lost there (143) when junked.
Stage history becomes ``lead_status_changed`` events; meetings, tasks and planned calls become
tasks; completed calls become ``call_in``/``call_out`` notes with their events. E-mails and chats
have no amoCRM API counterpart and are not rendered.

Everything is SQL over the simulation tables or a streamed cursor with chunked inserts, so the
large scale renders within the memory the simulation itself uses. Ids are assigned in time order
(as amoCRM's grow), deterministically: the same simulation gives the same rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from .. import reference
from ..store import Store
from . import identity as ids

TABLES = {
    "amo_leads": (
        "id INTEGER PRIMARY KEY, sim_deal_id INTEGER, sim_lead_id INTEGER, name TEXT,"
        " price INTEGER,"
        " responsible_user_id INTEGER, group_id INTEGER, status_id INTEGER, pipeline_id INTEGER,"
        " loss_reason_id INTEGER, source_id INTEGER, created_by INTEGER, updated_by INTEGER,"
        " created_at INTEGER, updated_at INTEGER, closed_at INTEGER, is_deleted INTEGER,"
        " company_id INTEGER, contact_id INTEGER, utm_source TEXT, utm_medium TEXT,"
        " utm_campaign TEXT, utm_content TEXT, utm_term TEXT"
    ),
    "amo_contacts": (
        "id INTEGER PRIMARY KEY, name TEXT, first_name TEXT, last_name TEXT,"
        " responsible_user_id INTEGER, group_id INTEGER, created_by INTEGER, updated_by INTEGER,"
        " created_at INTEGER, updated_at INTEGER, company_id INTEGER"
    ),
    "amo_companies": (
        "id INTEGER PRIMARY KEY, name TEXT, responsible_user_id INTEGER, group_id INTEGER,"
        " created_by INTEGER, updated_by INTEGER, created_at INTEGER, updated_at INTEGER"
    ),
    "amo_tasks": (
        "id INTEGER PRIMARY KEY, entity_id INTEGER, entity_type TEXT, task_type_id INTEGER,"
        " text TEXT, result TEXT, is_completed INTEGER, complete_till INTEGER, duration INTEGER,"
        " responsible_user_id INTEGER, group_id INTEGER, created_by INTEGER, updated_by INTEGER,"
        " created_at INTEGER, updated_at INTEGER, completed_at INTEGER"
    ),
    "amo_notes": (
        "id INTEGER PRIMARY KEY, entity_id INTEGER, entity_type TEXT, note_type TEXT, params TEXT,"
        " responsible_user_id INTEGER, group_id INTEGER, created_by INTEGER, updated_by INTEGER,"
        " created_at INTEGER, updated_at INTEGER"
    ),
    "amo_events": (
        "n INTEGER PRIMARY KEY, id TEXT UNIQUE, type TEXT, entity_type TEXT, entity_id INTEGER,"
        " created_by INTEGER, created_at INTEGER, value_before TEXT, value_after TEXT"
    ),
}
INDEXES = (
    "CREATE INDEX IF NOT EXISTS amo_leads_updated ON amo_leads(updated_at)",
    "CREATE INDEX IF NOT EXISTS amo_leads_deal ON amo_leads(sim_deal_id)",
    "CREATE INDEX IF NOT EXISTS amo_leads_lead ON amo_leads(sim_lead_id)",
    "CREATE INDEX IF NOT EXISTS amo_tasks_updated ON amo_tasks(updated_at)",
    "CREATE INDEX IF NOT EXISTS amo_notes_entity ON amo_notes(entity_id)",
    "CREATE INDEX IF NOT EXISTS amo_events_time ON amo_events(created_at)",
    "CREATE INDEX IF NOT EXISTS amo_events_type ON amo_events(type, created_at)",
    "CREATE INDEX IF NOT EXISTS amo_events_entity ON amo_events(entity_type, entity_id)",
)
_CHUNK = 5000


def _user_sql(column: str) -> str:
    return f"CASE WHEN {column} IS NULL THEN NULL ELSE {ids.USER_BASE} + {column} END"


def _group_sql(column: str) -> str:
    return f"(SELECT group_id FROM temp.amo_user_groups WHERE sim_id = {column})"  # noqa: S608


def _maps(store: Store) -> None:
    """Temporary lookup tables the SQL below joins: stages, sources, users' groups."""
    conn = store.conn
    conn.execute("CREATE TEMP TABLE amo_stage_map (sim_stage TEXT PRIMARY KEY, pipe INT, st INT)")
    conn.executemany(
        "INSERT INTO temp.amo_stage_map VALUES (?, ?, ?)",
        [(k, p, s) for k, (p, s) in ids.stage_map().items()],
    )
    conn.execute("CREATE TEMP TABLE amo_source_map (code TEXT PRIMARY KEY, id INT)")
    conn.executemany("INSERT INTO temp.amo_source_map VALUES (?, ?)", ids.source_map().items())
    conn.execute("CREATE TEMP TABLE amo_user_groups (sim_id INT PRIMARY KEY, group_id INT)")
    conn.executemany(
        "INSERT INTO temp.amo_user_groups VALUES (?, ?)",
        [
            (int(u["ID"]), ids.group_of(int(u["UF_DEPARTMENT"][0])))
            for u in store.reference("users")
        ],
    )


def _loss_reason_sql(key: str, seed: int) -> str:
    count = len(ids.LOSS_REASONS)
    return f"{ids.LOSS_REASON_BASE} + 1 + (({key} * 7 + {seed}) % {count})"


def _leads(store: Store, seed: int) -> None:
    pipe0, incoming0 = ids.incoming(0)
    loss_deal = _loss_reason_sql("d.ID", seed)
    loss_lead = _loss_reason_sql("l.ID", seed)
    utm = ", ".join(f"NULLIF({{t}}.UTM_{part}, '')" for part in ("SOURCE", "MEDIUM", "CAMPAIGN"))
    utm_tail = ", ".join(f"NULLIF({{t}}.UTM_{part}, '')" for part in ("CONTENT", "TERM"))
    store.conn.execute(
        f"""
        INSERT INTO amo_leads
        SELECT {ids.LEAD_BASE} + ROW_NUMBER() OVER (
                   ORDER BY created_at, sim_deal_id IS NULL, COALESCE(sim_deal_id, sim_lead_id)),
               *
        FROM (
          SELECT d.ID AS sim_deal_id, d.LEAD_ID AS sim_lead_id, d.TITLE,
                 CAST(ROUND(COALESCE(d.OPPORTUNITY, 0)) AS INTEGER),
                 {_user_sql("d.ASSIGNED_BY_ID")}, {_group_sql("d.ASSIGNED_BY_ID")},
                 sm.st, sm.pipe,
                 CASE WHEN sm.st = {ids.LOST} THEN {loss_deal} END,
                 (SELECT id FROM temp.amo_source_map WHERE code = d.SOURCE_ID),
                 {_user_sql("COALESCE(l.CREATED_BY_ID, d.CREATED_BY_ID)")},
                 {_user_sql("d.MODIFY_BY_ID")},
                 unixepoch(COALESCE(l.DATE_CREATE, d.DATE_CREATE)) AS created_at,
                 unixepoch(d.DATE_MODIFY),
                 CASE WHEN sm.st IN ({ids.WON}, {ids.LOST}) THEN unixepoch(d.MOVED_TIME) END,
                 0,
                 d.COMPANY_ID + {ids.COMPANY_BASE}, d.CONTACT_ID + {ids.CONTACT_BASE},
                 {utm.format(t="d")}, {utm_tail.format(t="d")}
          FROM deals d
          LEFT JOIN leads l ON l.ID = d.LEAD_ID
          JOIN temp.amo_stage_map sm ON sm.sim_stage = d.STAGE_ID
          UNION ALL
          SELECT NULL, l.ID, l.TITLE, CAST(ROUND(COALESCE(l.OPPORTUNITY, 0)) AS INTEGER),
                 {_user_sql("l.ASSIGNED_BY_ID")}, {_group_sql("l.ASSIGNED_BY_ID")},
                 CASE WHEN l.STATUS_ID = 'JUNK' THEN {ids.LOST} ELSE {incoming0} END, {pipe0},
                 CASE WHEN l.STATUS_ID = 'JUNK' THEN {loss_lead} END,
                 (SELECT id FROM temp.amo_source_map WHERE code = l.SOURCE_ID),
                 {_user_sql("l.CREATED_BY_ID")}, {_user_sql("l.MODIFY_BY_ID")},
                 unixepoch(l.DATE_CREATE), unixepoch(l.DATE_MODIFY),
                 CASE WHEN l.STATUS_ID = 'JUNK' THEN unixepoch(NULLIF(l.DATE_CLOSED, '')) END,
                 0,
                 l.COMPANY_ID + {ids.COMPANY_BASE}, l.CONTACT_ID + {ids.CONTACT_BASE},
                 {utm.format(t="l")}, {utm_tail.format(t="l")}
          FROM leads l
          WHERE NOT EXISTS (SELECT 1 FROM deals d WHERE d.LEAD_ID = l.ID)
        )
        """  # noqa: S608 - numbers and names from this module
    )


def _parties(store: Store) -> None:
    store.conn.execute(
        f"""
        INSERT INTO amo_contacts
        SELECT {ids.CONTACT_BASE} + c.ID,
               TRIM(COALESCE(c.NAME, '') || ' ' || COALESCE(c.LAST_NAME, '')),
               c.NAME, c.LAST_NAME, {_user_sql("c.ASSIGNED_BY_ID")},
               {_group_sql("c.ASSIGNED_BY_ID")},
               {_user_sql("c.CREATED_BY_ID")}, {_user_sql("c.MODIFY_BY_ID")},
               unixepoch(c.DATE_CREATE), unixepoch(c.DATE_MODIFY), c.COMPANY_ID + {ids.COMPANY_BASE}
        FROM contacts c ORDER BY c.ID
        """  # noqa: S608
    )
    store.conn.execute(
        f"""
        INSERT INTO amo_companies
        SELECT {ids.COMPANY_BASE} + c.ID, c.TITLE, {_user_sql("c.ASSIGNED_BY_ID")},
               {_group_sql("c.ASSIGNED_BY_ID")}, {_user_sql("c.CREATED_BY_ID")},
               {_user_sql("c.MODIFY_BY_ID")}, unixepoch(c.DATE_CREATE), unixepoch(c.DATE_MODIFY)
        FROM companies c ORDER BY c.ID
        """  # noqa: S608
    )


_ACTIVITY_LEAD = """
    COALESCE(
      (SELECT id FROM amo_leads WHERE a.OWNER_TYPE_ID = 2 AND sim_deal_id = a.OWNER_ID),
      (SELECT id FROM amo_leads WHERE a.OWNER_TYPE_ID = 1 AND sim_lead_id = a.OWNER_ID))
"""
# Meetings, tasks, to-dos and planned (not yet made) calls are amoCRM tasks.
_IS_TASK = (
    "(a.TYPE_ID = 1 OR a.TYPE_ID = 3 OR (a.TYPE_ID = 2 AND a.COMPLETED = 'N')"
    " OR (a.TYPE_ID = 6 AND a.PROVIDER_ID IN ('CRM_TODO', 'TASKS_TASK')))"
)


def _activities(store: Store) -> None:
    conn = store.conn
    conn.execute(
        f"""
        INSERT INTO amo_tasks
        SELECT {ids.TASK_BASE} + a.ID, {_ACTIVITY_LEAD}, 'leads',
               CASE a.TYPE_ID WHEN 1 THEN 2 WHEN 2 THEN 1 ELSE 3 END,
               COALESCE(a.SUBJECT, ''), CASE WHEN a.COMPLETED = 'Y' THEN 'Выполнено' END,
               a.COMPLETED = 'Y', unixepoch(COALESCE(a.DEADLINE, a.END_TIME)),
               CAST(MAX(0, unixepoch(a.END_TIME) - unixepoch(a.START_TIME)) AS INTEGER),
               {_user_sql("a.RESPONSIBLE_ID")}, {_group_sql("a.RESPONSIBLE_ID")},
               {_user_sql("a.AUTHOR_ID")}, {_user_sql("COALESCE(a.EDITOR_ID, a.AUTHOR_ID)")},
               unixepoch(a.CREATED), unixepoch(a.LAST_UPDATED),
               CASE WHEN a.COMPLETED = 'Y' THEN unixepoch(a.LAST_UPDATED) END
        FROM activities a WHERE {_IS_TASK} AND a.OWNER_TYPE_ID IN (1, 2) ORDER BY a.ID
        """  # noqa: S608
    )
    conn.execute(
        f"""
        INSERT INTO amo_notes
        SELECT {ids.NOTE_BASE} + a.ID, {_ACTIVITY_LEAD}, 'leads',
               CASE a.DIRECTION WHEN 1 THEN 'call_in' ELSE 'call_out' END,
               json_object(
                 'uniq', printf('%08x-0000-4000-8000-%012x', a.ID,
                                a.ID * 2654435761 % 281474976710656),
                 'duration',
                 CAST(MAX(0, unixepoch(a.END_TIME) - unixepoch(a.START_TIME)) AS INTEGER),
                 'source', 'sandbox-pbx',
                 'link', printf('https://pbx.vector-sandbox.ru/rec/%d.mp3', a.ID),
                 'phone', printf('+7900%07d', a.OWNER_ID * 7919 % 10000000),
                 'call_responsible', {_user_sql("a.RESPONSIBLE_ID")},
                 'call_status', 4, 'call_result', ''),
               {_user_sql("a.RESPONSIBLE_ID")}, {_group_sql("a.RESPONSIBLE_ID")},
               {_user_sql("a.RESPONSIBLE_ID")}, {_user_sql("a.RESPONSIBLE_ID")},
               unixepoch(a.END_TIME), unixepoch(a.END_TIME)
        FROM activities a
        WHERE a.TYPE_ID = 2 AND a.COMPLETED = 'Y' AND a.OWNER_TYPE_ID IN (1, 2) ORDER BY a.ID
        """  # noqa: S608
    )


def _status(pipeline: int, status: int) -> str:
    return json.dumps([{"lead_status": {"id": status, "pipeline_id": pipeline}}])


def _responsible(user: int | None) -> str:
    return json.dumps([{"responsible_user": {"id": user}}])


def _lead_moves(store: Store) -> Iterator[tuple[Any, ...]]:
    """Raw events of every lead's conversion and stage moves, streamed deal by deal."""
    stages = ids.stage_map()
    incoming = ids.incoming(0)
    cursor = store.conn.cursor()
    cursor.execute(
        """
        SELECT a.id, a.sim_lead_id IS NOT NULL AND l.ID IS NOT NULL, l.ASSIGNED_BY_ID,
               d.ASSIGNED_BY_ID, h.ID, unixepoch(h.CREATED_TIME), h.STAGE_ID
        FROM deal_history h
        JOIN amo_leads a ON a.sim_deal_id = h.OWNER_ID
        JOIN deals d ON d.ID = h.OWNER_ID
        LEFT JOIN leads l ON l.ID = a.sim_lead_id
        ORDER BY h.OWNER_ID, h.ID
        """
    )
    current: int | None = None
    where: tuple[int, int] = incoming
    for lead, converted, lead_owner, deal_owner, row, at, stage in cursor:
        target = stages[stage]
        actor = ids.user_id(deal_owner)
        if lead != current:
            current = lead
            if converted:
                if lead_owner != deal_owner:
                    yield (at, lead, 1, row, "entity_responsible_changed", actor,
                           _responsible(ids.user_id(lead_owner)), _responsible(actor))  # fmt: skip
                yield (at, lead, 2, row, "lead_status_changed", actor,
                       _status(*incoming), _status(*target))  # fmt: skip
            where = target
            continue
        if target != where:
            yield (at, lead, 2, row, "lead_status_changed", actor,
                   _status(*where), _status(*target))  # fmt: skip
            where = target


def _events(store: Store) -> None:
    conn = store.conn
    conn.execute(
        "CREATE TEMP TABLE amo_raw (at INT, entity INT, rank INT, sub INT, type TEXT,"
        " entity_type TEXT, created_by INT, value_before TEXT, value_after TEXT)"
    )
    raw = "INSERT INTO temp.amo_raw VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    buffer: list[tuple[Any, ...]] = []
    for at, lead, rank, sub, kind, actor, before, after in _lead_moves(store):
        buffer.append((at, lead, rank, sub, kind, "lead", actor, before, after))
        if len(buffer) >= _CHUNK:
            conn.executemany(raw, buffer)
            buffer.clear()
    conn.executemany(raw, buffer)
    pipe0, incoming0 = ids.incoming(0)
    lost = _status(pipe0, ids.LOST).replace("'", "''")
    was = _status(pipe0, incoming0).replace("'", "''")
    conn.executescript(
        f"""
        INSERT INTO temp.amo_raw
        SELECT created_at, id, 0, 0, 'lead_added', 'lead', created_by, '[]',
               json_array(json_object('note', json_object(
                 'id', id - {ids.LEAD_BASE} + {ids.NOTE_BASE} + 9000000)))
        FROM amo_leads;
        INSERT INTO temp.amo_raw
        SELECT closed_at, id, 2, 0, 'lead_status_changed', 'lead', responsible_user_id,
               '{was}', '{lost}'
        FROM amo_leads WHERE sim_deal_id IS NULL AND status_id = {ids.LOST};
        INSERT INTO temp.amo_raw
        SELECT created_at, id, 0, 0, 'task_added', 'task', created_by, '[]', '[]' FROM amo_tasks;
        INSERT INTO temp.amo_raw
        SELECT completed_at, id, 1, 0, 'task_completed', 'task', responsible_user_id, '[]', '[]'
        FROM amo_tasks WHERE is_completed;
        INSERT INTO temp.amo_raw
        SELECT created_at, entity_id, 3, id,
               CASE note_type WHEN 'call_in' THEN 'incoming_call' ELSE 'outgoing_call' END,
               'lead', created_by, '[]', json_array(json_object('note', json_object('id', id)))
        FROM amo_notes;
        INSERT INTO amo_events
        SELECT n, printf('%010x%016x', at, n), type, entity_type, entity, created_by, at,
               value_before, value_after
        FROM (SELECT ROW_NUMBER() OVER (ORDER BY at, entity, rank, sub) AS n, * FROM temp.amo_raw);
        DROP TABLE temp.amo_raw;
        """  # noqa: S608
    )


def _rights(view: str, admin: bool) -> dict[str, Any]:
    """A user's rights: the director sees all (A), department heads their group (G), managers
    themselves (M)."""
    entity = {"view": view, "edit": view, "add": "A", "delete": "A" if admin else "D"}
    entity["export"] = "A" if admin else "D"
    return {
        "leads": dict(entity),
        "contacts": dict(entity),
        "companies": dict(entity),
        "tasks": {"edit": view, "delete": view},
        "mail_access": True,
        "catalog_access": admin,
        "status_rights": None,
        "is_admin": admin,
        "is_free": False,
    }


def users(store: Store) -> list[dict[str, Any]]:
    """The account's users, one per simulation employee (same names, e-mails, groups)."""
    rows = []
    for user in store.reference("users"):
        sim_id = int(user["ID"])
        department = int(user["UF_DEPARTMENT"][0])
        admin = sim_id in reference.ADMIN_IDS
        head = reference.DEPARTMENT_HEADS.get(department) == sim_id
        rights = _rights("A" if admin else "G" if head else "M", admin)
        group = ids.group_of(department)
        rights |= {"is_active": bool(user["ACTIVE"]), "group_id": group or None, "role_id": None}
        rows.append(
            {
                "id": ids.user_id(sim_id),
                "name": f"{user['NAME']} {user['LAST_NAME']}",
                "email": user["EMAIL"],
                "lang": "ru",
                "rights": rights,
            }
        )
    return rows


def render(store: Store, *, seed: int) -> dict[str, int]:
    """Add the amoCRM tables to a generated simulation store; returns their row counts."""
    with store.lock:
        conn = store.conn
        for name, columns in TABLES.items():
            conn.execute(f"CREATE TABLE IF NOT EXISTS {name} ({columns})")
        # The file is a ``.partial`` until it is complete, so no transaction guards the render.
        _maps(store)
        # Finding the leads no deal came from must not scan the deals once per lead.
        conn.execute("CREATE INDEX IF NOT EXISTS deals_lead ON deals(LEAD_ID)")
        _leads(store, seed)
        _parties(store)
        for statement in INDEXES[1:3]:
            conn.execute(statement)
        _activities(store)
        _events(store)
        for statement in INDEXES:
            conn.execute(statement)
        for temp in ("amo_stage_map", "amo_source_map", "amo_user_groups"):
            conn.execute(f"DROP TABLE temp.{temp}")
        store.put_reference("amo_users", users(store))
        return {name: int(store.scalar(f"SELECT COUNT(*) FROM {name}")) for name in TABLES}  # noqa: S608
