"""Annotation benchmark: key-slice saves and a label volume import on `radlab up`, SEG and RTSTRUCT writers vs highdicom and plastimatch, listing 100,000 items."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from types import SimpleNamespace

import grpc
import highdicom as hd
import numpy as np
import pydicom
import sqlalchemy as sa
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import CTImageStorage, generate_uid

from bench.ingestion import build_in_process, data_dir, percentiles, seconds
from radlab.annotation.v1 import annotation_service_pb2 as pb
from radlab.client import Client
from radlab.tokens import issue_token, token_key
from radlab.type.v1 import geometry_pb2, label_pb2
from services.annotation import store
from services.annotation.domain import items as item_rules
from services.annotation.domain.segmentation import Segmentation
from services.annotation.formats import Grid, nifti, rtstruct, seg
from services.annotation.handlers.items import list_items
from shared import objectstore
from shared.agreement import dice
from shared.auth import Principal
from shared.db import Database
from shared.grpcserver import MAX_MESSAGE_BYTES
from shared.objectstore import LABELS_BUCKET
from shared.stack import Stack
from shared.volumes import to_nifti

REPO = Path(__file__).resolve().parents[1]
CT = "totalsegmentator/tests/reference_files/example_ct_dicom"  # 20 slices of 512×512, JPEG 2000
LABELS = "totalsegmentator/tests/reference_files/example_seg_dicom.nii.gz"  # 31 structures on that CT
TENANT = "bench"
SAVES = 200  # RADLAB_BENCH_ANNOTATION_SAVES overrides
SAVE_P99_GOAL_MS = 50.0
VOLUME_SLICES = 300
REPEATS = 5  # interleaved runs of each writer
SEG_RATIO_GOAL = 1.2  # × highdicom's time
ITEMS = 100_000
PAGE = 100
CALLS = 100  # pages timed per filter
LIST_P99_GOAL_MS = 100.0
SEED_BATCH = 5000
# Every tenth item carries the tag, every tenth (others) the label, every tenth (others again) the text; a fifth are CT.
# A text that no item holds makes the search (a substring: no index helps) read the whole dataset.
MODALITIES = ("CT", "MR", "CR", "DX", "US")
TAG, LABEL_VALUE, TEXT = "contrast", 5, "liver"
SERIES = (("Abdomen 3.0 B30f", "ABDOMEN"), ("Thorax 1.0 Br40", "CHEST"), ("T2 TSE axial", "BRAIN"),
          ("Liver arterial phase", "LIVER"), ("Chest PA", "CHEST"), ("Pelvis 5.0 Br36", "PELVIS"), ("Head 4.0 H31s", "HEAD"),
          ("Neck soft tissue", "NECK"), ("Spine sagittal T1", "SPINE"), ("Knee PD fat sat", "KNEE"))  # description, body part
FILTERS: dict[str, dict] = {
    "none": {},
    "modality CT (1 in 5)": {"modality": "CT"},
    f"tag {TAG!r} (1 in 10)": {"tag": TAG},
    f"text {TEXT!r} (1 in 10)": {"text": TEXT},
    "text 'kidney' (none: a full scan)": {"text": "kidney"},
    f"label_value {LABEL_VALUE} (1 in 10)": {"label_value": LABEL_VALUE},
    "newest_first": {"newest_first": True},
}


@dataclass(frozen=True)
class LabelledCT:
    """The 20-slice CT as ingestion builds it, its instances in k order (with the UIDs the files lack: a DICOM label
    names the images it labels by them), and the 32-label map on its grid."""

    data: np.ndarray
    affine: np.ndarray
    instances: list[Dataset]
    labels: Segmentation


@dataclass(frozen=True)
class Saves:
    """SaveKeySlices latencies: the saves that made a version, and those refused as stale (interpolation came first)."""

    saved_s: list[float]
    refused_s: list[float]


@dataclass(frozen=True)
class LabelImport:
    """ImportLabels of a label volume: its size as a file and raw, the call's time, and what the labels bucket gained:
    slice masks at import, the version's label array (Zarr) when it was submitted."""

    shape: tuple[int, int, int]
    label_count: int
    file_bytes: int
    raw_bytes: int
    import_s: float
    slice_objects: int
    slice_bytes: int
    submit_s: float
    array_objects: int
    array_bytes: int


@dataclass(frozen=True)
class Export:
    """Seconds per run of each writer on the same label map and instances; plastimatch's are empty (with the reason)
    when it is not available. RTSTRUCT checks: contours written, and mean Dice with the map when read back by Radlab."""

    structures: int
    seg_s: list[float]
    highdicom_s: list[float]
    seg_bytes: int
    highdicom_bytes: int
    rtstruct_s: list[float]
    plastimatch_s: list[float] = field(default_factory=list)
    plastimatch_missing: str = ""
    contours: dict[str, int] = field(default_factory=dict)
    read_back_dice: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Listing:
    """One database's listing: seconds per page, by filter (the deep page last), or why it was not measured."""

    database: str
    seed_s: float = 0.0
    pages_s: dict[str, list[float]] = field(default_factory=dict)
    missing: str = ""


@dataclass(frozen=True)
class AnnotationFigures:
    """What `measure` found, for `report` to print."""

    saves: Saves
    label_import: LabelImport
    export: Export
    listings: list[Listing]
    items: int


# ---- the CT and its labels ------------------------------------------------------------------------------------

def labelled_ct() -> LabelledCT:
    """The CT and its label map, read once for every part."""
    folder = data_dir() / CT
    (volume,) = build_in_process(folder)
    instances = [pydicom.dcmread(path) for path in sorted(folder.iterdir()) if path.is_file()]
    grid = Grid(volume.data.shape, volume.affine, str(instances[0].FrameOfReferenceUID))
    study, series = generate_uid(), generate_uid()
    for instance in instances:
        instance.StudyInstanceUID, instance.SeriesInstanceUID = study, series
        instance.SOPClassUID, instance.SOPInstanceUID = CTImageStorage, generate_uid()
        instance.file_meta.MediaStorageSOPClassUID = instance.SOPClassUID
        instance.file_meta.MediaStorageSOPInstanceUID = instance.SOPInstanceUID
    instances.sort(key=lambda instance: grid.voxels(np.asarray(instance.ImagePositionPatient, float))[0, 2])
    labels_path = data_dir() / LABELS
    labels, _ = nifti.read_labelmap(labels_path.read_bytes(), labels_path.name, grid)  # as ImportLabels places it
    return LabelledCT(volume.data, volume.affine, instances, labels)


def along_k(array: np.ndarray, slices: int) -> np.ndarray:
    """`array` [k, j, i] repeated along k to `slices` slices, each repeat shifted one column further (wrapping round), so
    that no two label slices are alike: masks are stored once per content, and copies would hide what a volume takes."""
    count = array.shape[0]
    return np.stack([np.roll(array[n % count], n // count, axis=-1) for n in range(slices)])


# ---- 1 and 2: through `radlab up` -----------------------------------------------------------------------------

def key_slice_saves(client: Client, item_id: str, value: int, labelmap: np.ndarray, count: int) -> Saves:
    """`count` saves of one axial key slice on one annotation: slice k and organ vary (each organ present on k in turn,
    saved as the class `value`). Each save names the version GetAnnotation just read (not timed); interpolation makes
    versions in between, so a save it overtook is refused ABORTED: timed apart, then read again and retried."""
    organs = [np.unique(labelmap[k])[1:] for k in range(labelmap.shape[0])]
    saved, refused = [], []
    annotation_id = ""
    for number in range(count):
        k = number % labelmap.shape[0]
        mask = labelmap[k] == organs[k][number // labelmap.shape[0] % len(organs[k])]
        key = label_pb2.SliceLabel(
            plane=geometry_pb2.PLANE_AXIAL, slice_index=k, label_value=value, provenance=label_pb2.SLICE_PROVENANCE_DRAWN,
            mask=label_pb2.SliceMask(rows=mask.shape[0], columns=mask.shape[1], encoding=label_pb2.MASK_ENCODING_RAW,
                                     data=mask.astype(np.uint8).tobytes()))
        while True:
            request = pb.SaveKeySlicesRequest(item_id=item_id, annotation_id=annotation_id, key_slices=[key])
            if annotation_id:
                request.base_version = client.annotation.GetAnnotation(
                    pb.GetAnnotationRequest(annotation_id=annotation_id)).annotation.version
            start = time.perf_counter()
            try:
                annotation_id = client.annotation.SaveKeySlices(request).annotation_id
                saved.append(time.perf_counter() - start)
                break
            except grpc.RpcError as error:
                if error.code() is not grpc.StatusCode.ABORTED:
                    raise
                refused.append(time.perf_counter() - start)
    return Saves(saved, refused)


def label_import(client: Client, objects: objectstore.ObjectStore, item_id: str, labels: np.ndarray, affine: np.ndarray,
                 work: Path) -> LabelImport:
    """ImportLabels of `labels` (uint16, gzipped NIfTI) onto the item, then SubmitAnnotation, which writes its label array."""
    path = to_nifti(SimpleNamespace(data=labels, affine=affine), work / "labels.nii.gz")
    size = path.stat().st_size
    if size > MAX_MESSAGE_BYTES:
        raise RuntimeError(f"the label file is {size / 2**20:.1f} MiB, over the {MAX_MESSAGE_BYTES >> 20} MiB a gRPC message may hold")
    prefix = f"{TENANT}/{item_id}/"
    before = {info.key for info in objects.list(LABELS_BUCKET, prefix)}
    start = time.perf_counter()
    imported = client.import_labels(item_id, path, create_missing_classes=True)
    import_s = time.perf_counter() - start
    written = [info.size for info in objects.list(LABELS_BUCKET, prefix) if info.key not in before]
    start = time.perf_counter()
    submitted = client.annotation.SubmitAnnotation(pb.SubmitAnnotationRequest(annotation_id=imported.annotation_id,
                                                                             version=imported.version)).annotation
    submit_s = time.perf_counter() - start
    array = [info.size for info in objects.list(submitted.labels.bucket, f"{submitted.labels.key}/")]
    return LabelImport(labels.shape, len(imported.label_values), size, labels.nbytes, import_s,
                       len(written), sum(written), submit_s, len(array), sum(array))


def through_stack(ct: LabelledCT, saves: int, volume_slices: int, work: Path) -> tuple[Saves, LabelImport]:
    """`radlab up` on a fresh home: the DICOM CT and a `volume_slices`-slice NIfTI CT uploaded as items, then the saves
    on the first and the label volume import on the second."""
    volume = to_nifti(SimpleNamespace(data=along_k(ct.data, volume_slices), affine=ct.affine), work / "ct.nii")
    home = work / "home"
    with Stack(home, env={"RADLAB_ANON_KEY": "", "RADLAB_PHI_KEY": ""}) as stack:
        token = issue_token(token_key(home, None), subject="bench", role="admin", tenant=TENANT)
        with Client(stack.grpc_addr, token) as client:
            dataset = client.create_dataset(f"annotation bench {uuid.uuid4().hex[:8]}").dataset_id
            client.upload(data_dir() / CT, dataset)
            client.upload(volume, dataset)
            by_slices = {item.volume_ref.geometry.shape[0]: item for item in client.wait_for_items(dataset, 2, timeout_s=600)}
            value = client.create_class(dataset, "liver").value
            saved = key_slice_saves(client, by_slices[ct.data.shape[0]].item_id, value, ct.labels.labelmap(), saves)
            imported = label_import(client, objectstore.connect(f"file://{home}/objects"), by_slices[volume_slices].item_id,
                                    along_k(ct.labels.labelmap(), volume_slices), ct.affine, work)
    return saved, imported


# ---- 3: label export against its peers ------------------------------------------------------------------------

def seg_with_highdicom(labels: Segmentation, instances: list[Dataset]) -> bytes:
    """The binary DICOM-SEG write_seg makes (segments numbered in value order, tissue codes, empty frames left out),
    built with highdicom directly."""
    values = sorted(labels.segments)
    pixels = np.zeros(labels.shape, dtype=np.uint8)
    for number, value in enumerate(values, 1):
        pixels[labels.masks[value]] = number
    document = hd.seg.Segmentation(
        source_images=instances, pixel_array=pixels, segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=[hd.seg.SegmentDescription(
            segment_number=number, segment_label=labels.segments[value].name,
            segmented_property_category=codes.SCT.AnatomicalStructure, segmented_property_type=codes.SCT.Tissue,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL) for number, value in enumerate(values, 1)],
        series_instance_uid=hd.UID(), series_number=300, sop_instance_uid=hd.UID(), instance_number=1,
        manufacturer="bench", manufacturer_model_name="bench", software_versions="1", device_serial_number="0",
        omit_empty_frames=True,
    )
    out = BytesIO()
    document.save_as(out)
    return out.getvalue()


def plastimatch_path() -> tuple[str, str]:
    """(plastimatch's path, "") from scripts/tools.sh, or ("", why not)."""
    found = subprocess.run([str(REPO / "scripts" / "tools.sh"), "plastimatch"], capture_output=True, text=True, timeout=600)
    if found.returncode != 0:
        return "", f"scripts/tools.sh plastimatch failed: {(found.stderr.strip().splitlines() or ['no message'])[-1]}"
    return found.stdout.strip().splitlines()[-1], ""


def rtstruct_with_plastimatch(plastimatch: str, structures: Path, dicom: Path, out: Path) -> bytes:
    """`plastimatch convert` of a folder of per-structure masks into an RTSTRUCT on the DICOM series' UIDs."""
    shutil.rmtree(out, ignore_errors=True)
    subprocess.run([plastimatch, "convert", "--input-prefix", str(structures), "--output-dicom", str(out),
                    "--referenced-ct", str(dicom)], capture_output=True, check=True)
    (written,) = out.glob("*.dcm")
    return written.read_bytes()


def export_speed(ct: LabelledCT, repeats: int, work: Path) -> Export:
    """Each writer run once untimed, then `repeats` times in turn, so that load from elsewhere falls on all alike.
    plastimatch gets the same instances (written with their UIDs, decoded) and one mask file per label."""
    labels, instances = ct.labels, ct.instances
    writers = {
        "seg": lambda: seg.write_seg(labels, instances),
        "highdicom": lambda: seg_with_highdicom(labels, instances),
        "radlab": lambda: rtstruct.write_rtstruct(labels, instances),
    }
    plastimatch, missing = plastimatch_path()
    if plastimatch:
        dicom, structures = work / "ct_with_uids", work / "structures"
        dicom.mkdir()
        structures.mkdir()
        for number, instance in enumerate(instances):
            decoded = copy.deepcopy(instance)
            decoded.decompress()  # plastimatch reads DICOM with DCMTK, which has no JPEG 2000 decoder
            decoded.save_as(dicom / f"{number:03d}.dcm")
        for value, mask in labels.masks.items():
            to_nifti(SimpleNamespace(data=mask.astype(np.uint8), affine=ct.affine), structures / f"label_{value}.nii.gz")
        writers["plastimatch"] = lambda: rtstruct_with_plastimatch(plastimatch, structures, dicom, work / "plastimatch")
    written = {name: write() for name, write in writers.items()}  # the untimed run: imports, caches, the page cache
    runs: dict[str, list[float]] = {name: [] for name in writers}
    for _ in range(repeats):
        for name, write in writers.items():
            runs[name].append(seconds(write))
    grid = Grid(labels.shape, labels.affine, str(instances[0].FrameOfReferenceUID), instances)
    contours, agreement = {}, {}
    for name in [name for name in ("radlab", "plastimatch") if name in written]:
        document = pydicom.dcmread(BytesIO(written[name]))
        contours[name] = sum(len(roi.get("ContourSequence", [])) for roi in document.ROIContourSequence)
        back, _ = rtstruct.read_rtstruct(written[name], name, grid)
        value_of = {number: int(segment.name.replace("_", " ").split()[-1]) for number, segment in back.segments.items()}
        agreement[name] = float(np.mean([dice(back.masks.get(number, np.zeros(labels.shape, bool)), labels.masks[value])
                                         for number, value in value_of.items()]))
    return Export(len(labels.segments), runs["seg"], runs["highdicom"], len(written["seg"]), len(written["highdicom"]), runs["radlab"],
                  runs.get("plastimatch", []), missing, contours, agreement)


# ---- 4: listing items -----------------------------------------------------------------------------------------

def seed(db: Database, count: int) -> str:
    """A dataset of `count` item rows (a tenth tagged, a tenth with a label, a tenth matching the text); its id."""
    dataset_id, now = str(uuid.uuid4()), time.time()
    geometry = geometry_pb2.Geometry(shape=[300, 512, 512], affine=np.eye(4).ravel().tolist(), spacing=[1.0, 1.0, 1.0])
    volume_ref = geometry_pb2.VolumeRef(bucket="volumes", format=geometry_pb2.VOLUME_FORMAT_ZARR,
                                        dtype=geometry_pb2.DATA_TYPE_INT16, geometry=geometry).SerializeToString()
    with db.unit_of_work() as uow:
        uow.execute(store.datasets.insert().values(dataset_id=dataset_id, tenant=TENANT, name="listing bench", description="",
                                                   creator="bench", created_at=now))
        for first in range(0, count, SEED_BATCH):
            rows = []
            for number in range(first, min(first + SEED_BATCH, count)):
                modality, (description, body_part) = MODALITIES[number % len(MODALITIES)], SERIES[number % len(SERIES)]
                series_id = f"1.2.826.0.1.{number}"
                name = item_rules.display_name(description, modality, series_id)
                rows.append(dict(item_id=str(uuid.uuid4()), tenant=TENANT, dataset_id=dataset_id, volume_id=f"volume-{number}",
                                 study_id=f"study-{number // 4}", series_id=series_id, modality=modality, body_part=body_part,
                                 display_name=name,
                                 search_text=f"{name}\n{description}".lower(), series_description=description, folder_id="",
                                 item_metadata={}, volume_ref=volume_ref, created_at=now - count + number))
            uow.execute(store.items.insert(), rows)
        seqs = uow.execute(sa.select(store.items.c.seq).where(store.items.c.dataset_id == dataset_id)
                           .order_by(store.items.c.seq)).scalars().all()
        uow.execute(store.item_tags.insert(), [dict(item_seq=seq, tag=TAG, dataset_id=dataset_id) for seq in seqs[0::10]])
        uow.execute(store.item_labels.insert(), [dict(annotation_id=str(uuid.uuid4()), label_value=LABEL_VALUE, item_seq=seq,
                                                      dataset_id=dataset_id) for seq in seqs[5::10]])
    return dataset_id


def page_times(db: Database, dataset_id: str, count: int, calls: int) -> dict[str, list[float]]:
    """Per filter, `calls` consecutive pages from the first (once round again at the end); then the page half way
    through the dataset `calls` times over (its position found by SQL, as a page token names it)."""
    caller = Principal("admin-1", "admin", TENANT)
    times: dict[str, list[float]] = {}

    def timed(request: pb.ListItemsRequest, after: int) -> tuple[float, int | None]:
        start = time.perf_counter()
        _, next_after = list_items(db, caller, request, after, PAGE)
        return time.perf_counter() - start, next_after

    for name, options in FILTERS.items():
        request = pb.ListItemsRequest(dataset_id=dataset_id, **options)
        timed(request, 0)  # warm: the first query of a kind compiles and caches
        after, times[name] = 0, []
        for _ in range(calls):
            spent, after = timed(request, after or 0)
            times[name].append(spent)
    deep = count // PAGE // 2
    with db.read() as conn:
        after = conn.execute(sa.select(store.items.c.seq).where(store.items.c.dataset_id == dataset_id)
                             .order_by(store.items.c.seq).offset((deep - 1) * PAGE).limit(1)).scalar_one()
    request = pb.ListItemsRequest(dataset_id=dataset_id)
    times[f"deep: page {deep}"] = [timed(request, after)[0] for _ in range(calls)]
    return times


def listing(database: str, url: str, count: int, calls: int, prepare: Callable[[], None] = lambda: None) -> Listing:
    db = Database(url, "annotation", store.metadata)
    try:
        start = time.perf_counter()
        dataset_id = seed(db, count)
        prepare()
        seeded = time.perf_counter() - start
        return Listing(database, seeded, page_times(db, dataset_id, count, calls))
    finally:
        db.dispose()


@contextmanager
def infra_server(name: str) -> Iterator[tuple[str, str]]:
    """(URL, "") of RADLAB_TEST_<NAME>_URL's server, or of the one scripts/infra.sh starts (and then stops, unless it
    was running already); ("", why not) when there is none. `name`: kafka, minio or postgres."""
    variable = f"RADLAB_TEST_{name.upper()}_URL"
    if url := os.environ.get(variable, ""):
        yield url, ""
        return
    script = str(REPO / "scripts" / "infra.sh")
    run = subprocess.run([script, "start", name], capture_output=True, text=True, timeout=1200)
    if run.returncode != 0:
        yield "", f"no {name}: {variable} is not set and scripts/infra.sh start {name} failed ({run.stderr.strip()[-300:]})"
        return
    try:
        yield run.stdout.strip().splitlines()[-1], ""
    finally:
        if "already running" not in run.stderr:
            subprocess.run([script, "stop", name], capture_output=True, timeout=120)


@contextmanager
def postgres_database() -> Iterator[tuple[str, str]]:
    """(URL of a new empty database, "") on the PostgreSQL cluster `infra_server` gives, dropped afterwards; ("", why
    not) when there is none."""
    with infra_server("postgres") as (cluster, missing):
        if not cluster:
            yield "", missing
            return
        base = sa.make_url(cluster)
        if base.password is None and os.environ.get("RADLAB_DB_PASSWORD"):
            base = base.set(password=os.environ["RADLAB_DB_PASSWORD"])
        admin = sa.create_engine(base.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
        name = f"radlab_bench_{uuid.uuid4().hex[:12]}"
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
            yield base.set(database=name).render_as_string(hide_password=False), ""
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
        finally:
            admin.dispose()


def vacuum_analyze(url: str) -> None:
    """What autovacuum does soon after a bulk insert: statistics for the planner, the visibility map for index-only scans."""
    engine = sa.create_engine(sa.make_url(url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")
    engine.dispose()


def listings(count: int, calls: int, postgres: bool, work: Path) -> list[Listing]:
    found = [listing("SQLite", f"sqlite:///{work / 'db'}", count, calls)]
    if postgres:
        with postgres_database() as (url, missing):
            found.append(listing("PostgreSQL", url, count, calls, lambda: vacuum_analyze(url)) if url
                         else Listing("PostgreSQL", missing=missing))
    return found


# ---- the whole benchmark ------------------------------------------------------------------------------------

def measure(saves: int = SAVES, volume_slices: int = VOLUME_SLICES, items: int = ITEMS, postgres: bool = True,
            repeats: int = REPEATS, calls: int = CALLS) -> AnnotationFigures:
    ct = labelled_ct()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        saved, imported = through_stack(ct, saves, volume_slices, work)
        export = export_speed(ct, repeats, work)
        found = listings(items, calls, postgres, work)
    return AnnotationFigures(saved, imported, export, found, items)


def verdict(met: bool) -> str:
    return "PASS" if met else "FAIL"


def best_median(times: list[float]) -> str:
    return f"{min(times):6.2f} s ({float(np.median(times)):5.2f})"


def report(figures: AnnotationFigures) -> None:
    saves = figures.saves
    p50, p99 = percentiles(saves.saved_s)
    print(f"annotation through `radlab up` ({os.cpu_count()} CPUs, shared by the client, the services and interpolation):")
    print("  SaveKeySlices back to back, one 512×512 axial key slice each (RAW mask of a real organ; slice and organ vary) on one")
    print("  annotation, each on the version GetAnnotation read just before (not timed). Each save sets off work in the same")
    print("  process (the version's label array written, interpolation), which adds versions in between: a save it overtook")
    print("  is refused (ABORTED), timed apart, then read again and retried.")
    refused = (f"{len(saves.refused_s)} refused as stale (p50 {percentiles(saves.refused_s)[0]:.1f} ms)" if saves.refused_s
               else "none refused as stale")
    print(f"    {len(saves.saved_s)} saves  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms   goal p99 < {SAVE_P99_GOAL_MS:.0f} ms: "
          f"{verdict(p99 < SAVE_P99_GOAL_MS)};  {refused}")
    imported = figures.label_import
    size = "×".join(map(str, imported.shape[::-1]))
    print(f"  ImportLabels of a {size} label volume ({imported.label_count} structures; the real map repeated along k, each "
          "repeat shifted a column) as gzipped uint16 NIfTI onto an item of that grid:")
    print(f"    file {imported.file_bytes / 1e6:.2f} MB (a message may hold {MAX_MESSAGE_BYTES >> 20} MiB); raw uint16 "
          f"{imported.raw_bytes / 1e6:.1f} MB")
    print(f"    import {imported.import_s:.2f} s; labels bucket: {imported.slice_bytes / 1e6:.2f} MB in {imported.slice_objects} "
          f"slice masks (RLE, stored once per content) = {imported.slice_bytes / imported.raw_bytes:.2%} of raw, "
          f"{imported.slice_bytes / imported.file_bytes:.2f}× the file")
    print(f"    SubmitAnnotation {imported.submit_s:.2f} s, writing the version's label array (Zarr): {imported.array_bytes / 1e6:.2f} MB "
          f"in {imported.array_objects} objects")

    export = figures.export
    print(f"\nlabel export writers, in-process: TotalSegmentator's label map ({export.structures} structures) on its 20-slice DICOM "
          f"CT; best (median) of {len(export.seg_s)} interleaved runs:")
    ratio, median = min(export.seg_s) / min(export.highdicom_s), np.median(export.seg_s) / np.median(export.highdicom_s)
    print(f"  DICOM-SEG binary  radlab write_seg {best_median(export.seg_s)}  highdicom directly {best_median(export.highdicom_s)}"
          f"  ratio {ratio:4.2f}× ({median:4.2f}×)  goal ≤ {SEG_RATIO_GOAL}×: {verdict(ratio <= SEG_RATIO_GOAL)};"
          f"  {export.seg_bytes / 1e6:.1f} / {export.highdicom_bytes / 1e6:.1f} MB")
    if export.plastimatch_s:
        ratio = min(export.rtstruct_s) / min(export.plastimatch_s)
        median = np.median(export.rtstruct_s) / np.median(export.plastimatch_s)
        print(f"  RTSTRUCT          radlab write_rtstruct {best_median(export.rtstruct_s)}  plastimatch convert "
              f"{best_median(export.plastimatch_s)}  ratio {ratio:4.2f}× ({median:4.2f}×)")
        print("    plastimatch's time is its whole run: process start, reading a mask file per structure and the 20 DICOM files")
        print("    (given decoded: DCMTK has no JPEG 2000 decoder), writing its file")
    else:
        print(f"  RTSTRUCT          radlab write_rtstruct {best_median(export.rtstruct_s)}  plastimatch: {export.plastimatch_missing}")
    for name, count in export.contours.items():
        print(f"    {name:11} {count:5d} contours; read back by Radlab, mean Dice with the map {export.read_back_dice[name]:.4f}")

    print(f"\nListItems handler (services.annotation.handlers.items.list_items, no RPC) on {figures.items:,} items, pages of {PAGE};")
    measured = [found for found in figures.listings if found.pages_s]
    calls = len(next(iter(measured[0].pages_s.values())))
    print(f"ms over {calls} consecutive pages per filter (the deep page: the same page {calls} times):")
    print(f"  {'filter':34}" + "".join(f" {found.database + ' p50':>16} {'p99':>7} {'':4}" for found in measured))
    for name in measured[0].pages_s:
        cells = []
        for found in measured:
            p50, p99 = percentiles(found.pages_s[name])
            cells.append(f" {p50:16.1f} {p99:7.1f} {verdict(p99 < LIST_P99_GOAL_MS):4}")
        print(f"  {name:34}" + "".join(cells))
    print(f"  goal p99 < {LIST_P99_GOAL_MS:.0f} ms; seeding: " + ", ".join(f"{found.database} {found.seed_s:.1f} s" for found in measured))
    for found in figures.listings:
        if found.missing:
            print(f"  {found.database}: not measured: {found.missing}")


def run() -> None:
    report(measure(saves=int(os.environ.get("RADLAB_BENCH_ANNOTATION_SAVES", SAVES))))


if __name__ == "__main__":
    run()
