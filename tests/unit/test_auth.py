"""Bearer tokens (issue, verify, refuse), their lifetimes and ids, key rotation by key id, the signing key's home, and
the roles each RPC declares."""

from __future__ import annotations

import math
import stat
import threading
import time

import jwt
import pytest
from google.protobuf import descriptor_pool

from radlab.client import SERVICE_NAMES  # importing the SDK loads every service's descriptors, as a server does
from radlab.tokens import DAY_S, ISSUER, ROLES, issue_token, key_id, read_claims, token_key, token_max_ttl_s
from shared.auth import InvalidToken, Principal, TokenVerifier, allowed_roles
from shared.config import Settings

KEY = "k" * 64
OTHER_KEY = "o" * 64
verify_token = TokenVerifier(KEY).verify


def claims(**overrides) -> dict:
    """Valid claims of an annotator token; `overrides` set (or, with None, drop) claims."""
    now = int(time.time())
    base = {
        "iss": ISSUER, "sub": "alice", "role": "annotator", "tenant": "hospital-a", "iat": now, "exp": now + 600,
        "jti": "a-token-id-of-22-chars",
    }
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not None}


def signed(payload: dict, key: str = KEY, kid: str | None = None) -> str:
    """A token signed as anyone holding `key` could sign it: any claims, the header naming the key's id."""
    return jwt.encode(payload, key, algorithm="HS256", headers={"kid": kid or key_id(key)})


@pytest.mark.parametrize("role", ROLES)
def test_an_issued_token_verifies_to_its_principal(role):
    """Every role's token verifies to the subject, role, tenant (and vendor) it was issued for."""
    vendor = "acme-labs" if role == "vendor" else ""
    token = issue_token(KEY, subject="alice", role=role, tenant="hospital-a", vendor=vendor)
    assert verify_token(token) == Principal("alice", role, "hospital-a", vendor)


def test_an_expired_token_is_refused():
    """A token past its expiry is refused, saying so."""
    now = int(time.time())
    with pytest.raises(InvalidToken, match="expired"):
        verify_token(signed(claims(iat=now - 600, exp=now - 10)))


def test_a_token_signed_with_another_key_is_refused():
    """A token from another deployment's key names a key this one does not hold; one that claims this deployment's
    key id but was signed with another key fails its signature check."""
    with pytest.raises(InvalidToken, match="key"):
        verify_token(issue_token(OTHER_KEY, subject="alice", role="admin", tenant="hospital-a"))
    with pytest.raises(InvalidToken, match="[Ss]ignature"):
        verify_token(signed(claims(role="admin"), OTHER_KEY, kid=key_id(KEY)))


@pytest.mark.parametrize("tenant", [None, ""])
def test_a_token_without_a_tenant_is_refused(tenant):
    """A correctly signed token with no (or an empty) tenant claim is refused."""
    token = signed(claims(tenant=tenant))
    with pytest.raises(InvalidToken, match="tenant"):
        verify_token(token)


def test_a_token_with_an_unknown_role_is_refused():
    """A signed token whose role claim is not one of ROLES is refused."""
    token = signed(claims(role="superuser"))
    with pytest.raises(InvalidToken, match="role"):
        verify_token(token)


@pytest.mark.parametrize("dropped", ["exp", "iat", "iss", "sub", "jti"])
def test_a_token_missing_a_required_claim_is_refused(dropped):
    """exp, iat (to bound its lifetime), iss, sub and jti (to revoke it by) are required claims."""
    token = signed(claims(**{dropped: None}))
    with pytest.raises(InvalidToken, match=dropped):
        verify_token(token)


def test_a_token_from_another_issuer_is_refused():
    """Only tokens issued by `radlab` are accepted."""
    token = signed(claims(iss="someone-else"))
    with pytest.raises(InvalidToken, match="[Ii]ssuer"):
        verify_token(token)


@pytest.mark.parametrize("algorithm", ["none", "HS512"])
def test_a_token_of_another_algorithm_is_refused(algorithm):
    """An unsigned (`alg: none`) token, or one signed with another algorithm, is refused."""
    token = jwt.encode(claims(role="admin"), None if algorithm == "none" else KEY, algorithm=algorithm, headers={"kid": key_id(KEY)})
    assert jwt.get_unverified_header(token)["alg"] == algorithm
    with pytest.raises(InvalidToken, match="alg"):
        verify_token(token)


@pytest.mark.parametrize("garbage", ["", "not-a-token", "a.b.c"])
def test_a_malformed_token_is_refused(garbage):
    """Strings that are not JWTs raise InvalidToken, not a decoding error."""
    with pytest.raises(InvalidToken):
        verify_token(garbage)


def test_a_vendor_token_needs_a_vendor_and_only_vendor_tokens_carry_one():
    """issue_token refuses a vendor token without a vendor, a vendor on any other role, and unknown roles."""
    with pytest.raises(ValueError, match="needs a vendor"):
        issue_token(KEY, subject="bot", role="vendor", tenant="hospital-a")
    for role in ("admin", "manager", "annotator", "reviewer"):
        with pytest.raises(ValueError, match="only vendor tokens may carry one"):
            issue_token(KEY, subject="bot", role=role, tenant="hospital-a", vendor="acme-labs")
    with pytest.raises(ValueError, match="unknown role 'root'; choose one of admin, manager"):
        issue_token(KEY, subject="bot", role="root", tenant="hospital-a")


# --- lifetimes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("ttl_days", [-1, 0, math.nan, math.inf, -math.inf, 1e9, 90.01])
def test_issue_token_refuses_a_lifetime_not_above_0_and_within_the_maximum(ttl_days):
    """`--ttl-days -1` made a token already expired and `1e9` one that never expires in practice: a token lives more
    than 0 and at most the maximum (90 days unless RADLAB_TOKEN_MAX_TTL_DAYS says otherwise)."""
    with pytest.raises(ValueError, match=r"more than 0 and at most 90 days \(RADLAB_TOKEN_MAX_TTL_DAYS\)"):
        issue_token(KEY, subject="alice", role="admin", tenant="hospital-a", ttl_s=ttl_days * DAY_S)


def test_issue_token_follows_the_configured_maximum():
    """With a maximum of 7 days, 7 days is made and 8 is refused."""
    week = token_max_ttl_s("7")
    token = issue_token(KEY, subject="alice", role="admin", tenant="hospital-a", ttl_s=7 * DAY_S, longest_s=week)
    assert read_claims(token)["exp"] - read_claims(token)["iat"] == 7 * DAY_S
    with pytest.raises(ValueError, match="at most 7 days"):
        issue_token(KEY, subject="alice", role="admin", tenant="hospital-a", ttl_s=8 * DAY_S, longest_s=week)


def test_a_signed_token_that_lives_longer_than_the_maximum_is_refused():
    """A token signed with the deployment's key but living 1e9 days (as `--ttl-days 1e9` made them) is refused, and
    so is one within a lowered maximum's reach no more."""
    now = int(time.time())
    with pytest.raises(InvalidToken, match="accepts at most 90"):
        verify_token(signed(claims(iat=now, exp=now + 10**9 * DAY_S)))
    month = signed(claims(iat=now, exp=now + 30 * DAY_S))
    assert verify_token(month).subject == "alice"
    with pytest.raises(InvalidToken, match="accepts at most 7"):
        TokenVerifier(KEY, max_ttl_s=7 * DAY_S).verify(month)


@pytest.mark.parametrize("configured", ["0", "-1", "nan", "inf", "1e9", "3651", "ninety"])
def test_the_maximum_lifetime_setting_is_itself_bounded(configured):
    """RADLAB_TOKEN_MAX_TTL_DAYS is a number of days above 0 and at most ten years; anything else stops the start."""
    with pytest.raises(ValueError, match="RADLAB_TOKEN_MAX_TTL_DAYS must be a number of days above 0 and at most 3650"):
        Settings.from_env({"RADLAB_TOKEN_MAX_TTL_DAYS": configured})
    assert Settings.from_env({}).token_max_ttl_s == 90 * DAY_S
    assert Settings.from_env({"RADLAB_TOKEN_MAX_TTL_DAYS": "1.5"}).token_max_ttl_s == 1.5 * DAY_S


# --- ids -------------------------------------------------------------------------------------------------

BAD_ACCOUNT_IDS = ["../../x", "A/nifti", "a/b", "", ".hidden", "-x", "Hospital-A", "a b", "x" * 64, "ünï", "a\x00b", 7]
BAD_SUBJECTS = ["../x", "a/b", "", "alice bob", "x" * 129, "<script>", None]


@pytest.mark.parametrize("tenant", BAD_ACCOUNT_IDS)
def test_a_tenant_that_is_not_an_id_is_refused_when_made_and_when_verified(tenant):
    """`../../x` reached the object-store key builder and `A/nifti` landed inside tenant A's prefix: a tenant is 1 to
    63 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit, at creation and (a token signed
    by anyone holding the key) at verification."""
    with pytest.raises(ValueError, match="tenant"):
        issue_token(KEY, subject="alice", role="admin", tenant=tenant)
    with pytest.raises(InvalidToken, match="tenant"):
        verify_token(signed(claims(tenant=tenant)))


@pytest.mark.parametrize("vendor", BAD_ACCOUNT_IDS[:-1])
def test_a_vendor_that_is_not_an_id_is_refused_when_made_and_when_verified(vendor):
    """A vendor id has the tenant's shape (and the one annotation shares datasets by)."""
    with pytest.raises(ValueError, match="vendor"):
        issue_token(KEY, subject="bot", role="vendor", tenant="hospital-a", vendor=vendor)
    with pytest.raises(InvalidToken, match="vendor"):
        verify_token(signed(claims(role="vendor", vendor=vendor or 0)))


@pytest.mark.parametrize("subject", BAD_SUBJECTS)
def test_a_subject_that_is_not_an_id_is_refused_when_made_and_when_verified(subject):
    """A subject is 1 to 128 letters, digits, '.', '_', '@', '+' or '-' (e-mail addresses fit), starting with a letter
    or digit."""
    with pytest.raises(ValueError, match="subject"):
        issue_token(KEY, subject=subject, role="admin", tenant="hospital-a")
    with pytest.raises(InvalidToken, match="[Ss]ubject"):
        verify_token(signed(claims(sub=subject) if subject is not None else claims(sub=7)))


@pytest.mark.parametrize(("subject", "tenant"), [("alice@hospital.org", "t1"), ("ci+bot", "a.b_c-d"), ("x" * 128, "x" * 63)])
def test_well_formed_ids_are_taken(subject, tenant):
    """The id rules leave room for e-mail subjects, dotted tenants and the longest ids."""
    assert verify_token(issue_token(KEY, subject=subject, role="admin", tenant=tenant)) == Principal(subject, "admin", tenant)


def test_a_refusal_never_echoes_a_long_claim_whole():
    """A bad claim is quoted cut short: the message stays small whatever was sent."""
    with pytest.raises(InvalidToken) as refused:
        verify_token(signed(claims(tenant="../" * 10000)))
    assert len(str(refused.value)) < 200


@pytest.mark.parametrize("jti", ["short", "has space in it ok", "x" * 65, 12345678901234567890])
def test_a_token_id_radlab_does_not_make_is_refused(jti):
    """The token id is what revocation goes by: 16 to 64 URL-safe characters, as radlab makes them."""
    with pytest.raises(InvalidToken, match="jti|JWT ID"):
        verify_token(signed(claims(jti=jti)))


def test_every_token_has_its_own_id_and_names_its_key():
    """Two tokens for the same person differ in their id; both name the key by an id that is not the key."""
    first, second = (issue_token(KEY, subject="alice", role="admin", tenant="hospital-a") for _ in range(2))
    assert read_claims(first)["jti"] != read_claims(second)["jti"]
    assert jwt.get_unverified_header(first)["kid"] == jwt.get_unverified_header(second)["kid"] == key_id(KEY)
    assert KEY not in key_id(KEY) and key_id(KEY) != key_id(OTHER_KEY)


# --- rotation and revocation -----------------------------------------------------------------------------


def test_a_previous_key_keeps_its_tokens_valid_until_it_is_dropped():
    """Rotation: with the new key signing and the old one kept for verification, tokens of both verify; once the old
    key is dropped, its tokens are refused and the new key's still verify."""
    old = issue_token(OTHER_KEY, subject="alice", role="admin", tenant="hospital-a")
    new = issue_token(KEY, subject="bob", role="admin", tenant="hospital-a")
    during = TokenVerifier([KEY, OTHER_KEY])
    assert (during.verify(old).subject, during.verify(new).subject) == ("alice", "bob")
    after = TokenVerifier([KEY])
    assert after.verify(new).subject == "bob"
    with pytest.raises(InvalidToken, match="key"):
        after.verify(old)


@pytest.mark.parametrize("header", [{}, {"kid": "no-such-key"}, {"kid": key_id(OTHER_KEY)}])
def test_a_token_that_names_no_known_key_is_refused(header):
    """A token without a key id, or naming a key the deployment does not hold, is refused before any other check."""
    with pytest.raises(InvalidToken, match="key"):
        verify_token(jwt.encode(claims(), KEY, algorithm="HS256", headers=header))


def test_a_revoked_token_is_refused_and_others_are_not():
    """The deny list is asked by tenant and token id: the revoked token is refused, another of the same person not."""
    revoked, kept = (issue_token(KEY, subject="alice", role="admin", tenant="hospital-a") for _ in range(2))
    denied = {("hospital-a", read_claims(revoked)["jti"])}
    verifier = TokenVerifier(KEY, revoked=lambda tenant, token_id: (tenant, token_id) in denied)
    with pytest.raises(InvalidToken, match="revoked"):
        verifier.verify(revoked)
    assert verifier.verify(kept).subject == "alice"


def test_previous_keys_are_read_from_the_setting_and_must_be_long_enough():
    """RADLAB_TOKEN_PREVIOUS_KEYS holds keys separated by commas or spaces; a short one stops the start."""
    settings = Settings.from_env({"RADLAB_TOKEN_PREVIOUS_KEYS": f"{KEY}, {OTHER_KEY}"})
    assert settings.token_previous_keys == (KEY, OTHER_KEY)
    assert Settings.from_env({}).token_previous_keys == ()
    with pytest.raises(ValueError, match="a key in RADLAB_TOKEN_PREVIOUS_KEYS is 5 characters; use at least 32"):
        Settings.from_env({"RADLAB_TOKEN_PREVIOUS_KEYS": f"{KEY},short"})


def test_read_claims_refuses_what_is_not_a_token():
    """Reading a token's claims (to show or revoke it) says plainly when the text is not a token."""
    for text in ("", "a.b", "a.b.c", "x.W10.y"):
        with pytest.raises(ValueError, match="not a Radlab token"):
            read_claims(text)


# --- roles -----------------------------------------------------------------------------------------------


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
