"""Annotation: datasets, classes, items and versioned annotations; owns dataset sharing with vendors."""

from __future__ import annotations

from radlab.annotation.v1 import annotation_service_pb2_grpc as pb_grpc
from services.annotation import handlers, store
from services.annotation.server import AnnotationServicer
from shared.objectstore import EXPORTS_BUCKET, LABELS_BUCKET
from shared.runtime import Adapters, Service
from shared.volume_store import VolumeStore


def bootstrap(adapters: Adapters) -> Service:
    """Wire annotation onto the process's adapters; its buckets (slice masks and label arrays, exports) exist from the start."""
    for bucket in (LABELS_BUCKET, EXPORTS_BUCKET):
        adapters.store.ensure_bucket(bucket)
    volumes = VolumeStore(adapters.store)
    return Service.wire(
        "annotation", adapters, store.metadata,
        ports=lambda database: handlers.Ports(database, adapters.store, volumes, adapters.settings.token_max_ttl_s),
        servicer=AnnotationServicer, add_to_server=pb_grpc.add_AnnotationServiceServicer_to_server,
        event_handlers=handlers.event_handlers, migrations=store.migrations,
    )
