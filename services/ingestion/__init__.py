"""Ingestion: uploads, studies, series and instances (anonymized metadata only), volumes and slices."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from radlab.ingestion.v1 import ingestion_service_pb2_grpc as pb_grpc
from radlab.tokens import token_key
from services.ingestion import handlers, store
from services.ingestion.domain.archive import Limits
from services.ingestion.domain.slices import SliceLimits
from services.ingestion.scp import StoreSCP
from services.ingestion.server import IngestionServicer
from services.ingestion.sources import parse_sources
from services.ingestion.stow import StowServer
from shared.auth import TokenVerifier
from shared.config import Settings
from shared.revocation import DenyList
from shared.runtime import Adapters, Periodic, Service
from shared.volume_store import VolumeStore

EXPIRY_SWEEP_MAX_S = 600.0  # an idle upload expires at most this long after its TTL (sooner for short TTLs)
PACS_SWEEP_MAX_S = 5.0  # a study a PACS sent is handed on at most this long after its quiet period
T = TypeVar("T")


def limits(settings: Settings) -> Limits:
    """The upload limits the settings name (RADLAB_UPLOAD_MAX_BYTES, RADLAB_UPLOAD_MAX_RATIO, RADLAB_UPLOAD_MAX_FILES,
    RADLAB_VOLUME_MAX_VOXELS)."""
    return Limits(settings.upload_max_bytes, settings.upload_max_ratio, settings.upload_max_files, settings.volume_max_voxels)


def bootstrap(adapters: Adapters) -> Service:
    """Wire ingestion onto the process's adapters: its database, the object store, volume storage and upload limits;
    read its own ScanUploaded's dead letters; sweep idle uploads to EXPIRED until the runtime stops; take instances from
    the PACS sources bound, if any."""
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
    stops = pacs_entrances(service, settings)  # first: a port it cannot have stops the start before anything runs
    expiry = Periodic(
        "ingestion-upload-expiry", min(settings.upload_ttl_s / 4, EXPIRY_SWEEP_MAX_S),
        lambda: handlers.expire_uploads(service.ports, settings.upload_ttl_s),
    )
    expiry.start()
    stops.append(expiry.stop)

    def stop() -> None:
        for each in reversed(stops):
            each()

    service.stop = stop
    return service


def pacs_entrances(service: Service, settings: Settings) -> list[Callable[[], None]]:
    """With sources bound (RADLAB_DICOM_SOURCES): the C-STORE SCP (RADLAB_DICOM_PORT), STOW-RS (RADLAB_DICOMWEB_PORT),
    both on the gRPC address's host, and the sweep that hands quiet studies on (RADLAB_DICOM_QUIET_S); their stops."""
    sources = parse_sources(settings.dicom_sources)
    if not sources:
        return []
    host = settings.grpc_addr.rsplit(":", 1)[0].strip("[]")
    stops = []
    try:
        if settings.dicom_port:
            scp = StoreSCP(service.ports, sources, settings.dicom_ae_title, host, settings.dicom_port)
            _listening(scp.start, "RADLAB_DICOM_PORT", host, settings.dicom_port)
            stops.append(scp.stop)
        if settings.dicomweb_port:
            tokens = TokenVerifier([token_key(settings.home, settings.token_key), *settings.token_previous_keys],
                                   settings.token_max_ttl_s, DenyList([service.database]).revoked)
            stow = _listening(lambda: StowServer(service.ports, sources, tokens, host, settings.dicomweb_port),
                              "RADLAB_DICOMWEB_PORT", host, settings.dicomweb_port)
            stow.start()
            stops.append(stow.stop)
    except Exception:
        for stop in reversed(stops):
            stop()
        raise
    quiet = Periodic("ingestion-pacs-studies", min(settings.dicom_quiet_s / 4, PACS_SWEEP_MAX_S),
                     lambda: handlers.hand_on_quiet_studies(service.ports, settings.dicom_quiet_s))
    quiet.start()
    return [*stops, quiet.stop]


def _listening(listen: Callable[[], T], setting: str, host: str, port: int) -> T:
    """`listen()`, which binds `host:port`; a port it cannot have is said in words that name the setting."""
    try:
        return listen()
    except OSError as error:
        raise OSError(f"ingestion cannot listen on {host}:{port} ({error.strerror or error}): set {setting} to a free "
                      "port, or to 0 to turn that entrance off") from None
