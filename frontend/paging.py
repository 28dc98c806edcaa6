"""Long tables a page at a time: which page a request asks for, and the pager under the
table, whose links work with htmx (the part that holds the table) and without JS (the
page's own address)."""

from __future__ import annotations

from collections.abc import Callable

PAGE_ROWS = 50  # rows a table shows at once: 200 employees made a page of 1 MB


def page_number(query, param: str, total: int) -> int:
    """The page asked for in `param`, clamped to the pages there are (1 when unreadable)."""
    text = query.get(param, "")
    return min(max(int(text), 1), page_count(total)) if text.isdigit() else 1


def page_count(total: int) -> int:
    return max(1, -(-total // PAGE_ROWS))


def page_rows(rows: list, number: int) -> list:
    return rows[(number - 1) * PAGE_ROWS : number * PAGE_ROWS]


def pager(
    name: str, number: int, total: int, *, target: str, link: Callable[[int], tuple[str, str]]
) -> dict | None:
    """What pager.html draws; None for a table of one page. `link(page)` is the page's
    (address without JS, address for htmx, which replaces `target`)."""
    pages = page_count(total)
    if pages == 1:
        return None

    def step(page: int) -> dict | None:
        if not 1 <= page <= pages:
            return None
        href, hx = link(page)
        return {"href": href, "hx": hx}

    return {
        "name": name,
        "number": number,
        "pages": pages,
        "total": total,
        "target": target,
        "previous": step(number - 1),
        "next": step(number + 1),
    }
