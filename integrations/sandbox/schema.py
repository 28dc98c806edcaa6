"""Field lists and types of the CRM entities the sandbox stores, as Bitrix24 REST shows them.

Field sets follow the documented samples (fixtures ``bitrix24_crm_deal_get_response.json``,
``bitrix24_crm_lead_get_response.json``, ``bitrix24_crm_activity_list_response.json``,
``bitrix24_crm_stagehistory_list_response.json``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# Storage/rendering kinds:
#   int    INTEGER column, rendered as a string ("410") or as an int for new-API entities
#   money  REAL column, rendered "150000.00"
#   dt     TEXT ISO-8601 with offset; compared as text (all stored values share the portal offset)
#   text   TEXT as is
#   json   TEXT holding JSON, rendered decoded (SETTINGS: [])
INT, MONEY, DT, TEXT, JSON = "int", "money", "dt", "text", "json"

_SQL_TYPES = {INT: "INTEGER", MONEY: "REAL", DT: "TEXT", TEXT: "TEXT", JSON: "TEXT"}


@dataclass(frozen=True)
class Entity:
    """One stored entity: table, ordered fields with kinds, and rendering rules."""

    name: str
    table: str
    fields: dict[str, str]
    ints_as_str: bool = True
    user_fields: tuple[str, ...] = ()
    multi_fields: tuple[str, ...] = ()
    titles: dict[str, str] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        """Stored columns in order (standard fields, user fields, multi-field holders)."""
        return list(self.fields) + list(self.user_fields) + list(self.multi_fields)

    def kind(self, name: str) -> str | None:
        """Kind of field ``name`` or ``None`` if the entity has no such column."""
        if name in self.fields:
            return self.fields[name]
        if name in self.user_fields or name in self.multi_fields:
            return TEXT
        return None

    def create_sql(self) -> str:
        """``CREATE TABLE`` statement for this entity."""
        cols = []
        for name in self.columns:
            kind = self.kind(name) or TEXT
            if name == "ID":
                cols.append("ID INTEGER PRIMARY KEY")
            else:
                cols.append(f'"{name}" {_SQL_TYPES[kind]}')
        return f"CREATE TABLE IF NOT EXISTS {self.table} ({', '.join(cols)})"

    def render(self, name: str, value: Any) -> Any:
        """Render one stored value the way the REST API returns it."""
        kind = self.kind(name)
        if value is None:
            return None
        if kind == INT:
            return str(value) if self.ints_as_str else int(value)
        if kind == MONEY:
            return f"{float(value):.2f}"
        if kind == JSON:
            return json.loads(value)
        return value

    def render_multi(self, name: str, row_id: int, value: str | None) -> list[dict[str, str]]:
        """Render a stored phone/e-mail as a Bitrix24 multi-field list."""
        if not value:
            return []
        base = 2 * row_id + (0 if name == "PHONE" else 1)
        return [
            {
                "ID": str(base),
                "VALUE_TYPE": "WORK",
                "VALUE": value,
                "TYPE_ID": name,
            }
        ]


def _fields(spec: str) -> dict[str, str]:
    """Parse ``"NAME:kind NAME2:kind"`` (default kind text) into an ordered dict."""
    result: dict[str, str] = {}
    for token in spec.split():
        name, _, kind = token.partition(":")
        result[name] = kind or TEXT
    return result


DEAL_UF = "UF_CRM_1721244482250"

DEAL = Entity(
    name="deal",
    table="deals",
    fields=_fields(
        "ID:int TITLE TYPE_ID STAGE_ID PROBABILITY:int CURRENCY_ID OPPORTUNITY:money "
        "IS_MANUAL_OPPORTUNITY TAX_VALUE:money LEAD_ID:int COMPANY_ID:int CONTACT_ID:int "
        "QUOTE_ID:int BEGINDATE:dt CLOSEDATE:dt ASSIGNED_BY_ID:int CREATED_BY_ID:int "
        "MODIFY_BY_ID:int DATE_CREATE:dt DATE_MODIFY:dt OPENED CLOSED COMMENTS ADDITIONAL_INFO "
        "LOCATION_ID CATEGORY_ID:int STAGE_SEMANTIC_ID IS_NEW IS_RECURRING IS_RETURN_CUSTOMER "
        "IS_REPEATED_APPROACH SOURCE_ID SOURCE_DESCRIPTION ORIGINATOR_ID ORIGIN_ID MOVED_BY_ID:int "
        "MOVED_TIME:dt LAST_ACTIVITY_TIME:dt UTM_SOURCE UTM_MEDIUM UTM_CAMPAIGN UTM_CONTENT "
        "UTM_TERM LAST_ACTIVITY_BY:int"
    ),
    user_fields=(DEAL_UF,),
    titles={DEAL_UF: "Канал продаж"},
)

LEAD = Entity(
    name="lead",
    table="leads",
    fields=_fields(
        "ID:int TITLE HONORIFIC NAME SECOND_NAME LAST_NAME COMPANY_TITLE COMPANY_ID:int "
        "CONTACT_ID:int IS_RETURN_CUSTOMER BIRTHDATE SOURCE_ID SOURCE_DESCRIPTION STATUS_ID "
        "STATUS_DESCRIPTION POST COMMENTS CURRENCY_ID OPPORTUNITY:money IS_MANUAL_OPPORTUNITY "
        "HAS_PHONE HAS_EMAIL HAS_IMOL ASSIGNED_BY_ID:int CREATED_BY_ID:int MODIFY_BY_ID:int "
        "DATE_CREATE:dt DATE_MODIFY:dt DATE_CLOSED:dt STATUS_SEMANTIC_ID OPENED ORIGINATOR_ID "
        "ORIGIN_ID MOVED_BY_ID:int MOVED_TIME:dt ADDRESS ADDRESS_2 ADDRESS_CITY "
        "ADDRESS_POSTAL_CODE ADDRESS_REGION ADDRESS_PROVINCE ADDRESS_COUNTRY ADDRESS_COUNTRY_CODE "
        "ADDRESS_LOC_ADDR_ID UTM_SOURCE UTM_MEDIUM UTM_CAMPAIGN UTM_CONTENT UTM_TERM "
        "LAST_ACTIVITY_BY:int LAST_ACTIVITY_TIME:dt"
    ),
    multi_fields=("PHONE", "EMAIL"),
)

ACTIVITY = Entity(
    name="activity",
    table="activities",
    fields=_fields(
        "ID:int OWNER_ID:int OWNER_TYPE_ID:int TYPE_ID:int PROVIDER_ID PROVIDER_TYPE_ID "
        "PROVIDER_GROUP_ID ASSOCIATED_ENTITY_ID:int SUBJECT CREATED:dt LAST_UPDATED:dt "
        "START_TIME:dt END_TIME:dt DEADLINE:dt COMPLETED STATUS:int RESPONSIBLE_ID:int "
        "PRIORITY:int NOTIFY_TYPE:int NOTIFY_VALUE:int DESCRIPTION DESCRIPTION_TYPE:int "
        "DIRECTION:int LOCATION SETTINGS:json ORIGINATOR_ID ORIGIN_ID AUTHOR_ID:int "
        "EDITOR_ID:int PROVIDER_PARAMS:json PROVIDER_DATA RESULT_MARK:int RESULT_VALUE "
        "RESULT_SUM RESULT_CURRENCY_ID RESULT_STATUS:int RESULT_STREAM:int RESULT_SOURCE_ID "
        "AUTOCOMPLETE_RULE:int"
    ),
)

COMPANY = Entity(
    name="company",
    table="companies",
    fields=_fields(
        "ID:int TITLE COMPANY_TYPE INDUSTRY REVENUE:money CURRENCY_ID IS_MY_COMPANY "
        "ASSIGNED_BY_ID:int CREATED_BY_ID:int MODIFY_BY_ID:int DATE_CREATE:dt DATE_MODIFY:dt "
        "OPENED SOURCE_ID LEAD_ID:int"
    ),
)

CONTACT = Entity(
    name="contact",
    table="contacts",
    fields=_fields(
        "ID:int NAME SECOND_NAME LAST_NAME POST TYPE_ID COMPANY_ID:int ASSIGNED_BY_ID:int "
        "CREATED_BY_ID:int MODIFY_BY_ID:int DATE_CREATE:dt DATE_MODIFY:dt OPENED SOURCE_ID "
        "LEAD_ID:int"
    ),
)

DEAL_HISTORY = Entity(
    name="deal_history",
    table="deal_history",
    fields=_fields(
        "ID:int TYPE_ID:int OWNER_ID:int CREATED_TIME:dt CATEGORY_ID:int STAGE_SEMANTIC_ID STAGE_ID"
    ),
    ints_as_str=False,
)

LEAD_HISTORY = Entity(
    name="lead_history",
    table="lead_history",
    fields=_fields("ID:int TYPE_ID:int OWNER_ID:int CREATED_TIME:dt STATUS_SEMANTIC_ID STATUS_ID"),
    ints_as_str=False,
)

ENTITIES: dict[str, Entity] = {
    e.name: e for e in (DEAL, LEAD, ACTIVITY, COMPANY, CONTACT, DEAL_HISTORY, LEAD_HISTORY)
}

INDEXES = (
    "CREATE INDEX IF NOT EXISTS deals_modify ON deals(DATE_MODIFY)",
    "CREATE INDEX IF NOT EXISTS deals_stage ON deals(CATEGORY_ID, STAGE_ID)",
    "CREATE INDEX IF NOT EXISTS deals_assigned ON deals(ASSIGNED_BY_ID)",
    "CREATE INDEX IF NOT EXISTS deals_company ON deals(COMPANY_ID)",
    "CREATE INDEX IF NOT EXISTS leads_modify ON leads(DATE_MODIFY)",
    "CREATE INDEX IF NOT EXISTS leads_status ON leads(STATUS_ID)",
    "CREATE INDEX IF NOT EXISTS activities_owner ON activities(OWNER_TYPE_ID, OWNER_ID)",
    "CREATE INDEX IF NOT EXISTS activities_updated ON activities(LAST_UPDATED)",
    "CREATE INDEX IF NOT EXISTS deal_history_owner ON deal_history(OWNER_ID)",
    "CREATE INDEX IF NOT EXISTS deal_history_time ON deal_history(CREATED_TIME)",
    "CREATE INDEX IF NOT EXISTS lead_history_owner ON lead_history(OWNER_ID)",
    "CREATE INDEX IF NOT EXISTS lead_history_time ON lead_history(CREATED_TIME)",
)

# Bitrix24 ``crm.*.fields`` type names for our storage kinds.
FIELD_TYPES = {INT: "integer", MONEY: "double", DT: "datetime", TEXT: "string", JSON: "object"}
_FIELD_TYPE_OVERRIDES = {
    "ASSIGNED_BY_ID": "user",
    "CREATED_BY_ID": "user",
    "MODIFY_BY_ID": "user",
    "MOVED_BY_ID": "user",
    "LAST_ACTIVITY_BY": "user",
    "STAGE_ID": "crm_status",
    "STATUS_ID": "crm_status",
    "SOURCE_ID": "crm_status",
    "TYPE_ID": "crm_status",
    "CURRENCY_ID": "crm_currency",
    "COMPANY_ID": "crm_company",
    "CONTACT_ID": "crm_contact",
    "LEAD_ID": "crm_lead",
    "CATEGORY_ID": "crm_category",
    "BEGINDATE": "date",
    "CLOSEDATE": "date",
    "OPENED": "char",
    "CLOSED": "char",
    "IS_MANUAL_OPPORTUNITY": "char",
}
READ_ONLY = frozenset(
    {
        "ID",
        "CREATED_BY_ID",
        "MODIFY_BY_ID",
        "DATE_CREATE",
        "DATE_MODIFY",
        "STAGE_SEMANTIC_ID",
        "STATUS_SEMANTIC_ID",
        "IS_NEW",
        "IS_RECURRING",
        "IS_RETURN_CUSTOMER",
        "IS_REPEATED_APPROACH",
        "MOVED_BY_ID",
        "MOVED_TIME",
        "LAST_ACTIVITY_TIME",
        "LAST_ACTIVITY_BY",
        "HAS_PHONE",
        "HAS_EMAIL",
        "HAS_IMOL",
        "CREATED",
        "LAST_UPDATED",
    }
)


def describe_fields(entity: Entity) -> dict[str, dict[str, Any]]:
    """Build a ``crm.<entity>.fields`` result for ``entity``."""
    result: dict[str, dict[str, Any]] = {}
    for name, kind in entity.fields.items():
        result[name] = {
            "type": _FIELD_TYPE_OVERRIDES.get(name, FIELD_TYPES[kind]),
            "isRequired": name == "TITLE" and entity is LEAD,
            "isReadOnly": name in READ_ONLY,
            "isImmutable": name == "CATEGORY_ID",
            "isMultiple": False,
            "isDynamic": False,
            "title": name.replace("_", " ").title(),
        }
    for name in entity.multi_fields:
        result[name] = {
            "type": "crm_multifield",
            "isRequired": False,
            "isReadOnly": False,
            "isImmutable": False,
            "isMultiple": True,
            "isDynamic": False,
            "title": name.title(),
        }
    for name in entity.user_fields:
        label = entity.titles.get(name, name)
        result[name] = {
            "type": "string",
            "isRequired": False,
            "isReadOnly": False,
            "isImmutable": False,
            "isMultiple": False,
            "isDynamic": True,
            "title": name,
            "listLabel": label,
            "formLabel": label,
            "filterLabel": label,
        }
    return result
