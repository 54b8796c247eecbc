"""Identity on the server: verifying the JWT bearer tokens `radlab.tokens` issues, and the interceptor that
checks each RPC's declared roles.

A token is verified with the key its `kid` header names among the deployment's keys (the signing key and the
previous ones still accepted, so a key is rotated without logging anyone out), must live no longer than the
deployment allows, must carry well-formed ids, and must not be on the deny list (shared/revocation.py).

Every RPC declares who may call it with the `(radlab.type.v1.access)` method option; the interceptor
reads it from the descriptors, so there is no second list to keep in step. A method without one is
refused (fail closed).
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass

import grpc
import jwt
from google.protobuf import descriptor_pool

from radlab.tokens import ALGORITHM, DAY_S, DEFAULT_MAX_TTL_DAYS, ISSUER, TOKEN_ID, check_claims, key_id
from radlab.type.v1 import access_pb2
from shared.grpcwrap import wrap_handler

# Served without a token: probes and tooling must reach them.
OPEN_SERVICES = ("grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection", "grpc.reflection.v1.ServerReflection")

_principal: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("radlab_principal", default=None)


class InvalidToken(ValueError):
    """A bearer token that is malformed, expired, revoked, wrongly signed, too long-lived or missing a claim."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: from the token's subject, role, tenant and (vendor accounts) vendor claims."""

    subject: str
    role: str
    tenant: str
    vendor: str = ""


def current_principal() -> Principal:
    """The caller of the RPC being served; only valid inside a servicer method."""
    principal = _principal.get()
    if principal is None:
        raise RuntimeError("no authenticated caller: current_principal() called outside an RPC")
    return principal


class TokenVerifier:
    """Verifies bearer tokens against the deployment's keys (by key id), its longest token lifetime (`max_ttl_s`) and,
    through `revoked(tenant, token_id)`, its deny list."""

    def __init__(
        self, keys: str | Iterable[str], max_ttl_s: float = DEFAULT_MAX_TTL_DAYS * DAY_S,
        revoked: Callable[[str, str], bool] = lambda tenant, token_id: False,
    ):
        self._keys = {key_id(key): key for key in ([keys] if isinstance(keys, str) else keys)}
        self._max_ttl_s = max_ttl_s
        self._revoked = revoked

    def verify(self, token: str) -> Principal:
        """The principal a token names, if its key, signature, issuer, expiry, lifetime, claims and revocation hold."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = self._keys.get(kid) if isinstance(kid, str) else None
            if key is None:
                raise InvalidToken("signed with a key this deployment does not accept (no or unknown key id)")
            claims = jwt.decode(
                token, key, algorithms=[ALGORITHM], issuer=ISSUER,
                options={"require": ["exp", "iat", "iss", "sub", "jti"]},
            )
        except jwt.PyJWTError as error:
            raise InvalidToken(str(error)) from error
        lifetime = int(claims["exp"]) - int(claims["iat"])  # PyJWT has checked both read as integers
        if lifetime > self._max_ttl_s:
            raise InvalidToken(
                f"it lives {lifetime / DAY_S:.4g} days; this deployment accepts at most {self._max_ttl_s / DAY_S:g}"
            )
        try:
            check_claims(claims["sub"], claims.get("role"), claims.get("tenant"), claims.get("vendor", ""))
        except ValueError as error:
            raise InvalidToken(str(error)) from None
        if not isinstance(claims["jti"], str) or not TOKEN_ID.fullmatch(claims["jti"]):
            raise InvalidToken("its id (jti) is not one radlab makes")
        if self._revoked(claims["tenant"], claims["jti"]):
            raise InvalidToken("it has been revoked")
        return Principal(claims["sub"], claims["role"], claims["tenant"], claims.get("vendor", ""))


def allowed_roles(full_method: str) -> frozenset[str]:
    """The roles `/pkg.Service/Method` declares; empty when it declares none or is unknown."""
    service_name, _, method_name = full_method.lstrip("/").partition("/")
    try:
        service = descriptor_pool.Default().FindServiceByName(service_name)
    except KeyError:
        return frozenset()
    method = service.methods_by_name.get(method_name)
    if method is None:
        return frozenset()
    rule = method.GetOptions().Extensions[access_pb2.access]
    return frozenset(access_pb2.Role.Name(role).removeprefix("ROLE_").lower() for role in rule.roles)


class AuthInterceptor(grpc.ServerInterceptor):
    """Refuses calls without a valid bearer token (UNAUTHENTICATED) or by a role not declared (PERMISSION_DENIED)."""

    def __init__(self, tokens: TokenVerifier):
        self._tokens = tokens

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or method.lstrip("/").startswith(OPEN_SERVICES):
            return handler
        metadata = dict(handler_call_details.invocation_metadata or ())
        bearer = metadata.get("authorization", "")
        if not bearer.lower().startswith("bearer "):
            return _refusal(handler, grpc.StatusCode.UNAUTHENTICATED, "no bearer token: set RADLAB_TOKEN (radlab token create)")
        try:
            principal = self._tokens.verify(bearer[7:].strip())
        except InvalidToken as error:
            return _refusal(handler, grpc.StatusCode.UNAUTHENTICATED, f"invalid token: {error}")
        roles = allowed_roles(method)
        if principal.role not in roles:
            allowed = ", ".join(sorted(roles)) or "no role"
            return _refusal(
                handler, grpc.StatusCode.PERMISSION_DENIED, f"role {principal.role} may not call {method} (allowed: {allowed})"
            )

        @contextmanager
        def as_principal(_context):
            token = _principal.set(principal)
            try:
                yield
            finally:
                _principal.reset(token)

        return wrap_handler(handler, as_principal)


def _refusal(handler: grpc.RpcMethodHandler, code: grpc.StatusCode, details: str) -> grpc.RpcMethodHandler:
    @contextmanager
    def refuse(context):
        context.abort(code, details)
        yield

    return wrap_handler(handler, refuse)
