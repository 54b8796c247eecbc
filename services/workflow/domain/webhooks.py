"""The webhook stage's protocol: which URLs a stage may call, the body it sends, how both sides sign and check it.

What a receiver implements. Every request, Radlab's delivery and the receiver's callback alike, is a POST of a JSON
object carrying a `delivery_id`, with two headers:

    X-Radlab-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed with the stage's secret>
    X-Radlab-Delivery: <the body's delivery_id, for logs; unsigned, so never trusted on its own>

where <body> is the exact bytes sent. To check a request: recompute v1 over "<t>." + the raw body and compare in
constant time; refuse a `t` more than 5 minutes from your clock; refuse a delivery_id you already accepted. A delivery
is retried with the same body and delivery_id (fresh `t`), so record an id only once its work is done.

Replays are stopped by the timestamp and the delivery id together: a copy older than the tolerance fails the first
check, so the store of accepted ids behind `verify`'s `seen` need keep an id only that long.
"""

from __future__ import annotations

import email.utils
import hashlib
import hmac
import json
import random
import re
from collections.abc import Callable, Container
from datetime import datetime, timezone
from urllib.parse import urlsplit

from radlab.quoting import shown
from shared.errors import InvalidArgument, PermissionDenied

SIGNATURE_HEADER = "X-Radlab-Signature"
DELIVERY_HEADER = "X-Radlab-Delivery"
EVENT_TASK_READY = "task.ready"
TOLERANCE_S = 300
BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 300.0  # also the longest Retry-After honoured: a receiver cannot park a delivery for hours

SIGNATURE = re.compile(r"t=(?P<t>\d{1,12}),v1=(?P<v1>[0-9a-f]{64})")


class WebhookRefused(PermissionDenied):
    """A request that does not prove it comes from the holder of the stage's secret, or comes a second time.

    PermissionDenied rather than InvalidArgument: the signature is the request's credential, and a forged or replayed
    request is refused like a bad token (HTTP 403), not treated as a well-meant request to correct."""


def check_url(url: str) -> str:
    """`url` if a webhook stage may call it (http or https, with a host); InvalidArgument saying why not."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise InvalidArgument(f"webhook URL must be http or https: {shown(url)}")
    if not parts.hostname:
        raise InvalidArgument(f"webhook URL has no host: {shown(url)}; write it as https://host/path")
    try:
        parts.port
    except ValueError:
        raise InvalidArgument(f"webhook URL has an invalid port: {shown(url)}") from None
    return url


def payload(
    *, delivery_id: str, workflow_id: str, stage_id: str, task_id: str, item_id: str, dataset_id: str,
    annotation_id: str | None, annotation_version: int | None, callback_url: str | None, now: float,
) -> bytes:
    """The `task.ready` body, canonical (sorted keys, no spaces, ASCII). The annotation fields are null while the item
    has none; `callback_url` is null unless the stage waits for the receiver's answer."""
    return json.dumps(
        {
            "event": EVENT_TASK_READY, "delivery_id": delivery_id, "workflow_id": workflow_id, "stage_id": stage_id,
            "task_id": task_id, "item_id": item_id, "dataset_id": dataset_id, "annotation_id": annotation_id,
            "annotation_version": annotation_version, "callback_url": callback_url,
            "timestamp": datetime.fromtimestamp(now, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
        },
        sort_keys=True, separators=(",", ":"),
    ).encode("ascii")


def sign(secret: bytes, body: bytes, now: float) -> str:
    """The X-Radlab-Signature value for sending `body` at `now` (unix seconds)."""
    timestamp = int(now)
    return f"t={timestamp},v1={_digest(secret, timestamp, body)}"


def verify(
    secret: bytes, body: bytes, header: str | None, now: float, *,
    seen: Container[str] | Callable[[str], bool], tolerance_s: float = TOLERANCE_S,
) -> dict:
    """The request's JSON object once its signature, timestamp and delivery id pass; WebhookRefused otherwise.

    `seen` answers "was this delivery id accepted before?" (a set of ids, or a function). It is only asked, never
    written: record the id in the same transaction as the work the request causes, under a unique key, so that a
    request whose work failed can be retried and two copies racing cannot both commit."""
    match = SIGNATURE.fullmatch(header or "")
    if not match:
        raise WebhookRefused(
            f"the request has no valid {SIGNATURE_HEADER} header (got {shown(header or '')}); "
            "send t=<unix seconds>,v1=<hex HMAC-SHA256 of '<t>.<body>' keyed with the stage's secret>"
        )
    timestamp = int(match["t"])
    if not hmac.compare_digest(_digest(secret, timestamp, body), match["v1"]):
        raise WebhookRefused(
            f"the {SIGNATURE_HEADER} signature does not match the body: sign the exact bytes sent, "
            "keyed with the stage's current secret"
        )
    if abs(now - timestamp) > tolerance_s:
        raise WebhookRefused(
            f"the request was signed {abs(now - timestamp):.0f} s {'before' if timestamp < now else 'after'} it "
            f"arrived, beyond the {tolerance_s:.0f} s allowed: sign each request as it is sent, on a clock kept "
            "in time (NTP)"
        )
    try:
        message = json.loads(body)
    except ValueError:
        message = None
    delivery_id = message.get("delivery_id") if isinstance(message, dict) else None
    if not isinstance(delivery_id, str) or not delivery_id:
        raise WebhookRefused("the body must be a JSON object with a non-empty string delivery_id")
    if seen(delivery_id) if callable(seen) else delivery_id in seen:
        raise WebhookRefused(f"delivery {shown(delivery_id)} was already accepted; this copy is a replay, not needed")
    return message


def backoff(attempt: int, rng: random.Random | None = None) -> float:
    """Seconds to wait after failed attempt number `attempt` (1, 2, …): "full jitter", uniform between 0 and a
    ceiling that doubles from BACKOFF_BASE_S up to BACKOFF_CAP_S, so receivers recovering from an outage are not hit
    by every delivery at once. Pass a seeded `rng` for repeatable waits."""
    ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** min(attempt - 1, 32))
    return (rng or random).uniform(0, ceiling)


def retry_after(value: str | None, now: float) -> float | None:
    """Seconds a Retry-After header (delta-seconds or an HTTP date) asks to wait, within [0, BACKOFF_CAP_S]; None
    when absent or unreadable."""
    if not value:
        return None
    if value.strip().isdigit():
        seconds = float(value.strip())
    else:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - now
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), BACKOFF_CAP_S)


def _digest(secret: bytes, timestamp: int, body: bytes) -> str:
    return hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
