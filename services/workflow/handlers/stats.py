"""How a workflow is doing, counted from what happened (items at each stage, stage exits by outcome, time in stage):
the GetWorkflowStats API and the Prometheus metrics, from the same tables."""

from __future__ import annotations

import time
import weakref

import sqlalchemy as sa
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily
from prometheus_client.registry import REGISTRY

from radlab.workflow.v1 import events_pb2
from radlab.workflow.v1 import workflow_service_pb2 as pb
from services.workflow import store
from services.workflow.handlers import workflows
from shared.auth import Principal
from shared.db import Database

OUTCOMES = {events_pb2.STAGE_OUTCOME_PASSED: "passed", events_pb2.STAGE_OUTCOME_REJECTED: "rejected",
            events_pb2.STAGE_OUTCOME_DISPUTED: "disputed", events_pb2.STAGE_OUTCOME_MOVED: "moved"}


def workflow_stats(db: Database, caller: Principal, workflow_id: str) -> pb.GetWorkflowStatsResponse:
    definition = workflows.get_workflow(db, caller, workflow_id)
    exits, items = store.stage_exits, store.items
    with db.read() as conn:
        now_at = dict(conn.execute(sa.select(items.c.stage_id, sa.func.count()).where(items.c.workflow_id == workflow_id)
                                   .group_by(items.c.stage_id)).all())
        left = conn.execute(sa.select(exits.c.stage_id, exits.c.outcome, sa.func.count(),
                                      sa.func.sum(exits.c.left_at - exits.c.entered_at))
                            .where(exits.c.workflow_id == workflow_id).group_by(exits.c.stage_id, exits.c.outcome)).all()
    response = pb.GetWorkflowStatsResponse(workflow_id=workflow_id)
    for stage in definition.stages:
        counts = {OUTCOMES[outcome]: count for stage_id, outcome, count, _ in left if stage_id == stage.stage_id}
        seconds = sum(total for stage_id, _, _, total in left if stage_id == stage.stage_id)
        exits_count = sum(counts.values())
        response.stages.add(stage_id=stage.stage_id, stage_kind=stage.kind, items=now_at.get(stage.stage_id, 0),
                            passed=counts.get("passed", 0), rejected=counts.get("rejected", 0),
                            disputed=counts.get("disputed", 0), moved=counts.get("moved", 0), mean_seconds=seconds / exits_count if exits_count else 0.0)
        if stage.kind == pb.STAGE_KIND_COMPLETE:
            response.items_completed = now_at.get(stage.stage_id, 0)
    with db.read() as conn:
        response.items_completed_last_hour = conn.execute(sa.select(sa.func.count()).select_from(items).where(
            items.c.workflow_id == workflow_id, items.c.stage_kind == pb.STAGE_KIND_COMPLETE,
            items.c.entered_at >= time.time() - 3600)).scalar()
    return response


class WorkflowMetrics:
    """Prometheus collector over every workflow database of this process (one per `radlab up`; tests open more):
    gauges and counters read from the tables at scrape time, so they are what happened, restarts included."""

    def __init__(self):
        self.databases: weakref.WeakSet[Database] = weakref.WeakSet()

    def collect(self):
        items = GaugeMetricFamily("radlab_workflow_items", "Items at a stage of this kind now", labels=["stage_kind"])
        exits = CounterMetricFamily("radlab_workflow_stage_exits", "Items that left a stage of this kind, by outcome",
                                    labels=["stage_kind", "outcome"])
        spent = SummaryMetricFamily("radlab_workflow_stage_seconds", "Time items spent in a stage of this kind",
                                    labels=["stage_kind"])
        counted_items: dict[str, int] = {}
        counted_exits: dict[tuple[str, str], int] = {}
        counted_time: dict[str, list[float]] = {}
        for db in list(self.databases):
            with db.read() as conn:
                for kind, count in conn.execute(sa.select(store.items.c.stage_kind, sa.func.count())
                                                .group_by(store.items.c.stage_kind)).all():
                    counted_items[_kind(kind)] = counted_items.get(_kind(kind), 0) + count
                table = store.stage_exits
                for kind, outcome, count, total in conn.execute(sa.select(
                        table.c.stage_kind, table.c.outcome, sa.func.count(), sa.func.sum(table.c.left_at - table.c.entered_at))
                        .group_by(table.c.stage_kind, table.c.outcome)).all():
                    key = (_kind(kind), OUTCOMES[outcome])
                    counted_exits[key] = counted_exits.get(key, 0) + count
                    sums = counted_time.setdefault(_kind(kind), [0, 0.0])
                    sums[0] += count
                    sums[1] += total or 0.0
        for kind, count in sorted(counted_items.items()):
            items.add_metric([kind], count)
        for (kind, outcome), count in sorted(counted_exits.items()):
            exits.add_metric([kind, outcome], count)
        for kind, (count, total) in sorted(counted_time.items()):
            spent.add_metric([kind], count, total)
        yield from (items, exits, spent)


METRICS = WorkflowMetrics()
REGISTRY.register(METRICS)


def _kind(kind: int) -> str:
    return pb.StageKind.Name(kind).removeprefix("STAGE_KIND_").lower()
