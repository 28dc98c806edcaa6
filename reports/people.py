"""How employees are named in reports: a namesake with his department."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from crmapp.models import Employee, Portal


def employee_labels(portal: Portal, crm_ids: Iterable[int]) -> dict[int, str]:
    """{CRM id: the name to show}: two "Анна Егорова" are told apart by their departments
    (the same in every language, so pages, exports and the CLI print the same data)."""
    wanted = set(crm_ids)
    everyone = Employee.objects.for_portal(portal)
    repeated = {
        name
        for name, count in Counter(everyone.values_list("name", flat=True)).items()
        if count > 1
    }
    labels = {}
    for crm_id, name, department in everyone.filter(crm_id__in=wanted).values_list(
        "crm_id", "name", "department__name"
    ):
        labels[crm_id] = f"{name} ({department})" if name in repeated and department else name
    return labels
