"""Training: training runs on Ray, the model registry, and predictions that pre-label new items."""

from __future__ import annotations

from radlab.training.v1 import training_service_pb2_grpc as pb_grpc
from services.training import handlers, store
from services.training.handlers import metrics, predictions, rankings, runs
from services.training.server import TrainingServicer
from shared.runtime import Adapters, Service
from shared.volume_store import VolumeStore


def bootstrap(adapters: Adapters) -> Service:
    """Wire training onto the process's adapters (Ray starts when a run or prediction first needs it); then take over
    the runs, predictions and rankings a stopped process left unfinished (a run continues from its last checkpoint)."""
    def ports(database) -> handlers.Ports:
        return handlers.Ports(database, adapters.store, VolumeStore(adapters.store), adapters.settings.store_url,
                              lambda: adapters.compute, *handlers.job_workers(database))

    service = Service.wire(
        "training", adapters, store.metadata, ports=ports, servicer=TrainingServicer,
        add_to_server=pb_grpc.add_TrainingServiceServicer_to_server, event_handlers=handlers.event_handlers,
    )

    metrics.METRICS.databases.add(service.database)

    def stop() -> None:  # before the database closes: runs stop at their next epoch, jobs end, claims stop, scrapes leave it
        service.ports.stopping.set()
        metrics.METRICS.databases.discard(service.database)
        for worker in (service.ports.runs, service.ports.predictions, service.ports.rankings):
            worker.shutdown()

    service.stop = stop
    runs.resume_abandoned_runs(service.ports)
    predictions.resume_abandoned_predictions(service.ports)
    rankings.resume_abandoned_rankings(service.ports)
    return service
