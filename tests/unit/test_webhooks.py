"""The webhook stage's protocol, delivered to a real HTTP receiver on 127.0.0.1 that checks each request with `verify`."""

from __future__ import annotations

import email.utils
import json
import random
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from services.workflow.domain import webhooks
from services.workflow.domain.webhooks import WebhookRefused, backoff, check_url, payload, sign, verify
from services.workflow.webhooks import deliver
from shared.errors import InvalidArgument, PermissionDenied

SECRET = b"stage-secret-4f1c"
DELIVERY_ID = "dlv-0001"
NOW = 1_750_000_000.0


def task_ready(delivery_id: str = DELIVERY_ID, now: float = NOW) -> bytes:
    return payload(
        delivery_id=delivery_id, workflow_id="wf-1", stage_id="notify", task_id="task-7", item_id="item-3",
        dataset_id="ds-2", annotation_id="ann-9", annotation_version=4, callback_url="https://radlab.test/cb/task-7",
        now=now,
    )


class Receiver:
    """A receiver on a free port of 127.0.0.1. It answers POSTs in turn from `script`, entries of (status, headers,
    delay in s), repeating the last; a request `verify` refuses is answered 403 instead. It accepts (remembers) a
    delivery id only once it answered it 2xx, as the scheme asks."""

    def __init__(self, script: list[tuple[int, dict[str, str], float]]):
        self.script = list(script)
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.refusals: list[str] = []
        self.accepted: set[str] = set()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                receiver.answer(self)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/radlab"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers["Content-Length"]))
        self.received.append((dict(handler.headers), body))
        status, headers, delay = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        try:
            message = verify(SECRET, body, handler.headers.get(webhooks.SIGNATURE_HEADER), time.time(),
                             seen=self.accepted)
        except WebhookRefused as refused:
            self.refusals.append(str(refused))
            status, headers, delay = 403, {}, 0
        time.sleep(delay)
        if 200 <= status < 300:
            self.accepted.add(message["delivery_id"])
        try:
            handler.send_response(status)
            for name, value in headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
        except OSError:  # the sender gave up waiting (the timeout tests) and closed the connection
            pass


@pytest.fixture
def receiver():
    started = []

    def start(*script: tuple[int, dict[str, str], float]) -> Receiver:
        started.append(Receiver(list(script)))
        return started[-1]

    yield start
    for each in started:
        each.server.shutdown()
        each.server.server_close()


def ok(status: int = 200, headers: dict[str, str] | None = None, delay: float = 0.0):
    return status, headers or {}, delay


def test_the_receiver_verifies_a_delivery_and_accepts_it_once(receiver):
    hooks = receiver(ok(204))
    body = task_ready()
    outcome = deliver(hooks.url, SECRET, body, DELIVERY_ID, sleep=pytest.fail)
    assert (outcome.status, outcome.attempts, outcome.error, outcome.delivered) == (204, 1, "", True)
    [(headers, received)] = hooks.received
    assert received == body and hooks.refusals == [] and hooks.accepted == {DELIVERY_ID}
    assert headers[webhooks.DELIVERY_HEADER] == DELIVERY_ID and headers["Content-Type"] == "application/json"

    replayed = deliver(hooks.url, SECRET, body, DELIVERY_ID, sleep=pytest.fail)
    assert (replayed.status, replayed.attempts, replayed.delivered) == (403, 1, False)
    assert "already accepted" in hooks.refusals[0]


def test_two_503s_then_success_take_three_attempts_with_backoff_between(receiver):
    hooks = receiver(ok(503), ok(503), ok(200))
    waits: list[float] = []
    outcome = deliver(hooks.url, SECRET, task_ready(), DELIVERY_ID, sleep=waits.append, rng=random.Random(7))
    assert (outcome.status, outcome.attempts, outcome.error) == (200, 3, "")
    assert len(waits) == 2 and 0 <= waits[0] <= 1 and 0 <= waits[1] <= 2
    assert hooks.refusals == [] and {body for _, body in hooks.received} == {task_ready()}


def test_retries_stop_after_the_last_attempt_and_say_what_the_receiver_answered(receiver):
    hooks = receiver(ok(500))
    waits: list[float] = []
    outcome = deliver(hooks.url, SECRET, task_ready(), DELIVERY_ID, attempts=3, sleep=waits.append)
    assert (outcome.status, outcome.attempts) == (500, 3) and len(waits) == 2
    assert outcome.error == "the receiver answered 500 Internal Server Error"


def test_a_400_is_not_retried(receiver):
    hooks = receiver(ok(400), ok(200))
    outcome = deliver(hooks.url, SECRET, task_ready(), DELIVERY_ID, sleep=pytest.fail)
    assert (outcome.status, outcome.attempts, outcome.delivered) == (400, 1, False)
    assert "400 Bad Request" in outcome.error and "fix the receiver" in outcome.error
    assert len(hooks.received) == 1


def test_a_wrong_secret_is_refused_by_the_receiver_and_not_retried(receiver):
    hooks = receiver(ok(200))
    outcome = deliver(hooks.url, b"another secret", task_ready(), DELIVERY_ID, sleep=pytest.fail)
    assert (outcome.status, outcome.attempts) == (403, 1) and "another secret" in outcome.error
    assert "does not match the body" in hooks.refusals[0] and hooks.accepted == set()


def test_retry_after_is_honoured_and_capped(receiver):
    hooks = receiver(ok(503, {"Retry-After": "2"}), ok(429, {"Retry-After": "86400"}), ok(408), ok(200))
    waits: list[float] = []
    outcome = deliver(hooks.url, SECRET, task_ready(), DELIVERY_ID, sleep=waits.append, rng=random.Random(1))
    assert (outcome.status, outcome.attempts) == (200, 4)
    assert waits[:2] == [2.0, webhooks.BACKOFF_CAP_S] and 0 <= waits[2] <= 4


def test_a_retry_after_date_counts_from_now():
    date = email.utils.formatdate(NOW + 30, usegmt=True)
    assert webhooks.retry_after(date, NOW) == pytest.approx(30)
    assert webhooks.retry_after(email.utils.formatdate(NOW - 30, usegmt=True), NOW) == 0
    assert webhooks.retry_after("soon", NOW) is None and webhooks.retry_after(None, NOW) is None


def test_a_slow_receiver_times_out_and_is_retried(receiver):
    hooks = receiver(ok(200, delay=1.0), ok(200))
    waits: list[float] = []
    outcome = deliver(hooks.url, SECRET, task_ready(), DELIVERY_ID, timeout_s=0.2, sleep=waits.append)
    assert (outcome.status, outcome.attempts, outcome.error) == (200, 2, "") and len(waits) == 1

    always_slow = receiver(ok(200, delay=1.0))
    outcome = deliver(always_slow.url, SECRET, task_ready(), DELIVERY_ID, timeout_s=0.2, attempts=2, sleep=waits.append)
    assert (outcome.status, outcome.attempts) == (None, 2)
    assert outcome.error == "the receiver did not answer within 0.2 s"


def test_a_receiver_not_listening_is_retried_then_reported():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    waits: list[float] = []
    outcome = deliver(f"http://127.0.0.1:{port}/", SECRET, task_ready(), DELIVERY_ID, attempts=3, sleep=waits.append)
    assert (outcome.status, outcome.attempts, len(waits)) == (None, 3, 2)
    assert outcome.error.startswith("could not connect to the receiver")


def test_a_redirect_to_another_host_is_not_followed(receiver):
    elsewhere = receiver(ok(200))
    other_host = elsewhere.url.replace("127.0.0.1", "localhost")
    hooks = receiver(ok(307, {"Location": other_host}))
    outcome = deliver(hooks.url, SECRET, task_ready(), DELIVERY_ID, sleep=pytest.fail)
    assert (outcome.status, outcome.attempts) == (307, 1)
    assert "redirects are not followed" in outcome.error and "localhost" in outcome.error
    assert elsewhere.received == []


def test_verify_accepts_a_signed_request_and_returns_its_message():
    body = task_ready()
    message = verify(SECRET, body, sign(SECRET, body, NOW), NOW + 10, seen=set())
    assert message["delivery_id"] == DELIVERY_ID and message["event"] == "task.ready"


@pytest.mark.parametrize("case", ["tampered body", "signed too long ago", "signed in the future", "wrong secret",
                                  "replayed, by a set", "replayed, by a check", "no header", "malformed header",
                                  "no delivery id"])
def test_verify_refuses(case):
    body = task_ready()
    header, secret, seen, now = sign(SECRET, body, NOW), SECRET, set(), NOW
    if case == "tampered body":
        body = body.replace(b'"annotation_version":4', b'"annotation_version":5')
    elif case == "signed too long ago":
        now = NOW + webhooks.TOLERANCE_S + 1
    elif case == "signed in the future":
        now = NOW - webhooks.TOLERANCE_S - 1
    elif case == "wrong secret":
        secret = b"not the stage's secret"
    elif case == "replayed, by a set":
        seen = {DELIVERY_ID}
    elif case == "replayed, by a check":
        seen = {DELIVERY_ID}.__contains__
    elif case == "no header":
        header = None
    elif case == "malformed header":
        header = header.replace("v1=", "v2=")
    elif case == "no delivery id":
        body = b'{"event":"task.ready"}'
        header = sign(SECRET, body, NOW)
    with pytest.raises(WebhookRefused) as refused:
        verify(secret, body, header, now, seen=seen)
    assert isinstance(refused.value, PermissionDenied)


def test_payload_is_canonical_json():
    body = task_ready()
    message = json.loads(body)
    assert body == json.dumps(message, sort_keys=True, separators=(",", ":")).encode()
    assert message == {
        "event": "task.ready", "delivery_id": DELIVERY_ID, "workflow_id": "wf-1", "stage_id": "notify",
        "task_id": "task-7", "item_id": "item-3", "dataset_id": "ds-2", "annotation_id": "ann-9",
        "annotation_version": 4, "callback_url": "https://radlab.test/cb/task-7", "timestamp": "2025-06-15T15:06:40Z",
    }


@pytest.mark.parametrize("url", ["https://hooks.example.org/radlab", "http://10.0.0.5:8080/hook?stage=notify"])
def test_check_url_accepts_http_and_https(url):
    assert check_url(url) == url


@pytest.mark.parametrize(("url", "reason"), [
    ("ftp://files.example.org/drop", "webhook URL must be http or https: 'ftp://files.example.org/drop'"),
    ("javascript:alert(1)", "webhook URL must be http or https: 'javascript:alert(1)'"),
    ("hooks.example.org/radlab", "webhook URL must be http or https"),
    ("https:///radlab", "webhook URL has no host"),
    ("http://", "webhook URL has no host"),
    ("http://hooks.example.org:99999/", "webhook URL has an invalid port"),
])
def test_check_url_refuses_saying_why(url, reason):
    with pytest.raises(InvalidArgument, match="^" + re.escape(reason)):
        check_url(url)


def test_backoff_is_full_jitter_under_a_doubling_capped_ceiling():
    rng = random.Random(42)
    for attempt in range(1, 40):
        ceiling = min(webhooks.BACKOFF_CAP_S, webhooks.BACKOFF_BASE_S * 2 ** (attempt - 1))
        draws = [backoff(attempt, rng) for _ in range(50)]
        assert all(0 <= wait <= ceiling for wait in draws) and max(draws) > ceiling / 2
    assert backoff(10_000, rng) <= webhooks.BACKOFF_CAP_S
    assert [backoff(3, random.Random(5)) for _ in range(3)] == [backoff(3, random.Random(5))] * 3
