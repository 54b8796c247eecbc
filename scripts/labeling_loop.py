"""`make run`: the whole labeling loop on real scans through the public SDK, on the embedded default: upload →
de-identify → label with interpolation → consensus and adjudication → train on Ray → the model pre-labels a new
scan → export in five formats checked by their readers → a report; in a terminal it then serves until Ctrl-C."""

from __future__ import annotations

import argparse
import shutil
import socket
import sys
import time
import traceback
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import grpc
import numpy as np
from pydicom.data import get_testdata_file

import export_checks
from radlab.annotation.v1 import annotation_service_pb2 as annotation_pb
from radlab.anonymization.v1 import anonymization_service_pb2 as anonymization_pb
from radlab.cli import ProgressBar
from radlab.client import Client
from radlab.ingestion.v1 import ingestion_service_pb2 as ingestion_pb
from radlab.tokens import issue_token, token_key
from radlab.training.v1 import training_service_pb2 as training_pb
from radlab.type.v1 import geometry_pb2, job_pb2
from radlab.workflow.v1 import workflow_service_pb2 as workflow_pb
from shared.agreement import dice
from shared.config import Settings, data_dir
from loop_pacs import OrthancPacs, PacsFailed
from shared.stack import Stack, free_port
from simulated_readers import LoopFailed, Reading, Reference, adjudicate, mask_of, on_item_grid, read, wait_for

TENANT = "default"
REFERENCE = "totalsegmentator/tests/reference_files"
SPLEEN_CT = "ivadomed_spleen/ct_scan/sub-spleen2/ct/sub-spleen2_ct.nii.gz"
SPLEEN_MANUAL = "ivadomed_spleen/ct_scan/derivatives/labels/sub-spleen2/ct/sub-spleen2_ct_seg-manual.nii.gz"
SPLEEN, LIVER = 1, 5  # TotalSegmentator's label values
# The labelled scans the readers work on (image, reference label, its value, where the label came from); the last
# arrives after training, so the model pre-labels it, and is scored against its manual label.
TRAINING_SCANS = (
    ("JPEG 2000 CT series, 20 slices", f"{REFERENCE}/example_ct_dicom", f"{REFERENCE}/example_seg_dicom.nii.gz", SPLEEN,
     "TotalSegmentator"),
    ("CT volume at 3 mm (NIfTI)", f"{REFERENCE}/example_ct_sm.nii.gz", f"{REFERENCE}/example_seg.nii.gz", SPLEEN,
     "TotalSegmentator"),
)
NEW_SCAN = ("spleen CT, 26 slices (NIfTI)", SPLEEN_CT, SPLEEN_MANUAL, 1, "manual")
# Scans that show what ingestion and anonymization do with real series (no labels).
SHOWCASE = {"MR, 196 slices": "dcm_qa_deident/In", "4D EPI, 128 files": "dcm_qa_stc/In/GE/TriggerTime/4_epi_ascending",
            "one MR image in nine transfer syntaxes": "dcm_qa_ts/In"}
# A series the PACS (Orthanc) sends by C-STORE into the showcase dataset, its AE title bound to the dataset's id
# before the dataset exists.
PUSHED = ("CT with gantry tilt and uneven gaps", "dcm_qa_ct/In/GE")
ULTRASOUND = ("an ultrasound (pydicom's test files)", "US1_UNCR.dcm")  # held: identity may be burned into its pixels
# Readers: who draws which key slices (every n-th labelled slice from the k-th); bob labels the liver on one scan.
READERS = {"alice": (3, 0), "bob": (3, 1)}
SENIOR = "dr-senior"
# Chosen by the run's own validation Dice when it still held a training item out, never by the new scan's score:
# 12 × 12 steps validated at 0.195, 30 × 20 at 0.149 (it overfit the one scan it trained on).
TRAINING = {"max_epochs": "12", "steps_per_epoch": "12", "batch_size": "8", "time_budget_s": "120", "patience": "0"}
QUICK_TRAINING = {"max_epochs": "3", "steps_per_epoch": "6", "batch_size": "4", "time_budget_s": "30", "patience": "0"}
FORMATS = {"NIfTI": annotation_pb.LABEL_FORMAT_NIFTI, "DICOM-SEG": annotation_pb.LABEL_FORMAT_DICOM_SEG,
           "RTSTRUCT": annotation_pb.LABEL_FORMAT_RTSTRUCT, "COCO": annotation_pb.LABEL_FORMAT_COCO,
           "Darwin JSON": annotation_pb.LABEL_FORMAT_DARWIN}


class Loop:
    """One run of the loop: the people's clients, what each step found, and how long each step took."""

    def __init__(self, stack: Stack, home: Path, data: Path, quick: bool, started: float, pacs: OrthancPacs,
                 scans_dataset: str):
        self.stack, self.home, self.data, self.quick, self.started = stack, home, data, quick, started
        self.pacs = pacs
        self.scans_dataset = scans_dataset  # chosen before the platform starts: the PACS's AE title is bound to it
        self.key = token_key(home, None)
        self.people = {name: self.client(name, role) for name, role in (
            ("make-run", "admin"), ("manager", "manager"), ("alice", "annotator"), ("bob", "annotator"),
            (SENIOR, "reviewer"))}
        self.timings: list[tuple[str, float]] = []
        self.readings: dict[tuple[str, str], Reading] = {}
        self.truth: dict[str, Reference] = {}  # each item's reference label; the readers draw from it
        self.consensus: list[workflow_pb.ConsensusResult] = []
        self.prelabel_dice = float("nan")
        self.model: training_pb.Model | None = None
        self.exports: dict[str, tuple[Path, export_checks.Checked]] = {}
        self.workflow_stats: list[workflow_pb.StageStats] = []

    def client(self, subject: str, role: str) -> Client:
        return Client(self.stack.grpc_addr, issue_token(self.key, subject=subject, role=role, tenant=TENANT))

    @property
    def admin(self) -> Client:
        return self.people["make-run"]

    @contextmanager
    def step(self, number: int, name: str) -> Iterator[None]:
        """A numbered step: its title, its time in the report; any failure becomes StepFailed naming it."""
        print(f"\n── {number}. {name} ──", flush=True)
        started = time.perf_counter()
        try:
            yield
        except StepFailed:
            raise
        except Exception as error:  # noqa: BLE001 (the step's name and cause are what the user needs)
            raise StepFailed(name, error) from error
        self.timings.append((name, time.perf_counter() - started))

    def close(self) -> None:
        for client in self.people.values():
            client.close()


class StepFailed(RuntimeError):
    """A step of the loop failed: its name, and the cause as the user should read it (never a traceback)."""

    def __init__(self, step: str, cause: Exception):
        if isinstance(cause, grpc.RpcError):
            why = f"{cause.code().name}: {cause.details()}"
        elif isinstance(cause, LoopFailed | export_checks.CheckFailed | PacsFailed):
            why = str(cause)
        else:
            why = f"{type(cause).__name__}: {cause}"
        super().__init__(f"step '{step}' failed: {why}")
        self.step = step


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-wait", action="store_true", help="stop when the loop is done, also in a terminal")
    parser.add_argument("--quick", action="store_true",
                        help="a shorter run: a few training steps and no vendor series (the loop itself is the same)")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    data = data_dir()
    if not data.is_dir():
        print(f"real data not found at {data}: set RADLAB_DATA to a copy of the repository's data/ folder", file=sys.stderr)
        return 2
    home = settings.home / "make-run"
    if home.exists():
        print(f"replacing the previous make run's state in {home}")
        shutil.rmtree(home)
    home.mkdir(parents=True)
    print(f"starting radlab up (state in {home}) ...", flush=True)
    started = time.perf_counter()
    pacs = OrthancPacs(home / "pacs")
    try:
        pacs.start()
    except PacsFailed as failed:
        print(f"make run FAILED: the PACS the loop sends a series from: {failed}", file=sys.stderr)
        return 1
    print(f"PACS: Orthanc (AE title {pacs.ae_title}) on {pacs.url} ({time.perf_counter() - started:.1f} s)")
    scans_dataset = str(uuid.uuid4())
    env = {"RADLAB_HTTP_ADDR": _http_addr(settings.http_addr), "RADLAB_DICOM_PORT": str(free_port()),
           "RADLAB_DICOM_SOURCES": f"{pacs.ae_title}={TENANT}/{scans_dataset}", "RADLAB_DICOM_QUIET_S": "3"}
    with closing(pacs), Stack(home, env=env) as stack:
        print(f"serving gRPC on {stack.grpc_addr}, metrics on :{stack.metrics_port}, HTTP on {stack.http_addr}, "
              f"DICOM C-STORE on :{env['RADLAB_DICOM_PORT']} ({time.perf_counter() - started:.1f} s)")
        loop = Loop(stack, home, data, args.quick, started, pacs, scans_dataset)
        try:
            run(loop)
        except StepFailed as failed:
            print(f"\nmake run FAILED: {failed}", file=sys.stderr)
            if not isinstance(failed.__cause__, LoopFailed | export_checks.CheckFailed):
                with (home / "failure.txt").open("w") as details:
                    traceback.print_exception(failed.__cause__, file=details)
                print(f"(details in {home / 'failure.txt'}; the platform's log is {stack.log})", file=sys.stderr)
            return 1
        finally:
            loop.close()
        if not args.no_wait and sys.stdin.isatty():
            print("serving until Ctrl-C (open the viewer above; `make run ARGS=--no-wait` stops at once) ...", flush=True)
            try:
                while stack.process.poll() is None:
                    time.sleep(1)
            except KeyboardInterrupt:
                print()
    print("make run: OK")
    return 0


def run(loop: Loop) -> None:
    with loop.step(1, "dataset, classes, people and workflow"):
        dataset, workflow = setup(loop)
    with loop.step(2, "upload, de-identify, build volumes"):
        items = upload_labelled(loop, dataset, TRAINING_SCANS)
        if not loop.quick:
            showcase(loop)
    with loop.step(3, "readers draw key slices, interpolation fills the rest"):
        readers(loop, workflow, len(items), wrong=items[-1])
    with loop.step(4, "consensus, and a senior reader adjudicates"):
        review(loop, workflow, len(items))
    with loop.step(5, "completed items train a model on Ray"):
        train(loop, dataset)
    with loop.step(6, "the model pre-labels a new scan in the model stage"):
        prelabel(loop, dataset, workflow)
    with loop.step(7, "export in five formats, each checked by its reader"):
        export(loop, dataset)
    loop.workflow_stats = loop.people["manager"].workflow.GetWorkflowStats(
        workflow_pb.GetWorkflowStatsRequest(workflow_id=workflow)).stages
    with loop.step(8, "report"):
        report(loop, time.perf_counter() - loop.started)


def setup(loop: Loop) -> tuple[str, str]:
    """A dataset with the spleen as a coded class; three people with their seniority; the loop's workflow."""
    admin, manager = loop.admin, loop.people["manager"]
    print("health: " + ", ".join(f"{name} {status}" for name, status in admin.health().items()))
    dataset = admin.create_dataset(f"labeling loop {time.strftime('%Y-%m-%d %H:%M:%S')}", "make run: real scans").dataset_id
    spleen = manager.create_class(dataset, "spleen", value=1)
    print(f"dataset {dataset}: class {spleen.name} = {spleen.value} ({spleen.concept.scheme} {spleen.concept.value} "
          f"{spleen.concept.meaning!r})")
    for subject, seniority in (("alice", workflow_pb.SENIORITY_RADIOGRAPHER), ("bob", workflow_pb.SENIORITY_RADIOLOGIST),
                               (SENIOR, workflow_pb.SENIORITY_SENIOR_RADIOLOGIST)):
        manager.workflow.SetPerson(workflow_pb.SetPersonRequest(person=workflow_pb.Person(subject=subject, seniority=seniority)))
    manager.wait_for_workflow(dataset)
    limits = [workflow_pb.MeasureLimit(measure=workflow_pb.AGREEMENT_MEASURE_DICE, limit=0.8),
              workflow_pb.MeasureLimit(measure=workflow_pb.AGREEMENT_MEASURE_HD95, limit=10.0)]
    stages = [
        workflow_pb.Stage(stage_id="model", kind=workflow_pb.STAGE_KIND_MODEL, model=workflow_pb.ModelSettings(
            model_kind="monai.unet2d", train_every_completed_items=len(TRAINING_SCANS),
            hyperparameters=QUICK_TRAINING if loop.quick else TRAINING)),
        workflow_pb.Stage(stage_id="read", kind=workflow_pb.STAGE_KIND_CONSENSUS, consensus=workflow_pb.ConsensusSettings(
            annotator_count=2, limits=limits, surface_tolerance_mm=2.0, merge=workflow_pb.MERGE_METHOD_STAPLE,
            disputed_stage_id="review")),
        workflow_pb.Stage(stage_id="review", kind=workflow_pb.STAGE_KIND_REVIEW, assignment=workflow_pb.AssignmentSettings(
            min_seniority=workflow_pb.SENIORITY_SENIOR_RADIOLOGIST)),
        workflow_pb.Stage(stage_id="done", kind=workflow_pb.STAGE_KIND_COMPLETE),
    ]
    workflow = manager.workflow.CreateWorkflow(workflow_pb.CreateWorkflowRequest(
        dataset_id=dataset, name="model → two blind readers → consensus → senior review", stages=stages)).workflow
    print(f"workflow {workflow.workflow_id}: " + " → ".join(
        f"{s.stage_id} ({workflow_pb.StageKind.Name(s.kind).removeprefix('STAGE_KIND_').lower()})" for s in workflow.stages))
    print("  consensus: 2 blind readers, pass when Dice ≥ 0.8 and HD95 ≤ 10 mm per class, STAPLE merge; "
          "disputes go to a senior radiologist")
    return dataset, workflow.workflow_id


def upload_labelled(loop: Loop, dataset: str, scans) -> list[str]:
    """Upload labelled scans into the loop's dataset; remember each item's reference label. Returns the item ids."""
    item_ids = []
    for name, image, label, value, source in scans:
        upload = _upload(loop.admin, loop.data / image, dataset, name)
        volume_id = upload.volume_ids[0]
        item = wait_for(lambda: [i for i in loop.admin.list_items(dataset) if i.volume_ref.volume_id == volume_id],
                        f"the item of {name}")[0]
        reference = Reference(loop.data / label, value, source)
        loop.truth[item.item_id] = reference
        item_ids.append(item.item_id)
    return item_ids


def showcase(loop: Loop) -> None:
    """Real vendor series into a dataset of their own: what anonymization removed and held, what ingestion detected."""
    dataset = loop.admin.create_dataset(f"scans {time.strftime('%Y-%m-%d %H:%M:%S')}", "make run: vendor series",
                                        dataset_id=loop.scans_dataset).dataset_id
    name, folder = PUSHED
    _pushed(loop, loop.data / folder, name)
    for name, folder in SHOWCASE.items():
        _upload(loop.admin, loop.data / folder, dataset, name)
    name, file_name = ULTRASOUND
    _upload(loop.admin, Path(get_testdata_file(file_name)), dataset, name)


def _upload(client: Client, path: Path, dataset: str, name: str) -> ingestion_pb.Upload:
    """One upload with a progress bar, waited for; prints what anonymization did and the volumes built."""
    started = time.perf_counter()
    bar = ProgressBar(f"uploading {name}")
    try:
        upload = client.upload(path, dataset, progress=bar)
    finally:
        bar.end_line()
    return _described(client, client.wait_for_upload(upload.upload_id), name, started)


def _pushed(loop: Loop, folder: Path, name: str) -> ingestion_pb.Upload:
    """A series stored in the PACS (a progress bar) and sent on by its C-STORE; ingestion makes it an upload once the
    study has been quiet RADLAB_DICOM_QUIET_S seconds, waited for and described."""
    started = time.perf_counter()
    settings = Settings.from_env(loop.stack.env)
    bar = ProgressBar(f"into the PACS: {name}")
    try:
        stored = loop.pacs.store(sorted(folder.rglob("*.dcm")), progress=bar)
    finally:
        bar.end_line()
    loop.pacs.send(stored, settings.dicom_ae_title, settings.dicom_port)
    print(f"{name}: {len(stored)} instance(s) sent by the PACS ({loop.pacs.ae_title}) to {settings.dicom_ae_title} by C-STORE")
    listing = ingestion_pb.ListUploadsRequest(dataset_id=loop.scans_dataset, page_size=10)
    arrived = wait_for(lambda: list(loop.admin.ingestion.ListUploads(listing).uploads), "the upload of what the PACS sent")
    return _described(loop.admin, loop.admin.wait_for_upload(arrived[0].upload_id), name, started)


def _described(client: Client, upload: ingestion_pb.Upload, name: str, started: float) -> ingestion_pb.Upload:
    """Print what anonymization did to a finished upload and the volumes ingestion built; LoopFailed if it failed."""
    if upload.state != ingestion_pb.UPLOAD_STATE_COMPLETED:
        raise LoopFailed(f"{name}: upload {upload.upload_id} ended {ingestion_pb.UploadState.Name(upload.state)}: "
                         f"{upload.failure_reason}")
    print(f"{name}: {upload.file_count} file(s) → {len(upload.volume_ids)} volume(s) in {time.perf_counter() - started:.1f} s")
    if upload.scan_id:
        report = client.anonymization.GetAnonymizationReport(
            anonymization_pb.GetAnonymizationReportRequest(scan_id=upload.scan_id)).report
        actions = ", ".join(f"{anonymization_pb.DeidAction.Name(a.action).removeprefix('DEID_ACTION_').lower()} {a.count}"
                            for a in report.action_counts if a.count)
        holds = ", ".join(f"{anonymization_pb.HoldReason.Name(h.reason).removeprefix('HOLD_REASON_').lower().replace('_', ' ')} {h.count}"
                          for h in report.hold_counts if h.count)
        print(f"  de-identified {report.anonymized_count} of {report.instance_count} instance(s): attributes {actions or 'none'}; "
              f"held {report.held_count}{f' ({holds})' if holds else ''}; dropped {report.dropped_count}")
        for warning in [w for w in report.warnings if "held for review" not in w][:3]:  # the held are listed below
            print(f"  note: {warning}")
        if report.held_count:
            for held in client.anonymization.ListHeldInstances(anonymization_pb.ListHeldInstancesRequest(
                    scan_id=upload.scan_id, page_size=10)).held_instances:
                reason = anonymization_pb.HoldReason.Name(held.reason).removeprefix("HOLD_REASON_").lower().replace("_", " ")
                print(f"  held {held.modality} instance ({reason}): {held.detail}")
    described: dict[str, list[str]] = {}  # alike volumes (one image in nine transfer syntaxes) on one line
    for volume_id in upload.volume_ids:
        volume = client.ingestion.GetVolume(ingestion_pb.GetVolumeRequest(volume_id=volume_id)).volume
        geometry = volume.volume_ref.geometry
        shape = "×".join(str(n) for n in geometry.shape)
        spacing = " × ".join(f"{mm:.2f}" for mm in geometry.spacing)
        time_axis = f"; 4D: {geometry.fourth_axis}" if geometry.time_points > 1 else ""
        lines = [f"{volume.modality or 'NIfTI'} {shape} voxels, {spacing} mm{time_axis}"] + [
            f"  detected {geometry_pb2.GeometryIssueKind.Name(issue.kind).removeprefix('GEOMETRY_ISSUE_KIND_').lower().replace('_', ' ')}: "
            f"{issue.message}" for issue in geometry.issues]
        described.setdefault("\n    ".join(lines), []).append(volume_id)
    for description, volume_ids in described.items():
        named = f"volume {volume_ids[0]}" if len(volume_ids) == 1 else f"{len(volume_ids)} volumes ({volume_ids[0]}, …)"
        print(f"  {named}: {description}")
    return upload


def readers(loop: Loop, workflow: str, item_count: int, wrong: str = "") -> None:
    """Both readers work every item waiting at the consensus stage, blind; bob labels the liver as the spleen on the
    item `wrong`."""
    done = len(loop.readings)
    for reader, (every, start) in READERS.items():
        references = dict(loop.truth)
        if reader == "bob" and wrong:
            references[wrong] = Reference(loop.truth[wrong].label_path, LIVER, "TotalSegmentator (the liver)")
        while reading := read(loop.people[reader], reader, workflow, "read", references, loop.truth, every, start, 1):
            loop.readings[(reader, reading.item_id)] = reading
            print(f"{reader} on item {reading.item_id}: {reading.keys} key slices drawn, {reading.filled} filled by "
                  f"interpolation; Dice against the reference {reading.filled_dice:.3f} on the filled slices, "
                  f"{reading.volume_dice:.3f} overall" + ("  ← labelled the liver, not the spleen" if reading.wrong_organ else ""))
    if len(loop.readings) - done != 2 * item_count:
        raise LoopFailed(f"{len(loop.readings) - done} readings of {2 * item_count} were made (2 readers × {item_count} items)")


def review(loop: Loop, workflow: str, item_count: int) -> None:
    """The senior reader takes every review task: accepts the merge of agreeing readers, picks a reader on a dispute."""
    senior = loop.people[SENIOR]
    decided = 0
    while decided < item_count:
        decision = wait_for(lambda: adjudicate(senior, workflow, "review", loop.readings), "a review task")
        decided += 1
        loop.consensus.append(decision.consensus)
        state = workflow_pb.ConsensusState.Name(decision.consensus.state).removeprefix("CONSENSUS_STATE_").lower()
        for verdict in decision.consensus.classes:
            print(f"item {decision.item_id}: consensus {state}; class {verdict.label_value}: Dice {verdict.dice:.3f}, "
                  f"HD95 {verdict.hd95_mm:.1f} mm, surface Dice {verdict.surface_dice:.3f}"
                  + (f" — {'; '.join(verdict.shortfalls)}" if verdict.shortfalls else ""))
        print(f"  {SENIOR}: " + (f"chose {decision.chosen_reader}'s label" if decision.chosen_reader else "accepted the STAPLE merge"))
    manager = loop.people["manager"]
    for item in list(loop.truth)[-item_count:]:
        wait_for(lambda: manager.workflow.GetItemProgress(workflow_pb.GetItemProgressRequest(item_id=item)).stage_id == "done",
                 f"item {item} to complete")


def train(loop: Loop, dataset: str) -> None:
    """The completed items' TrainingRequested starts a run on Ray; wait for its model, then promote it."""
    manager = loop.people["manager"]
    run = wait_for(lambda: manager.training.ListTrainingRuns(
        training_pb.ListTrainingRunsRequest(dataset_id=dataset)).training_runs, "the training run the completed items request")[0]
    print(f"run {run.run_id}: {run.example_count} item(s), {run.model_kind}, settings from the model stage "
          f"({', '.join(f'{k} {v}' for k, v in sorted(run.config.hyperparameters.items()))})")
    seen = set()

    def progress(found: training_pb.TrainingRun) -> None:
        if found.job.message and found.job.message not in seen:
            seen.add(found.job.message)
            print(f"  {found.job.message}", flush=True)

    run = manager.wait_for_run(run.run_id, progress=progress, timeout_s=900)
    if run.job.state != job_pb2.JOB_STATE_SUCCEEDED:
        raise LoopFailed(f"training run {run.run_id} ended {job_pb2.JobState.Name(run.job.state)}: {run.job.error}")
    manager.training.PromoteModel(training_pb.PromoteModelRequest(model_id=run.model_id))
    loop.model = manager.training.GetModel(training_pb.GetModelRequest(model_id=run.model_id)).model
    scores = {m.name: m.value for m in loop.model.metrics if m.label_value == 1}
    print(f"model {loop.model.model_id} registered and promoted: validation Dice {scores.get('dice', float('nan')):.3f}, "
          f"HD95 {scores.get('hd95_mm', float('nan')):.1f} mm (on what the run held out of its items for validation)")


def prelabel(loop: Loop, dataset: str, workflow: str) -> None:
    """A new scan enters the model stage, which pre-labels it with the workflow's model; score the prediction
    against the scan's manual label, then the readers and the senior reader finish it like the others."""
    [item] = upload_labelled(loop, dataset, (NEW_SCAN,))
    manager = loop.people["manager"]

    def prelabelled():
        found = manager.annotation.GetItem(annotation_pb.GetItemRequest(item_id=item)).item
        return found if any(a.model_id == loop.model.model_id for a in found.annotations) else None

    found = wait_for(prelabelled, "the model's pre-label of the new scan", timeout_s=300)
    predicted = next(a for a in found.annotations if a.model_id == loop.model.model_id)
    geometry = found.volume_ref.geometry
    loop.prelabel_dice = dice(mask_of(manager, predicted.annotation_id, geometry, 1), on_item_grid(loop.truth[item], geometry))
    print(f"item {item}: pre-labelled by model {loop.model.model_id}; Dice against its manual label {loop.prelabel_dice:.3f}")
    readers(loop, workflow, 1)
    review(loop, workflow, 1)


def export(loop: Loop, dataset: str) -> None:
    """Every format exported, downloaded into the run's exports folder, and opened by its reader."""
    folder = loop.home / "exports"
    folder.mkdir(exist_ok=True)
    manager = loop.people["manager"]
    finals = {}
    for item in loop.truth:
        progress = manager.workflow.GetItemProgress(workflow_pb.GetItemProgressRequest(item_id=item))
        geometry = manager.annotation.GetItem(annotation_pb.GetItemRequest(item_id=item)).item.volume_ref.geometry
        finals[item] = int(mask_of(manager, progress.annotation_id, geometry, 1).sum())
    dciodvfy, darwin_py = export_checks.tool("dciodvfy"), export_checks.tool("darwin-py")
    for name, label_format in FORMATS.items():
        done = manager.export_labels(dataset, label_format)
        if done.job.state != job_pb2.JOB_STATE_SUCCEEDED:
            raise LoopFailed(f"the {name} export failed: {done.job.error}")
        archive = folder / f"{name.split()[0].lower()}.zip"
        with urllib.request.urlopen(done.download_url) as response:
            archive.write_bytes(response.read())
        files = export_checks.unpack(archive)
        checked = {"NIfTI": lambda: export_checks.nifti(files, finals),
                   "DICOM-SEG": lambda: export_checks.dicom_seg(files, dciodvfy),
                   "RTSTRUCT": lambda: export_checks.rtstruct(files, dciodvfy),
                   "COCO": lambda: export_checks.coco(files),
                   "Darwin JSON": lambda: export_checks.darwin(files, darwin_py)}[name]()
        loop.exports[name] = (archive, checked)
        print(f"{name}: {_shown(archive)} — {checked.finding} — {'ok' if checked.ok else 'FAILED'}")
    failed = [name for name, (_a, checked) in loop.exports.items() if not checked.ok]
    if failed:
        raise export_checks.CheckFailed(f"the readers refused the {', '.join(failed)} export(s); see above")


def report(loop: Loop, total_s: float) -> None:
    """The short report: items per stage, time per step, agreement, interpolation and model Dice, where things are."""
    print("items per stage: " + ", ".join(f"{s.stage_id} {s.items} (passed {s.passed}, disputed {s.disputed})"
                                          for s in loop.workflow_stats))
    print("time per step: " + "; ".join(f"{name} {seconds:.0f} s" for name, seconds in loop.timings) + f"; total {total_s:.0f} s")
    for result in loop.consensus:
        state = workflow_pb.ConsensusState.Name(result.state).removeprefix("CONSENSUS_STATE_").lower()
        print(f"consensus on item {result.item_id}: {state}; " + ", ".join(
            f"class {c.label_value} Dice {c.dice:.3f} HD95 {c.hd95_mm:.1f} mm" for c in result.classes))
    right = [r for r in loop.readings.values() if not r.wrong_organ]
    print(f"interpolation: {sum(r.filled for r in right)} slices filled from {sum(r.keys for r in right)} key slices by "
          f"{len(right)} readings (the liver reading left out); mean Dice on the filled slices against the full labels: "
          + "; ".join(f"{source} labels {np.mean(scores):.3f} ({len(scores)} readings)" for source, scores in _by_source(loop, right).items()))
    scores = {m.name: m.value for m in loop.model.metrics if m.label_value == 1}
    print(f"model {loop.model.model_id}: validation Dice {scores.get('dice', float('nan')):.3f}; its pre-label of the new "
          f"scan, Dice against the manual label {loop.prelabel_dice:.3f}")
    print(f"exports in {_shown(loop.home / 'exports')}: " + ", ".join(
        f"{name} {'ok' if checked.ok else 'FAILED'}" for name, (_archive, checked) in loop.exports.items()))
    print(f"metrics: http://127.0.0.1:{loop.stack.metrics_port}/metrics")
    annotator = issue_token(loop.key, subject="alice", role="annotator", tenant=TENANT)
    viewer = f"http://{loop.stack.http_addr}/viewer/"
    served = urllib.request.urlopen(viewer, timeout=10).read().decode()
    if "<html" not in served:
        raise LoopFailed(f"the web viewer is not served at {viewer}")
    print(f"web viewer (signed in as alice): {viewer}#token={annotator}")


def _by_source(loop: Loop, readings: list[Reading]) -> dict[str, list[float]]:
    """The readings' filled-slice Dice grouped by where their item's reference label came from."""
    found: dict[str, list[float]] = {}
    for reading in readings:
        found.setdefault(loop.truth[reading.item_id].source, []).append(reading.filled_dice)
    return found


def _shown(path: Path) -> Path:
    """A path as the user typed its folder: relative to the working directory when inside it."""
    return path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path


def _http_addr(wanted: str) -> str:
    """RADLAB_HTTP_ADDR (default 127.0.0.1:8000) when its port is free, else a free port (another stack may hold it)."""
    host, _, port = wanted.rpartition(":")
    with socket.socket() as probe:
        try:
            probe.bind((host or "127.0.0.1", int(port)))
            return wanted
        except OSError:
            return f"{host or '127.0.0.1'}:{free_port()}"


if __name__ == "__main__":
    sys.exit(main())
