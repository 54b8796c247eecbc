"""Interpolation: fills the slices between key slices and writes the masks to the labels bucket."""

from __future__ import annotations

from radlab.interpolation.v1 import interpolation_service_pb2_grpc as pb_grpc
from services.interpolation import handlers, store
from services.interpolation.server import InterpolationServicer
from shared.runtime import Adapters, Service
from shared.volume_store import VolumeStore


def bootstrap(adapters: Adapters) -> Service:
    """Wire interpolation onto the process's adapters: its database, a volume store over the object store, a job
    worker; then resume the StartInterpolation jobs a stopped process left unfinished (KeySlicesSaved jobs are
    resumed by their event's redelivery)."""
    volumes = VolumeStore(adapters.store)
    service = Service.wire(
        "interpolation", adapters, store.metadata,
        # the servicer and the event handlers share one worker, and with it its claims
        ports=lambda database: handlers.Ports(database, volumes, handlers.job_worker(database)),
        servicer=InterpolationServicer, add_to_server=pb_grpc.add_InterpolationServiceServicer_to_server,
        event_handlers=handlers.event_handlers, migrations=store.migrations,
    )
    service.stop = service.ports.worker.shutdown  # before the database closes: jobs finish, claims stop
    handlers.resume_abandoned_jobs(service.ports)
    return service
