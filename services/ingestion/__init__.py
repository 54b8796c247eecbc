"""Ingestion: uploads, studies, series and instances (anonymized metadata only), volumes and slices."""

from __future__ import annotations

import os

from radlab.ingestion.v1 import ingestion_service_pb2_grpc as pb_grpc
from services.ingestion import handlers, store
from services.ingestion.domain.archive import Limits
from services.ingestion.server import IngestionServicer
from shared.runtime import Adapters, Service
from shared.volume_store import VolumeStore


def limits(env: dict[str, str] | None = None) -> Limits:
    """Archive limits from RADLAB_UPLOAD_MAX_BYTES, RADLAB_UPLOAD_MAX_RATIO and RADLAB_UPLOAD_MAX_FILES, else the defaults."""
    env = dict(os.environ if env is None else env)
    default = Limits()
    return Limits(
        max_total_bytes=int(env.get("RADLAB_UPLOAD_MAX_BYTES") or default.max_total_bytes),
        max_ratio=float(env.get("RADLAB_UPLOAD_MAX_RATIO") or default.max_ratio),
        max_members=int(env.get("RADLAB_UPLOAD_MAX_FILES") or default.max_members),
    )


def bootstrap(adapters: Adapters) -> Service:
    """Wire ingestion onto the process's adapters: its database, the object store, volume storage and upload limits."""
    volumes = VolumeStore(adapters.store)
    upload_limits = limits()

    def ports(database) -> handlers.Ports:
        return handlers.Ports(database, adapters.store, volumes, upload_limits)

    return Service.wire(
        "ingestion", adapters, store.metadata,
        lambda database: IngestionServicer(ports(database)), pb_grpc.add_IngestionServiceServicer_to_server,
        lambda database, consumer: handlers.event_handlers(ports(database), consumer),
    )
