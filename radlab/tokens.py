"""Bearer tokens as a deployment's admin makes them: the signing key (RADLAB_TOKEN_KEY, or the key file in
RADLAB_HOME), the rules every token's claims and lifetime meet, and HS256 JWTs signed with it. Only the key is
needed, not the servers: the services verify them (shared/auth.py) with the same rules."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import re
import secrets
import time
from pathlib import Path

from radlab.keyfile import created_once
from radlab.quoting import shown

ROLES = ("admin", "manager", "annotator", "reviewer", "vendor")
ISSUER = "radlab"
ALGORITHM = "HS256"
MIN_KEY_LENGTH = 32  # HS256 wants a key at least as long as its 256-bit hash
DAY_S = 86400
DEFAULT_TTL_S = 30 * DAY_S
DEFAULT_MAX_TTL_DAYS = 90.0
# RADLAB_TOKEN_MAX_TTL_DAYS itself is bounded: a "maximum" of a million days would bound nothing.
MAX_TTL_DAYS_CEILING = 3650.0
# Tenant and vendor ids reach object-store keys and path-like prefixes: no separators, no leading dot, bounded, and
# lower case, so two tenants never share a prefix on a case-insensitive file system (vendor ids are shared by this rule).
ACCOUNT_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
# A subject is a user or program name as the deployment knows it; e-mail addresses fit.
SUBJECT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}")
TOKEN_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")


def token_key(home: Path, configured: str | None) -> str:
    """The signing key: `RADLAB_TOKEN_KEY`, else (one machine only) a random key kept in RADLAB_HOME."""
    if configured:
        return checked_key(configured, "RADLAB_TOKEN_KEY")
    return created_once(home / "token.key", lambda: secrets.token_urlsafe(48))


def checked_key(key: str, setting: str) -> str:
    """`key` if it is long enough to sign with, else a ValueError saying how to make a good one."""
    if len(key) < MIN_KEY_LENGTH:
        raise ValueError(
            f"{setting} is {len(key)} characters; use at least {MIN_KEY_LENGTH}, e.g. the output of "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )
    return key


def key_id(key: str | bytes) -> str:
    """The `kid` header of tokens signed with `key`: a digest of the key, so a verifier finds the right key among
    several (rotation) without anyone naming keys, and the key itself never shows."""
    secret = key.encode() if isinstance(key, str) else key
    return _base64url(hashlib.sha256(b"radlab token key id\0" + secret).digest()[:12])


def token_max_ttl_s(configured: str | None) -> float:
    """The longest a token may live, in seconds: RADLAB_TOKEN_MAX_TTL_DAYS (default 90 days)."""
    if not configured:
        return DEFAULT_MAX_TTL_DAYS * DAY_S
    try:
        days = float(configured)
    except ValueError:
        days = math.nan
    if not 0 < days <= MAX_TTL_DAYS_CEILING:
        raise ValueError(
            f"RADLAB_TOKEN_MAX_TTL_DAYS must be a number of days above 0 and at most {MAX_TTL_DAYS_CEILING:g}, "
            f"not {shown(configured)}"
        )
    return days * DAY_S


def check_claims(subject: object, role: object, tenant: object, vendor: object = "") -> None:
    """Raise ValueError unless the claims name a known role and well-formed subject, tenant and (vendor accounts
    only) vendor ids; the same rules hold when a token is made and when it is verified."""
    if role not in ROLES:
        raise ValueError(f"unknown role {shown(role)}; choose one of {', '.join(ROLES)}")
    if (role == "vendor") != bool(vendor):
        raise ValueError("a vendor token needs a vendor (--vendor), and only vendor tokens may carry one")
    _check_id("subject", subject, SUBJECT, "1 to 128 letters, digits, '.', '_', '@', '+' or '-'")
    _check_id("tenant", tenant, ACCOUNT_ID, "1 to 63 lower-case letters, digits, '.', '_' or '-'")
    if vendor:
        _check_id("vendor", vendor, ACCOUNT_ID, "1 to 63 lower-case letters, digits, '.', '_' or '-'")


def check_ttl(ttl_s: float, longest_s: float) -> None:
    """Raise ValueError unless a token's lifetime is a finite number of seconds above 0 and at most `longest_s`."""
    if not 0 < ttl_s <= longest_s:  # also false for NaN
        raise ValueError(
            f"a token must live more than 0 and at most {longest_s / DAY_S:g} days (RADLAB_TOKEN_MAX_TTL_DAYS), "
            f"not {ttl_s / DAY_S:g} days"
        )


def issue_token(
    key: str | bytes, *, subject: str, role: str, tenant: str, vendor: str = "", ttl_s: float = DEFAULT_TTL_S,
    longest_s: float = DEFAULT_MAX_TTL_DAYS * DAY_S,
) -> str:
    """A signed token for `subject` that lives `ttl_s` (at most `longest_s`), with an id (`jti`) to revoke it by and
    the id of its key (`kid`) to verify it by."""
    check_claims(subject, role, tenant, vendor)
    check_ttl(ttl_s, longest_s)
    now = int(time.time())
    claims = {
        "iss": ISSUER, "sub": subject, "role": role, "tenant": tenant, "iat": now, "exp": now + math.ceil(ttl_s),
        "jti": secrets.token_urlsafe(16),
    }
    if vendor:
        claims["vendor"] = vendor
    header = {"alg": ALGORITHM, "typ": "JWT", "kid": key_id(key)}
    signing_input = f"{_segment(header)}.{_segment(claims)}".encode()
    secret = key.encode() if isinstance(key, str) else key
    signature = hmac.new(secret, signing_input, hashlib.sha256).digest()
    return f"{signing_input.decode()}.{_base64url(signature)}"


def read_claims(token: str) -> dict:
    """A token's claims as written, signature NOT checked: for showing or revoking a token, never for trusting it."""
    parts = token.strip().split(".")
    try:
        if len(parts) != 3:
            raise ValueError
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        raise ValueError("that is not a Radlab token (three base64url parts separated by dots)") from None
    if not isinstance(claims, dict):
        raise ValueError("that is not a Radlab token (its claims are not a JSON object)")
    return claims


def _check_id(claim: str, value: object, pattern: re.Pattern, shape: str) -> None:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ValueError(f"{claim} {shown(value)} is not a valid id: use {shape}, starting with a letter or digit")


def _segment(part: dict) -> str:
    return _base64url(json.dumps(part, separators=(",", ":")).encode())


def _base64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
