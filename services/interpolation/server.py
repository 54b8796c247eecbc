"""Interpolation's gRPC servicer: translates requests to handler calls and results to responses."""

from __future__ import annotations

from radlab.interpolation.v1 import interpolation_service_pb2 as pb
from radlab.interpolation.v1 import interpolation_service_pb2_grpc as pb_grpc
from services.interpolation import handlers
from shared.auth import current_principal


class InterpolationServicer(pb_grpc.InterpolationServiceServicer):
    """Interpolate for live previews; StartInterpolation and GetInterpolationJob for whole volumes."""

    def __init__(self, ports: handlers.Ports):
        self.ports = ports

    def Interpolate(self, request, context):
        return handlers.interpolate(self.ports, current_principal(), request)

    def StartInterpolation(self, request, context):
        job = handlers.start_interpolation(self.ports, current_principal(), request)
        return pb.StartInterpolationResponse(interpolation_job=job)

    def GetInterpolationJob(self, request, context):
        return pb.GetInterpolationJobResponse(interpolation_job=handlers.get_job(self.ports, current_principal(), request.job_id))
