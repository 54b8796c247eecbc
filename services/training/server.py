"""Training's gRPC servicer: translates requests to handler calls and results to responses."""

from __future__ import annotations

from radlab.training.v1 import training_service_pb2 as pb
from radlab.training.v1 import training_service_pb2_grpc as pb_grpc
from services.training.handlers import Ports, models, predictions, rankings, runs
from shared.auth import current_principal


class TrainingServicer(pb_grpc.TrainingServiceServicer):
    """Runs (start, poll, list, cancel), the registry (list, get, register, promote), rankings and predictions."""

    def __init__(self, ports: Ports):
        self.ports = ports

    def StartTrainingRun(self, request, context):
        return pb.StartTrainingRunResponse(training_run=runs.start_training_run(self.ports, current_principal(), request))

    def GetTrainingRun(self, request, context):
        return pb.GetTrainingRunResponse(training_run=runs.get_run(self.ports, current_principal(), request.run_id))

    def ListTrainingRuns(self, request, context):
        return runs.list_runs(self.ports, current_principal(), request)

    def CancelTrainingRun(self, request, context):
        return pb.CancelTrainingRunResponse(training_run=runs.cancel_run(self.ports, current_principal(), request.run_id))

    def ListModels(self, request, context):
        return models.list_models(self.ports, current_principal(), request)

    def GetModel(self, request, context):
        return pb.GetModelResponse(model=models.get_model(self.ports, current_principal(), request.model_id))

    def RegisterModel(self, request, context):
        return pb.RegisterModelResponse(model=models.register_model(self.ports, current_principal(), request))

    def PromoteModel(self, request, context):
        return pb.PromoteModelResponse(model=models.promote_model(self.ports, current_principal(), request))

    def StartRanking(self, request, context):
        return pb.StartRankingResponse(ranking=rankings.start_ranking(self.ports, current_principal(), request))

    def GetRanking(self, request, context):
        return pb.GetRankingResponse(ranking=rankings.get_ranking(self.ports, current_principal(), request))

    def StartPrediction(self, request, context):
        return pb.StartPredictionResponse(prediction=predictions.start_prediction(self.ports, current_principal(), request))

    def GetPrediction(self, request, context):
        return pb.GetPredictionResponse(
            prediction=predictions.get_prediction(self.ports, current_principal(), request.prediction_id))
