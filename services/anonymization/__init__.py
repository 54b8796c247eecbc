"""Anonymization: de-identification profiles, the encrypted pseudonym map, the audit of what was removed."""

from __future__ import annotations

from radlab.anonymization.v1 import anonymization_service_pb2_grpc as pb_grpc
from services.anonymization import handlers, store
from services.anonymization.keys import Keys
from services.anonymization.server import AnonymizationServicer
from services.anonymization.tesseract import Tesseract
from shared.runtime import Adapters, Service


def bootstrap(adapters: Adapters) -> Service:
    """Wire anonymization onto the process's adapters: its database, the object store, its keys and its text reader."""
    keys = Keys.load(adapters.settings.home)
    settings = adapters.settings
    burned_in = handlers.BurnedInText(settings.burned_in_text, Tesseract.found(settings.tesseract))

    return Service.wire(
        "anonymization", adapters, store.metadata,
        ports=lambda database: handlers.Ports(database, adapters.store, keys, burned_in),
        servicer=AnonymizationServicer, add_to_server=pb_grpc.add_AnonymizationServiceServicer_to_server,
        event_handlers=handlers.event_handlers, migrations=store.migrations,
    )
