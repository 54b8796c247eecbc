"""Serving benchmark: GetSlice (PNG and RAW) under concurrent clients on `radlab up`, idle and during an ingest of the MR."""

from __future__ import annotations

import collections
import os
import random
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import grpc

from bench.ingestion import PLANES, data_dir, percentiles, plane_axes
from radlab.client import Client
from radlab.ingestion.v1 import ingestion_service_pb2 as pb
from radlab.tokens import issue_token, token_key
from shared.stack import Stack
from shared.volume_store import CHUNK

CLIENTS = 20
DURATION_S = 30.0  # of the idle phase; RADLAB_BENCH_SERVING_S shortens it
MR = "dcm_qa_deident/In"
TENANT = "bench"
FORMATS = (pb.SLICE_FORMAT_PNG, pb.SLICE_FORMAT_RAW)
CALL_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Load:
    """What the clients saw in one phase: successful calls' latencies, the failed calls by status code, and the CPU
    time the clients' own process used (what they took from the server on a shared machine)."""

    seconds: float
    latencies_s: list[float]
    errors: collections.Counter
    client_cpu_s: float

    @property
    def calls(self) -> int:
        return len(self.latencies_s) + sum(self.errors.values())


@dataclass(frozen=True)
class Serving:
    """Both phases, and how long the MR took from upload start to volume ready: alone (setup) and under the load."""

    shape: tuple[int, ...]
    idle: Load
    ingesting: Load
    ingest_alone_s: float
    ingest_loaded_s: float


def ingest(client: Client, folder: Path) -> tuple[str, float]:
    """Upload the folder into a new dataset through the SDK and wait for its volume: (volume id, seconds)."""
    start = time.perf_counter()
    dataset = client.create_dataset(f"serving bench {uuid.uuid4().hex[:8]}").dataset_id
    done = client.wait_for_upload(client.upload(folder, dataset).upload_id)
    if done.state != pb.UPLOAD_STATE_COMPLETED:
        raise RuntimeError(f"upload of {folder} ended {pb.UploadState.Name(done.state)}: {done.failure_reason}")
    return done.volume_ids[0], time.perf_counter() - start


def load(address: str, token: str, volume_id: str, sizes: dict[int, int], clients: int, stop: threading.Event) -> Load:
    """`clients` threads, one SDK Client each, calling GetSlice (random plane, slice and format) until `stop` is set."""
    latencies, errors, lock = [], collections.Counter(), threading.Lock()

    def client_loop(seed: int) -> None:
        rng, mine, failed = random.Random(seed), [], collections.Counter()
        with Client(address, token) as client:
            while not stop.is_set():
                plane = rng.choice(list(sizes))
                request = pb.GetSliceRequest(volume_id=volume_id, plane=plane, slice_index=rng.randrange(sizes[plane]),
                                             format=rng.choice(FORMATS))
                begin = time.perf_counter()
                try:
                    client.ingestion.GetSlice(request, timeout=CALL_TIMEOUT_S)
                    mine.append(time.perf_counter() - begin)
                except grpc.RpcError as error:
                    failed[error.code().name] += 1
        with lock:
            latencies.extend(mine)
            errors.update(failed)

    threads = [threading.Thread(target=client_loop, args=(seed,)) for seed in range(clients)]
    start, cpu = time.perf_counter(), time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Load(time.perf_counter() - start, latencies, errors, time.process_time() - cpu)


def measure(duration_s: float, clients: int) -> Serving:
    """`radlab up` on a fresh home with the MR's volume (warm), the load for `duration_s`, then the load for as long as
    a second upload of the MR takes to become a volume."""
    folder = data_dir() / MR
    with tempfile.TemporaryDirectory() as work, Stack(Path(work) / "home", env={"RADLAB_ANON_KEY": "", "RADLAB_PHI_KEY": ""}) as stack:
        token = issue_token(token_key(stack.home, None), subject="bench", role="admin", tenant=TENANT)
        with Client(stack.grpc_addr, token) as client:
            volume_id, alone_s = ingest(client, folder)
            shape, by_name = plane_axes(client, volume_id)
            axes = {PLANES[name]: axis for name, axis in by_name.items()}
            sizes = {plane: shape[axis] for plane, axis in axes.items()}
            across_k = next(plane for plane, axis in axes.items() if axis == 0)
            for index in range(0, shape[0], CHUNK[0]):  # every chunk decoded once: both phases see a warm cache
                client.ingestion.GetSlice(pb.GetSliceRequest(volume_id=volume_id, plane=across_k, slice_index=index,
                                                             format=pb.SLICE_FORMAT_RAW))

            idle_over = threading.Event()
            threading.Timer(duration_s, idle_over.set).start()
            idle = load(stack.grpc_addr, token, volume_id, sizes, clients, idle_over)

            ingested, loaded_s = threading.Event(), []

            def second_upload() -> None:
                try:
                    loaded_s.append(ingest(client, folder)[1])
                finally:
                    ingested.set()

            uploader = threading.Thread(target=second_upload)
            uploader.start()
            ingesting = load(stack.grpc_addr, token, volume_id, sizes, clients, ingested)
            uploader.join()
            if not loaded_s:
                raise RuntimeError("the second upload of the MR failed; see the traceback above")
    return Serving(shape, idle, ingesting, alone_s, loaded_s[0])


def report(serving: Serving, clients: int) -> None:
    print(f"GetSlice on `radlab up`: {clients} concurrent clients (threads, one SDK Client each), random plane, slice and")
    print(f"format (PNG / RAW) of the {'×'.join(map(str, serving.shape))} MR volume, cache warm. The clients run on the")
    print(f"same machine ({os.cpu_count()} CPUs) and take CPU from the server (client CPUs: their process's CPU time ÷ the")
    print("phase's time): figures are a lower bound.")
    print(f"  {'phase':34} {'s':>5} {'calls':>7} {'calls/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'client CPUs':>11}  errors")
    for phase, load_seen in (("idle", serving.idle), ("during an ingest of the MR", serving.ingesting)):
        p50, p99 = percentiles(load_seen.latencies_s) if load_seen.latencies_s else (float("nan"), float("nan"))
        errors = ", ".join(f"{code} ×{count}" for code, count in load_seen.errors.most_common()) or "0"
        print(f"  {phase:34} {load_seen.seconds:5.1f} {load_seen.calls:7d} {load_seen.calls / load_seen.seconds:8.1f}"
              f" {p50:7.1f} {p99:7.1f} {load_seen.client_cpu_s / load_seen.seconds:11.2f}  {errors}")
    print(f"  the MR from upload start to volume ready: {serving.ingest_loaded_s:.1f} s under the load,"
          f" {serving.ingest_alone_s:.1f} s alone")


def run(duration_s: float | None = None, clients: int = CLIENTS) -> None:
    report(measure(duration_s or float(os.environ.get("RADLAB_BENCH_SERVING_S", DURATION_S)), clients), clients)


if __name__ == "__main__":
    run()
