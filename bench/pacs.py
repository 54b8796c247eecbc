"""PACS benchmark: Orthanc pushes a study by C-STORE into `radlab up` (instances/s, MB/s, time until its volume is ready),
against dcmtk's storescp receiving the same study and against the upload path of the same files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.uid import generate_uid

from radlab.client import Client
from radlab.ingestion.v1 import ingestion_service_pb2 as pb
from radlab.tokens import issue_token, token_key
from shared import config
from shared.stack import Stack, free_port

REPO = Path(__file__).resolve().parents[1]
TENANT = "bench"
QUIET_S = 3.0  # RADLAB_DICOM_QUIET_S for the run: part of every "ready" figure
MR = "dcm_qa_deident/In"  # 196 slices, 256×256, uncompressed
CT_TEMPLATE = "dcmqi/data/segmentations/ct-3slice"  # 3 slices, 512×512, repeated into a longer series
CT_SLICES = 300
READY_TIMEOUT_S = 600.0
MB = 1e6


@dataclass(frozen=True)
class Push:
    """One C-STORE of a study from Orthanc: how long Orthanc's store job took and, into Radlab, from the job's start until
    every instance was in a COMPLETED upload (its volume ready), and how many uploads the study became (1 unless the
    sender paused longer than the quiet period)."""

    seconds: float
    ready_s: float | None = None
    uploads: int = 0


@dataclass(frozen=True)
class Corpus:
    """A study as the benchmark sends it: its files, their count and bytes."""

    name: str
    folder: Path
    instances: int
    size: int


def orthanc_url() -> tuple[str, bool]:
    """Orthanc's URL (RADLAB_TEST_ORTHANC_URL, else started by scripts/infra.sh), and whether this run started it."""
    if os.environ.get("RADLAB_TEST_ORTHANC_URL"):
        return os.environ["RADLAB_TEST_ORTHANC_URL"], False
    started = subprocess.run([str(REPO / "scripts" / "infra.sh"), "start", "orthanc"], capture_output=True, text=True,
                             timeout=1200, check=False)
    if started.returncode != 0:
        raise RuntimeError(f"could not start Orthanc (scripts/infra.sh start orthanc):\n{started.stderr[-2000:]}")
    return started.stdout.strip().splitlines()[-1], "already running" not in started.stderr


def orthanc(url: str, path: str, body=None, method: str | None = None):
    """Orthanc's REST API: JSON (or DICOM bytes) in, JSON out."""
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data, method=method or ("POST" if data is not None else "GET"))
    with urllib.request.urlopen(request, timeout=READY_TIMEOUT_S) as response:
        answer = response.read()
    return json.loads(answer) if answer else None


def corpora(work: Path) -> list[Corpus]:
    """The real 196-slice MR, and a CT_SLICES-slice CT made of the 3-slice CT's slices stacked 1.25 mm apart."""
    data = config.data_dir()
    if not data.is_dir():
        raise FileNotFoundError(f"real data not found at {data}: set RADLAB_DATA to a copy of the repository's data/ folder")
    ct = long_ct(data, work / "ct", CT_SLICES)
    found = []
    for name, folder in ((f"MR, {len(list((data / MR).glob('*.dcm')))} slices 256×256", data / MR),
                         (f"CT, {CT_SLICES} slices 512×512", ct)):
        files = sorted(folder.glob("*.dcm"))
        found.append(Corpus(name, folder, len(files), sum(path.stat().st_size for path in files)))
    return found


def long_ct(data: Path, folder: Path, count: int) -> Path:
    """A `count`-slice 512×512 CT series in `folder`: the real 3-slice CT's slices stacked 1.25 mm apart, one new study."""
    folder.mkdir()
    slices = [pydicom.dcmread(path) for path in sorted((data / CT_TEMPLATE).glob("*.dcm"))]
    study, series = generate_uid(), generate_uid()
    origin = np.array(slices[0].ImagePositionPatient, dtype=float)
    for number in range(count):
        instance = slices[number % len(slices)]
        instance.StudyInstanceUID, instance.SeriesInstanceUID = study, series
        instance.SOPInstanceUID = instance.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        instance.InstanceNumber = number + 1
        instance.ImagePositionPatient = [f"{value:.6f}" for value in origin + [0.0, 0.0, 1.25 * number]]
        instance.SliceLocation = f"{origin[2] + 1.25 * number:.6f}"
        instance.save_as(folder / f"{number:04d}.dcm", enforce_file_format=True)
    return folder


def into_orthanc(url: str, corpus: Corpus) -> str:
    """Store the corpus in Orthanc by its REST API; returns Orthanc's id of the study."""
    ids = {orthanc(url, "/instances", path.read_bytes())["ParentStudy"] for path in sorted(corpus.folder.glob("*.dcm"))}
    [study] = ids
    return study


def store_job(url: str, modality: str, study: str) -> float:
    """Orthanc's C-STORE of the study to `modality`, synchronous; its seconds."""
    start = time.perf_counter()
    sent = orthanc(url, f"/modalities/{modality}/store", {"Resources": [study], "Synchronous": True})
    seconds = time.perf_counter() - start
    if sent.get("FailedInstancesCount"):
        raise RuntimeError(f"Orthanc failed to send {sent['FailedInstancesCount']} instance(s) to {modality}")
    return seconds


def to_storescp(url: str, study: str, work: Path) -> Push:
    """The same study into dcmtk's storescp (files written to disk, nothing else): the C-STORE ceiling of the pair.
    storescp has no listen-address option: for the run it listens on every interface, on a free port."""
    port, received = free_port(), work / "storescp"
    received.mkdir(exist_ok=True)
    storescp = subprocess.run([str(REPO / "scripts" / "tools.sh"), "storescp"], capture_output=True, text=True, timeout=900,
                              check=True).stdout.strip().splitlines()[-1]
    server = subprocess.Popen([storescp, "--aetitle", "STORESCP", "--accept-all", "--output-directory", str(received),
                               str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env=os.environ | {"TCP_NODELAY": "1"})  # DCMTK's switch for Nagle's algorithm off
    try:
        time.sleep(0.5)
        orthanc(url, "/modalities/storescp", {"AET": "STORESCP", "Host": "127.0.0.1", "Port": port}, method="PUT")
        return Push(store_job(url, "storescp", study))
    finally:
        server.terminate()
        server.wait(10)
        orthanc(url, "/modalities/storescp", method="DELETE")
        shutil.rmtree(received)


def to_radlab(url: str, corpus: Corpus, study: str, client: Client, dataset: str, port: int) -> Push:
    """The study into Radlab's SCP; ready once the new uploads it became hold every instance and are COMPLETED."""
    before = {upload.upload_id for upload in _uploads(client, dataset)}
    orthanc(url, "/modalities/radlab", {"AET": "RADLAB", "Host": "127.0.0.1", "Port": port}, method="PUT")
    start = time.perf_counter()
    seconds = store_job(url, "radlab", study)
    while time.perf_counter() < start + READY_TIMEOUT_S:
        new = [upload for upload in _uploads(client, dataset) if upload.upload_id not in before]
        failed = [upload.failure_reason for upload in new if upload.state == pb.UPLOAD_STATE_FAILED]
        if failed:
            raise RuntimeError(f"an upload of the pushed study failed: {failed[0]}")
        if (sum(upload.file_count for upload in new) == corpus.instances
                and all(upload.state == pb.UPLOAD_STATE_COMPLETED for upload in new)):
            return Push(seconds, time.perf_counter() - start, len(new))
        time.sleep(0.05)
    raise TimeoutError(f"the pushed study was not built within {READY_TIMEOUT_S:.0f} s")


def _uploads(client: Client, dataset: str) -> list[pb.Upload]:
    return list(client.ingestion.ListUploads(pb.ListUploadsRequest(dataset_id=dataset, page_size=100)).uploads)


def uploaded(client: Client, corpus: Corpus, dataset: str) -> float:
    """The upload path: `radlab upload FOLDER --wait`'s seconds, from the first byte until the volume is ready."""
    start = time.perf_counter()
    done = client.wait_for_upload(client.upload(corpus.folder, dataset).upload_id)
    if done.state != pb.UPLOAD_STATE_COMPLETED:
        raise RuntimeError(f"the upload of {corpus.name} ended {pb.UploadState.Name(done.state)}: {done.failure_reason}")
    return time.perf_counter() - start


def measure(work: Path, url: str) -> list[tuple[Corpus, Push, Push, float]]:
    """Per corpus: into storescp, into Radlab by C-STORE, into Radlab by upload (each into a dataset of its own)."""
    found = corpora(work)
    home = work / "home"
    env = {"RADLAB_ANON_KEY": "", "RADLAB_PHI_KEY": ""}
    with Stack(home, env=env) as stack:  # the datasets first: a source is bound to a dataset by its id
        with Client(stack.grpc_addr, issue_token(token_key(home, None), subject="bench", role="admin", tenant=TENANT)) as client:
            pushed, by_upload = (client.create_dataset(f"pacs bench {what}").dataset_id for what in ("c-store", "upload"))
    port = free_port()
    orthanc_ae = orthanc(url, "/system")["DicomAet"]
    env |= {"RADLAB_DICOM_SOURCES": f"{orthanc_ae}={TENANT}/{pushed}", "RADLAB_DICOM_PORT": str(port),
            "RADLAB_DICOMWEB_PORT": str(free_port()), "RADLAB_DICOM_QUIET_S": str(QUIET_S)}
    rows = []
    with Stack(home, env=env) as stack:
        with Client(stack.grpc_addr, issue_token(token_key(home, None), subject="bench", role="admin", tenant=TENANT)) as client:
            for corpus in found:
                study = into_orthanc(url, corpus)
                try:
                    rows.append((corpus, to_storescp(url, study, work), to_radlab(url, corpus, study, client, pushed, port),
                                 uploaded(client, corpus, by_upload)))
                finally:
                    orthanc(url, f"/studies/{study}", method="DELETE")
    return rows


def report(rows: list[tuple[Corpus, Push, Push, float]], version: str) -> None:
    print(f"C-STORE from Orthanc {version} (one association, synchronous store job); Radlab's quiet period {QUIET_S:g} s "
          "is part of each 'ready' figure")
    print(f"{'study':<24} {'receiver':<28} {'s':>6} {'inst/s':>7} {'MB/s':>6} {'ready, s':>9} {'after last':>10} {'uploads':>7}")
    for corpus, peer, radlab, upload_s in rows:
        print(f"{corpus.name:<24} {'dcmtk storescp (disk only)':<28} {peer.seconds:>6.2f} "
              f"{corpus.instances / peer.seconds:>7.1f} {corpus.size / MB / peer.seconds:>6.1f}")
        print(f"{corpus.name:<24} {'Radlab C-STORE SCP':<28} {radlab.seconds:>6.2f} {corpus.instances / radlab.seconds:>7.1f} "
              f"{corpus.size / MB / radlab.seconds:>6.1f} {radlab.ready_s:>9.2f} {radlab.ready_s - radlab.seconds:>10.2f} "
              f"{radlab.uploads:>7}")
        print(f"{corpus.name:<24} {'Radlab upload (folder, SDK)':<28} {'':>6} {'':>7} {'':>6} {upload_s:>9.2f}")
    print("; ".join(f"{corpus.name}: {corpus.instances} instances, {corpus.size / MB:.1f} MB" for corpus, *_ in rows))


def run() -> None:
    if not shutil.which("storescp"):
        raise FileNotFoundError("storescp is not on PATH: apt-get install dcmtk (Orthanc's package depends on it)")
    url, started = orthanc_url()
    try:
        version = orthanc(url, "/system")["Version"]
        with tempfile.TemporaryDirectory(prefix="radlab-bench-pacs-") as work:
            report(measure(Path(work), url), version)
    finally:
        if started:
            subprocess.run([str(REPO / "scripts" / "infra.sh"), "stop", "orthanc"], capture_output=True, timeout=120, check=False)


if __name__ == "__main__":
    run()
