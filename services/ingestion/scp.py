"""Ingestion's DICOM C-STORE SCP (pynetdicom): takes associations only from the bound calling AE titles, answers C-ECHO,
and hands each stored instance to the arrivals handler."""

from __future__ import annotations

import logging

from pydicom.dataset import Dataset
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, StoragePresentationContexts, evt
from pynetdicom.sop_class import Verification

from services.ingestion.handlers import Ports, arrivals
from services.ingestion.sources import Source

log = logging.getLogger(__name__)

ERROR_COMMENT_CHARS = 64  # Error Comment is an LO


class StoreSCP:
    """A Storage and Verification SCP on `host:port` as `ae_title`, for the AE titles of `sources` alone."""

    def __init__(self, ports: Ports, sources: dict[str, Source], ae_title: str, host: str, port: int):
        self.ports = ports
        self.sources = sources
        self.address = (host, port)
        self.ae = AE(ae_title=ae_title)
        self.ae.require_calling_aet = list(sources)  # any other is rejected at association: calling AE not recognised
        self.ae.add_supported_context(Verification)
        for context in StoragePresentationContexts:  # every storage class negotiates; C-STORE says which are taken
            self.ae.add_supported_context(context.abstract_syntax, ALL_TRANSFER_SYNTAXES)
        self.server = None

    def start(self) -> None:
        self.server = self.ae.start_server(self.address, block=False, evt_handlers=[
            (evt.EVT_C_STORE, self._store), (evt.EVT_REJECTED, self._rejected),
        ])
        log.info("dicom scp serving", extra={"address": f"{self.address[0]}:{self.server.server_address[1]}",
                                             "ae_title": self.ae.ae_title, "sources": sorted(self.sources)})

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()

    def _store(self, event) -> Dataset | int:
        source = self.sources[event.assoc.requestor.ae_title]
        try:
            arrivals.receive(self.ports, source, event.encoded_dataset())
        except arrivals.InstanceRefused as refused:
            log.warning("c-store refused", extra={"source": source.ae_title, "status": refused.status, "reason": str(refused)})
            status = Dataset()
            status.Status = refused.status
            status.ErrorComment = str(refused)[:ERROR_COMMENT_CHARS]
            return status
        except Exception:
            log.exception("c-store failed", extra={"source": source.ae_title})
            return arrivals.PROCESSING_FAILURE
        return 0x0000

    def _rejected(self, event) -> None:
        requestor = event.assoc.requestor
        log.warning("dicom association refused: calling AE title not bound in RADLAB_DICOM_SOURCES",
                    extra={"calling_ae_title": requestor.ae_title, "peer": f"{requestor.address}:{requestor.port}"})
