"""Bearer tokens as a deployment's admin makes them: the signing key (RADLAB_TOKEN_KEY, or the key file in
RADLAB_HOME) and HS256 JWTs signed with it. Only the key is needed, not the servers: the services verify them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from pathlib import Path

from radlab.keyfile import created_once

ROLES = ("admin", "manager", "annotator", "reviewer", "vendor")
ISSUER = "radlab"
ALGORITHM = "HS256"
MIN_KEY_LENGTH = 32  # HS256 wants a key at least as long as its 256-bit hash


def token_key(home: Path, configured: str | None) -> str:
    """The signing key: `RADLAB_TOKEN_KEY`, else (one machine only) a random key kept in RADLAB_HOME."""
    if configured:
        if len(configured) < MIN_KEY_LENGTH:
            raise ValueError(
                f"RADLAB_TOKEN_KEY is {len(configured)} characters; use at least {MIN_KEY_LENGTH}, e.g. the output of "
                "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        return configured
    return created_once(home / "token.key", lambda: secrets.token_urlsafe(48))


def issue_token(
    key: str | bytes, *, subject: str, role: str, tenant: str, vendor: str = "", ttl_s: int = 30 * 24 * 3600
) -> str:
    """A signed token for `subject`; vendor accounts must name their vendor."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    if (role == "vendor") != bool(vendor):
        raise ValueError("a vendor token needs --vendor, and only vendor tokens may carry one")
    now = int(time.time())
    claims = {"iss": ISSUER, "sub": subject, "role": role, "tenant": tenant, "iat": now, "exp": now + ttl_s}
    if vendor:
        claims["vendor"] = vendor
    signing_input = f"{_segment({'alg': ALGORITHM, 'typ': 'JWT'})}.{_segment(claims)}".encode()
    secret = key.encode() if isinstance(key, str) else key
    signature = hmac.new(secret, signing_input, hashlib.sha256).digest()
    return f"{signing_input.decode()}.{_base64url(signature)}"


def _segment(part: dict) -> str:
    return _base64url(json.dumps(part, separators=(",", ":")).encode())


def _base64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
