"""Keyed replacements: UIDs, pseudonyms and date offsets from an HMAC of the original under the tenant's key."""

from __future__ import annotations

import base64
import hashlib
import hmac

from services.anonymization.domain.temporal import DateShift

WELL_KNOWN_UID_ROOT = "1.2.840.10008."


def uid_text(value) -> str:
    """A UI value as text without its padding; "" for a blank or missing one."""
    return str(value or "").strip().rstrip("\0").strip()


class Keyed:
    """Every replacement the profile derives from the key: the same original gives the same replacement for one
    tenant and key, and nothing about the original can be read from it."""

    def __init__(self, key: bytes, tenant: str):
        self.key, self.tenant = key, tenant

    def _digest(self, purpose: str, value: str) -> bytes:
        message = f"{purpose}\0{self.tenant}\0{value}".encode()
        return hmac.new(self.key, message, hashlib.sha256).digest()

    def uid(self, original: str) -> str:
        """The replacement for a UID: 2.25.<128-bit integer from a keyed hash>; well-known UIDs untouched."""
        original = uid_text(original)
        if not original or original.startswith(WELL_KNOWN_UID_ROOT):
            return original
        return self._derived_uid("uid", original)

    def _derived_uid(self, purpose: str, basis: str) -> str:
        return "2.25." + str(int.from_bytes(self._digest(purpose, basis)[:16], "big"))

    def blank_uids(self, originals: dict[str, str], group: str, instance: str) -> dict[str, str]:
        """UIDs for the instance UIDs it lacks (type 1: the output must have them, and object keys are made of
        them). A reader groups blank Study and Series UIDs together, so every instance of the `group` gets the
        same; a blank SOP Instance UID comes from the `instance` (its bytes: unique, the same on every run).
        From the keyed hash under their own purpose: never equal to a replaced UID, and no PHI."""
        bases = {"StudyInstanceUID": group, "SeriesInstanceUID": group, "SOPInstanceUID": instance}
        return {name: self._derived_uid(f"blank {name}", bases[name]) for name, original in originals.items() if not original}

    def pseudonym(self, basis: str) -> str:
        return "RL" + base64.b32encode(self._digest("patient", basis)[:10]).decode().rstrip("=")

    def date_shift(self, basis: str) -> DateShift:
        digest = self._digest("dates", basis)
        return DateShift(days=365 + int.from_bytes(digest[:4], "big") % (10 * 365), seconds=int.from_bytes(digest[4:8], "big") % 86400)
