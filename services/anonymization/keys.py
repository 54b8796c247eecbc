"""Anonymization's secrets: the keyed-hash key (UIDs, pseudonyms, date shifts) and the AES-256-GCM key of the pseudonym map.

Each comes from the environment (`RADLAB_ANON_KEY`, `RADLAB_PHI_KEY`) or, on one machine, from a random
key created once in RADLAB_HOME (`anon.key`, `phi.key`, mode 0600). Keys are never logged: losing
`anon.key` changes every future pseudonym; losing `phi.key` makes the pseudonym map unreadable.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from radlab.keyfile import created_once

ANON_KEY_VARIABLE = "RADLAB_ANON_KEY"
PHI_KEY_VARIABLE = "RADLAB_PHI_KEY"
MIN_ANON_KEY_BYTES = 16  # what the engine demands
PHI_KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12


@dataclass(frozen=True)
class Keys:
    """The two keys of one process; `repr` shows neither."""

    anon: bytes = field(repr=False)
    phi: bytes = field(repr=False)

    @classmethod
    def load(cls, home: Path, env: dict[str, str] | None = None) -> Keys:
        """The keys from `env` (default: the process environment), else from (or created in) `home`."""
        env = dict(os.environ if env is None else env)
        return cls(anon=_anon_key(home, env.get(ANON_KEY_VARIABLE) or None), phi=_phi_key(home, env.get(PHI_KEY_VARIABLE) or None))

    def seal(self, plaintext: str, associated: str) -> tuple[bytes, bytes]:
        """(nonce, ciphertext) of `plaintext`, bound to `associated` (the row's identity) so it cannot be moved to another row."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce, AESGCM(self.phi).encrypt(nonce, plaintext.encode(), associated.encode())

    def open(self, nonce: bytes, ciphertext: bytes, associated: str) -> str:
        """The plaintext `seal` encrypted; raises cryptography's InvalidTag if the row or key does not match."""
        return AESGCM(self.phi).decrypt(nonce, ciphertext, associated.encode()).decode()


def _anon_key(home: Path, configured: str | None) -> bytes:
    if configured:
        key = configured.encode()
        if len(key) < MIN_ANON_KEY_BYTES:
            raise ValueError(
                f"{ANON_KEY_VARIABLE} is {len(key)} bytes; use at least {MIN_ANON_KEY_BYTES}, e.g. the output of "
                "python3 -c 'import secrets; print(secrets.token_urlsafe(48))' (keep it: it decides every pseudonym)"
            )
        return key
    return created_once(home / "anon.key", lambda: secrets.token_urlsafe(48)).encode()


def _phi_key(home: Path, configured: str | None) -> bytes:
    text = configured or created_once(home / "phi.key", lambda: base64.b64encode(secrets.token_bytes(PHI_KEY_BYTES)).decode())
    key = _decode_key(text.strip())
    if key is None:
        where = PHI_KEY_VARIABLE if configured else str(home / "phi.key")
        raise ValueError(
            f"{where} is not {PHI_KEY_BYTES} bytes in base64 or hex; create one with "
            "python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())'"
        )
    return key


def _decode_key(text: str) -> bytes | None:
    for decode in (bytes.fromhex, lambda value: base64.b64decode(value, validate=True), base64.urlsafe_b64decode):
        try:
            key = decode(text)
        except (ValueError, binascii.Error):
            continue
        if len(key) == PHI_KEY_BYTES:
            return key
    return None
