"""Ingestion's gRPC servicer: translates requests to handler calls and results to responses."""

from __future__ import annotations

from radlab.ingestion.v1 import ingestion_service_pb2 as pb
from radlab.ingestion.v1 import ingestion_service_pb2_grpc as pb_grpc
from services.ingestion.handlers import Ports, queries, slices, uploads
from shared import paging
from shared.auth import current_principal


class IngestionServicer(pb_grpc.IngestionServiceServicer):
    """Uploads in; studies, series, volumes and slices out."""

    def __init__(self, ports: Ports):
        self.ports = ports

    def UploadFiles(self, request_iterator, context):
        return uploads.upload(self.ports, current_principal(), request_iterator)

    def GetUpload(self, request, context):
        return pb.GetUploadResponse(upload=uploads.get_upload(self.ports, current_principal(), request.upload_id))

    def ListUploads(self, request, context):
        page, before = uploads.list_uploads(
            self.ports, current_principal(), request.dataset_id, request.state,
            *paging.requested(request),
        )
        return pb.ListUploadsResponse(uploads=page, next_page_token=paging.next_token(before))

    def ListStudies(self, request, context):
        studies, after = queries.list_studies(
            self.ports, current_principal(), request, *paging.requested(request)
        )
        return pb.ListStudiesResponse(studies=studies, next_page_token=paging.next_token(after))

    def GetStudy(self, request, context):
        return pb.GetStudyResponse(study=queries.get_study(self.ports, current_principal(), request.study_id))

    def ListSeries(self, request, context):
        series, after = queries.list_series(
            self.ports, current_principal(), request, *paging.requested(request)
        )
        return pb.ListSeriesResponse(series=series, next_page_token=paging.next_token(after))

    def GetSeries(self, request, context):
        return pb.GetSeriesResponse(series=queries.get_series(self.ports, current_principal(), request.series_id))

    def GetVolume(self, request, context):
        return pb.GetVolumeResponse(volume=queries.get_volume(self.ports, current_principal(), request.volume_id))

    def GetSlice(self, request, context):
        return slices.get_slice(self.ports, current_principal(), request)

    def GetVolumeData(self, request, context):
        return slices.get_volume_data(self.ports, current_principal(), request)

    def GetThumbnail(self, request, context):
        return slices.get_thumbnail(self.ports, current_principal(), request)
