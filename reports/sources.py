"""How lead and deal sources are named in reports."""

from __future__ import annotations

from django.utils.translation import gettext as _

from crmapp.models import Portal, Source


def source_names(portal: Portal) -> dict[str, str]:
    """{CRM source id: name}, in the CRM's order, with "" (no source) last."""
    names = dict(Source.objects.for_portal(portal).order_by("id").values_list("crm_id", "name"))
    names[""] = _("no source")
    return names
