"""The official SDK (b24pysdk) talks to the sandbox as to a real portal."""

from __future__ import annotations

from typing import Any

from b24pysdk.credentials import OAuthPlacementData

from integrations.sandbox import Sandbox
from integrations.sandbox.schema import DEAL, DEAL_HISTORY


def test_it_paginates_all_deals_with_call_list_fast(
    sandbox_b24_token: Any, sandbox_bitrix24_env: Sandbox
) -> None:
    client = sandbox_b24_token.get_client()
    rows = list(client.crm.deal.list(select=["ID", "TITLE", "STAGE_ID"]).as_list_fast().result)
    store = sandbox_bitrix24_env.portal.store
    assert len(rows) == store.count(DEAL)
    assert [int(r["ID"]) for r in rows] == sorted(int(r["ID"]) for r in rows)
    assert len({r["ID"] for r in rows}) == len(rows)


def test_it_paginates_with_classic_start_next(
    sandbox_b24_token: Any, sandbox_bitrix24_env: Sandbox
) -> None:
    response = sandbox_b24_token.call_list(
        "crm.deal.list", {"select": ["ID"], "filter": {"CATEGORY_ID": 1}}
    )
    expected = sandbox_bitrix24_env.portal.store.scalar(
        "SELECT COUNT(*) FROM deals WHERE CATEGORY_ID = 1"
    )
    assert len(response["result"]) == expected


def test_it_pages_nested_stage_history(
    sandbox_b24_token: Any, sandbox_bitrix24_env: Sandbox
) -> None:
    client = sandbox_b24_token.get_client()
    rows = list(client.crm.stagehistory.list(entity_type_id=2).as_list_fast().result)
    assert len(rows) == sandbox_bitrix24_env.portal.store.count(DEAL_HISTORY)
    assert isinstance(rows[0]["ID"], int) and isinstance(rows[0]["OWNER_ID"], int)


def test_it_refreshes_an_expired_token(
    sandbox_b24_token: Any, sandbox_bitrix24_env: Sandbox
) -> None:
    old_access, old_refresh = sandbox_b24_token.auth_token, sandbox_b24_token.refresh_token
    sandbox_bitrix24_env.control.expire_tokens()
    result = sandbox_b24_token.call_method("user.current")["result"]
    assert result["ID"] == "1"
    assert sandbox_b24_token.auth_token != old_access
    assert sandbox_b24_token.refresh_token != old_refresh


def test_it_runs_batches_with_references(sandbox_b24_token: Any) -> None:
    response = sandbox_b24_token.call_batch(
        {
            "user": ("user.current", {}),
            "department": ("department.get", {"ID": "$result[user][UF_DEPARTMENT][0]"}),
            "deals": ("crm.deal.list", {"select": ["ID"], "filter": {">ID": 10}}),
        }
    )
    result = response["result"]
    assert result["result"]["department"][0]["ID"] == "1"
    assert result["result_total"]["deals"] > 50
    assert result["result_next"]["deals"] == 50
    assert result["result_error"] == []
    assert set(result["result_time"]) == {"user", "department", "deals"}


def test_it_answers_app_info_on_both_servers(
    sandbox_b24_token: Any, sandbox_bitrix24_env: Sandbox
) -> None:
    sandbox_bitrix24_env.control.set_app(status="P", payment_expired="Y", days=3)
    oauth_side = sandbox_b24_token.get_app_info().result
    assert oauth_side.install.status.value == "P"
    assert oauth_side.install.domain == sandbox_bitrix24_env.info["domain"]
    portal_side = sandbox_b24_token.get_client().app.info().value
    assert portal_side.payment_expired is True and portal_side.days == 3


def test_it_issues_placement_payloads_the_sdk_parses(
    sandbox_b24_token: Any, sandbox_bitrix24_env: Sandbox
) -> None:
    payload = sandbox_bitrix24_env.control.placement(7, "CRM_DEAL_DETAIL_TAB", {"ID": "12"})
    data = OAuthPlacementData.from_dict({**payload["query"], **payload["body"]})
    assert data.placement_options == {"ID": "12"}
    info = sandbox_b24_token.get_app_info().result
    assert data.validate_against_app_info(info)
    assert sandbox_bitrix24_env.portal.tokens.authenticate(data.oauth_token.access_token) == 7


def test_it_exchanges_an_authorization_code(
    sandbox_b24_token: Any, sandbox_bitrix24_env: Sandbox
) -> None:
    code = sandbox_bitrix24_env.control.oauth_code(user_id=2)
    renewed = sandbox_b24_token.get_oauth_token(code)
    assert renewed.user_id == 2
    assert renewed.oauth_token.refresh_token
