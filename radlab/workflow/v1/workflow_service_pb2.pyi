import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from radlab.type.v1 import access_pb2 as _access_pb2
from radlab.type.v1 import label_pb2 as _label_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StageKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STAGE_KIND_UNSPECIFIED: _ClassVar[StageKind]
    STAGE_KIND_ANNOTATE: _ClassVar[StageKind]
    STAGE_KIND_REVIEW: _ClassVar[StageKind]
    STAGE_KIND_CONSENSUS: _ClassVar[StageKind]
    STAGE_KIND_MODEL: _ClassVar[StageKind]
    STAGE_KIND_COMPLETE: _ClassVar[StageKind]
    STAGE_KIND_WEBHOOK: _ClassVar[StageKind]

class Seniority(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SENIORITY_UNSPECIFIED: _ClassVar[Seniority]
    SENIORITY_JUNIOR_TECHNOLOGIST: _ClassVar[Seniority]
    SENIORITY_RADIOGRAPHER: _ClassVar[Seniority]
    SENIORITY_RADIOLOGIST: _ClassVar[Seniority]
    SENIORITY_SENIOR_RADIOLOGIST: _ClassVar[Seniority]

class AssignmentPolicy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ASSIGNMENT_POLICY_UNSPECIFIED: _ClassVar[AssignmentPolicy]
    ASSIGNMENT_POLICY_CLAIM: _ClassVar[AssignmentPolicy]
    ASSIGNMENT_POLICY_ROUND_ROBIN: _ClassVar[AssignmentPolicy]
    ASSIGNMENT_POLICY_MANUAL: _ClassVar[AssignmentPolicy]
    ASSIGNMENT_POLICY_LEAST_LOADED: _ClassVar[AssignmentPolicy]

class AgreementMeasure(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AGREEMENT_MEASURE_UNSPECIFIED: _ClassVar[AgreementMeasure]
    AGREEMENT_MEASURE_DICE: _ClassVar[AgreementMeasure]
    AGREEMENT_MEASURE_IOU: _ClassVar[AgreementMeasure]
    AGREEMENT_MEASURE_SURFACE_DICE: _ClassVar[AgreementMeasure]
    AGREEMENT_MEASURE_HD95: _ClassVar[AgreementMeasure]
    AGREEMENT_MEASURE_ASSD: _ClassVar[AgreementMeasure]
    AGREEMENT_MEASURE_VOLUME_DIFFERENCE: _ClassVar[AgreementMeasure]

class MergeMethod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MERGE_METHOD_UNSPECIFIED: _ClassVar[MergeMethod]
    MERGE_METHOD_STAPLE: _ClassVar[MergeMethod]
    MERGE_METHOD_MAJORITY_VOTE: _ClassVar[MergeMethod]
    MERGE_METHOD_CHAMPION: _ClassVar[MergeMethod]

class TaskState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TASK_STATE_UNSPECIFIED: _ClassVar[TaskState]
    TASK_STATE_UNASSIGNED: _ClassVar[TaskState]
    TASK_STATE_ASSIGNED: _ClassVar[TaskState]
    TASK_STATE_WAITING: _ClassVar[TaskState]
    TASK_STATE_COMPLETED: _ClassVar[TaskState]
    TASK_STATE_CANCELLED: _ClassVar[TaskState]

class ReviewDecision(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REVIEW_DECISION_UNSPECIFIED: _ClassVar[ReviewDecision]
    REVIEW_DECISION_ACCEPT: _ClassVar[ReviewDecision]
    REVIEW_DECISION_REJECT: _ClassVar[ReviewDecision]

class ConsensusState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONSENSUS_STATE_UNSPECIFIED: _ClassVar[ConsensusState]
    CONSENSUS_STATE_PENDING: _ClassVar[ConsensusState]
    CONSENSUS_STATE_REACHED: _ClassVar[ConsensusState]
    CONSENSUS_STATE_DISPUTED: _ClassVar[ConsensusState]
STAGE_KIND_UNSPECIFIED: StageKind
STAGE_KIND_ANNOTATE: StageKind
STAGE_KIND_REVIEW: StageKind
STAGE_KIND_CONSENSUS: StageKind
STAGE_KIND_MODEL: StageKind
STAGE_KIND_COMPLETE: StageKind
STAGE_KIND_WEBHOOK: StageKind
SENIORITY_UNSPECIFIED: Seniority
SENIORITY_JUNIOR_TECHNOLOGIST: Seniority
SENIORITY_RADIOGRAPHER: Seniority
SENIORITY_RADIOLOGIST: Seniority
SENIORITY_SENIOR_RADIOLOGIST: Seniority
ASSIGNMENT_POLICY_UNSPECIFIED: AssignmentPolicy
ASSIGNMENT_POLICY_CLAIM: AssignmentPolicy
ASSIGNMENT_POLICY_ROUND_ROBIN: AssignmentPolicy
ASSIGNMENT_POLICY_MANUAL: AssignmentPolicy
ASSIGNMENT_POLICY_LEAST_LOADED: AssignmentPolicy
AGREEMENT_MEASURE_UNSPECIFIED: AgreementMeasure
AGREEMENT_MEASURE_DICE: AgreementMeasure
AGREEMENT_MEASURE_IOU: AgreementMeasure
AGREEMENT_MEASURE_SURFACE_DICE: AgreementMeasure
AGREEMENT_MEASURE_HD95: AgreementMeasure
AGREEMENT_MEASURE_ASSD: AgreementMeasure
AGREEMENT_MEASURE_VOLUME_DIFFERENCE: AgreementMeasure
MERGE_METHOD_UNSPECIFIED: MergeMethod
MERGE_METHOD_STAPLE: MergeMethod
MERGE_METHOD_MAJORITY_VOTE: MergeMethod
MERGE_METHOD_CHAMPION: MergeMethod
TASK_STATE_UNSPECIFIED: TaskState
TASK_STATE_UNASSIGNED: TaskState
TASK_STATE_ASSIGNED: TaskState
TASK_STATE_WAITING: TaskState
TASK_STATE_COMPLETED: TaskState
TASK_STATE_CANCELLED: TaskState
REVIEW_DECISION_UNSPECIFIED: ReviewDecision
REVIEW_DECISION_ACCEPT: ReviewDecision
REVIEW_DECISION_REJECT: ReviewDecision
CONSENSUS_STATE_UNSPECIFIED: ConsensusState
CONSENSUS_STATE_PENDING: ConsensusState
CONSENSUS_STATE_REACHED: ConsensusState
CONSENSUS_STATE_DISPUTED: ConsensusState

class AssignmentSettings(_message.Message):
    __slots__ = ("policy", "assignees", "vendor_id", "claim_timeout_s", "min_seniority")
    POLICY_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEES_FIELD_NUMBER: _ClassVar[int]
    VENDOR_ID_FIELD_NUMBER: _ClassVar[int]
    CLAIM_TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    MIN_SENIORITY_FIELD_NUMBER: _ClassVar[int]
    policy: AssignmentPolicy
    assignees: _containers.RepeatedScalarFieldContainer[str]
    vendor_id: str
    claim_timeout_s: int
    min_seniority: Seniority
    def __init__(self, policy: _Optional[_Union[AssignmentPolicy, str]] = ..., assignees: _Optional[_Iterable[str]] = ..., vendor_id: _Optional[str] = ..., claim_timeout_s: _Optional[int] = ..., min_seniority: _Optional[_Union[Seniority, str]] = ...) -> None: ...

class Person(_message.Message):
    __slots__ = ("subject", "display_name", "seniority", "vendor_id")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    SENIORITY_FIELD_NUMBER: _ClassVar[int]
    VENDOR_ID_FIELD_NUMBER: _ClassVar[int]
    subject: str
    display_name: str
    seniority: Seniority
    vendor_id: str
    def __init__(self, subject: _Optional[str] = ..., display_name: _Optional[str] = ..., seniority: _Optional[_Union[Seniority, str]] = ..., vendor_id: _Optional[str] = ...) -> None: ...

class SetPersonRequest(_message.Message):
    __slots__ = ("person",)
    PERSON_FIELD_NUMBER: _ClassVar[int]
    person: Person
    def __init__(self, person: _Optional[_Union[Person, _Mapping]] = ...) -> None: ...

class SetPersonResponse(_message.Message):
    __slots__ = ("person",)
    PERSON_FIELD_NUMBER: _ClassVar[int]
    person: Person
    def __init__(self, person: _Optional[_Union[Person, _Mapping]] = ...) -> None: ...

class ListPeopleRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListPeopleResponse(_message.Message):
    __slots__ = ("people",)
    PEOPLE_FIELD_NUMBER: _ClassVar[int]
    people: _containers.RepeatedCompositeFieldContainer[Person]
    def __init__(self, people: _Optional[_Iterable[_Union[Person, _Mapping]]] = ...) -> None: ...

class MoveItemRequest(_message.Message):
    __slots__ = ("item_id", "stage_id", "reason")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    stage_id: str
    reason: str
    def __init__(self, item_id: _Optional[str] = ..., stage_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class MoveItemResponse(_message.Message):
    __slots__ = ("progress",)
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    progress: GetItemProgressResponse
    def __init__(self, progress: _Optional[_Union[GetItemProgressResponse, _Mapping]] = ...) -> None: ...

class ReviewSettings(_message.Message):
    __slots__ = ("reject_stage_id", "sample_fraction")
    REJECT_STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_FRACTION_FIELD_NUMBER: _ClassVar[int]
    reject_stage_id: str
    sample_fraction: float
    def __init__(self, reject_stage_id: _Optional[str] = ..., sample_fraction: _Optional[float] = ...) -> None: ...

class ConsensusSettings(_message.Message):
    __slots__ = ("annotator_count", "measure", "agreement_threshold", "surface_tolerance_mm", "disputed_stage_id", "limits", "merge", "champion", "model_id")
    ANNOTATOR_COUNT_FIELD_NUMBER: _ClassVar[int]
    MEASURE_FIELD_NUMBER: _ClassVar[int]
    AGREEMENT_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    SURFACE_TOLERANCE_MM_FIELD_NUMBER: _ClassVar[int]
    DISPUTED_STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    MERGE_FIELD_NUMBER: _ClassVar[int]
    CHAMPION_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    annotator_count: int
    measure: AgreementMeasure
    agreement_threshold: float
    surface_tolerance_mm: float
    disputed_stage_id: str
    limits: _containers.RepeatedCompositeFieldContainer[MeasureLimit]
    merge: MergeMethod
    champion: str
    model_id: str
    def __init__(self, annotator_count: _Optional[int] = ..., measure: _Optional[_Union[AgreementMeasure, str]] = ..., agreement_threshold: _Optional[float] = ..., surface_tolerance_mm: _Optional[float] = ..., disputed_stage_id: _Optional[str] = ..., limits: _Optional[_Iterable[_Union[MeasureLimit, _Mapping]]] = ..., merge: _Optional[_Union[MergeMethod, str]] = ..., champion: _Optional[str] = ..., model_id: _Optional[str] = ...) -> None: ...

class MeasureLimit(_message.Message):
    __slots__ = ("label_value", "measure", "limit")
    LABEL_VALUE_FIELD_NUMBER: _ClassVar[int]
    MEASURE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    label_value: int
    measure: AgreementMeasure
    limit: float
    def __init__(self, label_value: _Optional[int] = ..., measure: _Optional[_Union[AgreementMeasure, str]] = ..., limit: _Optional[float] = ...) -> None: ...

class ModelSettings(_message.Message):
    __slots__ = ("model_id", "model_kind", "train_every_completed_items", "hyperparameters")
    class HyperparametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_KIND_FIELD_NUMBER: _ClassVar[int]
    TRAIN_EVERY_COMPLETED_ITEMS_FIELD_NUMBER: _ClassVar[int]
    HYPERPARAMETERS_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    model_kind: str
    train_every_completed_items: int
    hyperparameters: _containers.ScalarMap[str, str]
    def __init__(self, model_id: _Optional[str] = ..., model_kind: _Optional[str] = ..., train_every_completed_items: _Optional[int] = ..., hyperparameters: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Stage(_message.Message):
    __slots__ = ("stage_id", "name", "kind", "assignment", "review", "consensus", "model", "next_stage_id", "webhook", "routes")
    STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ASSIGNMENT_FIELD_NUMBER: _ClassVar[int]
    REVIEW_FIELD_NUMBER: _ClassVar[int]
    CONSENSUS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    NEXT_STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_FIELD_NUMBER: _ClassVar[int]
    ROUTES_FIELD_NUMBER: _ClassVar[int]
    stage_id: str
    name: str
    kind: StageKind
    assignment: AssignmentSettings
    review: ReviewSettings
    consensus: ConsensusSettings
    model: ModelSettings
    next_stage_id: str
    webhook: WebhookSettings
    routes: _containers.RepeatedCompositeFieldContainer[Route]
    def __init__(self, stage_id: _Optional[str] = ..., name: _Optional[str] = ..., kind: _Optional[_Union[StageKind, str]] = ..., assignment: _Optional[_Union[AssignmentSettings, _Mapping]] = ..., review: _Optional[_Union[ReviewSettings, _Mapping]] = ..., consensus: _Optional[_Union[ConsensusSettings, _Mapping]] = ..., model: _Optional[_Union[ModelSettings, _Mapping]] = ..., next_stage_id: _Optional[str] = ..., webhook: _Optional[_Union[WebhookSettings, _Mapping]] = ..., routes: _Optional[_Iterable[_Union[Route, _Mapping]]] = ...) -> None: ...

class Route(_message.Message):
    __slots__ = ("stage_id", "tag", "label_present", "min_agreement", "below_agreement", "min_confidence", "below_confidence")
    STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    LABEL_PRESENT_FIELD_NUMBER: _ClassVar[int]
    MIN_AGREEMENT_FIELD_NUMBER: _ClassVar[int]
    BELOW_AGREEMENT_FIELD_NUMBER: _ClassVar[int]
    MIN_CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    BELOW_CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    stage_id: str
    tag: str
    label_present: int
    min_agreement: float
    below_agreement: float
    min_confidence: float
    below_confidence: float
    def __init__(self, stage_id: _Optional[str] = ..., tag: _Optional[str] = ..., label_present: _Optional[int] = ..., min_agreement: _Optional[float] = ..., below_agreement: _Optional[float] = ..., min_confidence: _Optional[float] = ..., below_confidence: _Optional[float] = ...) -> None: ...

class WebhookSettings(_message.Message):
    __slots__ = ("url", "secret", "wait_for_answer", "reject_stage_id")
    URL_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    WAIT_FOR_ANSWER_FIELD_NUMBER: _ClassVar[int]
    REJECT_STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    url: str
    secret: str
    wait_for_answer: bool
    reject_stage_id: str
    def __init__(self, url: _Optional[str] = ..., secret: _Optional[str] = ..., wait_for_answer: _Optional[bool] = ..., reject_stage_id: _Optional[str] = ...) -> None: ...

class Workflow(_message.Message):
    __slots__ = ("workflow_id", "dataset_id", "name", "stages", "creator", "create_time", "version", "supersedes", "current")
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STAGES_FIELD_NUMBER: _ClassVar[int]
    CREATOR_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SUPERSEDES_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    workflow_id: str
    dataset_id: str
    name: str
    stages: _containers.RepeatedCompositeFieldContainer[Stage]
    creator: str
    create_time: _timestamp_pb2.Timestamp
    version: int
    supersedes: str
    current: bool
    def __init__(self, workflow_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., name: _Optional[str] = ..., stages: _Optional[_Iterable[_Union[Stage, _Mapping]]] = ..., creator: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[int] = ..., supersedes: _Optional[str] = ..., current: _Optional[bool] = ...) -> None: ...

class CreateWorkflowRequest(_message.Message):
    __slots__ = ("dataset_id", "name", "stages")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STAGES_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    name: str
    stages: _containers.RepeatedCompositeFieldContainer[Stage]
    def __init__(self, dataset_id: _Optional[str] = ..., name: _Optional[str] = ..., stages: _Optional[_Iterable[_Union[Stage, _Mapping]]] = ...) -> None: ...

class CreateWorkflowResponse(_message.Message):
    __slots__ = ("workflow",)
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    workflow: Workflow
    def __init__(self, workflow: _Optional[_Union[Workflow, _Mapping]] = ...) -> None: ...

class GetWorkflowRequest(_message.Message):
    __slots__ = ("workflow_id",)
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    workflow_id: str
    def __init__(self, workflow_id: _Optional[str] = ...) -> None: ...

class GetWorkflowResponse(_message.Message):
    __slots__ = ("workflow",)
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    workflow: Workflow
    def __init__(self, workflow: _Optional[_Union[Workflow, _Mapping]] = ...) -> None: ...

class ListWorkflowsRequest(_message.Message):
    __slots__ = ("dataset_id", "page_size", "page_token")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    page_size: int
    page_token: str
    def __init__(self, dataset_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListWorkflowsResponse(_message.Message):
    __slots__ = ("workflows", "next_page_token")
    WORKFLOWS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    workflows: _containers.RepeatedCompositeFieldContainer[Workflow]
    next_page_token: str
    def __init__(self, workflows: _Optional[_Iterable[_Union[Workflow, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class Review(_message.Message):
    __slots__ = ("decision", "comment", "reviewer", "annotation_version", "create_time")
    DECISION_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    REVIEWER_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    decision: ReviewDecision
    comment: str
    reviewer: str
    annotation_version: int
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, decision: _Optional[_Union[ReviewDecision, str]] = ..., comment: _Optional[str] = ..., reviewer: _Optional[str] = ..., annotation_version: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Task(_message.Message):
    __slots__ = ("task_id", "workflow_id", "dataset_id", "item_id", "stage_id", "stage_kind", "state", "assignee", "vendor_id", "annotation_id", "rework_of_task_id", "review", "create_time", "update_time", "claim_expire_time", "comment", "annotation_version")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_KIND_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_FIELD_NUMBER: _ClassVar[int]
    VENDOR_ID_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_ID_FIELD_NUMBER: _ClassVar[int]
    REWORK_OF_TASK_ID_FIELD_NUMBER: _ClassVar[int]
    REVIEW_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    CLAIM_EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_VERSION_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    workflow_id: str
    dataset_id: str
    item_id: str
    stage_id: str
    stage_kind: StageKind
    state: TaskState
    assignee: str
    vendor_id: str
    annotation_id: str
    rework_of_task_id: str
    review: Review
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    claim_expire_time: _timestamp_pb2.Timestamp
    comment: str
    annotation_version: int
    def __init__(self, task_id: _Optional[str] = ..., workflow_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., item_id: _Optional[str] = ..., stage_id: _Optional[str] = ..., stage_kind: _Optional[_Union[StageKind, str]] = ..., state: _Optional[_Union[TaskState, str]] = ..., assignee: _Optional[str] = ..., vendor_id: _Optional[str] = ..., annotation_id: _Optional[str] = ..., rework_of_task_id: _Optional[str] = ..., review: _Optional[_Union[Review, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., claim_expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., comment: _Optional[str] = ..., annotation_version: _Optional[int] = ...) -> None: ...

class ListTasksRequest(_message.Message):
    __slots__ = ("workflow_id", "dataset_id", "assignee", "stage_id", "stage_kind", "state", "item_id", "page_size", "page_token")
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_FIELD_NUMBER: _ClassVar[int]
    STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_KIND_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    workflow_id: str
    dataset_id: str
    assignee: str
    stage_id: str
    stage_kind: StageKind
    state: TaskState
    item_id: str
    page_size: int
    page_token: str
    def __init__(self, workflow_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., assignee: _Optional[str] = ..., stage_id: _Optional[str] = ..., stage_kind: _Optional[_Union[StageKind, str]] = ..., state: _Optional[_Union[TaskState, str]] = ..., item_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListTasksResponse(_message.Message):
    __slots__ = ("tasks", "next_page_token")
    TASKS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tasks: _containers.RepeatedCompositeFieldContainer[Task]
    next_page_token: str
    def __init__(self, tasks: _Optional[_Iterable[_Union[Task, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetTaskRequest(_message.Message):
    __slots__ = ("task_id",)
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    def __init__(self, task_id: _Optional[str] = ...) -> None: ...

class GetTaskResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: Task
    def __init__(self, task: _Optional[_Union[Task, _Mapping]] = ...) -> None: ...

class ClaimTaskRequest(_message.Message):
    __slots__ = ("task_id", "workflow_id", "stage_id")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    workflow_id: str
    stage_id: str
    def __init__(self, task_id: _Optional[str] = ..., workflow_id: _Optional[str] = ..., stage_id: _Optional[str] = ...) -> None: ...

class ClaimTaskResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: Task
    def __init__(self, task: _Optional[_Union[Task, _Mapping]] = ...) -> None: ...

class AssignTaskRequest(_message.Message):
    __slots__ = ("task_id", "assignee")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    assignee: str
    def __init__(self, task_id: _Optional[str] = ..., assignee: _Optional[str] = ...) -> None: ...

class AssignTaskResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: Task
    def __init__(self, task: _Optional[_Union[Task, _Mapping]] = ...) -> None: ...

class ReleaseTaskRequest(_message.Message):
    __slots__ = ("task_id",)
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    def __init__(self, task_id: _Optional[str] = ...) -> None: ...

class ReleaseTaskResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: Task
    def __init__(self, task: _Optional[_Union[Task, _Mapping]] = ...) -> None: ...

class GetItemProgressRequest(_message.Message):
    __slots__ = ("item_id",)
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    def __init__(self, item_id: _Optional[str] = ...) -> None: ...

class GetItemProgressResponse(_message.Message):
    __slots__ = ("item_id", "workflow_id", "stage_id", "stage_kind", "annotation_id", "tasks")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_KIND_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_ID_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    workflow_id: str
    stage_id: str
    stage_kind: StageKind
    annotation_id: str
    tasks: _containers.RepeatedCompositeFieldContainer[Task]
    def __init__(self, item_id: _Optional[str] = ..., workflow_id: _Optional[str] = ..., stage_id: _Optional[str] = ..., stage_kind: _Optional[_Union[StageKind, str]] = ..., annotation_id: _Optional[str] = ..., tasks: _Optional[_Iterable[_Union[Task, _Mapping]]] = ...) -> None: ...

class AnswerWebhookRequest(_message.Message):
    __slots__ = ("body", "signature")
    BODY_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    body: bytes
    signature: str
    def __init__(self, body: _Optional[bytes] = ..., signature: _Optional[str] = ...) -> None: ...

class AnswerWebhookResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: Task
    def __init__(self, task: _Optional[_Union[Task, _Mapping]] = ...) -> None: ...

class SubmitReviewRequest(_message.Message):
    __slots__ = ("task_id", "decision", "comment", "annotation_version", "chosen_annotation_id")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_VERSION_FIELD_NUMBER: _ClassVar[int]
    CHOSEN_ANNOTATION_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    decision: ReviewDecision
    comment: str
    annotation_version: int
    chosen_annotation_id: str
    def __init__(self, task_id: _Optional[str] = ..., decision: _Optional[_Union[ReviewDecision, str]] = ..., comment: _Optional[str] = ..., annotation_version: _Optional[int] = ..., chosen_annotation_id: _Optional[str] = ...) -> None: ...

class SubmitReviewResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: Task
    def __init__(self, task: _Optional[_Union[Task, _Mapping]] = ...) -> None: ...

class PairwiseAgreement(_message.Message):
    __slots__ = ("annotation_id_a", "annotation_id_b", "label_value", "value")
    ANNOTATION_ID_A_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_ID_B_FIELD_NUMBER: _ClassVar[int]
    LABEL_VALUE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    annotation_id_a: str
    annotation_id_b: str
    label_value: int
    value: float
    def __init__(self, annotation_id_a: _Optional[str] = ..., annotation_id_b: _Optional[str] = ..., label_value: _Optional[int] = ..., value: _Optional[float] = ...) -> None: ...

class ConsensusResult(_message.Message):
    __slots__ = ("consensus_result_id", "workflow_id", "stage_id", "item_id", "state", "measure", "agreement", "threshold", "annotation_ids", "pairs", "consensus_labels", "create_time", "classes", "reader_scores", "consensus_boxes", "consensus_polygons")
    CONSENSUS_RESULT_ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    MEASURE_FIELD_NUMBER: _ClassVar[int]
    AGREEMENT_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_IDS_FIELD_NUMBER: _ClassVar[int]
    PAIRS_FIELD_NUMBER: _ClassVar[int]
    CONSENSUS_LABELS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    CLASSES_FIELD_NUMBER: _ClassVar[int]
    READER_SCORES_FIELD_NUMBER: _ClassVar[int]
    CONSENSUS_BOXES_FIELD_NUMBER: _ClassVar[int]
    CONSENSUS_POLYGONS_FIELD_NUMBER: _ClassVar[int]
    consensus_result_id: str
    workflow_id: str
    stage_id: str
    item_id: str
    state: ConsensusState
    measure: AgreementMeasure
    agreement: float
    threshold: float
    annotation_ids: _containers.RepeatedScalarFieldContainer[str]
    pairs: _containers.RepeatedCompositeFieldContainer[PairwiseAgreement]
    consensus_labels: _label_pb2.Mask
    create_time: _timestamp_pb2.Timestamp
    classes: _containers.RepeatedCompositeFieldContainer[ClassVerdict]
    reader_scores: _containers.RepeatedCompositeFieldContainer[ReaderScore]
    consensus_boxes: _containers.RepeatedCompositeFieldContainer[_label_pb2.SliceBox]
    consensus_polygons: _containers.RepeatedCompositeFieldContainer[_label_pb2.Polygon]
    def __init__(self, consensus_result_id: _Optional[str] = ..., workflow_id: _Optional[str] = ..., stage_id: _Optional[str] = ..., item_id: _Optional[str] = ..., state: _Optional[_Union[ConsensusState, str]] = ..., measure: _Optional[_Union[AgreementMeasure, str]] = ..., agreement: _Optional[float] = ..., threshold: _Optional[float] = ..., annotation_ids: _Optional[_Iterable[str]] = ..., pairs: _Optional[_Iterable[_Union[PairwiseAgreement, _Mapping]]] = ..., consensus_labels: _Optional[_Union[_label_pb2.Mask, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., classes: _Optional[_Iterable[_Union[ClassVerdict, _Mapping]]] = ..., reader_scores: _Optional[_Iterable[_Union[ReaderScore, _Mapping]]] = ..., consensus_boxes: _Optional[_Iterable[_Union[_label_pb2.SliceBox, _Mapping]]] = ..., consensus_polygons: _Optional[_Iterable[_Union[_label_pb2.Polygon, _Mapping]]] = ...) -> None: ...

class ClassVerdict(_message.Message):
    __slots__ = ("label_value", "agreed", "dice", "iou", "surface_dice", "hd95_mm", "assd_mm", "volume_difference", "shortfalls", "shape_iou", "shape_instances")
    LABEL_VALUE_FIELD_NUMBER: _ClassVar[int]
    AGREED_FIELD_NUMBER: _ClassVar[int]
    DICE_FIELD_NUMBER: _ClassVar[int]
    IOU_FIELD_NUMBER: _ClassVar[int]
    SURFACE_DICE_FIELD_NUMBER: _ClassVar[int]
    HD95_MM_FIELD_NUMBER: _ClassVar[int]
    ASSD_MM_FIELD_NUMBER: _ClassVar[int]
    VOLUME_DIFFERENCE_FIELD_NUMBER: _ClassVar[int]
    SHORTFALLS_FIELD_NUMBER: _ClassVar[int]
    SHAPE_IOU_FIELD_NUMBER: _ClassVar[int]
    SHAPE_INSTANCES_FIELD_NUMBER: _ClassVar[int]
    label_value: int
    agreed: bool
    dice: float
    iou: float
    surface_dice: float
    hd95_mm: float
    assd_mm: float
    volume_difference: float
    shortfalls: _containers.RepeatedScalarFieldContainer[str]
    shape_iou: float
    shape_instances: _containers.RepeatedCompositeFieldContainer[ReaderInstances]
    def __init__(self, label_value: _Optional[int] = ..., agreed: _Optional[bool] = ..., dice: _Optional[float] = ..., iou: _Optional[float] = ..., surface_dice: _Optional[float] = ..., hd95_mm: _Optional[float] = ..., assd_mm: _Optional[float] = ..., volume_difference: _Optional[float] = ..., shortfalls: _Optional[_Iterable[str]] = ..., shape_iou: _Optional[float] = ..., shape_instances: _Optional[_Iterable[_Union[ReaderInstances, _Mapping]]] = ...) -> None: ...

class ReaderInstances(_message.Message):
    __slots__ = ("reader", "drawn", "matched")
    READER_FIELD_NUMBER: _ClassVar[int]
    DRAWN_FIELD_NUMBER: _ClassVar[int]
    MATCHED_FIELD_NUMBER: _ClassVar[int]
    reader: str
    drawn: int
    matched: int
    def __init__(self, reader: _Optional[str] = ..., drawn: _Optional[int] = ..., matched: _Optional[int] = ...) -> None: ...

class ReaderScore(_message.Message):
    __slots__ = ("reader", "annotation_id", "dice", "surface_dice", "shape_iou")
    READER_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_ID_FIELD_NUMBER: _ClassVar[int]
    DICE_FIELD_NUMBER: _ClassVar[int]
    SURFACE_DICE_FIELD_NUMBER: _ClassVar[int]
    SHAPE_IOU_FIELD_NUMBER: _ClassVar[int]
    reader: str
    annotation_id: str
    dice: float
    surface_dice: float
    shape_iou: float
    def __init__(self, reader: _Optional[str] = ..., annotation_id: _Optional[str] = ..., dice: _Optional[float] = ..., surface_dice: _Optional[float] = ..., shape_iou: _Optional[float] = ...) -> None: ...

class GetWorkflowStatsRequest(_message.Message):
    __slots__ = ("workflow_id",)
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    workflow_id: str
    def __init__(self, workflow_id: _Optional[str] = ...) -> None: ...

class StageStats(_message.Message):
    __slots__ = ("stage_id", "stage_kind", "items", "passed", "rejected", "disputed", "mean_seconds", "moved")
    STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_KIND_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    PASSED_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    DISPUTED_FIELD_NUMBER: _ClassVar[int]
    MEAN_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MOVED_FIELD_NUMBER: _ClassVar[int]
    stage_id: str
    stage_kind: StageKind
    items: int
    passed: int
    rejected: int
    disputed: int
    mean_seconds: float
    moved: int
    def __init__(self, stage_id: _Optional[str] = ..., stage_kind: _Optional[_Union[StageKind, str]] = ..., items: _Optional[int] = ..., passed: _Optional[int] = ..., rejected: _Optional[int] = ..., disputed: _Optional[int] = ..., mean_seconds: _Optional[float] = ..., moved: _Optional[int] = ...) -> None: ...

class GetWorkflowStatsResponse(_message.Message):
    __slots__ = ("workflow_id", "stages", "items_completed", "items_completed_last_hour")
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    STAGES_FIELD_NUMBER: _ClassVar[int]
    ITEMS_COMPLETED_FIELD_NUMBER: _ClassVar[int]
    ITEMS_COMPLETED_LAST_HOUR_FIELD_NUMBER: _ClassVar[int]
    workflow_id: str
    stages: _containers.RepeatedCompositeFieldContainer[StageStats]
    items_completed: int
    items_completed_last_hour: int
    def __init__(self, workflow_id: _Optional[str] = ..., stages: _Optional[_Iterable[_Union[StageStats, _Mapping]]] = ..., items_completed: _Optional[int] = ..., items_completed_last_hour: _Optional[int] = ...) -> None: ...

class ListReaderStatsRequest(_message.Message):
    __slots__ = ("dataset_id",)
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    def __init__(self, dataset_id: _Optional[str] = ...) -> None: ...

class ReaderStats(_message.Message):
    __slots__ = ("reader", "items", "mean_dice", "mean_surface_dice", "shape_items", "mean_shape_iou")
    READER_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    MEAN_DICE_FIELD_NUMBER: _ClassVar[int]
    MEAN_SURFACE_DICE_FIELD_NUMBER: _ClassVar[int]
    SHAPE_ITEMS_FIELD_NUMBER: _ClassVar[int]
    MEAN_SHAPE_IOU_FIELD_NUMBER: _ClassVar[int]
    reader: str
    items: int
    mean_dice: float
    mean_surface_dice: float
    shape_items: int
    mean_shape_iou: float
    def __init__(self, reader: _Optional[str] = ..., items: _Optional[int] = ..., mean_dice: _Optional[float] = ..., mean_surface_dice: _Optional[float] = ..., shape_items: _Optional[int] = ..., mean_shape_iou: _Optional[float] = ...) -> None: ...

class ListReaderStatsResponse(_message.Message):
    __slots__ = ("readers",)
    READERS_FIELD_NUMBER: _ClassVar[int]
    readers: _containers.RepeatedCompositeFieldContainer[ReaderStats]
    def __init__(self, readers: _Optional[_Iterable[_Union[ReaderStats, _Mapping]]] = ...) -> None: ...

class GetConsensusResultRequest(_message.Message):
    __slots__ = ("workflow_id", "item_id", "stage_id")
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    workflow_id: str
    item_id: str
    stage_id: str
    def __init__(self, workflow_id: _Optional[str] = ..., item_id: _Optional[str] = ..., stage_id: _Optional[str] = ...) -> None: ...

class GetConsensusResultResponse(_message.Message):
    __slots__ = ("consensus_result",)
    CONSENSUS_RESULT_FIELD_NUMBER: _ClassVar[int]
    consensus_result: ConsensusResult
    def __init__(self, consensus_result: _Optional[_Union[ConsensusResult, _Mapping]] = ...) -> None: ...
