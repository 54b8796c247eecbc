"""The PS3.15 Basic Application Level Confidentiality Profile: Table E.1-1 rows, options, and each tag's action."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from shared.errors import InvalidArgument

# Option columns of the machine-readable Table E.1-1 (innolitics/dicom-standard field names).
COLUMN_SAFE_PRIVATE = "rtnSafePrivOpt"
COLUMN_DEVICE = "rtnDevIdOpt"
COLUMN_INSTITUTION = "rtnInstIdOpt"
COLUMN_PATIENT_CHARACTERISTICS = "rtnPatCharsOpt"
COLUMN_MODIFIED_DATES = "rtnLongModifDatesOpt"
COLUMN_DESCRIPTORS = "cleanDescOpt"
COLUMN_STRUCTURED_CONTENT = "cleanStructContOpt"
COLUMN_GRAPHICS = "cleanGraphOpt"

BASIC_ACTIONS = {"X", "Z", "D", "U", "K", "C", "X/Z", "X/D", "Z/D", "X/Z/D", "X/Z/U*"}


@dataclass(frozen=True)
class Options:
    """The PS3.15 options applied on top of the Basic Profile; the defaults are Radlab's."""

    retain_longitudinal_modified_dates: bool = True
    retain_patient_characteristics: bool = True
    clean_descriptors: bool = True
    clean_structured_content: bool = True
    clean_graphics: bool = True
    retain_safe_private: bool = True
    retain_device_identity: bool = False
    retain_institution_identity: bool = False

    def columns(self) -> tuple[str, ...]:
        """The Table E.1-1 option columns these options switch on."""
        chosen = {
            COLUMN_MODIFIED_DATES: self.retain_longitudinal_modified_dates,
            COLUMN_PATIENT_CHARACTERISTICS: self.retain_patient_characteristics,
            COLUMN_DESCRIPTORS: self.clean_descriptors,
            COLUMN_STRUCTURED_CONTENT: self.clean_structured_content,
            COLUMN_GRAPHICS: self.clean_graphics,
            COLUMN_SAFE_PRIVATE: self.retain_safe_private,
            COLUMN_DEVICE: self.retain_device_identity,
            COLUMN_INSTITUTION: self.retain_institution_identity,
        }
        return tuple(column for column, on in chosen.items() if on)

    def method_codes(self) -> list[tuple[str, str]]:
        """CID 7050 (code value, meaning) of the profile and every option applied, for (0012,0064)."""
        codes = [("113100", "Basic Application Confidentiality Profile")]
        for on, code in (
            (self.clean_graphics, ("113103", "Clean Graphics Option")),
            (self.clean_structured_content, ("113104", "Clean Structured Content Option")),
            (self.clean_descriptors, ("113105", "Clean Descriptors Option")),
            (self.retain_longitudinal_modified_dates, ("113107", "Retain Longitudinal Temporal Information Modified Dates Option")),
            (self.retain_patient_characteristics, ("113108", "Retain Patient Characteristics Option")),
            (self.retain_device_identity, ("113109", "Retain Device Identity Option")),
            (self.retain_safe_private, ("113111", "Retain Safe Private Option")),
            (self.retain_institution_identity, ("113112", "Retain Institution Identity Option")),
        ):
            if on:
                codes.append(code)
        return codes


@dataclass(frozen=True)
class Rule:
    """One Table E.1-1 row: its basic action and the action each option column gives it."""

    name: str
    basic: str
    options: dict[str, str] = field(default_factory=dict)

    def action(self, columns: tuple[str, ...]) -> tuple[str, str | None]:
        """(action, the option column that decided it or None); an option overrides the profile, and
        where two chosen options disagree the more protective (C over K) wins."""
        chosen = [(self.options[column], column) for column in columns if column in self.options]
        for wanted in ("C", "K"):
            for action, column in chosen:
                if action == wanted:
                    return action, column
        return self.basic, None


@dataclass(frozen=True)
class RuleTable:
    """Table E.1-1 indexed for lookup: exact tags, and the repeating groups (curves 50xx, overlays 60xx)."""

    exact: dict[int, Rule]
    curve: Rule | None
    overlay: dict[int, Rule]
    private: Rule | None
    edition: str
    edition_rows: int

    def rule(self, tag: int) -> Rule | None:
        """The row that covers `tag`, or None when the table does not list it."""
        if (found := self.exact.get(tag)) is not None:
            return found
        group, element = tag >> 16, tag & 0xFFFF
        if 0x5000 <= group <= 0x50FF and group % 2 == 0:
            return self.curve
        if 0x6000 <= group <= 0x60FF and group % 2 == 0:
            return self.overlay.get(element)
        if group % 2 == 1:
            return self.private
        return None


_EXACT_TAG = re.compile(r"^\(([0-9A-F]{4}),([0-9A-F]{4})\)$")


def rule_table(rows: list[dict], edition: str) -> RuleTable:
    """Build the rule table from Table E.1-1 of `edition` as parsed JSON rows (tag, name, basicProfile, option columns).

    Raises InvalidArgument when a row cannot be understood: a table the engine half-understands would
    silently keep what it should remove."""
    if not isinstance(rows, list) or not rows:
        raise InvalidArgument("the confidentiality profile table is empty or not a list of rows")
    exact: dict[int, Rule] = {}
    overlay: dict[int, Rule] = {}
    curve = private = None
    for row in rows:
        try:
            tag_text, name, basic = row["tag"].strip().upper(), row["name"], row["basicProfile"].strip()
        except (KeyError, AttributeError, TypeError) as error:
            raise InvalidArgument(f"confidentiality profile row {row!r} lacks tag, name or basicProfile") from error
        if basic not in BASIC_ACTIONS:
            raise InvalidArgument(f"confidentiality profile row {tag_text} has unknown action {basic!r}")
        options = {key: str(value).strip() for key, value in row.items() if key.endswith("Opt") and value}
        rule = Rule(name=" ".join(name.split()), basic=basic, options=options)
        if match := _EXACT_TAG.match(tag_text):
            exact[int(match[1] + match[2], 16)] = rule
        elif tag_text == "(50XX,XXXX)":
            curve = rule
        elif tag_text.startswith("(60XX,") and re.fullmatch(r"\(60XX,[0-9A-F]{4}\)", tag_text):
            overlay[int(tag_text[6:10], 16)] = rule
        elif tag_text.startswith("(GGGG,EEEE)") and "ODD" in tag_text:
            private = rule
        else:
            raise InvalidArgument(f"confidentiality profile row has a tag pattern the engine does not know: {tag_text}")
    if private is None:
        raise InvalidArgument("the confidentiality profile table has no private-attributes row")
    return RuleTable(exact=exact, curve=curve, overlay=overlay, private=private, edition=edition, edition_rows=len(rows))
