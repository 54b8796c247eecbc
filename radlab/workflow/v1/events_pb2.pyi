from radlab.type.v1 import label_pb2 as _label_pb2
from radlab.workflow.v1 import workflow_service_pb2 as _workflow_service_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StageOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STAGE_OUTCOME_UNSPECIFIED: _ClassVar[StageOutcome]
    STAGE_OUTCOME_PASSED: _ClassVar[StageOutcome]
    STAGE_OUTCOME_REJECTED: _ClassVar[StageOutcome]
    STAGE_OUTCOME_DISPUTED: _ClassVar[StageOutcome]
    STAGE_OUTCOME_MOVED: _ClassVar[StageOutcome]
STAGE_OUTCOME_UNSPECIFIED: StageOutcome
STAGE_OUTCOME_PASSED: StageOutcome
STAGE_OUTCOME_REJECTED: StageOutcome
STAGE_OUTCOME_DISPUTED: StageOutcome
STAGE_OUTCOME_MOVED: StageOutcome

class WorkflowCreated(_message.Message):
    __slots__ = ("workflow_id", "dataset_id", "name", "stage_kinds")
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STAGE_KINDS_FIELD_NUMBER: _ClassVar[int]
    workflow_id: str
    dataset_id: str
    name: str
    stage_kinds: _containers.RepeatedScalarFieldContainer[_workflow_service_pb2.StageKind]
    def __init__(self, workflow_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., name: _Optional[str] = ..., stage_kinds: _Optional[_Iterable[_Union[_workflow_service_pb2.StageKind, str]]] = ...) -> None: ...

class TaskCreated(_message.Message):
    __slots__ = ("task_id", "workflow_id", "dataset_id", "item_id", "stage_id", "stage_kind", "assignee")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_KIND_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    workflow_id: str
    dataset_id: str
    item_id: str
    stage_id: str
    stage_kind: _workflow_service_pb2.StageKind
    assignee: str
    def __init__(self, task_id: _Optional[str] = ..., workflow_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., item_id: _Optional[str] = ..., stage_id: _Optional[str] = ..., stage_kind: _Optional[_Union[_workflow_service_pb2.StageKind, str]] = ..., assignee: _Optional[str] = ...) -> None: ...

class TaskReleased(_message.Message):
    __slots__ = ("task_id", "workflow_id", "dataset_id", "item_id", "assignee", "reason")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    workflow_id: str
    dataset_id: str
    item_id: str
    assignee: str
    reason: str
    def __init__(self, task_id: _Optional[str] = ..., workflow_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., item_id: _Optional[str] = ..., assignee: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class TaskCompleted(_message.Message):
    __slots__ = ("task_id", "workflow_id", "dataset_id", "item_id", "stage_id", "stage_kind", "assignee", "annotation_id", "annotation_version")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_KIND_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_ID_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_VERSION_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    workflow_id: str
    dataset_id: str
    item_id: str
    stage_id: str
    stage_kind: _workflow_service_pb2.StageKind
    assignee: str
    annotation_id: str
    annotation_version: int
    def __init__(self, task_id: _Optional[str] = ..., workflow_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., item_id: _Optional[str] = ..., stage_id: _Optional[str] = ..., stage_kind: _Optional[_Union[_workflow_service_pb2.StageKind, str]] = ..., assignee: _Optional[str] = ..., annotation_id: _Optional[str] = ..., annotation_version: _Optional[int] = ...) -> None: ...

class ItemCompleted(_message.Message):
    __slots__ = ("workflow_id", "dataset_id", "item_id", "annotation_id", "annotation_version")
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_ID_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_VERSION_FIELD_NUMBER: _ClassVar[int]
    workflow_id: str
    dataset_id: str
    item_id: str
    annotation_id: str
    annotation_version: int
    def __init__(self, workflow_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., item_id: _Optional[str] = ..., annotation_id: _Optional[str] = ..., annotation_version: _Optional[int] = ...) -> None: ...

class TaskAssigned(_message.Message):
    __slots__ = ("task_id", "workflow_id", "dataset_id", "item_id", "stage_id", "stage_kind", "assignee", "vendor_id", "annotation_id")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_KIND_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_FIELD_NUMBER: _ClassVar[int]
    VENDOR_ID_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    workflow_id: str
    dataset_id: str
    item_id: str
    stage_id: str
    stage_kind: _workflow_service_pb2.StageKind
    assignee: str
    vendor_id: str
    annotation_id: str
    def __init__(self, task_id: _Optional[str] = ..., workflow_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., item_id: _Optional[str] = ..., stage_id: _Optional[str] = ..., stage_kind: _Optional[_Union[_workflow_service_pb2.StageKind, str]] = ..., assignee: _Optional[str] = ..., vendor_id: _Optional[str] = ..., annotation_id: _Optional[str] = ...) -> None: ...

class StageCompleted(_message.Message):
    __slots__ = ("workflow_id", "dataset_id", "item_id", "stage_id", "stage_kind", "outcome", "next_stage_id", "next_stage_kind", "annotation_id")
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_KIND_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    NEXT_STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    NEXT_STAGE_KIND_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_ID_FIELD_NUMBER: _ClassVar[int]
    workflow_id: str
    dataset_id: str
    item_id: str
    stage_id: str
    stage_kind: _workflow_service_pb2.StageKind
    outcome: StageOutcome
    next_stage_id: str
    next_stage_kind: _workflow_service_pb2.StageKind
    annotation_id: str
    def __init__(self, workflow_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., item_id: _Optional[str] = ..., stage_id: _Optional[str] = ..., stage_kind: _Optional[_Union[_workflow_service_pb2.StageKind, str]] = ..., outcome: _Optional[_Union[StageOutcome, str]] = ..., next_stage_id: _Optional[str] = ..., next_stage_kind: _Optional[_Union[_workflow_service_pb2.StageKind, str]] = ..., annotation_id: _Optional[str] = ...) -> None: ...

class ConsensusReached(_message.Message):
    __slots__ = ("consensus_result_id", "workflow_id", "dataset_id", "item_id", "stage_id", "agreement", "annotation_ids", "consensus_labels", "consensus_boxes", "consensus_polygons")
    CONSENSUS_RESULT_ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    AGREEMENT_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_IDS_FIELD_NUMBER: _ClassVar[int]
    CONSENSUS_LABELS_FIELD_NUMBER: _ClassVar[int]
    CONSENSUS_BOXES_FIELD_NUMBER: _ClassVar[int]
    CONSENSUS_POLYGONS_FIELD_NUMBER: _ClassVar[int]
    consensus_result_id: str
    workflow_id: str
    dataset_id: str
    item_id: str
    stage_id: str
    agreement: float
    annotation_ids: _containers.RepeatedScalarFieldContainer[str]
    consensus_labels: _label_pb2.Mask
    consensus_boxes: _containers.RepeatedCompositeFieldContainer[_label_pb2.SliceBox]
    consensus_polygons: _containers.RepeatedCompositeFieldContainer[_label_pb2.Polygon]
    def __init__(self, consensus_result_id: _Optional[str] = ..., workflow_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., item_id: _Optional[str] = ..., stage_id: _Optional[str] = ..., agreement: _Optional[float] = ..., annotation_ids: _Optional[_Iterable[str]] = ..., consensus_labels: _Optional[_Union[_label_pb2.Mask, _Mapping]] = ..., consensus_boxes: _Optional[_Iterable[_Union[_label_pb2.SliceBox, _Mapping]]] = ..., consensus_polygons: _Optional[_Iterable[_Union[_label_pb2.Polygon, _Mapping]]] = ...) -> None: ...

class ConsensusDisputed(_message.Message):
    __slots__ = ("consensus_result_id", "workflow_id", "dataset_id", "item_id", "stage_id", "agreement", "threshold", "annotation_ids", "consensus_labels", "consensus_boxes", "consensus_polygons")
    CONSENSUS_RESULT_ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    AGREEMENT_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_IDS_FIELD_NUMBER: _ClassVar[int]
    CONSENSUS_LABELS_FIELD_NUMBER: _ClassVar[int]
    CONSENSUS_BOXES_FIELD_NUMBER: _ClassVar[int]
    CONSENSUS_POLYGONS_FIELD_NUMBER: _ClassVar[int]
    consensus_result_id: str
    workflow_id: str
    dataset_id: str
    item_id: str
    stage_id: str
    agreement: float
    threshold: float
    annotation_ids: _containers.RepeatedScalarFieldContainer[str]
    consensus_labels: _label_pb2.Mask
    consensus_boxes: _containers.RepeatedCompositeFieldContainer[_label_pb2.SliceBox]
    consensus_polygons: _containers.RepeatedCompositeFieldContainer[_label_pb2.Polygon]
    def __init__(self, consensus_result_id: _Optional[str] = ..., workflow_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., item_id: _Optional[str] = ..., stage_id: _Optional[str] = ..., agreement: _Optional[float] = ..., threshold: _Optional[float] = ..., annotation_ids: _Optional[_Iterable[str]] = ..., consensus_labels: _Optional[_Union[_label_pb2.Mask, _Mapping]] = ..., consensus_boxes: _Optional[_Iterable[_Union[_label_pb2.SliceBox, _Mapping]]] = ..., consensus_polygons: _Optional[_Iterable[_Union[_label_pb2.Polygon, _Mapping]]] = ...) -> None: ...

class ConsensusAdjudicated(_message.Message):
    __slots__ = ("consensus_result_id", "dataset_id", "item_id", "chosen_annotation_id", "chosen_labels_key")
    CONSENSUS_RESULT_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    CHOSEN_ANNOTATION_ID_FIELD_NUMBER: _ClassVar[int]
    CHOSEN_LABELS_KEY_FIELD_NUMBER: _ClassVar[int]
    consensus_result_id: str
    dataset_id: str
    item_id: str
    chosen_annotation_id: str
    chosen_labels_key: str
    def __init__(self, consensus_result_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., item_id: _Optional[str] = ..., chosen_annotation_id: _Optional[str] = ..., chosen_labels_key: _Optional[str] = ...) -> None: ...

class WebhookDue(_message.Message):
    __slots__ = ("task_id", "item_id", "delivery_id")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    item_id: str
    delivery_id: str
    def __init__(self, task_id: _Optional[str] = ..., item_id: _Optional[str] = ..., delivery_id: _Optional[str] = ...) -> None: ...

class ReadersFinished(_message.Message):
    __slots__ = ("workflow_id", "dataset_id", "item_id", "stage_id")
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    workflow_id: str
    dataset_id: str
    item_id: str
    stage_id: str
    def __init__(self, workflow_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., item_id: _Optional[str] = ..., stage_id: _Optional[str] = ...) -> None: ...

class TrainingExample(_message.Message):
    __slots__ = ("item_id", "volume_id", "annotation_id", "annotation_version", "labels")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    VOLUME_ID_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_ID_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_VERSION_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    volume_id: str
    annotation_id: str
    annotation_version: int
    labels: _label_pb2.Mask
    def __init__(self, item_id: _Optional[str] = ..., volume_id: _Optional[str] = ..., annotation_id: _Optional[str] = ..., annotation_version: _Optional[int] = ..., labels: _Optional[_Union[_label_pb2.Mask, _Mapping]] = ...) -> None: ...

class TrainingRequested(_message.Message):
    __slots__ = ("workflow_id", "dataset_id", "model_kind", "base_model_id", "label_values", "examples", "hyperparameters")
    class HyperparametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_KIND_FIELD_NUMBER: _ClassVar[int]
    BASE_MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    LABEL_VALUES_FIELD_NUMBER: _ClassVar[int]
    EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    HYPERPARAMETERS_FIELD_NUMBER: _ClassVar[int]
    workflow_id: str
    dataset_id: str
    model_kind: str
    base_model_id: str
    label_values: _containers.RepeatedScalarFieldContainer[int]
    examples: _containers.RepeatedCompositeFieldContainer[TrainingExample]
    hyperparameters: _containers.ScalarMap[str, str]
    def __init__(self, workflow_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., model_kind: _Optional[str] = ..., base_model_id: _Optional[str] = ..., label_values: _Optional[_Iterable[int]] = ..., examples: _Optional[_Iterable[_Union[TrainingExample, _Mapping]]] = ..., hyperparameters: _Optional[_Mapping[str, str]] = ...) -> None: ...

class PredictionRequested(_message.Message):
    __slots__ = ("model_id", "item_id", "volume_id", "dataset_id", "workflow_id", "task_id")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    VOLUME_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    item_id: str
    volume_id: str
    dataset_id: str
    workflow_id: str
    task_id: str
    def __init__(self, model_id: _Optional[str] = ..., item_id: _Optional[str] = ..., volume_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., workflow_id: _Optional[str] = ..., task_id: _Optional[str] = ...) -> None: ...
