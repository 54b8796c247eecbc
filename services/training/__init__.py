"""Training: training runs on Ray, the model registry, and predictions that pre-label new items."""

from __future__ import annotations

from radlab.training.v1 import training_service_pb2_grpc as pb_grpc
from services.training import handlers, store
from services.training.handlers import predictions, runs
from services.training.server import TrainingServicer
from shared.runtime import Adapters, Service
from shared.volume_store import VolumeStore


def bootstrap(adapters: Adapters) -> Service:
    """Wire training onto the process's adapters (Ray starts when a run or prediction first needs it); then take over
    the runs and predictions a stopped process left unfinished (a run continues from its last checkpoint)."""
    def ports(database) -> handlers.Ports:
        run_worker, prediction_worker = handlers.job_workers(database)
        return handlers.Ports(database, adapters.store, VolumeStore(adapters.store), adapters.settings.store_url,
                              lambda: adapters.compute, run_worker, prediction_worker)

    service = Service.wire(
        "training", adapters, store.metadata, ports=ports, servicer=TrainingServicer,
        add_to_server=pb_grpc.add_TrainingServiceServicer_to_server, event_handlers=handlers.event_handlers,
    )

    def stop() -> None:  # before the database closes: jobs end, claims stop
        service.ports.runs.shutdown()
        service.ports.predictions.shutdown()

    service.stop = stop
    runs.resume_abandoned_runs(service.ports)
    predictions.resume_abandoned_predictions(service.ports)
    return service
