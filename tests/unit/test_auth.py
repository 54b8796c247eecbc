"""Bearer tokens (issue, verify, refuse), the signing key's home, and the roles each RPC declares."""

from __future__ import annotations

import stat
import threading
import time

import jwt
import pytest
from google.protobuf import descriptor_pool

from radlab.client import SERVICE_NAMES  # importing the SDK loads every service's descriptors, as a server does
from radlab.tokens import ISSUER, ROLES, issue_token, token_key
from shared.auth import InvalidToken, Principal, allowed_roles, verify_token

KEY = "k" * 64
OTHER_KEY = "o" * 64


def claims(**overrides) -> dict:
    """Valid claims of an annotator token; `overrides` set (or, with None, drop) claims."""
    now = int(time.time())
    base = {"iss": ISSUER, "sub": "alice", "role": "annotator", "tenant": "hospital-a", "iat": now, "exp": now + 600}
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not None}


@pytest.mark.parametrize("role", ROLES)
def test_an_issued_token_verifies_to_its_principal(role):
    """Every role's token verifies to the subject, role, tenant (and vendor) it was issued for."""
    vendor = "acme-labs" if role == "vendor" else ""
    token = issue_token(KEY, subject="alice", role=role, tenant="hospital-a", vendor=vendor)
    assert verify_token(KEY, token) == Principal("alice", role, "hospital-a", vendor)


def test_an_expired_token_is_refused():
    """A token past its expiry is refused, saying so."""
    token = issue_token(KEY, subject="alice", role="admin", tenant="hospital-a", ttl_s=-10)
    with pytest.raises(InvalidToken, match="expired"):
        verify_token(KEY, token)


def test_a_token_signed_with_another_key_is_refused():
    """A token from another deployment's key fails its signature check."""
    token = issue_token(OTHER_KEY, subject="alice", role="admin", tenant="hospital-a")
    with pytest.raises(InvalidToken, match="[Ss]ignature"):
        verify_token(KEY, token)


@pytest.mark.parametrize("tenant", [None, ""])
def test_a_token_without_a_tenant_is_refused(tenant):
    """A correctly signed token with no (or an empty) tenant claim is refused."""
    token = jwt.encode(claims(tenant=tenant), KEY, algorithm="HS256")
    with pytest.raises(InvalidToken, match="tenant"):
        verify_token(KEY, token)


def test_a_token_with_an_unknown_role_is_refused():
    """A signed token whose role claim is not one of ROLES is refused."""
    token = jwt.encode(claims(role="superuser"), KEY, algorithm="HS256")
    with pytest.raises(InvalidToken, match="role"):
        verify_token(KEY, token)


@pytest.mark.parametrize("dropped", ["exp", "iss", "sub"])
def test_a_token_missing_a_required_claim_is_refused(dropped):
    """exp, iss and sub are required claims."""
    token = jwt.encode(claims(**{dropped: None}), KEY, algorithm="HS256")
    with pytest.raises(InvalidToken, match=dropped):
        verify_token(KEY, token)


def test_a_token_from_another_issuer_is_refused():
    """Only tokens issued by `radlab` are accepted."""
    token = jwt.encode(claims(iss="someone-else"), KEY, algorithm="HS256")
    with pytest.raises(InvalidToken, match="[Ii]ssuer"):
        verify_token(KEY, token)


@pytest.mark.parametrize("algorithm", ["none", "HS512"])
def test_a_token_of_another_algorithm_is_refused(algorithm):
    """An unsigned (`alg: none`) token, or one signed with another algorithm, is refused."""
    token = jwt.encode(claims(role="admin"), None if algorithm == "none" else KEY, algorithm=algorithm)
    assert jwt.get_unverified_header(token)["alg"] == algorithm
    with pytest.raises(InvalidToken, match="alg"):
        verify_token(KEY, token)


@pytest.mark.parametrize("garbage", ["", "not-a-token", "a.b.c"])
def test_a_malformed_token_is_refused(garbage):
    """Strings that are not JWTs raise InvalidToken, not a decoding error."""
    with pytest.raises(InvalidToken):
        verify_token(KEY, garbage)


def test_a_vendor_token_needs_a_vendor_and_only_vendor_tokens_carry_one():
    """issue_token refuses a vendor token without a vendor, a vendor on any other role, and unknown roles."""
    with pytest.raises(ValueError, match="needs --vendor"):
        issue_token(KEY, subject="bot", role="vendor", tenant="hospital-a")
    for role in ("admin", "manager", "annotator", "reviewer"):
        with pytest.raises(ValueError, match="only vendor tokens may carry one"):
            issue_token(KEY, subject="bot", role=role, tenant="hospital-a", vendor="acme-labs")
    with pytest.raises(ValueError, match="unknown role 'root'; choose one of admin, manager"):
        issue_token(KEY, subject="bot", role="root", tenant="hospital-a")


def test_allowed_roles_reads_the_access_option_of_each_rpc():
    """The roles come from each method's `(radlab.type.v1.access)` option."""
    assert allowed_roles("/radlab.anonymization.v1.AnonymizationService/LookupPseudonym") == {"admin"}
    assert allowed_roles("/radlab.anonymization.v1.AnonymizationService/GetProfile") == {"admin", "manager"}


@pytest.mark.parametrize(
    "method",
    [
        "/radlab.anonymization.v1.AnonymizationService/NoSuchMethod",
        "/radlab.nowhere.v1.NowhereService/LookupPseudonym",
        "",
        "garbage",
    ],
)
def test_allowed_roles_of_an_unknown_method_is_empty(method):
    """An unknown service or method admits no role (fail closed)."""
    assert allowed_roles(method) == frozenset()


def test_every_rpc_of_every_service_declares_roles():
    """No RPC is left without an access rule (it would be refused to everyone)."""
    undeclared = []
    for full_name in SERVICE_NAMES.values():
        service = descriptor_pool.Default().FindServiceByName(full_name)
        for method in service.methods:
            roles = allowed_roles(f"/{full_name}/{method.name}")
            if not roles or not roles <= set(ROLES):
                undeclared.append(f"{full_name}/{method.name}: {sorted(roles)}")
    assert undeclared == []


def test_token_key_creates_a_private_key_file_once(tmp_path):
    """Without RADLAB_TOKEN_KEY a random key is written to <home>/token.key (mode 0600) and reused."""
    home = tmp_path / "home"
    key = token_key(home, None)
    path = home / "token.key"
    assert len(key) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == key
    assert token_key(home, None) == key
    assert token_key(tmp_path / "other-home", None) != key


def test_token_key_prefers_the_configured_key(tmp_path):
    """A configured RADLAB_TOKEN_KEY is returned as is, and no key file is written."""
    configured = "from-the-environment-" + "x" * 40
    assert token_key(tmp_path / "home", configured) == configured
    assert not (tmp_path / "home").exists()


def test_token_key_refuses_a_short_configured_key(tmp_path):
    """A RADLAB_TOKEN_KEY shorter than HS256 needs is refused with how to make a good one."""
    with pytest.raises(ValueError, match=r"RADLAB_TOKEN_KEY is 5 characters; use at least 32.*secrets\.token_urlsafe"):
        token_key(tmp_path / "home", "short")


def test_token_key_first_use_from_many_threads_agrees_on_one_key(tmp_path):
    """Processes starting at once on a fresh home (e.g. `radlab up` and `radlab token create`) all get
    the same non-empty key, never an error or the empty file another is still writing."""
    for attempt in range(20):
        home = tmp_path / f"home-{attempt}"
        start = threading.Barrier(8)
        keys, errors = [], []

        def first_use():
            start.wait()
            try:
                keys.append(token_key(home, None))
            except Exception as error:  # reported by the assertion below
                errors.append(repr(error))

        threads = [threading.Thread(target=first_use) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == [] and len(keys) == 8
        assert len(set(keys)) == 1 and keys[0], f"threads got {len(set(keys))} different keys (empty: {'' in keys})"
