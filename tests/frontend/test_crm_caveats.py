"""A page says so when one of its figures means something else in the portal's CRM."""

from __future__ import annotations

import pytest

from frontend.session import AppSession, session_issue
from integrations.registry import CRMS, crm

LEADS = "lead figures here are computed on deals"
EMAILS = "e-mails count 0 here"
PAGES = {
    "/app/": (LEADS, EMAILS),
    "/app/reports/efficiency/": (LEADS, EMAILS),
    "/app/reports/forgotten/": (LEADS,),
    "/app/reports/marketing/": (LEADS,),
    "/app/reports/dynamics/": (LEADS,),
    "/app/reports/plan/": (EMAILS,),
    "/app/reports/quality/": (),
}


@pytest.mark.django_db
@pytest.mark.parametrize("kind", sorted(CRMS))
def test_each_page_says_what_its_crm_cannot_give(client, make_portal, kind):
    portal = make_portal(kind=kind)
    session = AppSession(portal_id=portal.pk, user_crm_id=1, role="admin", language="en")
    token = session_issue(session)
    traits = {LEADS: crm(kind).LEADS_ARE_DEALS, EMAILS: not crm(kind).EMAILS_COUNTED}

    for url, caveats in PAGES.items():
        page = client.get(url, headers={"X-App-Session": token}).content.decode()

        for caveat, applies in traits.items():
            assert (caveat in page) == (applies and caveat in caveats), (url, caveat)
