"""`make run`: start the embedded stack, push real scans through it with the SDK, fill a label map, show where the web
viewer is, and in a terminal keep serving until Ctrl-C (`--no-wait`, or no terminal as in CI: stop)."""

from __future__ import annotations

import socket
import sys
import time
import urllib.request
from pathlib import Path

import grpc
import numpy as np

from radlab.client import Client
from radlab.ingestion.v1 import ingestion_service_pb2 as ingestion_pb
from radlab.tokens import issue_token, token_key
from radlab.type.v1 import geometry_pb2
from shared.config import Settings, data_dir
from shared.grid import plane_axis
from shared.stack import Stack, free_port

# Real scans in RADLAB_DATA (the repository's data/): a 196-slice MR and a GE CT with gantry tilt and uneven gaps.
SCANS = {"MR, 196 slices": "dcm_qa_deident/In", "CT with gantry tilt": "dcm_qa_ct/In/GE"}
SPLEEN = ("ivadomed_spleen/ct_scan/sub-spleen2/ct/sub-spleen2_ct.nii.gz",
          "ivadomed_spleen/ct_scan/derivatives/labels/sub-spleen2/ct/sub-spleen2_ct_seg-manual.nii.gz")


def main() -> int:
    settings = Settings.from_env()
    data = data_dir()
    if not data.is_dir():
        print(f"real data not found at {data}: set RADLAB_DATA to a copy of the repository's data/ folder", file=sys.stderr)
        return 2
    print(f"starting radlab up (state in {settings.home}) ...", flush=True)
    with Stack(settings.home, env={"RADLAB_HTTP_ADDR": _http_addr(settings.http_addr)}) as stack:
        print(f"serving gRPC on {stack.grpc_addr}, metrics on :{stack.metrics_port}, HTTP on {stack.http_addr}")
        key = token_key(settings.home, settings.token_key)
        admin = issue_token(key, subject="make-run", role="admin", tenant="default")
        with Client(stack.grpc_addr, admin) as client:
            statuses = client.health()
            print("health:", ", ".join(f"{name} {status}" for name, status in statuses.items()))
            started = time.perf_counter()
            dataset = client.create_dataset(f"make run {time.strftime('%Y-%m-%d %H:%M:%S')}", "real scans from RADLAB_DATA")
            workflow = client.wait_for_workflow(dataset.dataset_id)
            stages = " → ".join(stage.stage_id for stage in workflow.stages)
            print(f"dataset {dataset.dataset_id} created; workflow [{stages}] set up from DatasetCreated "
                  f"in {(time.perf_counter() - started) * 1000:.0f} ms")
            volumes = [volume for name, folder in SCANS.items() for volume in _ingest(client, dataset.dataset_id, name, data / folder)]
            previews = _preview(client, volumes, settings.home / "run")
        with Client(stack.grpc_addr, "not-a-token") as stranger:
            try:
                stranger.list_datasets()
                refused = "NOT refused"
            except grpc.RpcError as error:
                refused = error.code().name
            print(f"a call with an invalid token: {refused}")
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{stack.metrics_port}/metrics", timeout=5).read().decode()
        handled = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines() if line.startswith("radlab_events_handled_total{"))
        print(f"metrics: {handled:.0f} events handled")
        dice = _interpolate(data)
        annotator = issue_token(key, subject="make-run-annotator", role="annotator", tenant="default")
        viewer = f"http://{stack.http_addr}/viewer/"
        served = urllib.request.urlopen(viewer, timeout=10).read().decode()
        print(f"web viewer: {viewer}#token={annotator}" if "<html" in served else f"web viewer NOT served at {viewer}")
        if "--no-wait" not in sys.argv and sys.stdin.isatty():
            print("serving until Ctrl-C (open the viewer above; `make run ARGS=--no-wait` stops at once) ...", flush=True)
            try:
                while stack.process.poll() is None:
                    time.sleep(1)
            except KeyboardInterrupt:
                print()
    ok = (all(status == "SERVING" for status in statuses.values()) and refused == "UNAUTHENTICATED"
          and len(volumes) == len(SCANS) and previews and dice > 0.9 and "<html" in served)
    print("make run:", "OK" if ok else "FAILED")
    return 0 if ok else 1


def _http_addr(wanted: str) -> str:
    """RADLAB_HTTP_ADDR (default 127.0.0.1:8000) when its port is free, else a free port (another stack may hold it)."""
    host, _, port = wanted.rpartition(":")
    with socket.socket() as probe:
        try:
            probe.bind((host or "127.0.0.1", int(port)))
            return wanted
        except OSError:
            return f"{host or '127.0.0.1'}:{free_port()}"


def _ingest(client: Client, dataset_id: str, name: str, folder: Path) -> list[ingestion_pb.Volume]:
    """Upload a folder, wait for anonymization and ingestion, and describe the volumes it became."""
    files = sum(1 for path in folder.rglob("*") if path.is_file())
    started = time.perf_counter()
    upload = client.wait_for_upload(client.upload(folder, dataset_id).upload_id)
    state = ingestion_pb.UploadState.Name(upload.state).removeprefix("UPLOAD_STATE_")
    print(f"{name}: {files} files uploaded, de-identified and built in {time.perf_counter() - started:.1f} s → {state}"
          + (f" ({upload.failure_reason})" if upload.failure_reason else ""))
    volumes = [client.ingestion.GetVolume(ingestion_pb.GetVolumeRequest(volume_id=volume_id)).volume for volume_id in upload.volume_ids]
    for volume in volumes:
        geometry = volume.volume_ref.geometry
        shape = "×".join(str(n) for n in geometry.shape)
        spacing = " × ".join(f"{mm:.2f}" for mm in geometry.spacing)
        print(f"  volume {volume.volume_ref.volume_id}: {volume.modality} {shape} voxels, {spacing} mm, "
              f"values {volume.min_value:g}..{volume.max_value:g}")
        for issue in geometry.issues:
            print(f"    {geometry_pb2.GeometryIssueKind.Name(issue.kind).removeprefix('GEOMETRY_ISSUE_KIND_').lower()}: {issue.message}")
    return volumes


def _preview(client: Client, volumes: list[ingestion_pb.Volume], folder: Path) -> list[Path]:
    """Write a windowed PNG of each volume's middle slice in all three planes, as a viewer would fetch them."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for volume in volumes:
        for plane in (geometry_pb2.PLANE_AXIAL, geometry_pb2.PLANE_CORONAL, geometry_pb2.PLANE_SAGITTAL):
            middle = _middle_index(volume, plane)
            png = client.ingestion.GetSlice(ingestion_pb.GetSliceRequest(
                volume_id=volume.volume_ref.volume_id, plane=plane, slice_index=middle, format=ingestion_pb.SLICE_FORMAT_PNG))
            path = folder / f"{volume.volume_ref.volume_id}-{geometry_pb2.Plane.Name(plane).removeprefix('PLANE_').lower()}.png"
            path.write_bytes(png.data)
            written.append(path)
    print(f"slices: {len(written)} windowed PNGs (middle slice, three planes per volume) in {folder}")
    return written


def _middle_index(volume: ingestion_pb.Volume, plane: int) -> int:
    affine = np.asarray(volume.volume_ref.geometry.affine, dtype=float).reshape(4, 4)
    axis = plane_axis(affine, geometry_pb2.Plane.Name(plane).removeprefix("PLANE_").lower())
    return volume.volume_ref.geometry.shape[axis] // 2


def _interpolate(data: Path) -> float:
    """Keep every third slice of the spleen's manual label as key slices, fill the rest from the image, score them."""
    from services.interpolation.domain.fill import fill, keys_from_slices
    from shared.agreement import dice
    from shared.grid import array_spacing
    from shared.volumes import from_nifti

    image, affine = from_nifti(data / SPLEEN[0])
    truth, _ = from_nifti(data / SPLEEN[1])
    truth = truth.astype(np.uint8)
    spacing = array_spacing(affine)
    axis = int(np.argmax(spacing))
    labelled = np.flatnonzero(truth.any(axis=tuple(a for a in range(3) if a != axis)))
    keys = sorted({*labelled[::3].tolist(), int(labelled[-1])})
    started = time.perf_counter()
    filled = fill(np.where(np.isin(np.arange(truth.shape[axis]), keys).reshape([-1 if a == axis else 1 for a in range(3)]), truth, 0),
                  keys_from_slices(truth, keys, axis), axis=axis, image=image, spacing=spacing)
    elapsed = time.perf_counter() - started
    held_out = [index for index in range(keys[0], keys[-1]) if index not in keys]
    score = dice(np.take(filled.labels, held_out, axis=axis) > 0, np.take(truth, held_out, axis=axis) > 0)
    print(f"interpolation: spleen CT, {len(keys)} key slices of {len(labelled)} labelled, {len(held_out)} filled "
          f"({filled.method.name.lower()}) in {elapsed:.1f} s, Dice on the filled slices {score:.3f}")
    return score


if __name__ == "__main__":
    sys.exit(main())
