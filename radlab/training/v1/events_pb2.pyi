from radlab.training.v1 import training_service_pb2 as _training_service_pb2
from radlab.type.v1 import label_pb2 as _label_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ModelTrained(_message.Message):
    __slots__ = ("model_id", "run_id", "dataset_id", "workflow_id", "model_kind", "metrics")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_KIND_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    run_id: str
    dataset_id: str
    workflow_id: str
    model_kind: str
    metrics: _containers.RepeatedCompositeFieldContainer[_training_service_pb2.Metric]
    def __init__(self, model_id: _Optional[str] = ..., run_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., workflow_id: _Optional[str] = ..., model_kind: _Optional[str] = ..., metrics: _Optional[_Iterable[_Union[_training_service_pb2.Metric, _Mapping]]] = ...) -> None: ...

class ModelPromoted(_message.Message):
    __slots__ = ("model_id", "dataset_id", "previous_model_id", "promoted_by")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    PROMOTED_BY_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    dataset_id: str
    previous_model_id: str
    promoted_by: str
    def __init__(self, model_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., previous_model_id: _Optional[str] = ..., promoted_by: _Optional[str] = ...) -> None: ...

class ItemsRanked(_message.Message):
    __slots__ = ("ranking_id", "dataset_id", "model_id", "items")
    RANKING_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    ranking_id: str
    dataset_id: str
    model_id: str
    items: _containers.RepeatedCompositeFieldContainer[_training_service_pb2.RankedItem]
    def __init__(self, ranking_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., model_id: _Optional[str] = ..., items: _Optional[_Iterable[_Union[_training_service_pb2.RankedItem, _Mapping]]] = ...) -> None: ...

class TrainingFailed(_message.Message):
    __slots__ = ("run_id", "dataset_id", "workflow_id", "reason")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    dataset_id: str
    workflow_id: str
    reason: str
    def __init__(self, run_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., workflow_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class PredictionsReady(_message.Message):
    __slots__ = ("prediction_id", "item_id", "model_id", "volume_id", "dataset_id", "workflow_id", "task_id", "labels", "confidence", "boxes", "tag_probabilities")
    class TagProbabilitiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    PREDICTION_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    VOLUME_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    BOXES_FIELD_NUMBER: _ClassVar[int]
    TAG_PROBABILITIES_FIELD_NUMBER: _ClassVar[int]
    prediction_id: str
    item_id: str
    model_id: str
    volume_id: str
    dataset_id: str
    workflow_id: str
    task_id: str
    labels: _label_pb2.Mask
    confidence: float
    boxes: _containers.RepeatedCompositeFieldContainer[_label_pb2.SliceBox]
    tag_probabilities: _containers.ScalarMap[str, float]
    def __init__(self, prediction_id: _Optional[str] = ..., item_id: _Optional[str] = ..., model_id: _Optional[str] = ..., volume_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., workflow_id: _Optional[str] = ..., task_id: _Optional[str] = ..., labels: _Optional[_Union[_label_pb2.Mask, _Mapping]] = ..., confidence: _Optional[float] = ..., boxes: _Optional[_Iterable[_Union[_label_pb2.SliceBox, _Mapping]]] = ..., tag_probabilities: _Optional[_Mapping[str, float]] = ...) -> None: ...

class PredictionFailed(_message.Message):
    __slots__ = ("prediction_id", "item_id", "model_id", "volume_id", "dataset_id", "workflow_id", "task_id", "reason")
    PREDICTION_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    VOLUME_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    prediction_id: str
    item_id: str
    model_id: str
    volume_id: str
    dataset_id: str
    workflow_id: str
    task_id: str
    reason: str
    def __init__(self, prediction_id: _Optional[str] = ..., item_id: _Optional[str] = ..., model_id: _Optional[str] = ..., volume_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., workflow_id: _Optional[str] = ..., task_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...
