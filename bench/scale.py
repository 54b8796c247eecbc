"""Scale benchmark: a burst of uploads through one and through two replicas of every service on Kafka, MinIO and PostgreSQL."""

from __future__ import annotations

import base64
import collections
import gzip
import os
import secrets
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from bench.annotation import infra_server, postgres_database
from bench.ingestion import data_dir
from radlab import SERVICES
from radlab.client import Client
from radlab.tokens import issue_token
from shared.stack import Replicas, routed_client

# Small real scans (NIfTI: each upload its own volume, where a DICOM series uploaded again keeps its first volume),
# uploaded in turn until the burst has UPLOADS of them.
SCANS = (
    "sct_more/t2s/t2s.nii.gz",
    "sct_t2/t2/t2.nii.gz",
    "totalsegmentator/tests/reference_files/example_mr_sm.nii.gz",
    "totalsegmentator/tests/reference_files/example_ct_sm.nii.gz",
)
UPLOADS = 16  # RADLAB_BENCH_SCALE_UPLOADS overrides
UPLOADERS = 4  # SDK clients uploading at once
PARTITIONS = 4  # each event topic's, as topics.partitions in the chart's values
# The last event of an upload's way to a task: workflow has handled its item's ItemAdded.
LAST_STEP = ("radlab.workflow", "radlab.annotation.v1.ItemAdded")
TOKEN_KEY = secrets.token_urlsafe(48)


@dataclass(frozen=True)
class Burst:
    """One burst: uploads handed on (all sent), items listed and their tasks created, seconds from its start; events
    every consumer handled meanwhile; or why it was not measured."""

    replicas: int
    uploads: int = 0
    sent_s: float = 0.0
    items_s: float = 0.0
    tasks_s: float = 0.0
    events: int = 0
    missing: str = ""

    @property
    def events_per_s(self) -> float:
        return self.events / self.tasks_s


def replica_env(kafka_url: str, minio_url: str, db_url: str) -> dict[str, str]:
    """What every replica is configured with: the servers' URLs (a member of a group that misses heartbeats for 6 s
    loses its partitions) and the same secrets, as the chart's Secrets give every pod (the anonymization key decides
    the pseudonyms, so replicas with keys of their own would disagree)."""
    return {
        "RADLAB_BUS": f"{kafka_url}?session_timeout_ms=6000", "RADLAB_STORE": minio_url, "RADLAB_DB": db_url,
        "RADLAB_TOKEN_KEY": TOKEN_KEY, "RADLAB_ANON_KEY": secrets.token_urlsafe(48),
        "RADLAB_PHI_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
    }


def scans(count: int, folder: Path) -> list[Path]:
    """`count` uploads' files, written to `folder`: SCANS in turn, each copy gzipped anew with its own header time, so
    every file differs (the SDK resumes an unfinished upload of the very same file into the dataset instead of
    starting another, which would merge two uploads of a burst into one)."""
    data = data_dir()
    files = []
    for n in range(count):
        path = folder / f"scan-{n}.nii.gz"
        path.write_bytes(gzip.compress(gzip.decompress((data / SCANS[n % len(SCANS)]).read_bytes()), mtime=n + 1))
        files.append(path)
    return files


def upload_burst(client: Client, dataset_id: str, files: list[Path], uploaders: int = UPLOADERS) -> list[str]:
    """Every file uploaded into the dataset by `uploaders` threads at once; the upload ids, each returned once its scan
    is handed on to anonymization."""
    with ThreadPoolExecutor(uploaders) as pool:
        return [upload.upload_id for upload in pool.map(lambda path: client.upload(path, dataset_id), files)]


def handled(replicas: Replicas) -> collections.Counter:
    """Events handled so far by every running process together, by (consumer group, event type)."""
    return sum(replicas.events_handled().values(), collections.Counter())


def burst(count: int, uploads: int, kafka_url: str, minio_url: str, db_url: str, base: Path) -> Burst:
    """`count` replicas of every service (the chart's install Jobs first, then every group shared out), one dataset,
    then `uploads` uploads at once, timed until every item has its task."""
    replicas = Replicas(base, SERVICES, count, replica_env(kafka_url, minio_url, db_url))
    replicas.install(PARTITIONS)
    with replicas:
        replicas.wait_for_partitions()
        admin = issue_token(TOKEN_KEY, subject="bench", role="admin", tenant=f"bench-scale-{uuid.uuid4().hex[:8]}")
        with routed_client(replicas.addresses(), admin) as client:
            dataset_id = client.create_dataset(f"scale {count}").dataset_id
            client.wait_for_workflow(dataset_id, timeout_s=60)
            before = handled(replicas)
            started = time.monotonic()
            upload_burst(client, dataset_id, scans(uploads, base))
            sent_s = time.monotonic() - started
            client.wait_for_items(dataset_id, uploads, timeout_s=600)
            items_s = time.monotonic() - started
            while (handled(replicas) - before)[LAST_STEP] < uploads:
                time.sleep(0.1)
            tasks_s = time.monotonic() - started
            events = sum((handled(replicas) - before).values())
    return Burst(count, uploads, sent_s, items_s, tasks_s, events)


def measure(uploads: int = UPLOADS) -> list[Burst]:
    """The burst with one, then two replicas of every service, each on a database of its own; the same Kafka topics."""
    found = []
    with infra_server("kafka") as (kafka_url, no_kafka), infra_server("minio") as (minio_url, no_minio):
        for count in (1, 2):
            with postgres_database() as (db_url, no_db), tempfile.TemporaryDirectory() as base:
                missing = no_kafka or no_minio or no_db
                found.append(Burst(count, missing=missing) if missing
                             else burst(count, uploads, kafka_url, minio_url, db_url, Path(base)))
    return found


def report(bursts: list[Burst]) -> None:
    print(f"a burst of uploads (small NIfTI, {UPLOADERS} SDK clients at once) through `radlab serve SERVICE` × replicas of "
          f"every service on Kafka ({PARTITIONS} partitions a topic), MinIO and PostgreSQL; {os.cpu_count()} CPUs shared by "
          "every process, the servers and the clients:")
    for each in bursts:
        if each.missing:
            print(f"  {each.replicas} replica(s): not measured ({each.missing})")
            continue
        print(f"  {each.replicas} replica(s) of each: {each.uploads} uploads sent in {each.sent_s:5.1f} s, items after "
              f"{each.items_s:5.1f} s, tasks after {each.tasks_s:5.1f} s; {each.events} events handled = "
              f"{each.events_per_s:5.1f} events/s")
    one, two = (next((b for b in bursts if b.replicas == n and not b.missing), None) for n in (1, 2))
    if one and two:
        print(f"  two replicas / one: {two.events_per_s / one.events_per_s:.2f}× the events/s, "
              f"{one.tasks_s / two.tasks_s:.2f}× as fast upload → task. On {os.cpu_count()} cores the ratio measures "
              "contention (twice the processes on the same cores), not scaling: on a cluster each replica has cores of "
              "its own.")


def run() -> None:
    report(measure(int(os.environ.get("RADLAB_BENCH_SCALE_UPLOADS") or UPLOADS)))


if __name__ == "__main__":
    run()
