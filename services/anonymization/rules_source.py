"""Generates profile_rules.json, the packaged PS3.15 Table E.1-1, from the machine-readable standard.

Two sources, both derived from the DICOM Standard (PS3.15 Annex E):
- the 2026c edition's Basic Profile actions, as the data lists of the PyPI package `dicom-anonymizer`
  (BSD-3, pinned below; read as data with `ast`, never imported or copied);
- the 2024b edition as innolitics/dicom-standard JSON (RADLAB_DATA/dicom-standard), the only source
  here with the option columns (Retain Modified Dates, Clean Descriptors, …) and the private-tag row.

Every row keeps its 2024b option columns; a row new in 2026c has none, so its Basic Profile action
applies whatever the options (more removed than an option would keep: the safe direction). A basic
action that differs between the editions, or a 2024b row missing from 2026c, stops the generator: a
person must read the change. Run `scripts/rules.sh` (or `python -m services.anonymization.rules_source`);
tests/unit/test_anonymization_rules.py fails when the committed file is stale.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import importlib.metadata
import importlib.util
import json
import re
import sys
from pathlib import Path

from services.anonymization.rules_table import PACKAGED
from shared.config import data_dir

ANONYMIZER = ("dicom-anonymizer", "2.1.0", "2026c")  # distribution, pinned version, edition it holds
OPTIONS_EDITION = "2024b"
OPTIONS_JSON = Path("dicom-standard") / "confidentiality_profile_attributes.json"
# dicom-anonymizer's list names → Table E.1-1 Basic Profile actions.
LIST_ACTIONS = {
    "D_TAGS": "D", "Z_TAGS": "Z", "X_TAGS": "X", "U_TAGS": "U", "Z_D_TAGS": "Z/D", "X_Z_TAGS": "X/Z",
    "X_D_TAGS": "X/D", "X_Z_D_TAGS": "X/Z/D", "X_Z_U_STAR_TAGS": "X/Z/U*",
}
PRIVATE_ROW = "(GGGG,EEEE) WHERE GGGG IS ODD"


class SourceError(Exception):
    """A source is missing, of the wrong version, or disagrees with the other in a way a person must judge."""


def default_options_json() -> Path:
    """RADLAB_DATA's Table E.1-1 (2024b, with option columns); by default the repository's data/."""
    return data_dir() / OPTIONS_JSON


def anonymizer_table() -> Path:
    """The 2026c data list inside the installed, pinned dicom-anonymizer (located, not imported)."""
    name, pinned, edition = ANONYMIZER
    spec = importlib.util.find_spec("dicomanonymizer")
    try:
        version = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        version = None
    if spec is None or version is None:
        raise SourceError(f"{name} is not installed; install it with `pip install {name}=={pinned}` (a dev dependency)")
    if version != pinned:
        raise SourceError(f"{name} {version} is installed but the rules are generated from {pinned}; install {name}=={pinned}")
    path = Path(next(iter(spec.submodule_search_locations))) / "dicom_anonymization_databases" / f"dicomfields_{edition}.py"
    if not path.is_file():
        raise SourceError(f"{path} is missing from {name} {version}")
    return path


def basic_actions(source: str) -> dict[str, tuple[str, str]]:
    """Tag text "(GGGG,EEEE)" → (Basic Profile action, name) from a dicom-anonymizer data module's text."""
    lines = source.splitlines()
    found: dict[str, tuple[str, str]] = {}
    for node in ast.parse(source).body:
        if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.List) and len(node.targets) == 1):
            continue
        action = LIST_ACTIONS.get(getattr(node.targets[0], "id", ""))
        if action is None:
            continue
        for entry in node.value.elts:
            tag = _tag_text(ast.literal_eval(entry))
            comment = next(
                (match[1].strip() for line in lines[entry.end_lineno - 1:entry.end_lineno + 1] if (match := re.search(r"#\s*(.+)$", line))),
                None,
            )
            if comment is None:
                raise SourceError(f"{tag} has no name comment in the {ANONYMIZER[0]} data")
            if tag in found:
                raise SourceError(f"{tag} is listed twice in the {ANONYMIZER[0]} data")
            found[tag] = (action, comment)
    if not found:
        raise SourceError(f"no Basic Profile lists found in the {ANONYMIZER[0]} data")
    return found


def _tag_text(value: tuple[int, ...]) -> str:
    """(group, element) or (group, element, group mask, element mask) → Table E.1-1's tag text."""
    if len(value) == 2:
        return f"({value[0]:04X},{value[1]:04X})"
    group, element, group_mask, element_mask = value
    if group_mask != 0xFF00 or element_mask not in (0x0000, 0xFFFF):
        raise SourceError(f"a tag pattern the generator does not know: {value}")
    return f"({group >> 8:02X}XX,{'XXXX' if element_mask == 0 else f'{element:04X}'})"


def generate(options_json: Path | None = None, anonymizer: Path | None = None) -> str:
    """The packaged rule file's text: merged rows sorted by tag, with the sources and their digests."""
    options_json = options_json or default_options_json()
    anonymizer = anonymizer or anonymizer_table()
    try:
        options_bytes, anonymizer_bytes = options_json.read_bytes(), anonymizer.read_bytes()
    except OSError as error:
        raise SourceError(f"cannot read a rule source ({error}); set RADLAB_DATA to a folder holding dicom-standard/ (the repository's data/ does)") from error
    older = {row["tag"].strip().upper(): row for row in json.loads(options_bytes)}
    newer = basic_actions(anonymizer_bytes.decode())
    problems = [f"{tag}: {OPTIONS_EDITION} {row['basicProfile']} but {ANONYMIZER[2]} {newer[tag][0]}"
                for tag, row in older.items() if tag in newer and newer[tag][0] != row["basicProfile"].strip()]
    problems += [f"{tag} is in {OPTIONS_EDITION} but not in {ANONYMIZER[2]}" for tag in older if tag not in newer and tag != PRIVATE_ROW]
    if problems:
        raise SourceError("the editions disagree; read the standard's change and update the generator: " + "; ".join(problems))
    rows = []
    for tag in sorted(set(older) | set(newer)):
        if tag in older:
            row = older[tag]
            rows.append({"tag": tag, "name": " ".join(row["name"].split()), "basicProfile": row["basicProfile"].strip(),
                         **{column: value for column, value in sorted(row.items()) if column.endswith("Opt") and value}})
        else:
            action, name = newer[tag]
            rows.append({"tag": tag, "name": name, "basicProfile": action, "new": ANONYMIZER[2]})
    header = {
        "generated": "by scripts/rules.sh (python -m services.anonymization.rules_source); do not edit by hand",
        "standard": "DICOM PS3.15 Annex E, Table E.1-1 (Application Level Confidentiality Profile Attributes)",
        "edition": ANONYMIZER[2],
        "option_columns_edition": OPTIONS_EDITION,
        "sources": [
            {"what": f"{ANONYMIZER[2]} Basic Profile actions", "from": f"PyPI {ANONYMIZER[0]}=={ANONYMIZER[1]} "
             f"dicomanonymizer/dicom_anonymization_databases/{anonymizer.name} (BSD-3)",
             "sha256": hashlib.sha256(anonymizer_bytes).hexdigest()},
            {"what": f"{OPTIONS_EDITION} option columns and the private-attributes row",
             "from": f"innolitics/dicom-standard @8670abd {OPTIONS_JSON.as_posix()} (RADLAB_DATA)",
             "sha256": hashlib.sha256(options_bytes).hexdigest()},
        ],
        "note": f"rows marked new={ANONYMIZER[2]} have no option columns in any machine-readable source here: "
                "their Basic Profile action applies whatever the options",
    }
    body = ",\n".join("  " + json.dumps(row, separators=(", ", ": ")) for row in rows)
    head = json.dumps(header, indent=1)[:-2]
    return f"{head},\n \"rows\": [\n{body}\n ]\n}}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the packaged file is stale, write nothing")
    arguments = parser.parse_args(argv)
    try:
        text = generate()
    except SourceError as error:
        print(f"rules: {error}", file=sys.stderr)
        return 2
    if arguments.check:
        stale = not PACKAGED.is_file() or PACKAGED.read_text() != text
        print(f"rules: {PACKAGED.name} is {'stale: run scripts/rules.sh' if stale else 'current'}", file=sys.stderr)
        return int(stale)
    PACKAGED.write_text(text)
    print(f"rules: wrote {PACKAGED} ({text.count(chr(10)) - 1} lines)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
