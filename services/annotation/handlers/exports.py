"""Label exports: a job per request that writes one zip archive of a dataset's submitted labels (NIfTI on the source
grid, DICOM-SEG, RTSTRUCT, COCO or Darwin JSON, with a CSV of tags and label volumes and a JSON manifest of classes
and provenance) to the exports bucket, with progress, and a download link when done."""

from __future__ import annotations

import csv
import io
import json
import logging
import threading
import time
import uuid
import zipfile

import numpy as np
import sqlalchemy as sa

from radlab.annotation.v1 import annotation_service_pb2 as pb
from radlab.type.v1 import job_pb2
from services.annotation import store
from services.annotation.domain.manifest import Manifest
from services.annotation.formats import coco, darwin, nifti, rtstruct, seg
from services.annotation.handlers import audit, classes, datasets, items
from services.annotation.handlers.imports import item_grid_of
from services.annotation.handlers.labels import segmentation, slice_prefix, version_row
from shared import paging
from shared.auth import Principal
from shared.errors import FailedPrecondition, InvalidArgument, NotFound, RadlabError
from shared.objectstore import EXPORTS_BUCKET
from shared.protos import timestamp

log = logging.getLogger(__name__)

EXTENSIONS = {pb.LABEL_FORMAT_NIFTI: ".nii.gz", pb.LABEL_FORMAT_DICOM_SEG: ".seg.dcm", pb.LABEL_FORMAT_RTSTRUCT: ".rtstruct.dcm",
              pb.LABEL_FORMAT_DARWIN: ".json"}
MAX_ITEMS = 100_000
SHAPE_KINDS = ("box", "ellipse", "polygon", "polyline", "keypoint", "angle")
MEASUREMENT_FIELDS = ("length_mm", "angle_degrees", "area_mm2", "voxels", "mean", "sd", "min", "max", "units")
DOWNLOAD_URL_S = 24 * 3600


def start_export(ports, caller: Principal, request: pb.StartExportRequest) -> pb.Export:
    if request.format not in (*EXTENSIONS, pb.LABEL_FORMAT_COCO):
        raise InvalidArgument("format must be NIFTI, DICOM_SEG, RTSTRUCT, COCO or DARWIN")
    if request.seg_labelmap and request.format != pb.LABEL_FORMAT_DICOM_SEG:
        raise InvalidArgument("seg_labelmap applies to DICOM_SEG exports only")
    if request.include_images:
        raise InvalidArgument("include_images is not supported yet: export the labels, and the images with `radlab volume` "
                              "(NIfTI) or from the dicom bucket")
    if len(request.item_ids) > MAX_ITEMS:
        raise InvalidArgument(f"at most {MAX_ITEMS} item ids; leave item_ids empty to export every item")
    export_id, now = str(uuid.uuid4()), time.time()
    with ports.db.unit_of_work() as uow:
        datasets.visible(uow, caller, request.dataset_id)
        uow.execute(store.exports.insert().values(
            export_id=export_id, tenant=caller.tenant, dataset_id=request.dataset_id, format=request.format,
            item_ids=list(request.item_ids), selection=request.selection or pb.ANNOTATION_SELECTION_LATEST_SUBMITTED,
            include_images=request.include_images, seg_labelmap=request.seg_labelmap, state=job_pb2.JOB_STATE_QUEUED, percent_done=0.0, message="queued",
            error="", object_key="", creator=caller.subject, created_at=now, updated_at=now,
        ))
        audit.record(uow, caller.tenant, caller.subject, "export.started", dataset_id=request.dataset_id, export_id=export_id,
                     format=pb.LabelFormat.Name(request.format))
    threading.Thread(target=run_export, args=(ports, export_id), name=f"export-{export_id[:8]}", daemon=True).start()
    return get_export(ports, caller, export_id)


def get_export(ports, caller: Principal, export_id: str) -> pb.Export:
    with ports.db.read() as conn:
        row = conn.execute(sa.select(store.exports).where(store.exports.c.export_id == export_id,
                                                         store.exports.c.tenant == caller.tenant)).first()
        if row is None:
            raise NotFound(f"export {export_id} not found")
        datasets.visible(conn, caller, row.dataset_id)
    return _message(ports, row)


def list_exports(ports, caller: Principal, dataset_id: str, after: int, limit: int):
    table = store.exports
    with ports.db.read() as conn:
        datasets.visible(conn, caller, dataset_id)
        rows, next_after = paging.page_of(conn, sa.select(table).where(table.c.dataset_id == dataset_id), table.c.seq,
                                          after, limit, newest_first=True)
    return [_message(ports, row) for row in rows], next_after


def run_export(ports, export_id: str) -> None:
    """Write the archive, reporting progress on the export's row; any failure ends the job FAILED with a reason."""
    try:
        _write_archive(ports, export_id)
    except RadlabError as error:
        _update(ports, export_id, state=job_pb2.JOB_STATE_FAILED, message="failed", error=str(error))
    except Exception as error:  # the job records the failure; the log keeps the trace for operators
        log.exception("export failed", extra={"export_id": export_id})
        _update(ports, export_id, state=job_pb2.JOB_STATE_FAILED, message="failed",
                error=f"the export failed unexpectedly ({type(error).__name__}); start it again, or report export {export_id}")


def _write_archive(ports, export_id: str) -> None:
    with ports.db.read() as conn:
        job = conn.execute(sa.select(store.exports).where(store.exports.c.export_id == export_id)).one()
        chosen = _selected(conn, job)
        segments = classes.dataset_classes(conn, job.dataset_id)
        tags = items.values_by_item(conn, store.item_tags.c.tag, [item for item, _, _ in chosen])
    _update(ports, export_id, state=job_pb2.JOB_STATE_RUNNING, message=f"0 of {len(chosen)} annotations")
    buffer = io.BytesIO()
    rows, shape_rows, coco_items, provenance, skipped = [], [], [], {}, []
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for number, (item, head, version) in enumerate(chosen):
            manifest = Manifest.from_bytes(version.manifest)
            name = f"{item.item_id}/{head.annotation_id}"
            try:
                item_grid, labels, written = _labels_file(ports, job, item, head, manifest, segments)
            except RadlabError as why:  # this annotation cannot go out in this format; the others still do
                skipped.append({"item_id": item.item_id, "annotation_id": head.annotation_id, "reason": str(why)})
                continue
            if written is None:
                coco_items.append((item.item_id, labels))
            else:
                archive.writestr(name + EXTENSIONS[job.format], written)
            voxel_ml = abs(float(np.linalg.det(item_grid.affine[:3, :3]))) / 1000.0
            for value, count in sorted(manifest.voxels().items()):
                rows.append([item.item_id, item.display_name, item.modality, ";".join(tags.get(item.seq, [])),
                             head.annotation_id, version.version, head.annotator, value, segments[value].name if value in segments else "", count,
                             round(count * voxel_ml, 4)])
            for shape_id, stored in sorted(manifest.shapes.items()):
                measured = stored.get("measurement", {})
                kind = next((k for k in SHAPE_KINDS if k in stored), "tag")
                shape_rows.append([item.item_id, head.annotation_id, version.version, shape_id, stored["label_value"],
                                   segments[stored["label_value"]].name if stored["label_value"] in segments else "", kind,
                                   stored.get("plane", ""), stored.get("slice_index", ""),
                                   *(measured.get(field, "") for field in MEASUREMENT_FIELDS),
                                   json.dumps(stored.get("attributes", {}), sort_keys=True)])
            provenance[name] = {f"{label}:{k}": origin for (label, k), origin in sorted(labels.provenance.items())}
            _update(ports, export_id, percent_done=90.0 * (number + 1) / max(len(chosen), 1),
                    message=f"{number + 1} of {len(chosen)} annotations")
        if job.format == pb.LABEL_FORMAT_COCO:
            archive.writestr("annotations.json", coco.write_coco(coco_items))
        table = io.StringIO()
        writer = csv.writer(table)
        writer.writerow(["item_id", "item_name", "modality", "tags", "annotation_id", "version", "annotator", "label_value",
                         "label_name", "voxels", "volume_ml"])
        writer.writerows(rows)
        archive.writestr("labels.csv", table.getvalue())
        table = io.StringIO()
        writer = csv.writer(table)
        writer.writerow(["item_id", "annotation_id", "version", "shape_id", "label_value", "label_name", "kind", "plane",
                         "slice_index", *MEASUREMENT_FIELDS, "attributes"])
        writer.writerows(shape_rows)
        archive.writestr("measurements.csv", table.getvalue())
        archive.writestr("manifest.json", json.dumps({
            "export_id": export_id, "dataset_id": job.dataset_id, "format": pb.LabelFormat.Name(job.format),
            "classes": {str(v): {"name": s.name, "color": s.color, "category": list(_code(s.category)),
                                 "type": list(_code(s.type))} for v, s in sorted(segments.items())},
            "annotations": [{"item_id": item.item_id, "annotation_id": head.annotation_id, "version": version.version,
                             "annotator": head.annotator} for item, head, version in chosen],
            "slice_provenance": provenance,
            "skipped": skipped,
        }, indent=1))
    if chosen and len(skipped) == len(chosen):
        raise FailedPrecondition(f"no annotation could be exported as {pb.LabelFormat.Name(job.format)}: {skipped[0]['reason']}")
    key = f"{job.tenant}/{job.dataset_id}/{export_id}.zip"
    ports.objects.ensure_bucket(EXPORTS_BUCKET)
    ports.objects.put(EXPORTS_BUCKET, key, buffer.getvalue(), content_type="application/zip")
    done = f"done; {len(skipped)} annotation(s) skipped, see manifest.json" if skipped else "done"
    _update(ports, export_id, state=job_pb2.JOB_STATE_SUCCEEDED, percent_done=100.0, message=done, object_key=key)


def _labels_file(ports, job, item, head, manifest: Manifest, segments):
    """(the item's grid, the annotation's labels, the file in the export's format; None for COCO, written once for all)."""
    item_grid = item_grid_of(ports, item, with_instances=job.format in (pb.LABEL_FORMAT_DICOM_SEG, pb.LABEL_FORMAT_RTSTRUCT))
    labels = segmentation(ports.objects, slice_prefix(head.tenant, head.item_id), manifest, item_grid.shape,
                          item_grid.affine, segments, item_grid.frame_of_reference_uid)
    if job.format == pb.LABEL_FORMAT_NIFTI:
        return item_grid, labels, nifti.write_labelmap(labels)
    if job.format == pb.LABEL_FORMAT_DICOM_SEG:
        return item_grid, labels, seg.write_seg(labels, list(item_grid.instances), labelmap=job.seg_labelmap)
    if job.format == pb.LABEL_FORMAT_RTSTRUCT:
        return item_grid, labels, rtstruct.write_rtstruct(labels, list(item_grid.instances))
    if job.format == pb.LABEL_FORMAT_DARWIN:
        return item_grid, labels, darwin.write_darwin(item.display_name, labels)
    return item_grid, labels, None


def _selected(conn, job) -> list[tuple]:
    """(item, annotation head, version) for each annotation the export takes: each item's latest submitted — or the
    one its workflow last carried it on with (after consensus: the merge or the adjudicator's choice) where none was
    handed in after that — or all."""
    heads = store.annotations
    query = sa.select(heads).where(heads.c.dataset_id == job.dataset_id, heads.c.submitted_at.is_not(None))
    if job.item_ids:
        query = query.where(heads.c.item_id.in_(job.item_ids))
    chosen: dict[str, list] = {}
    for head in conn.execute(query.order_by(heads.c.submitted_at)).all():
        chosen.setdefault(head.item_id, []).append(head)
    out = []
    for item_id, submitted in chosen.items():
        item = conn.execute(sa.select(store.items).where(store.items.c.item_id == item_id)).one()
        carried = [head for head in submitted if head.annotation_id == item.carried_annotation_id
                   and item.carried_at >= submitted[-1].submitted_at]
        picked = submitted if job.selection == pb.ANNOTATION_SELECTION_ALL_SUBMITTED else carried or submitted[-1:]
        out += [(item, head, version_row(conn, head.annotation_id, head.version)) for head in picked]
    return sorted(out, key=lambda entry: (entry[0].seq, entry[1].created_at))


def _update(ports, export_id: str, **values) -> None:
    with ports.db.unit_of_work() as uow:
        uow.execute(store.exports.update().where(store.exports.c.export_id == export_id).values(updated_at=time.time(), **values))


def _code(code) -> tuple[str, str, str]:
    return (code.value, code.scheme, code.meaning) if code else ("", "", "")


def _message(ports, row) -> pb.Export:
    export = pb.Export(
        export_id=row.export_id, dataset_id=row.dataset_id, format=row.format, item_ids=row.item_ids, selection=row.selection,
        include_images=row.include_images, seg_labelmap=row.seg_labelmap, creator=row.creator, create_time=timestamp(row.created_at),
        job=job_pb2.Job(id=row.export_id, state=row.state, percent_done=row.percent_done, message=row.message,
                        error=row.error, create_time=timestamp(row.created_at), update_time=timestamp(row.updated_at)),
    )
    if row.object_key:
        export.bucket, export.object_key = EXPORTS_BUCKET, row.object_key
        export.download_url = ports.objects.download_url(EXPORTS_BUCKET, row.object_key, DOWNLOAD_URL_S)
    return export
