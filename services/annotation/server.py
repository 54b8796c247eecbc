"""Annotation's gRPC servicer: translates requests to handler calls and results to responses."""

from __future__ import annotations

from radlab.annotation.v1 import annotation_service_pb2 as pb
from radlab.annotation.v1 import annotation_service_pb2_grpc as pb_grpc
from services.annotation import handlers
from shared import paging
from shared.auth import current_principal
from shared.protos import timestamp


class AnnotationServicer(pb_grpc.AnnotationServiceServicer):
    """RPCs not overridden here answer UNIMPLEMENTED until their issue lands."""

    def __init__(self, ports: handlers.Ports):
        self.ports = ports
        self.db = ports.db

    def CreateDataset(self, request, context):
        view = handlers.create_dataset(self.db, current_principal(), request.name, request.description)
        return pb.CreateDatasetResponse(dataset=_dataset(view))

    def GetDataset(self, request, context):
        return pb.GetDatasetResponse(dataset=_dataset(handlers.get_dataset(self.db, current_principal(), request.dataset_id)))

    def ListDatasets(self, request, context):
        page, after = handlers.list_datasets(
            self.db, current_principal(), paging.decode(request.page_token), paging.page_size(request.page_size)
        )
        return pb.ListDatasetsResponse(
            datasets=[_dataset(view) for view in page], next_page_token=paging.encode(after) if after else ""
        )

    def ShareDataset(self, request, context):
        view = handlers.share_dataset(self.db, current_principal(), request.dataset_id, request.vendor_id)
        return pb.ShareDatasetResponse(dataset=_dataset(view))

    def UnshareDataset(self, request, context):
        view = handlers.unshare_dataset(self.db, current_principal(), request.dataset_id, request.vendor_id)
        return pb.UnshareDatasetResponse(dataset=_dataset(view))

    def RevokeToken(self, request, context):
        expiry = request.expire_time
        requested = expiry.seconds + expiry.nanos / 1e9 if request.HasField("expire_time") else None
        until = handlers.revoke_token(self.ports, current_principal(), request.token_id, requested)
        return pb.RevokeTokenResponse(token_id=request.token_id, expire_time=timestamp(until))


def _dataset(view: handlers.DatasetView) -> pb.Dataset:
    return pb.Dataset(
        dataset_id=view.dataset_id, name=view.name, description=view.description, vendor_ids=view.vendor_ids,
        creator=view.creator, create_time=timestamp(view.created_at),
    )
