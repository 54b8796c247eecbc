"""`radlab up` and `radlab serve` as separate processes, driven through the SDK like a user would."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
import uuid

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from radlab.annotation.v1 import annotation_service_pb2 as annotation_pb
from radlab import SERVICE_NAMES
from radlab.client import Client
from radlab.tokens import issue_token, token_key
from radlab.workflow.v1 import workflow_service_pb2 as workflow_pb
from shared.stack import Stack
from tests.conftest import REPO, wait_until


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with Stack(tmp_path_factory.mktemp("home")) as stack:
        yield stack


def token(stack: Stack, role: str, vendor: str = "", tenant: str = "hospital-a") -> str:
    return issue_token(token_key(stack.home, None), subject=f"{role}-{vendor}", role=role, tenant=tenant, vendor=vendor)


def test_every_service_answers_health(stack):
    """All six services report SERVING through the standard gRPC health service, no token needed."""
    with grpc.insecure_channel(stack.grpc_addr) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for name in SERVICE_NAMES.values():
            assert health.Check(health_pb2.HealthCheckRequest(service=name)).status == health_pb2.HealthCheckResponse.SERVING


def test_every_service_refuses_calls_without_a_valid_token(stack):
    """One method of each service: missing or forged tokens are UNAUTHENTICATED."""
    forged = issue_token("x" * 40, subject="mallory", role="admin", tenant="hospital-a")
    with Client(stack.grpc_addr, forged) as client:
        with pytest.raises(grpc.RpcError) as refused:
            client.list_datasets()
        assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
    with grpc.insecure_channel(stack.grpc_addr) as channel:
        for name in SERVICE_NAMES.values():
            method = f"/{name}/{_first_method(name)}"
            with pytest.raises(grpc.RpcError) as refused:
                channel.unary_unary(method, request_serializer=bytes, response_deserializer=bytes)(b"", timeout=5)
            assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED, method


def _first_method(service_name: str) -> str:
    from google.protobuf import descriptor_pool

    service = descriptor_pool.Default().FindServiceByName(service_name)
    return next(m.name for m in service.methods if not m.client_streaming and not m.server_streaming)


def test_a_new_dataset_gets_its_workflow_through_the_bus(stack):
    """CreateDataset (annotation) → DatasetCreated via the outbox and bus → workflow sets up the default workflow."""
    with Client(stack.grpc_addr, token(stack, "manager")) as client:
        dataset = client.create_dataset("liver CT", "portal venous phase")
        workflow = client.wait_for_workflow(dataset.dataset_id, timeout_s=20)
        assert [stage.kind for stage in workflow.stages] == [
            workflow_pb.STAGE_KIND_ANNOTATE, workflow_pb.STAGE_KIND_REVIEW, workflow_pb.STAGE_KIND_COMPLETE
        ]
        again = client.workflow.GetWorkflow(workflow_pb.GetWorkflowRequest(workflow_id=workflow.workflow_id)).workflow
        assert again == workflow
        with pytest.raises(grpc.RpcError) as duplicate:
            client.create_dataset("liver CT")
        assert duplicate.value.code() is grpc.StatusCode.ALREADY_EXISTS and "choose another name" in duplicate.value.details()


def test_a_dataset_takes_the_id_its_creator_chose_once(stack):
    """A dataset created under a caller-chosen UUID (one a PACS source was bound to beforehand) keeps it and reaches the
    other services under it; the same id again is ALREADY_EXISTS, an id not in canonical UUID form INVALID_ARGUMENT."""
    chosen = str(uuid.uuid4())
    with Client(stack.grpc_addr, token(stack, "manager")) as client:
        assert client.create_dataset("chosen id CT", dataset_id=chosen).dataset_id == chosen
        assert client.wait_for_workflow(chosen, timeout_s=20).dataset_id == chosen
        with pytest.raises(grpc.RpcError) as taken:
            client.create_dataset("another name", dataset_id=chosen)
        assert taken.value.code() is grpc.StatusCode.ALREADY_EXISTS and f"dataset id {chosen} is taken" in taken.value.details()
        with pytest.raises(grpc.RpcError) as malformed:
            client.create_dataset("a third name", dataset_id=chosen.upper())
        assert malformed.value.code() is grpc.StatusCode.INVALID_ARGUMENT and "canonical form" in malformed.value.details()
        assert [d.dataset_id for d in client.list_datasets()].count(chosen) == 1


def test_the_callers_trace_id_follows_the_event_into_the_consumers_logs(stack):
    """A trace id sent with CreateDataset reaches the JSON log lines of its consumers (workflow, ingestion,
    anonymization) for the DatasetCreated each handled."""
    trace_id = uuid.uuid4().hex
    with Client(stack.grpc_addr, token(stack, "manager")) as client:
        request = annotation_pb.CreateDatasetRequest(name=f"traced {trace_id[:6]}")
        created = client.annotation.CreateDataset(request, metadata=[("x-radlab-trace-id", trace_id)]).dataset
        client.wait_for_workflow(created.dataset_id)

    def all_handled() -> list[dict]:
        lines = [json.loads(line) for line in stack.log.read_text().splitlines() if line.startswith("{")]
        handled = [line for line in lines if line.get("trace_id") == trace_id and line["message"] == "event handled"]
        return handled if len(handled) == 3 else []

    handled = wait_until(all_handled, "the three consumers to log the traced DatasetCreated", timeout_s=20)
    assert sorted(line["consumer"] for line in handled) == ["radlab.anonymization", "radlab.ingestion", "radlab.workflow"]
    assert all(line["event_type"] == "radlab.annotation.v1.DatasetCreated" and line["level"] == "info" for line in handled)


def test_reflection_lists_every_service(stack):
    """Server reflection names the six services (grpcurl and friends work without the protos)."""
    with grpc.insecure_channel(stack.grpc_addr) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        [response] = list(stub.ServerReflectionInfo(iter([request])))
    names = {service.name for service in response.list_services_response.service}
    assert set(SERVICE_NAMES.values()) <= names


def test_tenants_and_vendors_see_only_what_is_theirs(stack):
    """Another tenant sees none of hospital A's datasets; a vendor sees only datasets shared with it."""
    with Client(stack.grpc_addr, token(stack, "admin")) as admin:
        shared = admin.create_dataset("shared with acme")
        private = admin.create_dataset("kept in house")
        admin.annotation.ShareDataset(annotation_pb.ShareDatasetRequest(dataset_id=shared.dataset_id, vendor_id="acme"))
    with Client(stack.grpc_addr, token(stack, "vendor", vendor="acme")) as acme:
        assert [d.dataset_id for d in acme.list_datasets()] == [shared.dataset_id]
        with pytest.raises(grpc.RpcError) as hidden:
            acme.annotation.GetDataset(annotation_pb.GetDatasetRequest(dataset_id=private.dataset_id))
        assert hidden.value.code() is grpc.StatusCode.NOT_FOUND
    with Client(stack.grpc_addr, token(stack, "vendor", vendor="globex")) as globex:
        assert globex.list_datasets() == []
    with Client(stack.grpc_addr, token(stack, "admin", tenant="hospital-b")) as other:
        assert other.list_datasets() == []


def test_metrics_are_served_with_rpc_and_event_series(stack):
    """/metrics has RPC latency per method and events handled per consumer and type."""
    with Client(stack.grpc_addr, token(stack, "admin")) as client:
        client.wait_for_workflow(client.create_dataset("metrics probe").dataset_id)
    text = urllib.request.urlopen(f"http://127.0.0.1:{stack.metrics_port}/metrics", timeout=5).read().decode()
    assert 'radlab_rpc_duration_seconds_count{code="OK",method="/radlab.annotation.v1.AnnotationService/CreateDataset"}' in text
    assert 'radlab_events_handled_total{consumer="radlab.workflow",type="radlab.annotation.v1.DatasetCreated"}' in text
    assert "radlab_consumer_lag_records" in text


def test_radlab_up_serves_the_http_gateway_beside_grpc(stack):
    """The gateway answers on RADLAB_HTTP_ADDR: healthy, and a dataset made over gRPC is listed over REST."""
    base = f"http://{stack.http_addr}"
    health = json.loads(urllib.request.urlopen(f"{base}/healthz", timeout=10).read())
    assert health["status"] == "SERVING"
    with Client(stack.grpc_addr, token(stack, "admin", tenant="rest-tenant")) as client:
        made = client.create_dataset("over grpc").dataset_id
    listing = urllib.request.Request(f"{base}/api/v1/annotation/ListDatasets", data=b"{}", method="POST",
                                     headers={"Authorization": f"Bearer {token(stack, 'admin', tenant='rest-tenant')}"})
    assert [dataset["datasetId"] for dataset in json.loads(urllib.request.urlopen(listing, timeout=10).read())["datasets"]] == [made]


def test_serve_gateway_runs_the_gateway_alone_against_radlab_url(stack, tmp_path):
    """`radlab serve gateway` forwards to the services at RADLAB_URL: healthy while they are, and the caller's token
    decides (a manager may list datasets, /me names it), then it stops on SIGTERM with exit 0."""
    env = {"RADLAB_URL": stack.grpc_addr, "RADLAB_TOKEN_KEY": token_key(stack.home, None)}
    with Stack(tmp_path, command=("serve", "gateway"), env=env) as gateway:
        base = f"http://{gateway.http_addr}"
        assert json.loads(urllib.request.urlopen(f"{base}/healthz", timeout=10).read())["status"] == "SERVING"
        me = urllib.request.Request(f"{base}/api/v1/me", headers={"Authorization": f"Bearer {token(stack, 'manager')}"})
        assert json.loads(urllib.request.urlopen(me, timeout=10).read())["role"] == "manager"
    assert gateway.process.returncode == 0


def test_sigterm_stops_gracefully_and_state_survives_a_restart(tmp_path):
    """SIGTERM → exit 0; a restart on the same RADLAB_HOME still has the datasets and workflows."""
    with Stack(tmp_path) as first:
        with Client(first.grpc_addr, token(first, "admin")) as client:
            dataset = client.create_dataset("durable")
            client.wait_for_workflow(dataset.dataset_id)
    assert first.process.returncode == 0
    with Stack(tmp_path) as second:
        with Client(second.grpc_addr, token(second, "admin")) as client:
            assert [d.name for d in client.list_datasets()] == ["durable"]
            assert client.wait_for_workflow(dataset.dataset_id, timeout_s=5)


def test_serve_runs_one_service(tmp_path):
    """`radlab serve annotation` serves annotation only: health knows annotation, not workflow."""
    with Stack(tmp_path, command=("serve", "annotation")) as stack:
        with grpc.insecure_channel(stack.grpc_addr) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            assert health.Check(health_pb2.HealthCheckRequest(service=SERVICE_NAMES["annotation"])).status == 1
            with pytest.raises(grpc.RpcError) as unknown:
                health.Check(health_pb2.HealthCheckRequest(service=SERVICE_NAMES["workflow"]))
            assert unknown.value.code() is grpc.StatusCode.NOT_FOUND


def test_radlab_up_refuses_a_port_in_use_with_a_clear_message(stack, tmp_path):
    """A second `radlab up` on a busy port exits non-zero, says so, and shows no traceback."""
    result = subprocess.run(
        [sys.executable, "-m", "radlab.cli", "up", "--grpc-addr", stack.grpc_addr, "--metrics-port", "0"],
        cwd=REPO, env={**stack.env, "RADLAB_HOME": str(tmp_path)}, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert "cannot listen on" in result.stderr and "Traceback" not in result.stderr


def test_the_cli_creates_and_lists_datasets_as_the_readme_shows(stack):
    """`radlab datasets create` then `radlab datasets list` against a running stack, as a user types them."""
    env = {**stack.env, "RADLAB_URL": stack.grpc_addr, "RADLAB_TOKEN": token(stack, "manager", tenant="cli-tenant")}

    def run(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "radlab.cli", *args]
        return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)

    created = run("datasets", "create", "chest CT", "--description", "PE study")
    assert created.returncode == 0, created.stderr
    dataset_id = json.loads(created.stdout)["datasetId"]
    listed = run("datasets", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split() == [dataset_id, "chest", "CT"]
    health = run("health")
    assert health.returncode == 0 and health.stdout.count("SERVING") == 6


def test_datasets_and_workflows_page_in_creation_order(stack):
    """ListDatasets and ListWorkflows in pages of two walk every item once, in creation order, and end with no token."""
    tenant = f"paging-{uuid.uuid4().hex[:8]}"
    with Client(stack.grpc_addr, token(stack, "admin", tenant=tenant)) as admin:
        created = [admin.create_dataset(f"paged {n}").dataset_id for n in range(5)]
        for dataset_id in created:
            admin.wait_for_workflow(dataset_id)

        def walk(call, request_type, field):
            seen, page_token, pages = [], "", 0
            while True:
                page = call(request_type(page_size=2, page_token=page_token))
                seen += [item.dataset_id for item in getattr(page, field)]
                pages += 1
                if not page.next_page_token:
                    return seen, pages
                page_token = page.next_page_token

        assert walk(admin.annotation.ListDatasets, annotation_pb.ListDatasetsRequest, "datasets") == (created, 3)
        assert walk(admin.workflow.ListWorkflows, workflow_pb.ListWorkflowsRequest, "workflows") == (created, 3)
