"""The repository carries its own sample data: every path data/README.md lists exists, every folder has a row with
a source and a licence, and nothing reads data from outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

from shared import config
from tests.conftest import REPO

DATA = REPO / "data"


def table_rows() -> list[list[str]]:
    """The cells of data/README.md's table, header and rule left out."""
    lines = [line for line in (DATA / "README.md").read_text().splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


def listed_paths() -> list[str]:
    """Every backticked path in the table's first column that names something under data/ (not a bare file name)."""
    return [path for row in table_rows() for path in re.findall(r"`([^`]+)`", row[0]) if "/" in path]


def test_the_data_folder_is_the_default():
    assert config.data_dir({}) == DATA


def test_every_path_in_the_table_exists():
    paths = listed_paths()
    assert len(paths) >= 20
    missing = [path for path in paths if not (DATA / path).exists()]
    assert missing == []


def test_every_folder_has_a_row_with_source_and_licence():
    rows = table_rows()
    covered = {path.split("/")[0] for path in listed_paths()}
    folders = {entry.name for entry in DATA.iterdir() if entry.is_dir()}
    assert folders == covered
    for row in rows:
        assert len(row) == 5 and "@" in row[3] and row[4], row
    for folder in folders:
        licensed = (DATA / folder / "LICENSE.upstream").is_file()
        said = any(folder in row[0] and "no licence file upstream" in row[4] for row in rows)
        assert licensed or said, f"data/{folder} has no LICENSE.upstream and its row does not say why"


def test_nothing_reads_the_shared_folder_beside_the_repository():
    """A fresh clone has no ../shared: tests, benchmarks, scripts and code find data through RADLAB_DATA alone."""
    offenders = []
    for root in ("tests", "bench", "scripts", "services", "shared", "radlab"):
        for path in (REPO / root).rglob("*"):
            if path.suffix in (".py", ".sh") and path != Path(__file__):
                text = path.read_text()
                if "../shared" in text or '"shared" / "data"' in text or "parent / \"shared\"" in text:
                    offenders.append(str(path.relative_to(REPO)))
    for name in ("Makefile", ".ci/run"):
        if "../shared" in (REPO / name).read_text():
            offenders.append(name)
    assert offenders == []
