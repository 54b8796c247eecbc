"""What a token revocation names, and how long the services keep it."""

from __future__ import annotations

from radlab.tokens import TOKEN_ID
from shared.errors import InvalidArgument


def revoked_until(token_id: str, requested_s: float | None, now: float, longest_s: float) -> float:
    """When the services may forget that `token_id` is revoked: the token's own expiry when given, never later than
    `longest_s` (the longest a token may live) from now, since every token valid now has expired by then."""
    if not TOKEN_ID.fullmatch(token_id):
        raise InvalidArgument(
            "token_id must be a token's id (its jti claim: 16 to 64 letters, digits, '_' or '-'); "
            "`radlab token revoke TOKEN` reads it from the token"
        )
    latest = now + longest_s
    if requested_s is None:
        return latest
    if requested_s <= now:
        raise InvalidArgument("expire_time has passed: a token past its expiry is refused already")
    return min(requested_s, latest)
