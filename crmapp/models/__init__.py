from __future__ import annotations

from crmapp.models.mirror import (
    Activity,
    Deal,
    Department,
    Employee,
    EntityType,
    Lead,
    Pipeline,
    Semantic,
    Source,
    Stage,
    StageChange,
)
from crmapp.models.portal import InstallRecord, Portal

__all__ = [
    "Activity",
    "Deal",
    "Department",
    "Employee",
    "EntityType",
    "InstallRecord",
    "Lead",
    "Pipeline",
    "Portal",
    "Semantic",
    "Source",
    "Stage",
    "StageChange",
]
