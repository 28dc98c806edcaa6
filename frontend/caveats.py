"""What a page must tell its reader when a figure means something else in the portal's CRM."""

from __future__ import annotations

from django.utils.translation import gettext as _

from crmapp.models import Portal
from integrations.registry import crm_name, emails_counted, leads_are_deals

# The pages showing lead figures, and those counting e-mails.
LEAD_PAGES = {"overview", "efficiency", "forgotten", "marketing", "dynamics"}
EMAIL_PAGES = {"overview", "efficiency", "plan"}


def crm_caveats(portal: Portal, page: str) -> list[str]:
    """The sentences the page shows above its figures (none on a CRM they do not concern)."""
    name = crm_name(portal)
    caveats = []
    if page in LEAD_PAGES and leads_are_deals(portal):
        caveats.append(
            _(
                "%(crm)s has no separate leads, so lead figures here are computed on deals: "
                "a new lead is a deal in its pipeline's first stage, a qualified one is won, "
                "an unqualified one is lost."
            )
            % {"crm": name}
        )
    if page in EMAIL_PAGES and not emails_counted(portal):
        caveats.append(
            _("%(crm)s does not give applications its e-mails, so e-mails count 0 here.")
            % {"crm": name}
        )
    return caveats
