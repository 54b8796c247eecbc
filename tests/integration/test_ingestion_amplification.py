"""Volumes whose headers declare more than the voxel budget: refused before anything is inflated or decoded, peak memory asserted.

Each bomb (tests/bombs.py) is small as stored but declares gigabytes: a 1 MB .nii.gz of 1024³ zeros, 16 CT slices of
8192² each a ~1 KB JPEG-LS codestream, an Enhanced CT whose 320 frames of 2048² are ~300 bytes each. Ingestion's
ScanAnonymized handler builds the scan in a fresh process that reports its peak resident memory (VmHWM) before and
after; without the budget these built in 2–3 GB, refused they add a few MB. Real volumes exactly at the budget still build.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from services.ingestion import handlers, store
from services.ingestion.domain.archive import Limits
from services.ingestion.handlers import volumes
from shared.config import DEFAULT_VOLUME_MAX_VOXELS
from shared.db import Database
from shared.objectstore.file import FileObjectStore
from shared.volume_store import VolumeStore
from tests.bombs import ct_slices, enhanced_ct, nifti_bomb
from tests.conftest import REPO
from tests.integration.test_ingestion_service import CONSUMER, TENANT, anonymized_event, outbox

MR = "dcm_qa_deident/In"  # 196 slices of 256²: 12 845 056 voxels
NIFTI = "totalsegmentator/tests/reference_files/example_mr_sm.nii.gz"  # 117 × 91 × 20: 212 940 voxels
GROWTH_MAX_MIB = 64  # what building a refused scan may add to its process's peak resident memory


def ports_at(folder: Path, max_voxels: int) -> handlers.Ports:
    """Ingestion's handlers on a database and file store under `folder`, with the voxel budget `max_voxels`."""
    objects = FileObjectStore(folder / "objects")
    return handlers.Ports(Database(f"sqlite:///{folder / 'db'}", "ingestion", store.metadata), objects, VolumeStore(objects),
                          Limits(max_voxels=max_voxels))


def outcome(ports: handlers.Ports) -> tuple[list[list[int]], list[str]]:
    """The shapes of the volumes built and the reasons of the series refused, from the outbox."""
    events = outbox(ports.db)
    return ([list(event.message.volume_ref.geometry.shape) for event in events if event.type.endswith("VolumeReady")],
            [event.message.reason for event in events if event.type.endswith("IngestFailed")])


def built_in_fresh_process(folder: Path, objects: dict[str, bytes], max_voxels: int = DEFAULT_VOLUME_MAX_VOXELS) -> dict:
    """Put `objects` into the `dicom` bucket under `folder`, build them in a new process (this module run as a script)
    and return what it reports: peak resident memory before and after, and the volumes built and refused."""
    store_under_folder = FileObjectStore(folder / "objects")
    store_under_folder.ensure_bucket("dicom")
    for key, data in objects.items():
        store_under_folder.put("dicom", key, data)
    run = subprocess.run([sys.executable, "-m", __name__, str(folder), str(max_voxels)], cwd=REPO, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def _peak_mib() -> float:
    status = Path("/proc/self/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1]) / 1024


def _build_here(folder: Path, max_voxels: int) -> None:
    """In this (new) process: ingestion's ScanAnonymized handler on every object of `folder`'s `dicom` bucket; prints
    the peak resident memory before and after (MiB) and the volumes built and refused, as one JSON line."""
    ports = ports_at(folder, max_voxels)
    keys = sorted(info.key for info in ports.objects.list("dicom"))
    before = _peak_mib()
    volumes.on_scan_anonymized(ports, CONSUMER, anonymized_event(keys))
    after = _peak_mib()
    built, refused = outcome(ports)
    print(json.dumps({"peak_before_mib": before, "peak_after_mib": after, "built": built, "refused": refused}))


@pytest.mark.parametrize("bomb", ["nifti of 1024³", "ct slices of 8192²", "enhanced ct of 320 frames"])
def test_a_scan_declaring_more_than_the_budget_is_refused_before_it_is_decoded(tmp_path, bomb):
    """Refused with IngestFailed saying by how much and what to do, the process's peak memory all but unchanged."""
    if bomb == "nifti of 1024³":
        objects, expected = {f"{TENANT}/bomb.nii.gz": nifti_bomb()}, "a NIfTI file is too large to build: 1024×1024×1024 is 1073741824 voxels"
    elif bomb == "ct slices of 8192²":
        objects = {f"{TENANT}/ct/{number:02d}.dcm": data for number, data in enumerate(ct_slices())}
        expected = "16×8192×8192 is 1073741824 voxels, over the budget of 536870912 per volume"
    else:
        objects, expected = {f"{TENANT}/ect.dcm": enhanced_ct()}, "reading it decodes 2684354560 bytes, over the 2147483648"
    assert sum(map(len, objects.values())) < 2 << 20
    report = built_in_fresh_process(tmp_path, objects)
    assert report["built"] == [] and len(report["refused"]) == 1
    assert expected in report["refused"][0] and "RADLAB_VOLUME_MAX_VOXELS" in report["refused"][0], report["refused"]
    assert report["peak_after_mib"] - report["peak_before_mib"] < GROWTH_MAX_MIB, report


def test_real_volumes_exactly_at_the_budget_still_build_and_one_voxel_over_are_refused(tmp_path, data_dir):
    """The 196-slice MR and a NIfTI, each with the budget set to its own voxel count, build; one voxel less refuses both."""
    mr = {f"{TENANT}/mr/{path.name}": path.read_bytes() for path in sorted((data_dir / MR).iterdir()) if path.is_file()}
    nifti = {f"{TENANT}/mr.nii.gz": (data_dir / NIFTI).read_bytes()}
    for objects, voxels, shape in ((mr, 196 * 256 * 256, [196, 256, 256]), (nifti, 20 * 91 * 117, [20, 91, 117])):
        for budget in (voxels, voxels - 1):
            folder = tmp_path / f"{voxels}-{budget}"
            folder.mkdir()
            ports = ports_at(folder, budget)
            ports.objects.ensure_bucket("dicom")
            for key, data in objects.items():
                ports.objects.put("dicom", key, data)
            volumes.on_scan_anonymized(ports, CONSUMER, anonymized_event(sorted(objects)))
            built, refused = outcome(ports)
            ports.db.dispose()
            if budget == voxels:
                assert (built, refused) == ([shape], [])
            else:
                assert built == [] and len(refused) == 1 and f"is {voxels} voxels, over the budget of {budget} per volume" in refused[0]


if __name__ == "__main__":
    _build_here(Path(sys.argv[1]), int(sys.argv[2]))
