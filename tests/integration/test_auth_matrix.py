"""Every RPC of every service, called through the real server and interceptors: no token is
UNAUTHENTICATED, a role the method does not declare is PERMISSION_DENIED, a declared role gets past auth."""

from __future__ import annotations

import importlib
import time

import grpc
import jwt
import pytest
from google.protobuf import descriptor_pool, message_factory

from radlab import SERVICE_NAMES, SERVICES
from radlab.tokens import DAY_S, ISSUER, ROLES, issue_token, key_id
from shared.auth import allowed_roles
from shared.config import Settings
from shared.events import load_contracts
from shared.runtime import Runtime

KEY = "auth-matrix-test-key-of-at-least-32-bytes"
REFUSED_BY_AUTH = {grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED}


def all_methods() -> list[tuple[str, object]]:
    """(`/pkg.Service/Method`, method descriptor) for every RPC of the six services."""
    load_contracts()
    pool = descriptor_pool.Default()
    methods = []
    for name in SERVICES:
        importlib.import_module(f"radlab.{name}.v1.{name}_service_pb2")
        service = pool.FindServiceByName(SERVICE_NAMES[name])
        methods += [(f"/{service.full_name}/{method.name}", method) for method in service.methods]
    return methods


METHODS = all_methods()


@pytest.fixture(scope="module")
def channel(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    settings = Settings.from_env({"RADLAB_HOME": str(home), "RADLAB_GRPC_ADDR": "127.0.0.1:0", "RADLAB_TOKEN_KEY": KEY})
    runtime = Runtime(list(SERVICES), settings)
    runtime.start()
    with grpc.insecure_channel(runtime.address) as channel:
        yield channel
    runtime.stop(0)


def call(channel, full_method: str, method, token: str | None) -> grpc.StatusCode:
    """Call `full_method` with an empty request and return the status code it ends with."""
    request = message_factory.GetMessageClass(method.input_type)()
    response_class = message_factory.GetMessageClass(method.output_type)
    metadata = [("authorization", f"Bearer {token}")] if token else []
    kind = (method.client_streaming, method.server_streaming)
    options = dict(request_serializer=type(request).SerializeToString, response_deserializer=response_class.FromString)
    try:
        if kind == (False, False):
            channel.unary_unary(full_method, **options)(request, metadata=metadata, timeout=10)
        elif kind == (True, False):
            channel.stream_unary(full_method, **options)(iter([request]), metadata=metadata, timeout=10)
        elif kind == (False, True):
            list(channel.unary_stream(full_method, **options)(request, metadata=metadata, timeout=10))
        else:
            list(channel.stream_stream(full_method, **options)(iter([request]), metadata=metadata, timeout=10))
    except grpc.RpcError as error:
        return error.code()
    return grpc.StatusCode.OK


def token(role: str) -> str:
    return issue_token(KEY, subject=f"{role}-1", role=role, tenant="matrix", vendor="acme" if role == "vendor" else "")


def test_the_six_services_have_methods_and_each_declares_roles():
    """The descriptors hold every service, and no method is left without a role (it would be unreachable)."""
    assert {full.split("/")[1] for full, _ in METHODS} == set(SERVICE_NAMES.values())
    undeclared = [full for full, _ in METHODS if not allowed_roles(full)]
    assert undeclared == []
    assert all("admin" in allowed_roles(full) for full, _ in METHODS)


@pytest.mark.parametrize("full_method,method", METHODS, ids=[full for full, _ in METHODS])
def test_auth_is_enforced_per_declared_roles(channel, full_method, method):
    """No token → UNAUTHENTICATED; a forged token → UNAUTHENTICATED; each undeclared role →
    PERMISSION_DENIED; each declared role → anything but an auth refusal."""
    assert call(channel, full_method, method, None) is grpc.StatusCode.UNAUTHENTICATED
    forged = issue_token("another-key-also-at-least-32-bytes-long", subject="x", role="admin", tenant="matrix")
    assert call(channel, full_method, method, forged) is grpc.StatusCode.UNAUTHENTICATED
    allowed = allowed_roles(full_method)
    for role in ROLES:
        code = call(channel, full_method, method, token(role))
        if role in allowed:
            assert code not in REFUSED_BY_AUTH, f"{role} is declared for {full_method} but was refused: {code}"
        else:
            assert code is grpc.StatusCode.PERMISSION_DENIED, f"{role} is not declared for {full_method} but got {code}"


def signed_with_the_key(**overrides) -> str:
    """An admin token signed with the deployment's own key, as anyone holding it could make one, with `overrides`."""
    now = int(time.time())
    claims = {"iss": ISSUER, "sub": "admin-1", "role": "admin", "tenant": "matrix", "iat": now, "exp": now + 600,
              "jti": "matrix-token-id-22-chars"} | overrides
    return jwt.encode(claims, KEY, algorithm="HS256", headers={"kid": key_id(KEY)})


SIGNED_BUT_REFUSED = {
    "lives 1e9 days": signed_with_the_key(exp=int(time.time()) + 10**9 * DAY_S),
    "tenant ../../x": signed_with_the_key(tenant="../../x"),
    "tenant A/nifti": signed_with_the_key(tenant="A/nifti"),
    "vendor ../x": signed_with_the_key(role="vendor", vendor="../x"),
    "subject ../x": signed_with_the_key(sub="../x"),
    "no key id": jwt.encode(jwt.decode(signed_with_the_key(), KEY, algorithms=["HS256"]), KEY, algorithm="HS256"),
}


@pytest.mark.parametrize("full_method,method", METHODS, ids=[full for full, _ in METHODS])
def test_a_token_signed_with_the_key_but_unbounded_or_escaping_is_refused_by_every_rpc(channel, full_method, method):
    """A token made with the deployment's key that lives 1e9 days, or whose tenant, vendor or subject could leave its
    place in a key or path (`../../x`, `A/nifti`), or that names no key, is UNAUTHENTICATED before any RPC runs; a
    well-formed token of the same key gets past auth."""
    for why, token in SIGNED_BUT_REFUSED.items():
        assert call(channel, full_method, method, token) is grpc.StatusCode.UNAUTHENTICATED, why
    assert call(channel, full_method, method, signed_with_the_key()) not in REFUSED_BY_AUTH
