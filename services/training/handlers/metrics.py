"""Training's Prometheus metrics, read from its tables at scrape time: runs by state, and each running run's epoch,
progress, loss and validation Dice per label (what `GetTrainingRun` and the CLI's bar show)."""

from __future__ import annotations

import json
import re
import weakref

import sqlalchemy as sa
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY

from radlab.type.v1 import job_pb2
from services.training import store
from shared.db import Database

_EPOCH = re.compile(r"^epoch (\d+) of")


class TrainingMetrics:
    """Prometheus collector over every training database of this process."""

    def __init__(self):
        self.databases: weakref.WeakSet[Database] = weakref.WeakSet()

    def collect(self):
        runs = GaugeMetricFamily("radlab_training_runs", "Training runs in this state", labels=["state"])
        epoch = GaugeMetricFamily("radlab_training_run_epoch", "The epoch a running run last finished", labels=["run_id"])
        done = GaugeMetricFamily("radlab_training_run_percent_done", "A running run's progress", labels=["run_id"])
        loss = GaugeMetricFamily("radlab_training_run_loss", "A running run's last training loss", labels=["run_id"])
        dice = GaugeMetricFamily("radlab_training_run_validation_dice", "A running run's last validation Dice",
                                 labels=["run_id", "label_value"])
        counted: dict[str, int] = {}
        table = store.runs
        for db in list(self.databases):
            with db.read() as conn:
                for state, count in conn.execute(sa.select(table.c.state, sa.func.count()).group_by(table.c.state)).all():
                    name = job_pb2.JobState.Name(state).removeprefix("JOB_STATE_").lower()
                    counted[name] = counted.get(name, 0) + count
                running = conn.execute(sa.select(table.c.run_id, table.c.percent_done, table.c.message, table.c.metrics)
                                       .where(table.c.state == job_pb2.JOB_STATE_RUNNING)).all()
            for run in running:
                done.add_metric([run.run_id], run.percent_done)
                if found := _EPOCH.match(run.message):
                    epoch.add_metric([run.run_id], int(found.group(1)))
                for metric in json.loads(run.metrics):
                    if metric["name"] == "loss":
                        loss.add_metric([run.run_id], metric["value"])
                    elif metric["name"] == "dice":
                        dice.add_metric([run.run_id, str(metric["label_value"])], metric["value"])
        for state, count in sorted(counted.items()):
            runs.add_metric([state], count)
        yield from (runs, epoch, done, loss, dice)


METRICS = TrainingMetrics()
REGISTRY.register(METRICS)
