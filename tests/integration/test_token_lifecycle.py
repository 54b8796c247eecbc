"""Key rotation and token revocation through running services: Runtimes on one RADLAB_HOME (one bus, one database
per service) as a deployment runs them, every service in one process and each service in a process of its own."""

from __future__ import annotations

import importlib
import time

import grpc
import jwt
import pytest
import sqlalchemy as sa
from google.protobuf import descriptor_pool, message_factory

from radlab import SERVICE_NAMES, SERVICES
from radlab.annotation.v1 import annotation_service_pb2 as annotation_pb
from radlab.annotation.v1 import annotation_service_pb2_grpc as annotation_grpc
from radlab.annotation.v1 import events_pb2 as annotation_events
from radlab.cli import main
from radlab.tokens import DAY_S, ISSUER, issue_token, key_id, read_claims
from services.workflow import store as workflow_store
from shared.config import Settings
from shared.db import Database, service_metadata
from shared.events import Event, envelope_for, load_contracts
from shared.protos import timestamp
from shared.revocation import DenyList
from shared.runtime import Runtime
from tests.conftest import wait_until

KEY = "token-lifecycle-test-key-of-at-least-32-bytes"
OLD_KEY = "the-key-before-rotation-of-at-least-32-bytes"
TENANT = "hospital-a"
# A revocation reaches every call within the outbox relay's poll, one consumer poll and the deny list's refresh
# (0.1 + 0.5 + 1 s), when no long handler holds a consumer up; twice that leaves room for a busy test machine.
REVOCATION_BOUND_S = 4.0


def probes() -> dict[str, tuple[str, object]]:
    """Per service, a unary Get/List RPC a manager may call: what a stolen token would be used for."""
    load_contracts()
    chosen = {}
    for name in SERVICES:
        importlib.import_module(f"radlab.{name}.v1.{name}_service_pb2")
        service = descriptor_pool.Default().FindServiceByName(SERVICE_NAMES[name])
        method = next(m for m in service.methods if m.name.startswith(("Get", "List")) and not m.client_streaming
                      and not m.server_streaming)
        chosen[name] = (f"/{service.full_name}/{method.name}", method)
    return chosen


PROBES = probes()


def call(address: str, service: str, token: str) -> tuple[grpc.StatusCode, str]:
    """The status a call of the service's probe RPC (empty request) ends with, and its details."""
    full_method, method = PROBES[service]
    request = message_factory.GetMessageClass(method.input_type)()
    reply = message_factory.GetMessageClass(method.output_type)
    with grpc.insecure_channel(address) as channel:
        stub = channel.unary_unary(full_method, request_serializer=type(request).SerializeToString,
                                   response_deserializer=reply.FromString)
        try:
            stub(request, metadata=[("authorization", f"Bearer {token}")], timeout=10)
        except grpc.RpcError as error:
            return error.code(), error.details() or ""
    return grpc.StatusCode.OK, ""


def admitted(code: grpc.StatusCode) -> bool:
    return code not in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)


def settings(home, **env: str) -> Settings:
    return Settings.from_env({"RADLAB_HOME": str(home), "RADLAB_GRPC_ADDR": "127.0.0.1:0", "RADLAB_TOKEN_KEY": KEY, **env})


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    """Every service in one process (as `radlab up`), beside each service in a process of its own (as the Helm chart
    runs them): two replicas of every service on one bus and one database per service. Yields (address, services)
    per Runtime."""
    home = tmp_path_factory.mktemp("home")
    runtimes = [Runtime(list(SERVICES), settings(home))] + [Runtime([name], settings(home)) for name in SERVICES]
    for runtime in runtimes:
        runtime.start()
    yield [(runtime.address, runtime.names) for runtime in runtimes]
    for runtime in runtimes:
        runtime.stop(0)


def served(deployment) -> list[tuple[str, str]]:
    """(address, service) for every service of every replica."""
    return [(address, service) for address, names in deployment for service in names]


def test_a_revoked_token_is_refused_by_every_service_of_every_replica_within_the_bound(deployment, monkeypatch, capsys):
    """`radlab token revoke TOKEN` through one replica's annotation: within the bound every service of every replica
    answers the token UNAUTHENTICATED, saying it was revoked, while another token of the same person still works."""
    stolen = issue_token(KEY, subject="manager-1", role="manager", tenant=TENANT)
    kept = issue_token(KEY, subject="manager-1", role="manager", tenant=TENANT)
    for address, service in served(deployment):
        assert admitted(call(address, service, stolen)[0]), (address, service)

    admin = issue_token(KEY, subject="admin-1", role="admin", tenant=TENANT)
    monkeypatch.setenv("RADLAB_URL", deployment[0][0])
    monkeypatch.setenv("RADLAB_TOKEN", admin)
    assert main(["token", "revoke", stolen]) == 0
    revoked_at = time.monotonic()
    assert f"token {read_claims(stolen)['jti']} revoked" in capsys.readouterr().out

    def everywhere_refused():
        answers = {(address, service): call(address, service, stolen) for address, service in served(deployment)}
        return all(code is grpc.StatusCode.UNAUTHENTICATED and "revoked" in details for code, details in answers.values())

    wait_until(everywhere_refused, "every service of every replica to refuse the revoked token", timeout_s=30)
    took = time.monotonic() - revoked_at
    assert took < REVOCATION_BOUND_S, f"the revocation took {took:.1f} s to reach every service"
    for address, service in served(deployment):
        assert admitted(call(address, service, kept)[0]), (address, service)


def test_an_admin_revokes_only_tokens_of_its_own_tenant(deployment):
    """A token id revoked by another tenant's admin leaves this tenant's token of that id alone (the deny list is by
    tenant and id): the other tenant's token of that id is refused everywhere, this one still admitted."""
    mine = issue_token(KEY, subject="manager-1", role="manager", tenant=TENANT)
    token_id = read_claims(mine)["jti"]
    now = int(time.time())
    theirs = jwt.encode(
        {"iss": ISSUER, "sub": "manager-9", "role": "manager", "tenant": "hospital-b", "iat": now, "exp": now + 3600,
         "jti": token_id}, KEY, algorithm="HS256", headers={"kid": key_id(KEY)},
    )
    other_admin = issue_token(KEY, subject="admin-9", role="admin", tenant="hospital-b")
    with grpc.insecure_channel(deployment[0][0]) as channel:
        annotation_grpc.AnnotationServiceStub(channel).RevokeToken(
            annotation_pb.RevokeTokenRequest(token_id=token_id), metadata=[("authorization", f"Bearer {other_admin}")]
        )
    wait_until(lambda: all(call(address, service, theirs)[0] is grpc.StatusCode.UNAUTHENTICATED
                           for address, service in served(deployment)), "hospital-b's token to be refused everywhere")
    for address, service in served(deployment):
        assert admitted(call(address, service, mine)[0]), (address, service)


def test_revoke_token_checks_its_request_and_keeps_a_revocation_no_longer_than_a_token_can_live(deployment):
    """A token id radlab does not make, or an expiry already past, is INVALID_ARGUMENT; no expiry, or one beyond the
    longest lifetime, is kept for that longest lifetime from now (90 days), after which every token valid now has
    expired; the token's own expiry is kept as it is."""
    admin = [("authorization", f"Bearer {issue_token(KEY, subject='admin-1', role='admin', tenant=TENANT)}")]
    with grpc.insecure_channel(deployment[0][0]) as channel:
        revoke = annotation_grpc.AnnotationServiceStub(channel).RevokeToken
        for request in (annotation_pb.RevokeTokenRequest(token_id="../../x"),
                        annotation_pb.RevokeTokenRequest(token_id="x" * 100000),
                        annotation_pb.RevokeTokenRequest(token_id="a-token-id-of-22-chars", expire_time=timestamp(time.time() - 60))):
            with pytest.raises(grpc.RpcError) as refused:
                revoke(request, metadata=admin)
            assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT and len(refused.value.details()) < 300
        now = time.time()
        for expiry in (None, timestamp(now + 10**6 * DAY_S)):
            kept = revoke(annotation_pb.RevokeTokenRequest(token_id="b-token-id-of-22-chars", expire_time=expiry),
                          metadata=admin).expire_time.seconds
            assert now + 90 * DAY_S - 5 <= kept <= time.time() + 90 * DAY_S + 5
        tomorrow = int(now + DAY_S)
        answer = revoke(annotation_pb.RevokeTokenRequest(token_id="c-token-id-of-22-chars", expire_time=timestamp(tomorrow)),
                        metadata=admin)
        assert answer.expire_time.seconds == tomorrow and answer.token_id == "c-token-id-of-22-chars"


def test_the_deny_list_forgets_a_revocation_once_the_token_has_expired(tmp_path):
    """Each service's copy keeps the later expiry of repeated revocations and drops revocations whose token has
    expired, so the table stays as small as the set of live revoked tokens."""
    db = Database(f"sqlite:///{tmp_path / 'db'}", "workflow", workflow_store.metadata)
    [apply] = workflow_store.revoked_tokens.event_handlers(db, "radlab.workflow").values()

    def revoke(token_id: str, expires_at: float) -> None:
        message = annotation_events.TokenRevoked(token_id=token_id, expire_time=timestamp(expires_at), revoked_by="admin-1")
        apply(Event(envelope_for(message, source="radlab.annotation", subject=token_id, tenant=TENANT), message))

    now = time.time()
    revoke("live-token-id-of-22-ch", now + 60)
    revoke("live-token-id-of-22-ch", now + 3600)
    revoke("live-token-id-of-22-ch", now + 120)
    revoke("gone-token-id-of-22-ch", now - 1)
    revoke("next-token-id-of-22-ch", now + 60)
    table = workflow_store.revoked_tokens.table
    with db.read() as conn:
        rows = {row.token_id: row.expires_at for row in conn.execute(sa.select(table.c.token_id, table.c.expires_at))}
    assert rows.keys() == {"live-token-id-of-22-ch", "next-token-id-of-22-ch"}
    assert rows["live-token-id-of-22-ch"] == pytest.approx(now + 3600)
    deny = DenyList([db], refresh_s=0)
    assert deny.revoked(TENANT, "live-token-id-of-22-ch") and not deny.revoked("hospital-b", "live-token-id-of-22-ch")
    db.dispose()


def test_a_service_without_the_revoked_tokens_table_cannot_serve(tmp_path):
    """A process whose service would not know what was revoked refuses to start, naming the missing table."""
    db = Database(f"sqlite:///{tmp_path / 'db'}", "bare", service_metadata())
    with pytest.raises(ValueError, match="bare keeps no revoked_tokens table"):
        DenyList([db])
    db.dispose()


def test_a_key_rotation_logs_no_one_out_until_the_old_key_is_dropped(tmp_path):
    """Step 1 of a rotation (new key signing, old key in RADLAB_TOKEN_PREVIOUS_KEYS): tokens of both keys are admitted
    by every service. Step 2 (old key dropped): the old key's tokens are refused, the new key's still admitted."""
    before = issue_token(OLD_KEY, subject="manager-1", role="manager", tenant=TENANT)
    after = issue_token(KEY, subject="manager-2", role="manager", tenant=TENANT)
    rotating = Runtime(list(SERVICES), settings(tmp_path / "home", RADLAB_TOKEN_PREVIOUS_KEYS=OLD_KEY))
    rotating.start()
    try:
        for service in SERVICES:
            assert admitted(call(rotating.address, service, before)[0]) and admitted(call(rotating.address, service, after)[0])
    finally:
        rotating.stop(0)
    rotated = Runtime(list(SERVICES), settings(tmp_path / "home"))
    rotated.start()
    try:
        for service in SERVICES:
            code, details = call(rotated.address, service, before)
            assert code is grpc.StatusCode.UNAUTHENTICATED and "key" in details
            assert admitted(call(rotated.address, service, after)[0])
    finally:
        rotated.stop(0)
