"""Ingestion benchmark: volume building against dcm2niix (3D, 4D, mosaics; speed and peak memory), GetSlice latency
through `radlab up`, upload throughput."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pydicom
from pydicom.uid import generate_uid

from radlab.client import Client
from radlab.ingestion.v1 import ingestion_service_pb2 as pb
from radlab.tokens import issue_token, token_key
from radlab.type.v1 import geometry_pb2
from services.ingestion.domain import slices
from services.ingestion.cli import read_instances
from services.ingestion.domain.volume import Volume, build_volumes
from shared import config, objectstore
from shared.grid import plane_axis
from shared.stack import Stack
from shared.volume_store import VolumeStore
from shared.volumes import to_nifti

REPO = Path(__file__).resolve().parents[1]
SERIES = {
    "MR, 196 slices, uncompressed": "dcm_qa_deident/In",
    "CT, 20 slices, JPEG 2000": "totalsegmentator/tests/reference_files/example_ct_dicom",
    "CT, 28 slices, gantry tilt": "dcm_qa_ct/In/GE",
    "MR 4D, 128 files, 16 × 8, GE": "dcm_qa_stc/In/GE/TriggerTime/4_epi_ascending",
    "MR mosaics, 6 files, 6 × 36, Siemens": "dcm_qa_mosaic/In/ep2d_Asc_2",
    "MR mosaics, 6 files, 6 × 40, Siemens": "dcm_qa_mosaic/In/cmrr_Int_8",
}
# The generated 4D series: the real MR's first slice as POINTS × SLICES instances (time points of a stack).
GENERATED_4D = (20, 300)
MEMORY_GOAL = 2.0  # peak memory of the build above the interpreter's own, × the 4D array
REPEATS = 7  # interleaved runs of each tool per series
BUILD_GOAL = 0.7  # × dcm2niix's slices/s
WARM_P99_GOAL_MS = 30.0
SLICE_VOLUME = (300, 512, 512)
WARM_REQUESTS = 100
TENANT = "bench"
PLANES = {"axial": geometry_pb2.PLANE_AXIAL, "coronal": geometry_pb2.PLANE_CORONAL, "sagittal": geometry_pb2.PLANE_SAGITTAL}


@dataclass(frozen=True)
class Latency:
    """One plane's slice times in ms: the first (cold) request, then warm p50 / p99."""

    cold_ms: float
    p50_ms: float
    p99_ms: float


def data_dir() -> Path:
    path = config.data_dir()
    if not path.is_dir():
        raise FileNotFoundError(f"real data not found at {path}: set RADLAB_DATA to a copy of the repository's data/ folder")
    return path


def dcm2niix_path() -> str:
    found = subprocess.run([str(REPO / "scripts" / "tools.sh"), "dcm2niix"], capture_output=True, text=True, timeout=600, check=True)
    return found.stdout.strip().splitlines()[-1]


def seconds(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def build_in_process(folder: Path) -> list:
    """What ingestion does with a series' files: read, parse, group, build (no storage)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_volumes(read_instances(sorted(path for path in folder.iterdir() if path.is_file()))[0])


def build_with_dcm2niix(dcm2niix: str, folder: Path, out: Path) -> None:
    subprocess.run([dcm2niix, "-z", "n", "-b", "n", "-f", "ref", "-o", str(out), str(folder)], capture_output=True, check=True)


@dataclass(frozen=True)
class Speed:
    """One series' build speed in slices/s over REPEATS interleaved runs of each tool: the best run and the median."""

    slices: int
    ours_best: float
    ours_median: float
    theirs_best: float
    theirs_median: float


def build_speed(data: Path, dcm2niix: str) -> dict[str, Speed]:
    """Per series, radlab and dcm2niix timed in turn REPEATS times (after one untimed run of each), so that load
    from elsewhere on a shared machine falls on both alike; the best run is the one least disturbed."""
    speeds = {}
    for name, relative in SERIES.items():
        folder = data / relative
        slices_in = sum(1 for path in folder.iterdir() if path.is_file())
        with tempfile.TemporaryDirectory() as out:
            ours, theirs = partial(build_in_process, folder), partial(build_with_dcm2niix, dcm2niix, folder, Path(out))
            ours()  # both warmed untimed: imports, decoders, the page cache
            theirs()
            times = [(seconds(ours), seconds(theirs)) for _ in range(REPEATS)]
        radlab, dcm = (np.array(column) for column in zip(*times))
        speeds[name] = Speed(
            slices_in, slices_in / radlab.min(), slices_in / float(np.median(radlab)), slices_in / dcm.min(), slices_in / float(np.median(dcm)),
        )
    return speeds


def generated_4d(data: Path, out: Path) -> int:
    """Write GENERATED_4D's points × slices instances of the MR's first slice (256², int16) into `out`, one series
    ordered by Temporal Position Identifier; returns the 4D array's bytes."""
    template = pydicom.dcmread(sorted((data / SERIES["MR, 196 slices, uncompressed"]).iterdir())[0])
    points, stack = GENERATED_4D
    normal = np.cross(*np.reshape([float(v) for v in template.ImageOrientationPatient], (2, 3)))
    origin = np.array([float(v) for v in template.ImagePositionPatient])
    series = generate_uid()
    for point in range(points):
        for k in range(stack):
            template.SeriesInstanceUID = series
            template.SOPInstanceUID = template.file_meta.MediaStorageSOPInstanceUID = generate_uid()
            template.ImagePositionPatient = [f"{v:.4f}" for v in origin + 1.5 * k * normal]
            template.TemporalPositionIdentifier, template.NumberOfTemporalPositions = point + 1, points
            template.InstanceNumber = point * stack + k + 1
            template.save_as(out / f"{point:03d}_{k:04d}.dcm", enforce_file_format=True)
    return points * stack * int(template.Rows) * int(template.Columns) * 2


_PEAK_PROBE = """
import sys, warnings
from pathlib import Path
warnings.simplefilter("ignore")
from services.ingestion.cli import read_instances
from services.ingestion.domain.volume import build_volumes
def high_water():
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:")) * 1024
base = high_water()
(volume,) = build_volumes(read_instances(sorted(Path(sys.argv[1]).iterdir()))[0])
print(base, high_water(), volume.data.nbytes)
"""


def peak_memory(folder: Path, dcm2niix: str) -> tuple[int, int, int]:
    """(radlab's peak memory above its interpreter and imports, dcm2niix's peak memory, the 4D array's bytes), each
    in a process of its own: radlab's from its VmHWM, dcm2niix's from wait4's ru_maxrss of a posix_spawn-ed process
    (spawned, not forked, so this process's size does not count in it)."""
    done = subprocess.run([sys.executable, "-c", _PEAK_PROBE, str(folder)], capture_output=True, text=True, check=True, cwd=REPO)
    base, peak, array = (int(value) for value in done.stdout.split())
    with tempfile.TemporaryDirectory() as out:
        pid = os.posix_spawn(dcm2niix, [dcm2niix, "-z", "n", "-b", "n", "-f", "ref", "-o", out, str(folder)], os.environ,
                             file_actions=[(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)])
        _, status, usage = os.wait4(pid, 0)
    if status:
        raise RuntimeError(f"dcm2niix failed on {folder} (status {status})")
    return peak - base, usage.ru_maxrss * 1024, array


def slice_volume(data: Path) -> tuple[np.ndarray, np.ndarray]:
    """A 512×512×300 int16 CT: the 20 real JPEG 2000 CT slices played back and forth along k, at its 2 mm spacing."""
    (ct,) = [volume for volume in build_in_process(data / SERIES["CT, 20 slices, JPEG 2000"]) if isinstance(volume, Volume)]
    cycle = np.concatenate([np.arange(ct.shape[0]), np.arange(ct.shape[0])[::-1]])
    order = cycle[np.arange(SLICE_VOLUME[0]) % len(cycle)]
    return np.ascontiguousarray(ct.data[order].astype(np.int16)), ct.affine


def percentiles(times_s: list[float]) -> tuple[float, float]:
    p50, p99 = np.percentile(np.array(times_s) * 1e3, [50, 99])
    return float(p50), float(p99)


def in_process_latency(array: np.ndarray, affine: np.ndarray, work: Path) -> tuple[float, dict[str, Latency]]:
    """VolumeStore on file:// plus rendering to PNG, no RPC: write time, then per plane cold and warm slices."""
    store = objectstore.connect(f"file://{work / 'objects'}")
    start = time.perf_counter()
    VolumeStore(store).write("volumes", "bench", array, affine, slices.volume_attributes(array, "CT"))
    written = time.perf_counter() - start
    volumes = VolumeStore(store)
    window = slices.resolve_window(None, volumes.info("volumes", "bench").attributes)
    rng = np.random.default_rng(0)
    result = {}

    def one(axis: int, index: int) -> float:
        begin = time.perf_counter()
        slices.encode_png(slices.render(volumes.slice("volumes", "bench", axis, index), window))
        return time.perf_counter() - begin

    for name, plane in (("axial", slices.Plane.AXIAL), ("coronal", slices.Plane.CORONAL), ("sagittal", slices.Plane.SAGITTAL)):
        axis = slices.plane_axis(affine, plane)
        cold = one(axis, array.shape[axis] // 2)
        result[name] = (axis, cold)
    volumes.read("volumes", "bench")  # everything decoded: what follows is warm
    latencies = {}
    for name, (axis, cold) in result.items():
        warm = [one(axis, int(rng.integers(array.shape[axis]))) for _ in range(WARM_REQUESTS)]
        latencies[name] = Latency(cold * 1e3, *percentiles(warm))
    return written, latencies


def stack_latency(array: np.ndarray, affine: np.ndarray, work: Path) -> tuple[dict, dict[str, Latency], dict[str, Latency]]:
    """Through `radlab up`: upload the volume (and the MR folder) with the SDK, then GetSlice PNG and RAW per plane."""
    nifti = to_nifti(_Plain(array, affine), work / "ct_512x512x300.nii")
    home = work / "home"
    uploads = {}
    with Stack(home, env={"RADLAB_ANON_KEY": "", "RADLAB_PHI_KEY": ""}) as stack:
        token = issue_token(token_key(home, None), subject="bench", role="admin", tenant=TENANT)
        with Client(stack.grpc_addr, token) as client:
            dataset = client.create_dataset(f"ingestion bench {uuid.uuid4().hex[:8]}").dataset_id
            for label, path in (("NIfTI 512×512×300 int16", nifti), ("MR folder, 196 DICOM files", data_dir() / SERIES["MR, 196 slices, uncompressed"])):
                size = nifti.stat().st_size if path == nifti else sum(p.stat().st_size for p in path.iterdir() if p.is_file())
                start = time.perf_counter()
                upload = client.upload(path, dataset)
                sent = time.perf_counter() - start
                done = client.wait_for_upload(upload.upload_id)
                ready = time.perf_counter() - start
                if done.state != pb.UPLOAD_STATE_COMPLETED:
                    raise RuntimeError(f"upload of {label} ended {pb.UploadState.Name(done.state)}: {done.failure_reason}")
                uploads[label] = (size, sent, ready, list(done.volume_ids))
            volume_id = uploads["NIfTI 512×512×300 int16"][3][0]
            shape, axes = plane_axes(client, volume_id)
            count = {plane: shape[axis] for plane, axis in axes.items()}
            png = _rpc_latencies(client, volume_id, count, pb.SLICE_FORMAT_PNG)
            raw = _rpc_latencies(client, volume_id, count, pb.SLICE_FORMAT_RAW)
    return uploads, png, raw


def plane_axes(client: Client, volume_id: str) -> tuple[tuple[int, ...], dict[str, int]]:
    """A stored volume's shape [k, j, i] and the array axis each plane (by name) holds fixed, as the service pairs them."""
    geometry = client.ingestion.GetVolume(pb.GetVolumeRequest(volume_id=volume_id)).volume.volume_ref.geometry
    affine = np.reshape(geometry.affine, (4, 4))
    return tuple(geometry.shape), {plane: plane_axis(affine, plane) for plane in PLANES}


def _rpc_latencies(client: Client, volume_id: str, count: dict[str, int], form: int) -> dict[str, Latency]:
    """Per plane: the first request (cold), then WARM_REQUESTS random slices once every chunk was decoded."""
    rng = np.random.default_rng(1)

    def one(plane: str, index: int) -> float:
        request = pb.GetSliceRequest(volume_id=volume_id, plane=PLANES[plane], slice_index=index, format=form)
        begin = time.perf_counter()
        client.ingestion.GetSlice(request)
        return time.perf_counter() - begin

    colds = {plane: one(plane, count[plane] // 2) for plane in PLANES}
    for index in range(0, count["axial"], 8):  # every chunk layer of the volume decoded once: what follows is warm
        one("axial", index)
    return {
        plane: Latency(colds[plane] * 1e3, *percentiles([one(plane, int(rng.integers(count[plane]))) for _ in range(WARM_REQUESTS)]))
        for plane in PLANES
    }


@dataclass
class _Plain:
    data: np.ndarray
    affine: np.ndarray


def _verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def run() -> None:
    data = data_dir()
    dcm2niix = dcm2niix_path()
    print(f"volume building, in-process vs dcm2niix ({dcm2niix}), {REPEATS} runs of each, interleaved, same run;")
    print("radlab in this process (its interpreter start and imports not counted, no NIfTI written), dcm2niix a process "
          "of its own (its start and its NIfTI written counted);")
    print(f"slices/s of the best run (median run); the goal (≥ {BUILD_GOAL}× dcm2niix) is judged on the best runs:")
    print(f"  {'series':34} {'slices':>6} {'radlab/s':>15} {'dcm2niix/s':>15} {'ratio':>15}")
    for name, speed in build_speed(data, dcm2niix).items():
        ratio = speed.ours_best / speed.theirs_best
        print(
            f"  {name:34} {speed.slices:6d} {speed.ours_best:7.0f} ({speed.ours_median:5.0f}) {speed.theirs_best:7.0f} ({speed.theirs_median:5.0f})"
            f" {ratio:6.2f}× ({speed.ours_median / speed.theirs_median:4.2f}×)  {_verdict(ratio >= BUILD_GOAL)}"
        )
    with tempfile.TemporaryDirectory() as folder, tempfile.TemporaryDirectory() as out:
        work = Path(folder)
        generated_4d(data, work)
        files = GENERATED_4D[0] * GENERATED_4D[1]
        ours, theirs = seconds(partial(build_in_process, work)), seconds(partial(build_with_dcm2niix, dcm2niix, work, Path(out)))
        ratio = (files / ours) / (files / theirs)
        print(f"  {'generated 4D, ' + str(files) + ' files, 20 × 300':34} {files:6d} {files / ours:7.0f}         {files / theirs:7.0f}"
              f"         {ratio:6.2f}×          {_verdict(ratio >= BUILD_GOAL)}  (one run each)")
        mine, dcm, array = peak_memory(work, dcm2niix)
        print(f"  peak memory building it: radlab {mine / 2**20:.0f} MiB above its imports = {mine / array:.2f}× the "
              f"{array / 2**20:.0f} MiB 4D array (goal ≤ {MEMORY_GOAL}×: {_verdict(mine / array <= MEMORY_GOAL)}); "
              f"dcm2niix {dcm / 2**20:.0f} MiB = {dcm / array:.2f}×")

    array, affine = slice_volume(data)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        written, local = in_process_latency(array, affine, work)
        print(f"\nslices of a {'×'.join(map(str, SLICE_VOLUME[::-1]))} int16 volume, ms; warm over {WARM_REQUESTS} random slices:")
        print(f"  in-process (VolumeStore on file:// + PNG render; volume written in {written:.2f} s):")
        for plane, latency in local.items():
            print(f"    {plane:9} cold {latency.cold_ms:7.1f}   warm p50 {latency.p50_ms:6.2f}   p99 {latency.p99_ms:6.2f}")
        uploads, png, raw = stack_latency(array, affine, work)
        for label, latencies in (
            ("GetSlice PNG via radlab up (gRPC; cold = first request of each plane)", png),
            ("GetSlice RAW via radlab up (gRPC; after the PNG run, so its first requests are already warm)", raw),
        ):
            print(f"  {label}:")
            for plane, latency in latencies.items():
                print(
                    f"    {plane:9} cold {latency.cold_ms:7.1f}   warm p50 {latency.p50_ms:6.2f}   p99 {latency.p99_ms:6.2f}"
                    f"   goal p99 < {WARM_P99_GOAL_MS:.0f} ms: {_verdict(latency.p99_ms < WARM_P99_GOAL_MS)}"
                )
        print("\nupload through the SDK (radlab.client.Client.upload) to `radlab up`:")
        for label, (size, sent, ready, volume_ids) in uploads.items():
            print(
                f"  {label:28} {size / 1e6:7.1f} MB  sent in {sent:6.2f} s = {size / 1e6 / sent:6.1f} MB/s;"
                f" volume ready {ready:6.2f} s after the start ({len(volume_ids)} volume(s))"
            )


if __name__ == "__main__":
    run()
