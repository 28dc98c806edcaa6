"""PHP bracket-notation decoding and filter-key parsing."""

from __future__ import annotations

from integrations.sandbox.bitrix24.query import split_key
from integrations.sandbox.params import parse_query


def test_it_nests_brackets_like_php() -> None:
    parsed = parse_query(
        "filter[%3EID]=5&select[]=ID&select[]=TITLE&order[ID]=ASC&cmd[a]=x%3Fy%3D1"
    )
    assert parsed == {
        "filter": {">ID": "5"},
        "select": ["ID", "TITLE"],
        "order": {"ID": "ASC"},
        "cmd": {"a": "x?y=1"},
    }


def test_it_keeps_numeric_maps_as_lists() -> None:
    assert parse_query("a[0]=x&a[1]=y&b[2]=z") == {"a": ["x", "y"], "b": {"2": "z"}}


def test_it_splits_filter_prefixes_longest_first() -> None:
    assert split_key(">=DATE_MODIFY") == (">=", "DATE_MODIFY")
    assert split_key("!@ID") == ("!@", "ID")
    assert split_key("STAGE_ID") == ("=", "STAGE_ID")
    assert split_key("!=%TITLE") == ("!=%", "TITLE")
