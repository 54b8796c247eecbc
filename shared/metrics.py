"""Prometheus metrics every service exports, named `radlab_<thing>_<unit>[_total]` with no ids in labels."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

RPC_DURATION = Histogram(
    "radlab_rpc_duration_seconds", "gRPC handling time per method and status code", ["method", "code"]
)
HTTP_DURATION = Histogram(
    "radlab_http_request_duration_seconds", "HTTP gateway handling time to the last byte per route template and status",
    ["method", "route", "status"],
)
EVENTS_HANDLED = Counter("radlab_events_handled_total", "Events applied by a consumer", ["consumer", "type"])
EVENTS_FAILED = Counter(
    "radlab_events_failed_total", "Events sent to the dead-letter topic after their last retry", ["consumer", "type"]
)
EVENT_RETRIES = Counter("radlab_event_retries_total", "Handler attempts that failed and were retried", ["consumer", "type"])
HANDLER_DURATION = Histogram(
    "radlab_event_handler_duration_seconds", "Time to apply one event, retries included", ["consumer", "type"]
)
CONSUMER_LAG = Gauge("radlab_consumer_lag_records", "Records published but not yet committed", ["consumer", "topic"])
OUTBOX_PENDING = Gauge(
    "radlab_outbox_pending_records", "Outbox rows not yet published, as the service's relay last counted them", ["service"]
)
STORED_BYTES = Counter("radlab_stored_bytes_total", "Bytes written through the object store port, per bucket", ["bucket"])
DEPENDENCY_UP = Gauge(
    "radlab_dependency_up", "1 while the service's database, the bus or the store answers its readiness probe, else 0",
    ["service", "dependency"],
)
ANONYMIZED_INSTANCES = Counter(
    "radlab_anonymized_instances_total", "DICOM instances de-identified, by the engine that did it (bytes or dataset)", ["engine"]
)
HELD_INSTANCES = Counter(
    "radlab_held_instances_total", "DICOM instances held for a person's review instead of de-identified, by reason", ["reason"]
)


def serve(host: str, port: int) -> None:
    """Serve /metrics on `host`:`port` from a daemon thread; the host is an interface (RADLAB_METRICS_HOST, by default
    gRPC's own), never every interface unless asked for."""
    start_http_server(port, addr=host)
