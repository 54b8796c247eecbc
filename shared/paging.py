"""Page tokens for List RPCs: opaque to callers, a position in the listing's order to the server."""

from __future__ import annotations

import base64
import re

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from shared.errors import InvalidArgument

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
MAX_POSITION = 2**63 - 1
_POSITION = re.compile(r"p(0|[1-9][0-9]*)")


def page_size(requested: int) -> int:
    """The page size to use for a request's `page_size` (0 means the default; capped)."""
    if requested < 0:
        raise InvalidArgument("page_size must not be negative")
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def encode(position: int) -> str:
    return base64.urlsafe_b64encode(f"p{position}".encode()).decode()


def decode(token: str) -> int:
    """The position after which the page starts; 0 for the first page."""
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
        if not _POSITION.fullmatch(text) or int(text[1:]) > MAX_POSITION:
            raise ValueError(text)
        return int(text[1:])
    except ValueError as error:
        raise InvalidArgument("page_token is not one this server issued; start again without it") from error


def requested(request) -> tuple[int, int]:
    """A List request's (position to start after, page size), from its `page_token` and `page_size` fields."""
    return decode(request.page_token), page_size(request.page_size)


def next_token(after: int | None) -> str:
    """The `next_page_token` of a response: empty on the last page."""
    return encode(after) if after else ""


def page_of(
    conn: Connection, query: sa.Select, position: sa.ColumnElement[int], after: int, limit: int, *, newest_first: bool = False
) -> tuple[list[Row], int | None]:
    """At most `limit` rows of `query` past `after` in `position` order, and the position the next page starts
    after (None on the last page). Oldest first from after `after`; `newest_first` from before it (0: from the newest)."""
    if newest_first:
        query = query.where(position < after) if after else query
        query = query.order_by(position.desc())
    else:
        query = query.where(position > after).order_by(position)
    rows = conn.execute(query.limit(limit + 1)).all()
    page = rows[:limit]
    return page, (page[-1]._mapping[position] if len(rows) > limit else None)
