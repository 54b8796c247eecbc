"""Delivering a webhook stage's signed POST to its receiver, with retries; the caller records the outcome."""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import random
import time
from collections.abc import Callable
from http import HTTPStatus

import requests

from radlab.quoting import shown
from services.workflow.domain import webhooks

RETRIED_STATUSES = {HTTPStatus.REQUEST_TIMEOUT, HTTPStatus.TOO_MANY_REQUESTS}  # and every 5xx


@dataclasses.dataclass(frozen=True)
class Delivery:
    """How a delivery ended: the last HTTP status (None when no answer came), attempts made, and the last error
    ("" once the receiver answered 2xx)."""

    status: int | None
    attempts: int
    error: str

    @property
    def delivered(self) -> bool:
        return not self.error


def deliver(
    url: str, secret: bytes, body: bytes, delivery_id: str, *, timeout_s: float = 10, attempts: int = 5,
    sleep: Callable[[float], None] = time.sleep, session: requests.Session | None = None,
    clock: Callable[[], float] = time.time, rng: random.Random | None = None,
) -> Delivery:
    """POST `body` to `url`, signed afresh for each attempt, up to `attempts` times. Connection errors, timeouts,
    408, 429 and 5xx are retried after Retry-After (capped) or a jittered backoff; other answers end it. The
    receiver's failure is returned, never raised. Redirects are not followed: a signed task would otherwise go
    wherever the receiver, or whoever controls it, points."""
    if attempts < 1:
        raise ValueError(f"attempts must be at least 1, not {attempts}")
    with requests.Session() if session is None else contextlib.nullcontext(session) as http:
        for attempt in itertools.count(1):
            headers = {
                "Content-Type": "application/json",
                webhooks.SIGNATURE_HEADER: webhooks.sign(secret, body, clock()),
                webhooks.DELIVERY_HEADER: delivery_id,
            }
            status, wait = None, None
            try:
                # stream=True: the receiver's answer body is never read, so a huge one costs nothing.
                with http.post(url, data=body, headers=headers, timeout=timeout_s, allow_redirects=False,
                               stream=True) as response:
                    status = response.status_code
                    error, retried = _judged(response)
                    wait = webhooks.retry_after(response.headers.get("Retry-After"), clock())
            except requests.Timeout:
                error, retried = f"the receiver did not answer within {timeout_s:g} s", True
            except requests.ConnectionError as exc:
                error, retried = f"could not connect to the receiver: {shown(exc, 200)}", True
            except requests.RequestException as exc:
                error, retried = f"could not send to {shown(url)}: {shown(exc, 200)}", False
            if not error or not retried or attempt == attempts:
                return Delivery(status, attempt, error)
            sleep(webhooks.backoff(attempt, rng) if wait is None else wait)


def _judged(response: requests.Response) -> tuple[str, bool]:
    """The error an answer means ("" for 2xx) and whether sending again may help."""
    status = response.status_code
    try:
        named = f"{status} {HTTPStatus(status).phrase}"
    except ValueError:  # a status outside the standard ones: its number says all Radlab knows
        named = str(status)
    if 200 <= status < 300:
        return "", False
    if 300 <= status < 400:
        return (f"the receiver answered {named} (to {shown(response.headers.get('Location', ''))}); redirects are "
                "not followed, so set the stage's URL to where the receiver is"), False
    if status in RETRIED_STATUSES or status >= 500:
        return f"the receiver answered {named}", True
    return (f"the receiver refused the delivery with {named}; fix the receiver (a 401 or 403 may mean it holds "
            "another secret than the stage), then retry the task"), False
