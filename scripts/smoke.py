"""`make run` for now: start the embedded stack, drive a smoke flow through the SDK, stop it."""

from __future__ import annotations

import sys
import time
import urllib.request
from pathlib import Path

import grpc

from radlab.annotation.v1 import annotation_service_pb2 as annotation_pb
from radlab.client import Client
from shared.auth import issue_token, token_key
from shared.config import Settings
from shared.stack import Stack


def main() -> int:
    settings = Settings.from_env()
    print(f"starting radlab up (state in {settings.home}) ...", flush=True)
    with Stack(settings.home) as stack:
        print(f"serving gRPC on {stack.grpc_addr}, metrics on :{stack.metrics_port}")
        key = token_key(settings.home, settings.token_key)
        admin = issue_token(key, subject="smoke", role="admin", tenant="default")
        with Client(stack.grpc_addr, admin) as client:
            statuses = client.health()
            print("health:", ", ".join(f"{name} {status}" for name, status in statuses.items()))
            started = time.perf_counter()
            dataset = client.create_dataset(f"smoke {time.strftime('%Y-%m-%d %H:%M:%S')}", "made by make run")
            workflow = client.wait_for_workflow(dataset.dataset_id)
            elapsed = time.perf_counter() - started
            stages = " → ".join(stage.stage_id for stage in workflow.stages)
            print(f"dataset {dataset.dataset_id} ({dataset.name!r}) created by annotation")
            print(f"workflow {workflow.workflow_id} [{stages}] set up by workflow from DatasetCreated in {elapsed * 1000:.0f} ms")
            print(f"datasets in this tenant: {len(client.list_datasets())}")
        with Client(stack.grpc_addr, "not-a-token") as stranger:
            try:
                stranger.list_datasets()
                refused = "NOT refused"
            except grpc.RpcError as error:
                refused = error.code().name
            print(f"a call with an invalid token: {refused}")
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{stack.metrics_port}/metrics", timeout=5).read().decode()
        handled = [line for line in metrics.splitlines() if line.startswith("radlab_events_handled_total{")]
        print("metrics:", "; ".join(handled) or "no events counted")
    ok = all(status == "SERVING" for status in statuses.values()) and refused == "UNAUTHENTICATED" and handled
    print("smoke flow:", "OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
