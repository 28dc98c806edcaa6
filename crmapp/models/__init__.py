from __future__ import annotations

from crmapp.models.mirror import (
    DEAL_DURATION,
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
    "DEAL_DURATION",
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
