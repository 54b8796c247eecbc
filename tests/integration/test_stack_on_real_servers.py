"""`radlab up` on Kafka, MinIO and PostgreSQL instead of the embedded adapters: the same flow works."""

from __future__ import annotations

import io
import urllib.request
import zipfile

import numpy as np

from radlab.annotation.v1 import annotation_service_pb2 as annotation
from radlab.client import Client
from radlab.ingestion.v1 import ingestion_service_pb2 as ingestion
from radlab.tokens import issue_token
from radlab.type.v1 import geometry_pb2
from radlab.type.v1 import label_pb2
from shared.stack import Stack
from tests.conftest import wait_until

KEY = "real-servers-test-signing-key-0123456789"


def test_a_dataset_gets_its_workflow_and_a_scan_its_volume_over_kafka_minio_and_postgresql(
    tmp_path, data_dir, kafka_url, minio_url, postgres_database_url
):
    """CreateDataset → outbox in PostgreSQL → Kafka → workflow's consumer group → workflow in PostgreSQL; then the
    tilted GE CT: UploadFiles → quarantine in MinIO → ScanUploaded on Kafka → anonymization → ScanAnonymized →
    ingestion builds the volume into MinIO (Zarr) and answers GetSlice from it."""
    env = {
        "RADLAB_BUS": f"{kafka_url}?session_timeout_ms=3000",
        "RADLAB_STORE": minio_url,
        "RADLAB_DB": postgres_database_url,
        "RADLAB_TOKEN_KEY": KEY,
    }
    with Stack(tmp_path, env=env) as stack:
        admin = issue_token(KEY, subject="ops", role="admin", tenant="hospital-real")
        with Client(stack.grpc_addr, admin) as client:
            assert set(client.health().values()) == {"SERVING"}
            dataset = client.create_dataset("CT on real servers")
            workflow = client.wait_for_workflow(dataset.dataset_id, timeout_s=60)
            assert [stage.stage_id for stage in workflow.stages] == ["annotate", "review", "complete"]
            assert [d.dataset_id for d in client.list_datasets()] == [dataset.dataset_id]

            upload = client.wait_for_upload(client.upload(data_dir / "dcm_qa_ct/In/GE", dataset.dataset_id).upload_id, timeout_s=120)
            assert (ingestion.UploadState.Name(upload.state), upload.failure_reason) == ("UPLOAD_STATE_COMPLETED", "")
            [volume_id] = upload.volume_ids
            volume = client.ingestion.GetVolume(ingestion.GetVolumeRequest(volume_id=volume_id)).volume
            issues = {issue.kind for issue in volume.volume_ref.geometry.issues}
            assert geometry_pb2.GEOMETRY_ISSUE_KIND_GANTRY_TILT in issues and volume.modality == "CT"
            png = client.ingestion.GetSlice(ingestion.GetSliceRequest(
                volume_id=volume_id, plane=geometry_pb2.PLANE_AXIAL, slice_index=10, format=ingestion.SLICE_FORMAT_PNG))
            assert png.data.startswith(b"\x89PNG") and list(png.shape) == list(volume.volume_ref.geometry.shape[1:])
            label_volume_on_real_servers(client, dataset.dataset_id, volume_id)
    assert stack.process.returncode == 0
    assert not (tmp_path / "db").exists() and not (tmp_path / "bus.sqlite").exists()


def label_volume_on_real_servers(client: Client, dataset_id: str, volume_id: str) -> None:
    """The volume's item; two key slices saved (masks in MinIO, versions in PostgreSQL), filled by interpolation over
    Kafka as version 2, submitted and exported as NIfTI through a MinIO presigned link."""
    [item] = client.wait_for_items(dataset_id, 1, timeout_s=60)
    assert item.volume_id == volume_id
    lesion = client.create_class(dataset_id, "lesion")
    slices, rows, columns = item.volume_ref.geometry.shape
    disk = np.hypot(*np.mgrid[:rows, :columns] - np.array([rows / 2, columns / 2])[:, None, None]) < 40
    keys = [label_pb2.SliceLabel(plane=geometry_pb2.PLANE_AXIAL, slice_index=k, label_value=lesion.value,
                                 provenance=label_pb2.SLICE_PROVENANCE_DRAWN,
                                 mask=label_pb2.SliceMask(rows=rows, columns=columns, encoding=label_pb2.MASK_ENCODING_RAW,
                                                          data=disk.astype(np.uint8).tobytes()))
            for k in (2, slices - 3)]
    saved = client.annotation.SaveKeySlices(annotation.SaveKeySlicesRequest(item_id=item.item_id, key_slices=keys))
    filled = wait_until(lambda: client.annotation.GetAnnotation(annotation.GetAnnotationRequest(
        annotation_id=saved.annotation_id)).annotation.version == 2 or None, "interpolation over Kafka", timeout_s=120)
    assert filled
    client.annotation.SubmitAnnotation(annotation.SubmitAnnotationRequest(annotation_id=saved.annotation_id, version=2))
    export = client.export_labels(dataset_id, annotation.LABEL_FORMAT_NIFTI)
    assert export.job.state == 3 and export.download_url.startswith("http"), export.job.error
    with urllib.request.urlopen(export.download_url) as response:
        archive = zipfile.ZipFile(io.BytesIO(response.read()))
    assert f"{item.item_id}/{saved.annotation_id}.nii.gz" in archive.namelist()
