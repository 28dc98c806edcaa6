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
from crmapp.models.portal import ImportLane, InstallRecord, Portal

__all__ = [
    "Activity",
    "Deal",
    "Department",
    "Employee",
    "EntityType",
    "ImportLane",
    "InstallRecord",
    "Lead",
    "Pipeline",
    "Portal",
    "Semantic",
    "Source",
    "Stage",
    "StageChange",
]
