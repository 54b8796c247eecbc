import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from radlab.type.v1 import access_pb2 as _access_pb2
from radlab.type.v1 import job_pb2 as _job_pb2
from radlab.type.v1 import label_pb2 as _label_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ModelSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MODEL_SOURCE_UNSPECIFIED: _ClassVar[ModelSource]
    MODEL_SOURCE_TRAINED: _ClassVar[ModelSource]
    MODEL_SOURCE_REGISTERED: _ClassVar[ModelSource]

class ModelFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MODEL_FORMAT_UNSPECIFIED: _ClassVar[ModelFormat]
    MODEL_FORMAT_MONAI_BUNDLE: _ClassVar[ModelFormat]
    MODEL_FORMAT_TORCHSCRIPT: _ClassVar[ModelFormat]
    MODEL_FORMAT_ONNX: _ClassVar[ModelFormat]
    MODEL_FORMAT_TORCH_STATE: _ClassVar[ModelFormat]
    MODEL_FORMAT_ENDPOINT: _ClassVar[ModelFormat]
MODEL_SOURCE_UNSPECIFIED: ModelSource
MODEL_SOURCE_TRAINED: ModelSource
MODEL_SOURCE_REGISTERED: ModelSource
MODEL_FORMAT_UNSPECIFIED: ModelFormat
MODEL_FORMAT_MONAI_BUNDLE: ModelFormat
MODEL_FORMAT_TORCHSCRIPT: ModelFormat
MODEL_FORMAT_ONNX: ModelFormat
MODEL_FORMAT_TORCH_STATE: ModelFormat
MODEL_FORMAT_ENDPOINT: ModelFormat

class Metric(_message.Message):
    __slots__ = ("name", "label_value", "value")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LABEL_VALUE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    label_value: int
    value: float
    def __init__(self, name: _Optional[str] = ..., label_value: _Optional[int] = ..., value: _Optional[float] = ...) -> None: ...

class ModelLabel(_message.Message):
    __slots__ = ("value", "name")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    value: int
    name: str
    def __init__(self, value: _Optional[int] = ..., name: _Optional[str] = ...) -> None: ...

class Preprocessing(_message.Message):
    __slots__ = ("dims", "window_low", "window_high", "roi")
    DIMS_FIELD_NUMBER: _ClassVar[int]
    WINDOW_LOW_FIELD_NUMBER: _ClassVar[int]
    WINDOW_HIGH_FIELD_NUMBER: _ClassVar[int]
    ROI_FIELD_NUMBER: _ClassVar[int]
    dims: int
    window_low: float
    window_high: float
    roi: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, dims: _Optional[int] = ..., window_low: _Optional[float] = ..., window_high: _Optional[float] = ..., roi: _Optional[_Iterable[int]] = ...) -> None: ...

class TrainingConfig(_message.Message):
    __slots__ = ("max_epochs", "validation_fraction", "gpu_count", "hyperparameters", "require_gpu")
    class HyperparametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    MAX_EPOCHS_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_FRACTION_FIELD_NUMBER: _ClassVar[int]
    GPU_COUNT_FIELD_NUMBER: _ClassVar[int]
    HYPERPARAMETERS_FIELD_NUMBER: _ClassVar[int]
    REQUIRE_GPU_FIELD_NUMBER: _ClassVar[int]
    max_epochs: int
    validation_fraction: float
    gpu_count: int
    hyperparameters: _containers.ScalarMap[str, str]
    require_gpu: bool
    def __init__(self, max_epochs: _Optional[int] = ..., validation_fraction: _Optional[float] = ..., gpu_count: _Optional[int] = ..., hyperparameters: _Optional[_Mapping[str, str]] = ..., require_gpu: _Optional[bool] = ...) -> None: ...

class TrainingRun(_message.Message):
    __slots__ = ("run_id", "job", "dataset_id", "workflow_id", "model_kind", "base_model_id", "label_values", "example_count", "config", "metrics", "model_id", "requester", "create_time", "end_time")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_KIND_FIELD_NUMBER: _ClassVar[int]
    BASE_MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    LABEL_VALUES_FIELD_NUMBER: _ClassVar[int]
    EXAMPLE_COUNT_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    REQUESTER_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    job: _job_pb2.Job
    dataset_id: str
    workflow_id: str
    model_kind: str
    base_model_id: str
    label_values: _containers.RepeatedScalarFieldContainer[int]
    example_count: int
    config: TrainingConfig
    metrics: _containers.RepeatedCompositeFieldContainer[Metric]
    model_id: str
    requester: str
    create_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    def __init__(self, run_id: _Optional[str] = ..., job: _Optional[_Union[_job_pb2.Job, _Mapping]] = ..., dataset_id: _Optional[str] = ..., workflow_id: _Optional[str] = ..., model_kind: _Optional[str] = ..., base_model_id: _Optional[str] = ..., label_values: _Optional[_Iterable[int]] = ..., example_count: _Optional[int] = ..., config: _Optional[_Union[TrainingConfig, _Mapping]] = ..., metrics: _Optional[_Iterable[_Union[Metric, _Mapping]]] = ..., model_id: _Optional[str] = ..., requester: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class StartTrainingRunRequest(_message.Message):
    __slots__ = ("dataset_id", "item_ids", "model_kind", "base_model_id", "label_values", "config")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_IDS_FIELD_NUMBER: _ClassVar[int]
    MODEL_KIND_FIELD_NUMBER: _ClassVar[int]
    BASE_MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    LABEL_VALUES_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    item_ids: _containers.RepeatedScalarFieldContainer[str]
    model_kind: str
    base_model_id: str
    label_values: _containers.RepeatedScalarFieldContainer[int]
    config: TrainingConfig
    def __init__(self, dataset_id: _Optional[str] = ..., item_ids: _Optional[_Iterable[str]] = ..., model_kind: _Optional[str] = ..., base_model_id: _Optional[str] = ..., label_values: _Optional[_Iterable[int]] = ..., config: _Optional[_Union[TrainingConfig, _Mapping]] = ...) -> None: ...

class StartTrainingRunResponse(_message.Message):
    __slots__ = ("training_run",)
    TRAINING_RUN_FIELD_NUMBER: _ClassVar[int]
    training_run: TrainingRun
    def __init__(self, training_run: _Optional[_Union[TrainingRun, _Mapping]] = ...) -> None: ...

class GetTrainingRunRequest(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class GetTrainingRunResponse(_message.Message):
    __slots__ = ("training_run",)
    TRAINING_RUN_FIELD_NUMBER: _ClassVar[int]
    training_run: TrainingRun
    def __init__(self, training_run: _Optional[_Union[TrainingRun, _Mapping]] = ...) -> None: ...

class ListTrainingRunsRequest(_message.Message):
    __slots__ = ("dataset_id", "state", "page_size", "page_token")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    state: _job_pb2.JobState
    page_size: int
    page_token: str
    def __init__(self, dataset_id: _Optional[str] = ..., state: _Optional[_Union[_job_pb2.JobState, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListTrainingRunsResponse(_message.Message):
    __slots__ = ("training_runs", "next_page_token")
    TRAINING_RUNS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    training_runs: _containers.RepeatedCompositeFieldContainer[TrainingRun]
    next_page_token: str
    def __init__(self, training_runs: _Optional[_Iterable[_Union[TrainingRun, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CancelTrainingRunRequest(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class CancelTrainingRunResponse(_message.Message):
    __slots__ = ("training_run",)
    TRAINING_RUN_FIELD_NUMBER: _ClassVar[int]
    training_run: TrainingRun
    def __init__(self, training_run: _Optional[_Union[TrainingRun, _Mapping]] = ...) -> None: ...

class Model(_message.Message):
    __slots__ = ("model_id", "name", "version", "model_kind", "source", "format", "run_id", "dataset_id", "modality", "labels", "metrics", "bucket", "object_key", "description", "creator", "create_time", "preprocessing", "promoted", "endpoint_url")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    MODEL_KIND_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    OBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CREATOR_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    PREPROCESSING_FIELD_NUMBER: _ClassVar[int]
    PROMOTED_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_URL_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    name: str
    version: int
    model_kind: str
    source: ModelSource
    format: ModelFormat
    run_id: str
    dataset_id: str
    modality: str
    labels: _containers.RepeatedCompositeFieldContainer[ModelLabel]
    metrics: _containers.RepeatedCompositeFieldContainer[Metric]
    bucket: str
    object_key: str
    description: str
    creator: str
    create_time: _timestamp_pb2.Timestamp
    preprocessing: Preprocessing
    promoted: bool
    endpoint_url: str
    def __init__(self, model_id: _Optional[str] = ..., name: _Optional[str] = ..., version: _Optional[int] = ..., model_kind: _Optional[str] = ..., source: _Optional[_Union[ModelSource, str]] = ..., format: _Optional[_Union[ModelFormat, str]] = ..., run_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., modality: _Optional[str] = ..., labels: _Optional[_Iterable[_Union[ModelLabel, _Mapping]]] = ..., metrics: _Optional[_Iterable[_Union[Metric, _Mapping]]] = ..., bucket: _Optional[str] = ..., object_key: _Optional[str] = ..., description: _Optional[str] = ..., creator: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., preprocessing: _Optional[_Union[Preprocessing, _Mapping]] = ..., promoted: _Optional[bool] = ..., endpoint_url: _Optional[str] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ("dataset_id", "model_kind", "name", "page_size", "page_token")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    model_kind: str
    name: str
    page_size: int
    page_token: str
    def __init__(self, dataset_id: _Optional[str] = ..., model_kind: _Optional[str] = ..., name: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ("models", "next_page_token")
    MODELS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[Model]
    next_page_token: str
    def __init__(self, models: _Optional[_Iterable[_Union[Model, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetModelRequest(_message.Message):
    __slots__ = ("model_id",)
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    def __init__(self, model_id: _Optional[str] = ...) -> None: ...

class GetModelResponse(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: Model
    def __init__(self, model: _Optional[_Union[Model, _Mapping]] = ...) -> None: ...

class RegisterModelRequest(_message.Message):
    __slots__ = ("name", "model_kind", "format", "artifact_uri", "dataset_id", "modality", "labels", "metrics", "description", "preprocessing")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_KIND_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_URI_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PREPROCESSING_FIELD_NUMBER: _ClassVar[int]
    name: str
    model_kind: str
    format: ModelFormat
    artifact_uri: str
    dataset_id: str
    modality: str
    labels: _containers.RepeatedCompositeFieldContainer[ModelLabel]
    metrics: _containers.RepeatedCompositeFieldContainer[Metric]
    description: str
    preprocessing: Preprocessing
    def __init__(self, name: _Optional[str] = ..., model_kind: _Optional[str] = ..., format: _Optional[_Union[ModelFormat, str]] = ..., artifact_uri: _Optional[str] = ..., dataset_id: _Optional[str] = ..., modality: _Optional[str] = ..., labels: _Optional[_Iterable[_Union[ModelLabel, _Mapping]]] = ..., metrics: _Optional[_Iterable[_Union[Metric, _Mapping]]] = ..., description: _Optional[str] = ..., preprocessing: _Optional[_Union[Preprocessing, _Mapping]] = ...) -> None: ...

class RegisterModelResponse(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: Model
    def __init__(self, model: _Optional[_Union[Model, _Mapping]] = ...) -> None: ...

class PromoteModelRequest(_message.Message):
    __slots__ = ("model_id", "dataset_id")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    dataset_id: str
    def __init__(self, model_id: _Optional[str] = ..., dataset_id: _Optional[str] = ...) -> None: ...

class PromoteModelResponse(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: Model
    def __init__(self, model: _Optional[_Union[Model, _Mapping]] = ...) -> None: ...

class Prediction(_message.Message):
    __slots__ = ("prediction_id", "job", "model_id", "item_id", "volume_id", "labels", "requester", "create_time", "boxes", "tag_probabilities")
    class TagProbabilitiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    PREDICTION_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    VOLUME_ID_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    REQUESTER_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    BOXES_FIELD_NUMBER: _ClassVar[int]
    TAG_PROBABILITIES_FIELD_NUMBER: _ClassVar[int]
    prediction_id: str
    job: _job_pb2.Job
    model_id: str
    item_id: str
    volume_id: str
    labels: _label_pb2.Mask
    requester: str
    create_time: _timestamp_pb2.Timestamp
    boxes: _containers.RepeatedCompositeFieldContainer[_label_pb2.SliceBox]
    tag_probabilities: _containers.ScalarMap[str, float]
    def __init__(self, prediction_id: _Optional[str] = ..., job: _Optional[_Union[_job_pb2.Job, _Mapping]] = ..., model_id: _Optional[str] = ..., item_id: _Optional[str] = ..., volume_id: _Optional[str] = ..., labels: _Optional[_Union[_label_pb2.Mask, _Mapping]] = ..., requester: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., boxes: _Optional[_Iterable[_Union[_label_pb2.SliceBox, _Mapping]]] = ..., tag_probabilities: _Optional[_Mapping[str, float]] = ...) -> None: ...

class StartPredictionRequest(_message.Message):
    __slots__ = ("model_id", "item_id", "volume_id")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    VOLUME_ID_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    item_id: str
    volume_id: str
    def __init__(self, model_id: _Optional[str] = ..., item_id: _Optional[str] = ..., volume_id: _Optional[str] = ...) -> None: ...

class StartPredictionResponse(_message.Message):
    __slots__ = ("prediction",)
    PREDICTION_FIELD_NUMBER: _ClassVar[int]
    prediction: Prediction
    def __init__(self, prediction: _Optional[_Union[Prediction, _Mapping]] = ...) -> None: ...

class GetPredictionRequest(_message.Message):
    __slots__ = ("prediction_id",)
    PREDICTION_ID_FIELD_NUMBER: _ClassVar[int]
    prediction_id: str
    def __init__(self, prediction_id: _Optional[str] = ...) -> None: ...

class GetPredictionResponse(_message.Message):
    __slots__ = ("prediction",)
    PREDICTION_FIELD_NUMBER: _ClassVar[int]
    prediction: Prediction
    def __init__(self, prediction: _Optional[_Union[Prediction, _Mapping]] = ...) -> None: ...

class RankedItem(_message.Message):
    __slots__ = ("item_id", "uncertainty")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    UNCERTAINTY_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    uncertainty: float
    def __init__(self, item_id: _Optional[str] = ..., uncertainty: _Optional[float] = ...) -> None: ...

class Ranking(_message.Message):
    __slots__ = ("ranking_id", "job", "dataset_id", "model_id", "items", "create_time")
    RANKING_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ranking_id: str
    job: _job_pb2.Job
    dataset_id: str
    model_id: str
    items: _containers.RepeatedCompositeFieldContainer[RankedItem]
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, ranking_id: _Optional[str] = ..., job: _Optional[_Union[_job_pb2.Job, _Mapping]] = ..., dataset_id: _Optional[str] = ..., model_id: _Optional[str] = ..., items: _Optional[_Iterable[_Union[RankedItem, _Mapping]]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class StartRankingRequest(_message.Message):
    __slots__ = ("dataset_id", "model_id")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    model_id: str
    def __init__(self, dataset_id: _Optional[str] = ..., model_id: _Optional[str] = ...) -> None: ...

class StartRankingResponse(_message.Message):
    __slots__ = ("ranking",)
    RANKING_FIELD_NUMBER: _ClassVar[int]
    ranking: Ranking
    def __init__(self, ranking: _Optional[_Union[Ranking, _Mapping]] = ...) -> None: ...

class GetRankingRequest(_message.Message):
    __slots__ = ("ranking_id", "dataset_id")
    RANKING_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    ranking_id: str
    dataset_id: str
    def __init__(self, ranking_id: _Optional[str] = ..., dataset_id: _Optional[str] = ...) -> None: ...

class GetRankingResponse(_message.Message):
    __slots__ = ("ranking",)
    RANKING_FIELD_NUMBER: _ClassVar[int]
    ranking: Ranking
    def __init__(self, ranking: _Optional[_Union[Ranking, _Mapping]] = ...) -> None: ...
