"""Anonymization's gRPC servicer: translates requests to handler calls and results to responses."""

from __future__ import annotations

from radlab.anonymization.v1 import anonymization_service_pb2 as pb
from radlab.anonymization.v1 import anonymization_service_pb2_grpc as pb_grpc
from services.anonymization.handlers import Ports, held, profiles, pseudonyms, reports
from shared import paging
from shared.auth import current_principal


class AnonymizationServicer(pb_grpc.AnonymizationServiceServicer):
    def __init__(self, ports: Ports):
        self.ports = ports

    def GetProfile(self, request, context):
        return pb.GetProfileResponse(profile=profiles.get_profile(self.ports, current_principal(), request.dataset_id))

    def UpdateProfile(self, request, context):
        profile = profiles.update_profile(self.ports, current_principal(), request.profile, request.update_mask)
        return pb.UpdateProfileResponse(profile=profile)

    def GetAnonymizationReport(self, request, context):
        return pb.GetAnonymizationReportResponse(report=reports.get_report(self.ports, current_principal(), request.scan_id))

    def ListAnonymizationReports(self, request, context):
        page, before = reports.list_reports(
            self.ports, current_principal(), request.dataset_id, *paging.requested(request)
        )
        return pb.ListAnonymizationReportsResponse(reports=page, next_page_token=paging.next_token(before))

    def ListHeldInstances(self, request, context):
        page, after = held.list_held(
            self.ports, current_principal(), request.dataset_id, request.scan_id, request.state,
            *paging.requested(request),
        )
        return pb.ListHeldInstancesResponse(held_instances=page, next_page_token=paging.next_token(after))

    def GetHeldInstancePreview(self, request, context):
        return held.preview_held(self.ports, current_principal(), request.held_instance_id, request.frame_index)

    def ReleaseHeldInstance(self, request, context):
        held_instance = held.release_held(
            self.ports, current_principal(), request.held_instance_id, request.resolution, request.redact_regions, request.comment
        )
        return pb.ReleaseHeldInstanceResponse(held_instance=held_instance)

    def LookupPseudonym(self, request, context):
        return pseudonyms.lookup_pseudonym(self.ports, current_principal(), request)
