"""The Radlab SDK: one authenticated channel to a Radlab deployment and a stub per service.

    from radlab.client import Client
    radlab = Client()                     # RADLAB_URL (default 127.0.0.1:50051), RADLAB_TOKEN
    dataset = radlab.create_dataset("chest CT")
    radlab.upload("study/", dataset.dataset_id)     # a file, a folder, a zip/tar or a DICOMDIR; resumes when broken
    radlab.annotation.ListDatasets(annotation_service_pb2.ListDatasetsRequest())   # any RPC, as a stub
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import os
import tarfile
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from radlab import HEALTH_REASON_TRAILER, SERVICE_NAMES
from radlab.annotation.v1 import annotation_service_pb2 as annotation_pb
from radlab.annotation.v1 import annotation_service_pb2_grpc as annotation_grpc
from radlab.anonymization.v1 import anonymization_service_pb2_grpc as anonymization_grpc
from radlab.ingestion.v1 import ingestion_service_pb2 as ingestion_pb
from radlab.ingestion.v1 import ingestion_service_pb2_grpc as ingestion_grpc
from radlab.interpolation.v1 import interpolation_service_pb2_grpc as interpolation_grpc
from radlab.training.v1 import training_service_pb2 as training_pb
from radlab.training.v1 import training_service_pb2_grpc as training_grpc
from radlab.workflow.v1 import workflow_service_pb2 as workflow_pb
from radlab.workflow.v1 import workflow_service_pb2_grpc as workflow_grpc

DEFAULT_URL = "127.0.0.1:50051"
UPLOAD_CHUNK_BYTES = 1 << 20
UPLOAD_ATTEMPTS = 5
# A stream that ends with one of these broke (network, server restart, store failure) and may have delivered part of
# the file: after a backoff the upload is looked up and resumed. Any other code is the server's refusal, raised at once,
# save two told apart by what the stream was doing rather than by their text: FAILED_PRECONDITION on a new upload is
# the one refusal of a dataset ingestion has not heard of yet (DatasetCreated reaches it a moment after CreateDataset
# returns), retried with the same backoff (6 s in all); on a resume it says the upload moved on (finished, failed,
# expired, or another stream got further), so it is looked up again and continued only if still RECEIVING, from the
# offset the server holds. PERMISSION_DENIED on a resume says the unfinished upload ListUploads found is another
# user's: a new upload of one's own is started instead.
_BROKEN = frozenset({
    grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.INTERNAL,
})
_FINISHED = (ingestion_pb.UPLOAD_STATE_COMPLETED, ingestion_pb.UPLOAD_STATE_FAILED, ingestion_pb.UPLOAD_STATE_EXPIRED)
Progress = Callable[[int, int], None]


class ConfigurationError(RuntimeError):
    """The SDK was not told where Radlab is or who is calling."""


class UploadFailed(RuntimeError):
    """The server took the bytes but refused the upload (checksum, unsafe archive, no images); the message says why."""


class _Credentials(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor,
                   grpc.StreamUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
    """Adds the bearer token and a trace id to every call."""

    def __init__(self, token: str):
        self._token = token

    def _details(self, details):
        metadata = list(details.metadata or [])
        metadata.append(("authorization", f"Bearer {self._token}"))
        if not any(key == "x-radlab-trace-id" for key, _ in metadata):
            metadata.append(("x-radlab-trace-id", uuid.uuid4().hex))
        return _CallDetails(
            details.method, details.timeout, metadata, details.credentials,
            getattr(details, "wait_for_ready", None), getattr(details, "compression", None),
        )

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation, details, request):
        return continuation(self._details(details), request)

    def intercept_stream_unary(self, continuation, details, request_iterator):
        return continuation(self._details(details), request_iterator)

    def intercept_stream_stream(self, continuation, details, request_iterator):
        return continuation(self._details(details), request_iterator)


class _CallDetails(
    collections.namedtuple("_CallDetails", ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression")),
    grpc.ClientCallDetails,
):
    pass


class Client:
    """Stubs for every service (`client.annotation`, `client.workflow`, …) plus a few conveniences."""

    def __init__(self, url: str | None = None, token: str | None = None):
        self.url = url or os.environ.get("RADLAB_URL") or DEFAULT_URL
        token = token or os.environ.get("RADLAB_TOKEN")
        if not token:
            raise ConfigurationError("no token: set RADLAB_TOKEN (an admin makes one with `radlab token create`)")
        self._raw_channel = grpc.insecure_channel(self.url)
        self.channel = grpc.intercept_channel(self._raw_channel, _Credentials(token))
        self.ingestion = ingestion_grpc.IngestionServiceStub(self.channel)
        self.anonymization = anonymization_grpc.AnonymizationServiceStub(self.channel)
        self.annotation = annotation_grpc.AnnotationServiceStub(self.channel)
        self.workflow = workflow_grpc.WorkflowServiceStub(self.channel)
        self.interpolation = interpolation_grpc.InterpolationServiceStub(self.channel)
        self.training = training_grpc.TrainingServiceStub(self.channel)
        self._health = health_pb2_grpc.HealthStub(self._raw_channel)

    def close(self) -> None:
        self._raw_channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def health(self, timeout_s: float = 5.0) -> dict[str, str]:
        """Serving status of each service, by short name (SERVING, NOT_SERVING, …)."""
        return {short: status for short, (status, _reason) in self.health_reasons(timeout_s).items()}

    def health_reasons(self, timeout_s: float = 5.0) -> dict[str, tuple[str, str]]:
        """Serving status of each service, by short name, with why it is not serving ("" when it is, or when the
        server does not say), e.g. ("NOT_SERVING", "database unreachable")."""
        statuses = {}
        for short, full in SERVICE_NAMES.items():
            try:
                response, call = self._health.Check.with_call(health_pb2.HealthCheckRequest(service=full), timeout=timeout_s)
                reason = dict(call.trailing_metadata() or ()).get(HEALTH_REASON_TRAILER, "")
                statuses[short] = (health_pb2.HealthCheckResponse.ServingStatus.Name(response.status), reason)
            except grpc.RpcError as error:
                statuses[short] = (error.code().name, "")
        return statuses

    def create_dataset(self, name: str, description: str = "", dataset_id: str = "") -> annotation_pb.Dataset:
        """A new dataset; its id (chosen here as a UUID, or by Radlab when empty) names the dataset in uploads."""
        request = annotation_pb.CreateDatasetRequest(name=name, description=description, dataset_id=dataset_id)
        return self.annotation.CreateDataset(request).dataset

    def list_datasets(self) -> list[annotation_pb.Dataset]:
        """Every dataset the caller may see, across pages."""
        datasets, token = [], ""
        while True:
            page = self.annotation.ListDatasets(annotation_pb.ListDatasetsRequest(page_size=100, page_token=token))
            datasets.extend(page.datasets)
            token = page.next_page_token
            if not token:
                return datasets

    def create_class(self, dataset_id: str, name: str, value: int = 0, color: str = "",
                     class_type: int = annotation_pb.LABEL_CLASS_TYPE_SEGMENTATION_3D) -> annotation_pb.LabelClass:
        """A label class; value 0 takes the next free one, and its codes come from the built-in list by name."""
        request = annotation_pb.CreateLabelClassRequest(dataset_id=dataset_id, name=name, value=value, color=color, type=class_type)
        return self.annotation.CreateLabelClass(request).label_class

    def list_classes(self, dataset_id: str) -> list[annotation_pb.LabelClass]:
        return _all(lambda token: self.annotation.ListLabelClasses(
            annotation_pb.ListLabelClassesRequest(dataset_id=dataset_id, page_size=1000, page_token=token)), "label_classes")

    def list_items(self, dataset_id: str, **filters) -> list[annotation_pb.Item]:
        """Every item of the dataset matching the filters (ListItemsRequest fields: folder_id, tag, modality, body_part, text,
        label_value, create_after, create_before, newest_first), across pages."""
        return _all(lambda token: self.annotation.ListItems(
            annotation_pb.ListItemsRequest(dataset_id=dataset_id, page_size=1000, page_token=token, **filters)), "items")

    def wait_for_items(self, dataset_id: str, count: int, timeout_s: float = 120.0) -> list[annotation_pb.Item]:
        """The dataset's items, once there are at least `count` (items follow VolumeReady)."""
        deadline = time.monotonic() + timeout_s
        while True:
            found = self.list_items(dataset_id)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(found)} of {count} items in dataset {dataset_id} after {timeout_s:.0f} s")
            time.sleep(0.2)

    def import_labels(self, item_id: str, path: str | Path, label_format: int = 0, *, annotation_id: str = "",
                      base_version: int = 0, mapping: dict[str, int] | None = None,
                      create_missing_classes: bool = False) -> annotation_pb.ImportLabelsResponse:
        """Import a label file onto an item as a new annotation version; the format goes by the file name when 0."""
        path = Path(path)
        request = annotation_pb.ImportLabelsRequest(
            item_id=item_id, annotation_id=annotation_id, base_version=base_version,
            format=label_format or label_format_of(path.name), data=path.read_bytes(), file_name=path.name,
            label_mapping=mapping or {}, create_missing_classes=create_missing_classes)
        return self.annotation.ImportLabels(request)

    def export_labels(self, dataset_id: str, label_format: int, progress: Callable[[float, str], None] | None = None,
                      timeout_s: float = 3600.0, **options) -> annotation_pb.Export:
        """Start an export and wait for it to end, reporting (percent done, step); returns the finished export."""
        export = self.annotation.StartExport(annotation_pb.StartExportRequest(dataset_id=dataset_id, format=label_format, **options)).export
        deadline = time.monotonic() + timeout_s
        while export.job.state in (1, 2):  # QUEUED, RUNNING
            if progress:
                progress(export.job.percent_done, export.job.message)
            if time.monotonic() > deadline:
                raise TimeoutError(f"export {export.export_id} still running after {timeout_s:.0f} s")
            time.sleep(0.2)
            export = self.annotation.GetExport(annotation_pb.GetExportRequest(export_id=export.export_id)).export
        if progress:
            progress(export.job.percent_done, export.job.message)
        return export

    def train(self, dataset_id: str, *, model_kind: str = "", item_ids: list[str] | None = None,
              label_values: list[int] | None = None, max_epochs: int = 0, validation_fraction: float = 0.0,
              gpu_count: int = 0, require_gpu: bool = False,
              hyperparameters: dict[str, str] | None = None) -> training_pb.TrainingRun:
        """Start a training run on the dataset's items with submitted labels (or those named); returns it queued."""
        config = training_pb.TrainingConfig(max_epochs=max_epochs, validation_fraction=validation_fraction,
                                            gpu_count=gpu_count, require_gpu=require_gpu,
                                            hyperparameters=hyperparameters or {})
        return self.training.StartTrainingRun(training_pb.StartTrainingRunRequest(
            dataset_id=dataset_id, model_kind=model_kind, item_ids=item_ids or [], label_values=label_values or [],
            config=config)).training_run

    def wait_for_run(self, run_id: str, progress: Callable[[training_pb.TrainingRun], None] | None = None,
                     timeout_s: float = 3600.0) -> training_pb.TrainingRun:
        """Poll a run until it ends, handing each look at it to `progress`; returns the ended run."""
        return _wait(lambda: self.training.GetTrainingRun(training_pb.GetTrainingRunRequest(run_id=run_id)).training_run,
                     progress, timeout_s, f"training run {run_id}")

    def rank(self, dataset_id: str, model_id: str = "", timeout_s: float = 3600.0) -> training_pb.Ranking:
        """Rank the dataset's unlabelled items by the model's (default: the promoted model's) uncertainty; waits."""
        ranking_id = self.training.StartRanking(training_pb.StartRankingRequest(dataset_id=dataset_id, model_id=model_id)
                                                ).ranking.ranking_id
        return _wait(lambda: self.training.GetRanking(training_pb.GetRankingRequest(ranking_id=ranking_id)).ranking,
                     None, timeout_s, f"ranking {ranking_id}")

    def predict(self, model_id: str, item_id: str, timeout_s: float = 600.0) -> training_pb.Prediction:
        """Run a model on an item (its result becomes an annotation of the item) and wait for it to end."""
        started = self.training.StartPrediction(training_pb.StartPredictionRequest(model_id=model_id, item_id=item_id))
        prediction_id = started.prediction.prediction_id
        return _wait(lambda: self.training.GetPrediction(training_pb.GetPredictionRequest(prediction_id=prediction_id)).prediction,
                     None, timeout_s, f"prediction {prediction_id}")

    def audit_events(self, dataset_id: str = "") -> list[annotation_pb.AuditEvent]:
        return _all(lambda token: self.annotation.ListAuditEvents(
            annotation_pb.ListAuditEventsRequest(dataset_id=dataset_id, page_size=1000, page_token=token)), "audit_events")

    def wait_for_workflow(self, dataset_id: str, timeout_s: float = 30.0) -> workflow_pb.Workflow:
        """The dataset's workflow, once the workflow service has set it up (it follows DatasetCreated)."""
        deadline = time.monotonic() + timeout_s
        while True:
            found = self.workflow.ListWorkflows(workflow_pb.ListWorkflowsRequest(dataset_id=dataset_id)).workflows
            if found:
                return found[0]
            if time.monotonic() > deadline:
                raise TimeoutError(f"no workflow for dataset {dataset_id} after {timeout_s:.0f} s")
            time.sleep(0.1)

    def list_tasks(self, **filters) -> list[workflow_pb.Task]:
        """Tasks (ListTasksRequest fields: workflow_id, dataset_id, assignee ("me"), stage_id, stage_kind, state,
        item_id), across pages: managers see all; others their own and those they may claim."""
        return _all(lambda token: self.workflow.ListTasks(
            workflow_pb.ListTasksRequest(page_size=1000, page_token=token, **filters)), "tasks")

    def claim_task(self, *, task_id: str = "", workflow_id: str = "", stage_id: str = "",
                   timeout_s: float = 30.0) -> workflow_pb.Task:
        """Claim a task (the one named, or the next one of the workflow/stage), and return once annotation lets the
        claimant see its item (it learns of the claim through TaskAssigned, a moment later). A claim whose answer is
        lost on the way is found again among the caller's tasks, so it is never held without the caller knowing."""
        mine = {"assignee": "me", "state": workflow_pb.TASK_STATE_ASSIGNED}
        held = {task.task_id for task in self.list_tasks(workflow_id=workflow_id, stage_id=stage_id, **mine)}
        try:
            task = self.workflow.ClaimTask(workflow_pb.ClaimTaskRequest(task_id=task_id, workflow_id=workflow_id,
                                                                        stage_id=stage_id)).task
        except grpc.RpcError as error:
            if error.code() not in _BROKEN:
                raise
            gained = [task for task in self.list_tasks(workflow_id=workflow_id, stage_id=stage_id, **mine)
                      if task.task_id not in held and task.task_id == (task_id or task.task_id)]
            if not gained:
                raise
            task = gained[0]
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self.annotation.GetItem(annotation_pb.GetItemRequest(item_id=task.item_id))
                return task
            except grpc.RpcError as error:
                if error.code() is not grpc.StatusCode.PERMISSION_DENIED or time.monotonic() > deadline:
                    raise
            time.sleep(0.05)

    def upload(
        self, path: str | Path, dataset_id: str, progress: Progress | None = None, chunk_size: int = UPLOAD_CHUNK_BYTES
    ) -> ingestion_pb.Upload:
        """Upload a DICOM or NIfTI file, a zip or tar(.gz), a folder (sent as a tar) or a DICOMDIR (the files it lists).

        `progress(sent_bytes, total_bytes)` is called as chunks go out. A broken stream, or an earlier run of the
        same file that broke, is resumed from the offset the server holds; a dataset created a moment ago is waited for
        (a few seconds) until ingestion knows it. Returns the upload once handed on to anonymization; raises UploadFailed
        when the server refuses the file, grpc.RpcError (FAILED_PRECONDITION) when ingestion does not know the dataset.
        """
        with _upload_source(Path(path)) as (file, name):
            size, sha256 = _measure(file)
            upload = self._receiving_upload(dataset_id, sha256, size)
            for attempt in range(1, UPLOAD_ATTEMPTS + 1):
                if upload is not None and upload.state != ingestion_pb.UPLOAD_STATE_RECEIVING:
                    break
                metadata = ingestion_pb.UploadMetadata(
                    dataset_id=dataset_id, file_name=name, total_size=size, sha256=sha256,
                    resume_upload_id=upload.upload_id if upload else "", offset=upload.bytes_received if upload else 0,
                )
                try:
                    response = self.ingestion.UploadFiles(_upload_stream(file, metadata, chunk_size, progress))
                except grpc.RpcError as error:
                    code, resuming = error.code(), upload is not None
                    if attempt == UPLOAD_ATTEMPTS:
                        raise
                    if code in _BROKEN or (code == grpc.StatusCode.FAILED_PRECONDITION and not resuming):
                        time.sleep(0.2 * 2**attempt)
                    elif code == grpc.StatusCode.PERMISSION_DENIED and resuming:
                        upload = None  # another user's upload of this file: start one's own
                        continue
                    elif code != grpc.StatusCode.FAILED_PRECONDITION:
                        raise
                    upload = self._upload(upload.upload_id) if upload else self._receiving_upload(dataset_id, sha256, size)
                    continue
                upload = self._upload(response.upload_id)
        if upload.state == ingestion_pb.UPLOAD_STATE_RECEIVING:
            raise UploadFailed(f"upload {upload.upload_id} is still incomplete after {UPLOAD_ATTEMPTS} streams; run it again to resume")
        if upload.state == ingestion_pb.UPLOAD_STATE_FAILED:
            raise UploadFailed(f"upload {upload.upload_id} failed: {upload.failure_reason}")
        return upload

    def wait_for_upload(self, upload_id: str, timeout_s: float = 600.0) -> ingestion_pb.Upload:
        """The upload once its volumes are built (COMPLETED) or it failed; polls GetUpload."""
        deadline = time.monotonic() + timeout_s
        while True:
            upload = self._upload(upload_id)
            if upload.state in _FINISHED:
                return upload
            if time.monotonic() > deadline:
                raise TimeoutError(f"upload {upload_id} is still {ingestion_pb.UploadState.Name(upload.state)} after {timeout_s:.0f} s")
            time.sleep(0.2)

    def _upload(self, upload_id: str) -> ingestion_pb.Upload:
        return self.ingestion.GetUpload(ingestion_pb.GetUploadRequest(upload_id=upload_id)).upload

    def _receiving_upload(self, dataset_id: str, sha256: str, size: int) -> ingestion_pb.Upload | None:
        """The newest unfinished upload of this very file into this dataset, to resume instead of starting over."""
        request = ingestion_pb.ListUploadsRequest(dataset_id=dataset_id, state=ingestion_pb.UPLOAD_STATE_RECEIVING, page_size=100)
        for upload in self.ingestion.ListUploads(request).uploads:
            if upload.sha256 == sha256 and upload.total_size == size:
                return upload
        return None


def _upload_stream(file: BinaryIO, metadata: ingestion_pb.UploadMetadata, chunk_size: int, progress: Progress | None):
    yield ingestion_pb.UploadFilesRequest(metadata=metadata)
    sent = metadata.offset
    file.seek(sent)
    if progress:
        progress(sent, metadata.total_size)
    while chunk := file.read(chunk_size):
        yield ingestion_pb.UploadFilesRequest(chunk=chunk)
        sent += len(chunk)
        if progress:
            progress(sent, metadata.total_size)


def _measure(file: BinaryIO) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    file.seek(0)
    while chunk := file.read(UPLOAD_CHUNK_BYTES):
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


@contextlib.contextmanager
def _upload_source(path: Path) -> Iterator[tuple[BinaryIO, str]]:
    """The bytes to send and a name for them: the file itself, or a tar (in a temporary file) of a folder or a DICOMDIR's files."""
    if path.is_dir():
        files = sorted(child for child in path.rglob("*") if child.is_file())
        if not files:
            raise FileNotFoundError(f"{path} holds no files; name a folder of DICOM or NIfTI files")
    elif path.name.upper() == "DICOMDIR":
        files = _dicomdir_files(path)
    elif path.is_file():
        with path.open("rb") as file:
            yield file, path.name
        return
    else:
        raise FileNotFoundError(f"{path} does not exist; name a file, a folder or a DICOMDIR")
    with tempfile.TemporaryFile() as packed:
        with tarfile.open(fileobj=packed, mode="w") as archive:
            for number, source in enumerate(files, 1):
                # Members are named by position: file names may hold PHI, and the server tells kinds by content.
                info = tarfile.TarInfo(f"{number:06d}")
                info.size = source.stat().st_size
                with source.open("rb") as content:
                    archive.addfile(info, content)
        yield packed, f"{path.name}.tar"


def _dicomdir_files(path: Path) -> list[Path]:
    """The files a DICOMDIR lists (Referenced File IDs, relative to its folder)."""
    try:
        import pydicom
        from pydicom.errors import InvalidDicomError
    except ModuleNotFoundError:
        raise ConfigurationError(
            f"{path} is a DICOMDIR, and reading one needs pydicom: pip install 'radlab[dicomdir]' (or upload its folder)"
        ) from None

    try:
        directory = pydicom.dcmread(path)
    except (InvalidDicomError, EOFError):
        raise ValueError(f"{path} is not a readable DICOMDIR; upload the folder of DICOM files instead") from None
    files = []
    for record in directory.get("DirectoryRecordSequence", []):
        if "ReferencedFileID" in record:
            parts = record.ReferencedFileID
            file = path.parent.joinpath(*([parts] if isinstance(parts, str) else list(parts)))
            if not file.is_file():
                raise FileNotFoundError(f"{path} lists {file}, which is missing; copy the whole media folder and upload it again")
            files.append(file)
    if not files:
        raise FileNotFoundError(f"{path} lists no files; upload the folder of DICOM files instead")
    return files


def _all(page: Callable[[str], object], field: str) -> list:
    """Every entry of a List RPC, across its pages."""
    found, token = [], ""
    while True:
        response = page(token)
        found.extend(getattr(response, field))
        token = response.next_page_token
        if not token:
            return found


def _wait(look: Callable[[], object], progress: Callable | None, timeout_s: float, what: str):
    """Look at a job's resource until its job has ended (not QUEUED or RUNNING)."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = look()
        if progress:
            progress(found)
        if found.job.state not in (1, 2):  # QUEUED, RUNNING
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} still running after {timeout_s:.0f} s")
        time.sleep(0.5)


def label_format_of(name: str) -> int:
    """The label format a file name says: .nii/.nii.gz NIfTI, .json Darwin (COCO when named coco*.json or *.coco.json),
    .dcm DICOM-SEG unless the name says RTSTRUCT (rt*, *rtstruct*)."""
    lower = name.lower()
    if lower.endswith((".nii", ".nii.gz")):
        return annotation_pb.LABEL_FORMAT_NIFTI
    if lower.endswith(".json"):
        return annotation_pb.LABEL_FORMAT_COCO if "coco" in lower else annotation_pb.LABEL_FORMAT_DARWIN
    if lower.endswith(".dcm"):
        rt = "rtstruct" in lower or Path(lower).name.startswith("rt")
        return annotation_pb.LABEL_FORMAT_RTSTRUCT if rt else annotation_pb.LABEL_FORMAT_DICOM_SEG
    raise ValueError(f"cannot tell the label format of {name!r} from its name; give it (nifti, seg, rtstruct, coco, darwin)")
