"""The packaged Table E.1-1: generated from the machine-readable standard, current, and all the engine reads."""

from __future__ import annotations

import json

import pytest

from services.anonymization.rules_source import PRIVATE_ROW, SourceError, anonymizer_table, generate
from services.anonymization.rules_table import PACKAGED, load_rule_table


def test_the_committed_rule_file_is_not_stale():
    """Regenerating from the sources gives the committed file byte for byte (else: run scripts/rules.sh)."""
    assert PACKAGED.read_text() == generate(), "profile_rules.json is stale: run scripts/rules.sh and commit it"


def test_the_packaged_table_is_the_2026c_edition_with_the_2024b_options(data_dir):
    table = load_rule_table()
    older = json.loads((data_dir / "dicom-standard" / "confidentiality_profile_attributes.json").read_text())
    assert table.edition == "2026c" and table.edition_rows == len(older) + 35 == 656
    assert table.rule(0x00100012).basic == "X" and table.rule(0x00100012).options == {}  # Name to Use, new in 2026c
    study_date = table.rule(0x00080020)
    assert study_date.basic == "Z" and study_date.options["rtnLongModifDatesOpt"] == "C"
    assert table.rule(0x00190010) is table.private and table.rule(0x50000000) is table.curve
    assert table.rule(0x60023000) is table.overlay[0x3000]


def test_the_engine_does_not_read_radlab_data(tmp_path, monkeypatch):
    """A deployment has no shared data folder: the table comes from the package alone."""
    monkeypatch.setenv("RADLAB_DATA", str(tmp_path / "nowhere"))
    assert load_rule_table.__wrapped__().edition_rows == 656


def test_editions_that_disagree_stop_the_generator(tmp_path, data_dir):
    """A changed basic action or a dropped row needs a person to read the standard, not a silent merge."""
    rows = json.loads((data_dir / "dicom-standard" / "confidentiality_profile_attributes.json").read_text())
    changed = [dict(row, basicProfile="K") if row["tag"] == "(0010,0010)" else row for row in rows]
    (tmp_path / "changed.json").write_text(json.dumps(changed))
    with pytest.raises(SourceError, match=r"\(0010,0010\): 2024b K but 2026c Z"):
        generate(tmp_path / "changed.json", anonymizer_table())
    extra = rows + [{"tag": "(0011,0000)", "name": "Not in 2026c", "basicProfile": "X"}]
    (tmp_path / "extra.json").write_text(json.dumps(extra))
    with pytest.raises(SourceError, match=r"\(0011,0000\) is in 2024b but not in 2026c"):
        generate(tmp_path / "extra.json", anonymizer_table())
    assert any(row["tag"] == PRIVATE_ROW for row in rows)
