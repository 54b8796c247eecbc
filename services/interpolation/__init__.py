"""Interpolation: fills the slices between key slices and writes the masks to the labels bucket."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from radlab.interpolation.v1 import interpolation_service_pb2_grpc as pb_grpc
from services.interpolation import handlers, store
from services.interpolation.server import InterpolationServicer
from shared.runtime import Adapters, Service
from shared.volume_store import VolumeStore

# Whole-volume jobs of StartInterpolation run one at a time beside the gRPC threads: each already uses the
# machine's cores, and KeySlicesSaved jobs run on the event consumer.
JOB_WORKERS = 1


def bootstrap(adapters: Adapters) -> Service:
    """Wire interpolation onto the process's adapters: its database, a volume store over the object store, a job worker."""
    volumes = VolumeStore(adapters.store)
    jobs = ThreadPoolExecutor(max_workers=JOB_WORKERS, thread_name_prefix="interpolation-job")

    def ports(database) -> handlers.Ports:
        return handlers.Ports(database, volumes, jobs)

    return Service.wire(
        "interpolation", adapters, store.metadata,
        lambda database: InterpolationServicer(ports(database)), pb_grpc.add_InterpolationServiceServicer_to_server,
        lambda database, consumer: handlers.event_handlers(ports(database), consumer),
    )
