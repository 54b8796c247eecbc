"""The gRPC server every service runs on: auth, request validation, trace ids and JSON logs, metrics, health, reflection."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from concurrent import futures
from contextlib import contextmanager

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from radlab import HEALTH_REASON_TRAILER
from shared import metrics
from shared.auth import AuthInterceptor, TokenVerifier
from shared.errors import RadlabError, capped
from shared.grpcwrap import wrap_handler
from shared.logs import current_trace_id, reset_trace_id, set_trace_id
from shared.validation import RequestLimits, RequestValidation

log = logging.getLogger(__name__)

TRACE_HEADER = "x-radlab-trace-id"
# A caller's trace id is kept only if it looks like one: it is logged, and named in INTERNAL errors.
TRACE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
MAX_MESSAGE_BYTES = 64 << 20  # largest request or response
# Health names beside the services' own: LIVENESS is SERVING while the process runs (the liveness and startup probes
# ask it, so an unreachable database takes a pod out of its Service without restarting it); "" and each service's
# name follow readiness. Why a name is NOT_SERVING travels in a trailer of its Check (HEALTH_REASON_TRAILER).
LIVENESS = "liveness"


class HealthService(health.HealthServicer):
    """The standard gRPC health service, whose Check of a NOT_SERVING name also says why (`reasons`, set by
    readiness) in a trailer."""

    def __init__(self) -> None:
        super().__init__()
        self.reasons: dict[str, str] = {}

    def Check(self, request, context):
        response = super().Check(request, context)
        reason = self.reasons.get(request.service)
        if reason and response.status == health_pb2.HealthCheckResponse.NOT_SERVING:
            context.set_trailing_metadata(((HEALTH_REASON_TRAILER, reason),))
        return response


class ObservabilityInterceptor(grpc.ServerInterceptor):
    """Gives each call a trace id (the caller's, or new), reports RadlabErrors with their status and a capped
    message, turns an unexpected failure into INTERNAL naming the trace id (logged in full here, never sent) and
    records latency per method."""

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        trace_id = dict(handler_call_details.invocation_metadata or ()).get(TRACE_HEADER)
        if not (isinstance(trace_id, str) and TRACE_ID.fullmatch(trace_id)):
            trace_id = None

        @contextmanager
        def observed(context):
            token = set_trace_id(trace_id)
            started = time.perf_counter()
            code = grpc.StatusCode.OK
            try:
                try:
                    yield
                except RadlabError as error:
                    context.abort(error.code, capped(str(error)))
                code = context.code() or grpc.StatusCode.OK
            except Exception:
                code = context.code()
                if code is None:  # neither aborted nor given a status: a bug, or a library's failure
                    code = grpc.StatusCode.INTERNAL
                    log.exception("rpc %s failed", method)
                    context.abort(code, f"internal error; trace id {current_trace_id()}")
                raise
            finally:
                elapsed = time.perf_counter() - started
                metrics.RPC_DURATION.labels(method, code.name).observe(elapsed)
                log.debug("rpc", extra={"method": method, "code": code.name, "seconds": round(elapsed, 6)})
                reset_trace_id(token)

        return wrap_handler(handler, observed)


Registration = Callable[[grpc.Server], None]


def build_server(
    addr: str,
    registrations: Iterable[Registration],
    service_names: Iterable[str],
    tokens: TokenVerifier,
    max_workers: int = 32,
    request_limits: RequestLimits = RequestLimits(),
) -> tuple[grpc.Server, HealthService, int]:
    """A started-ready server bound to `addr`; returns it, its health servicer and the bound port."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="grpc"),
        interceptors=[ObservabilityInterceptor(), AuthInterceptor(tokens), RequestValidation(request_limits)],
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            # gRPC sets SO_REUSEPORT by default: a second server on a busy port would silently share it.
            ("grpc.so_reuseport", 0),
        ],
    )
    for register in registrations:
        register(server)
    health_servicer = HealthService()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = list(service_names)
    for name in [*names, "", LIVENESS]:
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    reflection.enable_server_reflection([*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
    try:
        port = server.add_insecure_port(addr)
    except RuntimeError:
        port = 0
    if port == 0:
        raise OSError(f"cannot listen on {addr}: the address is in use or not local (set RADLAB_GRPC_ADDR or --grpc-addr)")
    return server, health_servicer, port
