"""The gateway's way to the services: RPCs from the stubs, channels, calls with the caller's token, statuses as HTTP."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor
from grpc_health.v1 import health_pb2, health_pb2_grpc

from radlab import SERVICE_NAMES, SERVICES
from shared.errors import capped
from shared.grpcserver import MAX_MESSAGE_BYTES, TRACE_HEADER

CALL_TIMEOUT_S = 120.0
HEALTH_TIMEOUT_S = 2.0

# What a gRPC status is over HTTP (as Google's HTTP/JSON transcoding maps them); anything else is 500.
HTTP_STATUS = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.FAILED_PRECONDITION: 412,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}


def http_status(code: grpc.StatusCode) -> int:
    return HTTP_STATUS.get(code, HTTPStatus.INTERNAL_SERVER_ERROR)


class CallFailed(Exception):
    """A refusal the caller sees as `{"code": <gRPC status name>, "message": …}` with the status's HTTP code."""

    def __init__(self, code: grpc.StatusCode, message: str, http: int | None = None):
        super().__init__(capped(message))
        self.code = code
        self.http = http or http_status(code)


@dataclass(frozen=True)
class Rpc:
    """One RPC of one service, as the generated stub describes it."""

    service: str  # the short name, e.g. annotation
    method: MethodDescriptor
    description: str  # its leading comment in the contract

    @property
    def path(self) -> str:
        return f"/{self.method.containing_service.full_name}/{self.method.name}"

    @property
    def unary(self) -> bool:
        return not (self.method.client_streaming or self.method.server_streaming)

    def request(self):
        return message_factory.GetMessageClass(self.method.input_type)()

    def response_class(self):
        return message_factory.GetMessageClass(self.method.output_type)


@dataclass(frozen=True)
class ServiceContract:
    """One service as its generated stub describes it: its own comment and its RPCs."""

    description: str
    rpcs: list[Rpc]


def contracts() -> dict[str, ServiceContract]:
    """Every service's contract, by short name, from the generated stubs (the comments are the servicers' docstrings)."""
    found = {}
    for name in SERVICES:
        stubs = importlib.import_module(f"radlab.{name}.v1.{name}_service_pb2_grpc")
        messages = importlib.import_module(f"radlab.{name}.v1.{name}_service_pb2")
        descriptor = messages.DESCRIPTOR.services_by_name[SERVICE_NAMES[name].rsplit(".", 1)[1]]
        servicer = getattr(stubs, f"{descriptor.name}Servicer")
        rpcs = [Rpc(name, method, inspect.getdoc(getattr(servicer, method.name)) or "") for method in descriptor.methods]
        found[name] = ServiceContract(inspect.getdoc(servicer) or "", rpcs)
    return found


def parse_targets(text: str, default: str) -> dict[str, str]:
    """Where each service's gRPC API is. RADLAB_GATEWAY_TARGETS (`service=host:port`, separated by commas or spaces), as
    a Deployment per service is reached, names each service served and where; the others are not served here. Without
    it every service is at `default` (RADLAB_URL, where `radlab up` serves them all)."""
    if not text.strip():
        return dict.fromkeys(SERVICES, default)
    targets = {}
    for entry in text.replace(",", " ").split():
        name, _, address = entry.partition("=")
        if name not in SERVICES or not address:
            raise ValueError(f"RADLAB_GATEWAY_TARGETS: {entry[:80]!r} is not service=host:port with a service of "
                             f"{', '.join(SERVICES)}")
        targets[name] = address
    return targets


class Services:
    """Channels to the services (one per distinct address) and the calls the gateway makes on them."""

    def __init__(self, targets: Mapping[str, str]):
        options = [("grpc.max_receive_message_length", MAX_MESSAGE_BYTES), ("grpc.max_send_message_length", MAX_MESSAGE_BYTES)]
        self._channels = {address: grpc.insecure_channel(address, options=options) for address in set(targets.values())}
        self.targets = dict(targets)

    def channel(self, service: str) -> grpc.Channel:
        if service not in self.targets:
            raise CallFailed(grpc.StatusCode.UNAVAILABLE, f"{service} is not served behind this gateway (RADLAB_GATEWAY_TARGETS)")
        return self._channels[self.targets[service]]

    def call(self, rpc: Rpc, request, token: str, trace_id: str):
        """`rpc` with `request` as the bearer of `token`, traced as `trace_id`: its response, or CallFailed with the
        service's own status."""
        response_class = rpc.response_class()
        callable_ = self.channel(rpc.service).unary_unary(
            rpc.path, request_serializer=type(request).SerializeToString, response_deserializer=response_class.FromString
        )
        metadata = [("authorization", f"Bearer {token}"), (TRACE_HEADER, trace_id)]
        try:
            return callable_(request, metadata=metadata, timeout=CALL_TIMEOUT_S)
        except grpc.RpcError as error:
            raise CallFailed(error.code(), error.details() or error.code().name) from None

    def health(self) -> dict[str, str]:
        """Each served service's status (SERVING, NOT_SERVING, or the status of a failed check, e.g. UNAVAILABLE)."""
        statuses = {}
        for name in self.targets:
            stub = health_pb2_grpc.HealthStub(self.channel(name))
            try:
                response = stub.Check(health_pb2.HealthCheckRequest(service=SERVICE_NAMES[name]), timeout=HEALTH_TIMEOUT_S)
                statuses[name] = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
            except grpc.RpcError as error:
                statuses[name] = error.code().name
        return statuses

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()
