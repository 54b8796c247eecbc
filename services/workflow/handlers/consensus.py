"""Consensus stages: when every reader of an item handed in, their label arrays and 2-D shapes are compared per class
against the stage's limits and merged; agreement sends the merge on (annotation makes it the item's annotation),
disagreement sends the item to an adjudicator; each reader's agreement with the final labels is kept."""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict

import numpy as np
import sqlalchemy as sa

from radlab.annotation.v1 import events_pb2 as annotation_events
from radlab.type.v1 import geometry_pb2, label_pb2
from radlab.workflow.v1 import events_pb2
from radlab.workflow.v1 import workflow_service_pb2 as pb
from services.workflow import store
from services.workflow.domain import consensus as rules
from services.workflow.domain import routing
from services.workflow.domain import stages as stage_rules
from services.workflow.handlers import progress
from shared.auth import Principal
from shared.db import Database, UnitOfWork
from shared.errors import NotFound
from shared.events import Event
from shared.grid import array_spacing
from shared.objectstore import LABELS_BUCKET
from shared.protos import timestamp

log = logging.getLogger(__name__)

MERGES = {pb.MERGE_METHOD_UNSPECIFIED: "staple", pb.MERGE_METHOD_STAPLE: "staple",
          pb.MERGE_METHOD_MAJORITY_VOTE: "majority", pb.MERGE_METHOD_CHAMPION: "champion"}
DEFAULT_TOLERANCE_MM = 2.0
def on_readers_finished(ports, consumer: str, event: Event) -> None:
    """Compare and merge the readers (outside any transaction: it reads and writes label arrays), then record the
    result and send the item on: ConsensusReached (annotation turns the merge into the item's annotation, which
    carries it on), or ConsensusDisputed and the disputed stage."""
    finished: events_pb2.ReadersFinished = event.message
    if ports.db.processed(consumer, event.id):
        return
    with ports.db.read() as conn:
        item = progress.item_row(conn, finished.item_id)
        stages = progress.stages_for(conn, item)
        stage = routing.stage(stages, finished.stage_id)
        done = progress.readers_of(conn, item, stage.stage_id)
    if item.stage_id != stage.stage_id:
        return
    done = [task for task in done if task.labels_key]  # a model reader whose prediction failed read nothing
    arrays = {task.assignee: ports.volumes.read(LABELS_BUCKET, task.labels_key) for task in done}
    affine = next(iter(arrays.values())).affine
    labels = {reader: stored.array for reader, stored in arrays.items()}
    spacing = array_spacing(affine)
    classes = sorted({int(v) for array in labels.values() for v in np.unique(array) if v})
    settings = stage.consensus
    tolerance = settings.surface_tolerance_mm or DEFAULT_TOLERANCE_MM
    drawn = {task.assignee: _instances(annotation_events.AnnotationSubmitted.FromString(task.shapes or b""))
             for task in done}
    fused, outlines = _fused(drawn), _outlines(drawn)
    thresholds = stage_rules.consensus_thresholds(settings)
    if len(labels) < 2:  # one reading left: nothing to agree with, so an adjudicator decides from it
        verdicts, scores, merged, shape_verdicts = {}, {}, next(iter(labels.values())), {}
    else:
        verdicts = rules.agreement(labels, spacing, classes, tolerance, thresholds)
        merged = rules.merge(labels, MERGES[settings.merge], classes, champion=settings.champion or None, spacing=spacing)
        scores = rules.reader_scores(labels, merged, classes, spacing, tolerance)
        shape_verdicts = {value: _shape_verdict(drawn, value, thresholds.for_class(value).min_iou)
                          for value in sorted({key[1] for instances in drawn.values() for key in instances})}
    result_id = str(uuid.uuid4())
    key = f"{item.tenant}/{item.item_id}/consensus/{result_id}"
    ports.volumes.write(LABELS_BUCKET, key, merged.astype(np.uint16), affine, {"consensus_result_id": result_id})
    mask = label_pb2.Mask(bucket=LABELS_BUCKET, key=key, format=geometry_pb2.VOLUME_FORMAT_ZARR,
                          dtype=geometry_pb2.DATA_TYPE_UINT16, label_values=[int(v) for v in np.unique(merged) if v],
                          volume_id=item.volume_id)
    judged = _judged(verdicts, shape_verdicts)
    agreed = bool(judged) and all(verdict.agreed for verdict in judged)
    annotation_ids = {task.assignee: task.annotation_id for task in done}
    result = pb.ConsensusResult(
        consensus_result_id=result_id, workflow_id=item.workflow_id, stage_id=stage.stage_id, item_id=item.item_id,
        state=pb.CONSENSUS_STATE_REACHED if agreed else pb.CONSENSUS_STATE_DISPUTED, measure=settings.measure,
        agreement=_mean(verdict.dice if verdict.label_value in verdicts else verdict.shape_iou for verdict in judged),
        threshold=settings.agreement_threshold,
        annotation_ids=[task.annotation_id for task in done], consensus_labels=mask, create_time=timestamp(time.time()),
        pairs=[pb.PairwiseAgreement(annotation_id_a=annotation_ids[a], annotation_id_b=annotation_ids[b],
                                    label_value=value, value=measures.dice)
               for value, verdict in verdicts.items() for (a, b), measures in verdict.pairs.items()],
        classes=judged,
        reader_scores=[pb.ReaderScore(reader=reader, annotation_id=annotation_ids[reader],
                                      dice=_mean(m.dice for m in per_class.values()),
                                      surface_dice=_mean(m.surface_dice for m in per_class.values()),
                                      shape_iou=_shape_score(drawn[reader], fused))
                       for reader, per_class in scores.items()],
        consensus_boxes=fused, consensus_polygons=outlines,
    )

    def record(uow: UnitOfWork) -> None:
        current = progress.item_row(uow, item.item_id)
        if current.stage_id != stage.stage_id:
            return
        now = time.time()
        uow.execute(store.consensus_results.insert().values(
            consensus_result_id=result_id, tenant=item.tenant, workflow_id=item.workflow_id, dataset_id=item.dataset_id,
            item_id=item.item_id, stage_id=stage.stage_id, result=result.SerializeToString(), created_at=now))
        if agreed:  # readers are scored against the merge now; a disputed item's, against the adjudicator's choice
            _record_scores(uow, result_id, item, result.reader_scores, now, shapes=bool(fused))
            uow.emit(events_pb2.ConsensusReached(
                consensus_result_id=result_id, workflow_id=item.workflow_id, dataset_id=item.dataset_id,
                item_id=item.item_id, stage_id=stage.stage_id, agreement=result.agreement,
                annotation_ids=result.annotation_ids, consensus_labels=mask, consensus_boxes=fused,
                consensus_polygons=outlines), subject=item.item_id, tenant=item.tenant)
            return  # the item moves on when annotation hands in the merge as an annotation (on_annotation_submitted)
        uow.emit(events_pb2.ConsensusDisputed(
            consensus_result_id=result_id, workflow_id=item.workflow_id, dataset_id=item.dataset_id, item_id=item.item_id,
            stage_id=stage.stage_id, agreement=result.agreement, threshold=result.threshold,
            annotation_ids=result.annotation_ids, consensus_labels=mask, consensus_boxes=fused, consensus_polygons=outlines),
            subject=item.item_id, tenant=item.tenant)
        progress.leave(uow, current, stages, stage, events_pb2.STAGE_OUTCOME_DISPUTED)

    ports.db.apply_once(consumer, event.id, record)
    log.info("consensus", extra={"item_id": item.item_id, "agreed": agreed, "classes": len(classes)})


def on_consensus_adjudicated(ports, consumer: str, event: Event) -> None:
    """Score each reader of a disputed item against the labels the adjudicator chose (read before the transaction)."""
    chosen: events_pb2.ConsensusAdjudicated = event.message
    if ports.db.processed(consumer, event.id):
        return
    with ports.db.read() as conn:
        item = progress.item_row(conn, chosen.item_id)
        row = conn.execute(sa.select(store.consensus_results).where(
            store.consensus_results.c.consensus_result_id == chosen.consensus_result_id)).one()
        result = pb.ConsensusResult.FromString(row.result)
        stage = routing.stage(progress.stages_for(conn, item), row.stage_id)
        tasks = store.tasks
        readers = conn.execute(sa.select(tasks.c.assignee, tasks.c.annotation_id, tasks.c.labels_key).where(
            tasks.c.annotation_id.in_(list(result.annotation_ids)), tasks.c.item_id == chosen.item_id,
            tasks.c.stage_kind == pb.STAGE_KIND_CONSENSUS, tasks.c.state == pb.TASK_STATE_COMPLETED)).all()
    final = ports.volumes.read(LABELS_BUCKET, chosen.chosen_labels_key)
    labels = {reader.assignee: ports.volumes.read(LABELS_BUCKET, reader.labels_key).array for reader in readers}
    classes = sorted({int(v) for array in (*labels.values(), final.array) for v in np.unique(array) if v})
    tolerance = stage.consensus.surface_tolerance_mm or DEFAULT_TOLERANCE_MM
    scores = rules.reader_scores(labels, final.array, classes, array_spacing(final.affine), tolerance)
    annotation_ids = {reader.assignee: reader.annotation_id for reader in readers}
    scored = [pb.ReaderScore(reader=reader, annotation_id=annotation_ids[reader], dice=_mean(m.dice for m in per_class.values()),
                             surface_dice=_mean(m.surface_dice for m in per_class.values()))
              for reader, per_class in scores.items()]
    ports.db.apply_once(consumer, event.id, lambda uow: _record_scores(uow, chosen.consensus_result_id, item, scored, time.time()))


def _record_scores(uow: UnitOfWork, result_id: str, item, scores, now: float, *, shapes: bool = False) -> None:
    """Each reader's agreement with the final labels; with `shapes`, their boxes' IoU with the fused ones too."""
    uow.execute(store.reader_scores.insert(), [
        dict(consensus_result_id=result_id, reader=score.reader, tenant=item.tenant, dataset_id=item.dataset_id,
             dice=score.dice, surface_dice=score.surface_dice, shape_iou=score.shape_iou if shapes else None, at=now)
        for score in scores])


def get_result(db: Database, caller: Principal, item_id: str, stage_id: str) -> pb.ConsensusResult:
    """The item's latest consensus result (at the stage, when named)."""
    table = store.consensus_results
    query = sa.select(table.c.result).where(table.c.tenant == caller.tenant, table.c.item_id == item_id)
    if stage_id:
        query = query.where(table.c.stage_id == stage_id)
    with db.read() as conn:
        row = conn.execute(query.order_by(table.c.seq.desc()).limit(1)).first()
    if row is None:
        raise NotFound(f"item {item_id} has no consensus result yet")
    return pb.ConsensusResult.FromString(row.result)


def reader_stats(db: Database, caller: Principal, dataset_id: str) -> list[pb.ReaderStats]:
    table = store.reader_scores
    query = sa.select(table.c.reader, sa.func.count(), sa.func.avg(table.c.dice), sa.func.avg(table.c.surface_dice),
                      sa.func.count(table.c.shape_iou), sa.func.avg(table.c.shape_iou)).where(table.c.tenant == caller.tenant)
    if dataset_id:
        query = query.where(table.c.dataset_id == dataset_id)
    with db.read() as conn:
        rows = conn.execute(query.group_by(table.c.reader).order_by(table.c.reader)).all()
    return [pb.ReaderStats(reader=reader, items=count, mean_dice=dice, mean_surface_dice=surface, shape_items=shaped,
                           mean_shape_iou=shape_iou or 0.0)
            for reader, count, dice, surface, shaped, shape_iou in rows]


def _verdict(verdict: rules.ClassAgreement) -> pb.ClassVerdict:
    mean = verdict.mean
    return pb.ClassVerdict(label_value=verdict.value, agreed=verdict.agreed, dice=mean.dice, iou=mean.iou,
                           surface_dice=mean.surface_dice, hd95_mm=mean.hd95_mm, assd_mm=mean.assd_mm,
                           volume_difference=mean.volume_difference,
                           shortfalls=[str(shortfall) for shortfall in verdict.shortfalls])


def _judged(verdicts: dict[int, rules.ClassAgreement], shape_verdicts: dict[int, pb.ClassVerdict]) -> list[pb.ClassVerdict]:
    """Per class drawn as label arrays or shapes, one verdict: agreed when both ways of drawing it met their limits."""
    judged = {value: _verdict(verdict) for value, verdict in verdicts.items() if verdict.judged}
    for value, shapes in shape_verdicts.items():
        verdict = judged.setdefault(value, pb.ClassVerdict(label_value=value, agreed=True))
        verdict.agreed = verdict.agreed and shapes.agreed
        verdict.shape_iou = shapes.shape_iou
        verdict.shape_instances.extend(shapes.shape_instances)
        verdict.shortfalls.extend(shapes.shortfalls)
    return [judged[value] for value in sorted(judged)]


def _instances(reading: annotation_events.AnnotationSubmitted) -> rules.Instances:
    """A reading's boxes and polygons' outer rings (a hole is part of its polygon, not an instance) by class and slice;
    a person's box (score 0) enters fusion with confidence 1."""
    found: rules.Instances = defaultdict(list)
    for box in reading.boxes:
        found[rules.BOX, box.label_value, box.plane, box.slice_index].append(
            rules.ScoredBox((box.x0, box.y0, box.x1, box.y1), box.score or 1.0))
    for polygon in reading.polygons:
        if not polygon.hole:
            found[rules.OUTLINE, polygon.label_value, polygon.plane, polygon.slice_index].append(
                [(point.x, point.y) for point in polygon.vertices])
    return dict(found)


def _fused(drawn: dict[str, rules.Instances]) -> list[label_pb2.SliceBox]:
    return [label_pb2.SliceBox(plane=plane, slice_index=index, label_value=value, x0=x0, y0=y0, x1=x1, y1=y1, score=score)
            for (value, plane, index), (x0, y0, x1, y1), score in rules.fuse_readers(drawn)]


def _outlines(drawn: dict[str, rules.Instances]) -> list[label_pb2.Polygon]:
    return [label_pb2.Polygon(plane=plane, slice_index=index, label_value=value,
                              vertices=[label_pb2.Point2(x=float(x), y=float(y)) for x, y in vertices])
            for (value, plane, index), vertices, _share in rules.fuse_readers_polygons(drawn)]


def _shape_verdict(drawn: dict[str, rules.Instances], value: int, min_iou: float | None) -> pb.ClassVerdict:
    """The class's shape agreement (ClassVerdict.shape_iou) over every pair of readers, judged against `min_iou`."""
    found = rules.shape_agreement(drawn, value, min_iou)
    return pb.ClassVerdict(
        label_value=value, agreed=found.shortfall is None, shape_iou=found.iou,
        shortfalls=[f"shapes: {found.shortfall}"] if found.shortfall is not None else [],
        shape_instances=[pb.ReaderInstances(reader=reader, drawn=found.drawn[reader], matched=found.matched[reader])
                         for reader in drawn])


def _shape_score(instances: rules.Instances, fused: list[label_pb2.SliceBox]) -> float:
    """A reader's boxes against the fused ones (`rules.shape_score`)."""
    return rules.shape_score(instances, _instances(annotation_events.AnnotationSubmitted(boxes=fused)))



def _mean(values) -> float:
    values = list(values)
    return float(np.mean(values)) if values else 0.0
