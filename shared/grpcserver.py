"""The gRPC server every service runs on: auth, trace ids and JSON logs, metrics, health, reflection."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from concurrent import futures
from contextlib import contextmanager

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from shared import metrics
from shared.auth import AuthInterceptor
from shared.errors import RadlabError
from shared.grpcwrap import wrap_handler
from shared.logs import reset_trace_id, set_trace_id

log = logging.getLogger(__name__)

TRACE_HEADER = "x-radlab-trace-id"


class ObservabilityInterceptor(grpc.ServerInterceptor):
    """Gives each call a trace id (the caller's, or new), reports RadlabErrors with their status, logs
    unexpected failures and records latency per method."""

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        trace_id = dict(handler_call_details.invocation_metadata or ()).get(TRACE_HEADER)

        @contextmanager
        def observed(context):
            token = set_trace_id(trace_id)
            started = time.perf_counter()
            code = grpc.StatusCode.OK
            try:
                try:
                    yield
                except RadlabError as error:
                    context.abort(error.code, str(error))
                code = context.code() or grpc.StatusCode.OK
            except Exception:
                code = context.code() or grpc.StatusCode.UNKNOWN
                if code is grpc.StatusCode.UNKNOWN:
                    log.exception("rpc %s failed", method)
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
    token_key: str,
    max_workers: int = 32,
) -> tuple[grpc.Server, health.HealthServicer, int]:
    """A started-ready server bound to `addr`; returns it, its health servicer and the bound port."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="grpc"),
        interceptors=[ObservabilityInterceptor(), AuthInterceptor(token_key)],
        options=[
            ("grpc.max_receive_message_length", 64 << 20),
            ("grpc.max_send_message_length", 64 << 20),
            # gRPC sets SO_REUSEPORT by default: a second server on a busy port would silently share it.
            ("grpc.so_reuseport", 0),
        ],
    )
    for register in registrations:
        register(server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = list(service_names)
    for name in [*names, ""]:
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    reflection.enable_server_reflection([*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
    try:
        port = server.add_insecure_port(addr)
    except RuntimeError:
        port = 0
    if port == 0:
        raise OSError(f"cannot listen on {addr}: the address is in use or not local (set RADLAB_GRPC_ADDR or --grpc-addr)")
    return server, health_servicer, port
