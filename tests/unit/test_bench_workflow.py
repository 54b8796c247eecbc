"""The workflow benchmark end to end, small: consensus on a 60-slice volume once, 200 items through the workflow on SQLite."""

from __future__ import annotations

from bench import workflow as bench


def test_a_small_run_gives_sane_figures_and_prints_its_table(data_dir, capsys):
    figures = bench.measure(items=200, slices=60, postgres=False, repeats=1)

    speed = figures.consensus
    assert speed.shape == (60, 512, 512) and len(speed.class_voxels) == bench.CLASSES and min(speed.class_voxels) > 0
    assert all(len(times) == 1 and 0 < times[0] < 60
               for times in (speed.agreement_s, speed.staple_s, speed.majority_s, speed.scores_s))
    assert sorted(speed.dice) == list(range(1, bench.CLASSES + 1)) and all(0.9 < dice < 1 for dice in speed.dice.values())
    assert speed.agreed == bench.CLASSES
    (sqlite,) = figures.throughputs
    assert (sqlite.database, sqlite.items, sqlite.completed, sqlite.missing) == ("SQLite", 200, 200, "")
    assert len(sqlite.annotate_claims_s) == len(sqlite.review_claims_s) == len(sqlite.submits_s) == len(sqlite.reviews_s) == 200
    assert sqlite.add_s > 0 and sqlite.run_s > 0 and all(0 < s < 30 for s in sqlite.claims_s)

    bench.report(figures)
    table = capsys.readouterr().out
    assert "512×512×60 label volume" in table and "goal ≤ 2 s" in table and "merge STAPLE" in table
    assert "goal claim p99 < 50 ms" in table and "SQLite PASS" in table
    assert [line.split()[:2] for line in table.splitlines() if line.lstrip().startswith("SQLite")] == [["SQLite", "200"]]
