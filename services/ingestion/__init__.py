"""Ingestion: uploads, studies, series and instances (anonymized metadata only), volumes and slices."""

from __future__ import annotations

from radlab.ingestion.v1 import ingestion_service_pb2_grpc as pb_grpc
from services.ingestion import handlers, store
from services.ingestion.domain.archive import Limits
from services.ingestion.domain.slices import SliceLimits
from services.ingestion.server import IngestionServicer
from shared.config import Settings
from shared.runtime import Adapters, Periodic, Service
from shared.volume_store import VolumeStore

EXPIRY_SWEEP_MAX_S = 600.0  # an idle upload expires at most this long after its TTL (sooner for short TTLs)


def limits(settings: Settings) -> Limits:
    """The upload limits the settings name (RADLAB_UPLOAD_MAX_BYTES, RADLAB_UPLOAD_MAX_RATIO, RADLAB_UPLOAD_MAX_FILES,
    RADLAB_VOLUME_MAX_VOXELS)."""
    return Limits(settings.upload_max_bytes, settings.upload_max_ratio, settings.upload_max_files, settings.volume_max_voxels)


def bootstrap(adapters: Adapters) -> Service:
    """Wire ingestion onto the process's adapters: its database, the object store, volume storage and upload limits;
    read its own ScanUploaded's dead letters; sweep idle uploads to EXPIRED until the runtime stops."""
    settings = adapters.settings
    volumes = VolumeStore(adapters.store)
    upload_limits = limits(settings)

    service = Service.wire(
        "ingestion", adapters, store.metadata,
        ports=lambda database: handlers.Ports(
            database, adapters.store, volumes, upload_limits, SliceLimits(settings.thumbnail_max_size, settings.slice_max_pixels),
        ),
        servicer=IngestionServicer, add_to_server=pb_grpc.add_IngestionServiceServicer_to_server,
        event_handlers=handlers.event_handlers, dead_letter_handlers=handlers.dead_letter_handlers,
        migrations=store.migrations,
    )
    expiry = Periodic(
        "ingestion-upload-expiry", min(settings.upload_ttl_s / 4, EXPIRY_SWEEP_MAX_S),
        lambda: handlers.expire_uploads(service.ports, settings.upload_ttl_s),
    )
    expiry.start()
    service.stop = expiry.stop
    return service
