"""What the lowest layer calls in the layers above it, registered by their AppConfig.ready.

crmapp sits under integrations and reports, so it cannot import them; yet deleting a portal
must delete its aggregates, the mirror writers must keep those aggregates in step, and an
operator's change of a portal's time zone or tier must start work above. The upper apps
register what they own here, once, at start-up.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from datetime import date
from typing import Protocol

from django.dispatch import Signal

from crmapp.models import Portal

# Sent (sender=Portal, portal=…) after an operator changed the portal's time zone: every
# aggregate day is a day of that zone, so they are recounted.
portal_time_zone_changed = Signal()
# Sent (sender=Portal, portal=…) when the portal may now keep more history than it has.
portal_history_window_grew = Signal()


class FactsWriter(Protocol):
    """The aggregates' writer (reports.aggregates) as the mirror writers and the purge use it."""

    ENTITY_TYPES: tuple[str, ...]

    def facts_tracking(
        self, portal: Portal, refs: dict[str, Iterable[int]]
    ) -> AbstractContextManager[None]:
        """Around a mirror write: the named entities' share of the aggregates follows it."""

    def facts_clear(self, portal: Portal) -> None:
        """Drop every aggregate of the portal (an import recounts them at its end)."""

    def facts_rebuild_chunk(
        self, portal: Portal, entity_type: str, after_id: int
    ) -> tuple[int, int | None]:
        """Count the next entities after `after_id`: (counted, last id or None when done)."""

    def facts_forget_before(self, portal: Portal, day: date) -> int:
        """Delete the aggregates of days before `day`; returns rows deleted."""


_facts_writer: FactsWriter | None = None
# Models holding a portal's data besides the mirror, deleted before it (children first).
_portal_data_models: list = []


def facts_writer_register(writer: FactsWriter) -> None:
    global _facts_writer
    _facts_writer = writer


def facts_writer() -> FactsWriter:
    """The registered aggregates' writer (the reports app registers it in ready())."""
    if _facts_writer is None:
        raise RuntimeError("no aggregates writer registered: is the reports app installed?")
    return _facts_writer


def portal_data_models_register(*models) -> None:
    _portal_data_models.extend(model for model in models if model not in _portal_data_models)


def portal_data_models() -> Iterator:
    return iter(tuple(_portal_data_models))
