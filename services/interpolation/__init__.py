"""Interpolation: fills the slices between key slices and writes the masks to the labels bucket."""

from __future__ import annotations

import functools

from radlab.interpolation.v1 import interpolation_service_pb2_grpc as pb_grpc
from services.interpolation import handlers, store
from services.interpolation.server import InterpolationServicer
from services.interpolation.worker import JobWorker
from shared.db import Database
from shared.runtime import Adapters, Service
from shared.volume_store import VolumeStore


def bootstrap(adapters: Adapters) -> Service:
    """Wire interpolation onto the process's adapters: its database, a volume store over the object store, a job
    worker; then resume the StartInterpolation jobs a stopped process left unfinished (KeySlicesSaved jobs are
    resumed by their event's redelivery)."""
    volumes = VolumeStore(adapters.store)

    @functools.cache
    def ports(database: Database) -> handlers.Ports:
        """One set per process: the servicer and the event handlers share the worker, and with it its claims."""
        return handlers.Ports(database, volumes, JobWorker(database))

    service = Service.wire(
        "interpolation", adapters, store.metadata,
        lambda database: InterpolationServicer(ports(database)), pb_grpc.add_InterpolationServiceServicer_to_server,
        lambda database, consumer: handlers.event_handlers(ports(database), consumer),
        store.migrations,
    )
    service.stop = ports(service.database).worker.shutdown  # before the database closes: jobs finish, claims stop
    handlers.resume_abandoned_jobs(ports(service.database))
    return service
