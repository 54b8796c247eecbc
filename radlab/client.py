"""The Radlab SDK: one authenticated channel to a Radlab deployment and a stub per service.

    from radlab.client import Client
    radlab = Client()                     # RADLAB_URL (default 127.0.0.1:50051), RADLAB_TOKEN
    dataset = radlab.create_dataset("chest CT")
    radlab.annotation.ListDatasets(annotation_service_pb2.ListDatasetsRequest())   # any RPC, as a stub
"""

from __future__ import annotations

import collections
import os
import time
import uuid

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from radlab import SERVICE_NAMES
from radlab.annotation.v1 import annotation_service_pb2 as annotation_pb
from radlab.annotation.v1 import annotation_service_pb2_grpc as annotation_grpc
from radlab.anonymization.v1 import anonymization_service_pb2_grpc as anonymization_grpc
from radlab.ingestion.v1 import ingestion_service_pb2_grpc as ingestion_grpc
from radlab.interpolation.v1 import interpolation_service_pb2_grpc as interpolation_grpc
from radlab.training.v1 import training_service_pb2_grpc as training_grpc
from radlab.workflow.v1 import workflow_service_pb2 as workflow_pb
from radlab.workflow.v1 import workflow_service_pb2_grpc as workflow_grpc

DEFAULT_URL = "127.0.0.1:50051"


class ConfigurationError(RuntimeError):
    """The SDK was not told where Radlab is or who is calling."""


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
        statuses = {}
        for short, full in SERVICE_NAMES.items():
            try:
                response = self._health.Check(health_pb2.HealthCheckRequest(service=full), timeout=timeout_s)
                statuses[short] = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
            except grpc.RpcError as error:
                statuses[short] = error.code().name
        return statuses

    def create_dataset(self, name: str, description: str = "") -> annotation_pb.Dataset:
        """A new dataset; its id names the dataset in uploads."""
        request = annotation_pb.CreateDatasetRequest(name=name, description=description)
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
