"""The serving benchmark end to end, briefly: 2 clients for half a second on `radlab up`, idle and during an ingest."""

from __future__ import annotations

from bench import serving as bench


def test_two_clients_get_slices_idle_and_during_an_ingest_without_an_error(data_dir, capsys):
    serving = bench.measure(duration_s=0.5, clients=2)
    assert serving.shape == (196, 256, 256)
    for phase in (serving.idle, serving.ingesting):
        assert phase.calls > 0 and not phase.errors and len(phase.latencies_s) == phase.calls
    assert serving.idle.seconds < 5 and serving.ingesting.seconds >= serving.ingest_loaded_s > 0
    bench.report(serving, clients=2)
    table = capsys.readouterr().out
    assert "2 concurrent clients" in table and "same machine" in table
    assert [line.split()[-1] for line in table.splitlines() if line.lstrip().startswith(("idle", "during"))] == ["0", "0"]
