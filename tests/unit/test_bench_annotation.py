"""The annotation benchmark end to end, small: 5 saves, a 40-slice label volume, one run of each writer, 2,000 items on SQLite."""

from __future__ import annotations

import numpy as np

from bench import annotation as bench


def test_a_small_run_gives_sane_figures_and_prints_its_table(data_dir, capsys):
    figures = bench.measure(saves=5, volume_slices=40, items=2000, postgres=False, repeats=1, calls=10)

    assert len(figures.saves.saved_s) == 5 and all(0 < s < 10 for s in figures.saves.saved_s + figures.saves.refused_s)
    imported = figures.label_import
    assert imported.shape == (40, 512, 512) and imported.label_count == 31
    assert imported.raw_bytes == 40 * 512 * 512 * 2 and 0 < imported.file_bytes < imported.raw_bytes
    assert imported.import_s > 0 and imported.slice_objects > 0 and 0 < imported.slice_bytes < imported.raw_bytes
    assert imported.array_objects > 0 and imported.array_bytes > 0
    export = figures.export
    assert len(export.seg_s) == len(export.highdicom_s) == len(export.rtstruct_s) == 1
    assert abs(export.seg_bytes - export.highdicom_bytes) < 0.01 * export.highdicom_bytes  # the same frames either way
    assert export.read_back_dice["radlab"] > 0.999
    if export.plastimatch_s:
        assert export.read_back_dice["plastimatch"] > 0.99
    else:
        assert export.plastimatch_missing
    (sqlite,) = figures.listings
    assert sqlite.database == "SQLite" and list(sqlite.pages_s) == [*bench.FILTERS, "deep: page 10"]
    assert all(len(times) == 10 and 0 < np.median(times) < 1 for times in sqlite.pages_s.values())

    bench.report(figures)
    table = capsys.readouterr().out
    assert "5 saves" in table and "goal p99 < 50 ms" in table
    assert "512×512×40 label volume" in table and "DICOM-SEG binary" in table and "RTSTRUCT" in table
    assert [line.split()[0] for line in table.splitlines() if line.startswith("  deep")] == ["deep:"]
