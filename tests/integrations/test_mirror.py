"""Writing neutral records into the mirror."""

from __future__ import annotations

from datetime import UTC, datetime

from crmapp.models import StageChange
from integrations.mirror import mirror_stage_changes_upsert
from integrations.records import StageChangeRecord


def test_a_batch_carrying_a_row_twice_keeps_its_last_copy(make_portal):
    # What the amoCRM import sends: a lead's creation row from its stage now, then again,
    # corrected, once its first move is seen. PostgreSQL refuses one statement touching a
    # row twice; the last copy must win, as it would across two batches.
    portal = make_portal()
    at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    first, corrected = (
        StageChangeRecord(crm_id="7", entity_type="deal", owner_crm_id=7, kind=1,
                          pipeline_crm_id=1, stage_crm_id=stage, semantic=semantic, changed_at=at)
        for stage, semantic in (("1:143", "lost"), ("1:10", "open"))
    )  # fmt: skip

    mirror_stage_changes_upsert(portal, [first, corrected], derive=False)

    rows = StageChange.objects.for_portal(portal).values_list("stage_crm_id", "semantic")
    assert list(rows) == [("1:10", "open")]
