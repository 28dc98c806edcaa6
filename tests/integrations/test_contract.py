"""Each registered CRM fulfils integrations.base, and the writer files only metrics' keys."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from integrations.base import Crm, CrmAdapter
from integrations.registry import CRMS, crm
from reports.facts import facts_new, owner_facts
from reports.metrics import FACT_KEYS


def _members(protocol) -> set[str]:
    own = set(vars(protocol)) | set(getattr(protocol, "__annotations__", {}))
    return {name for name in own if not name.startswith("_")}


@pytest.mark.parametrize("kind", sorted(CRMS))
def test_every_registered_crm_has_every_member_of_the_contract(kind):
    module = crm(kind)
    missing = {name for name in _members(Crm) if not hasattr(module, name)}
    assert missing == set()
    adapter = module.adapter
    missing = {name for name in _members(CrmAdapter) if not hasattr(adapter, name)}
    assert missing == set()
    # Same parameters as the contract (an adapter that drops `tag` would break reminders).
    for name in _members(CrmAdapter):
        wanted = list(inspect.signature(getattr(CrmAdapter, name)).parameters)
        assert list(inspect.signature(getattr(adapter, name)).parameters) == wanted, name


def test_an_unregistered_kind_is_refused_by_name():
    with pytest.raises(ValueError, match="no CRM registered for kind 'nosuch'"):
        crm("nosuch")


def test_the_aggregates_writer_files_only_keys_named_in_metrics():
    at = datetime(2026, 3, 1, 12, tzinfo=UTC)
    known = {key for keys in FACT_KEYS.values() for key in keys.values()}
    for entity_type in ("deal", "lead"):
        for semantic, closed in (("won", at + timedelta(days=300)), ("lost", at), ("open", None)):
            row = {
                "crm_id": 1, "semantic": semantic, "amount": Decimal("10"), "source": "WEB",
                "created_at": at, "modified_at": at, "closed_at": closed, "moved_at": at,
                "employee": 7, "pipeline": 0, "status": "NEW",
            }  # fmt: skip
            history = [{
                "crm_id": "1", "kind": 1, "pipeline_crm_id": 0, "stage_crm_id": "NEW",
                "semantic": "open", "changed_at": at,
            }]  # fmt: skip
            facts = facts_new()
            owner_facts(entity_type, row, history, ZoneInfo("Europe/Moscow"), facts)
            written = {key[1] for key in facts}
            assert written <= known
            assert FACT_KEYS[entity_type]["created"] in written
