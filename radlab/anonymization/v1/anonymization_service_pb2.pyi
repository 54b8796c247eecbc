import datetime

from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from radlab.type.v1 import access_pb2 as _access_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DeidAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DEID_ACTION_UNSPECIFIED: _ClassVar[DeidAction]
    DEID_ACTION_REMOVED: _ClassVar[DeidAction]
    DEID_ACTION_EMPTIED: _ClassVar[DeidAction]
    DEID_ACTION_DUMMY: _ClassVar[DeidAction]
    DEID_ACTION_CLEANED: _ClassVar[DeidAction]
    DEID_ACTION_UID_REPLACED: _ClassVar[DeidAction]
    DEID_ACTION_DATE_SHIFTED: _ClassVar[DeidAction]
    DEID_ACTION_KEPT: _ClassVar[DeidAction]

class HoldReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HOLD_REASON_UNSPECIFIED: _ClassVar[HoldReason]
    HOLD_REASON_BURNED_IN_ANNOTATION: _ClassVar[HoldReason]
    HOLD_REASON_TEXT_DETECTED: _ClassVar[HoldReason]
    HOLD_REASON_RISKY_IMAGE_TYPE: _ClassVar[HoldReason]
    HOLD_REASON_HIDDEN_OVERLAY_BITS: _ClassVar[HoldReason]

class HoldState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HOLD_STATE_UNSPECIFIED: _ClassVar[HoldState]
    HOLD_STATE_PENDING: _ClassVar[HoldState]
    HOLD_STATE_RELEASED: _ClassVar[HoldState]
    HOLD_STATE_DISCARDED: _ClassVar[HoldState]

class HoldResolution(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HOLD_RESOLUTION_UNSPECIFIED: _ClassVar[HoldResolution]
    HOLD_RESOLUTION_RELEASE: _ClassVar[HoldResolution]
    HOLD_RESOLUTION_RELEASE_REDACTED: _ClassVar[HoldResolution]
    HOLD_RESOLUTION_DISCARD: _ClassVar[HoldResolution]

class BurnedInTextPolicy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BURNED_IN_TEXT_POLICY_UNSPECIFIED: _ClassVar[BurnedInTextPolicy]
    BURNED_IN_TEXT_POLICY_HOLD: _ClassVar[BurnedInTextPolicy]
    BURNED_IN_TEXT_POLICY_REDACT: _ClassVar[BurnedInTextPolicy]
    BURNED_IN_TEXT_POLICY_OFF: _ClassVar[BurnedInTextPolicy]
DEID_ACTION_UNSPECIFIED: DeidAction
DEID_ACTION_REMOVED: DeidAction
DEID_ACTION_EMPTIED: DeidAction
DEID_ACTION_DUMMY: DeidAction
DEID_ACTION_CLEANED: DeidAction
DEID_ACTION_UID_REPLACED: DeidAction
DEID_ACTION_DATE_SHIFTED: DeidAction
DEID_ACTION_KEPT: DeidAction
HOLD_REASON_UNSPECIFIED: HoldReason
HOLD_REASON_BURNED_IN_ANNOTATION: HoldReason
HOLD_REASON_TEXT_DETECTED: HoldReason
HOLD_REASON_RISKY_IMAGE_TYPE: HoldReason
HOLD_REASON_HIDDEN_OVERLAY_BITS: HoldReason
HOLD_STATE_UNSPECIFIED: HoldState
HOLD_STATE_PENDING: HoldState
HOLD_STATE_RELEASED: HoldState
HOLD_STATE_DISCARDED: HoldState
HOLD_RESOLUTION_UNSPECIFIED: HoldResolution
HOLD_RESOLUTION_RELEASE: HoldResolution
HOLD_RESOLUTION_RELEASE_REDACTED: HoldResolution
HOLD_RESOLUTION_DISCARD: HoldResolution
BURNED_IN_TEXT_POLICY_UNSPECIFIED: BurnedInTextPolicy
BURNED_IN_TEXT_POLICY_HOLD: BurnedInTextPolicy
BURNED_IN_TEXT_POLICY_REDACT: BurnedInTextPolicy
BURNED_IN_TEXT_POLICY_OFF: BurnedInTextPolicy

class Profile(_message.Message):
    __slots__ = ("dataset_id", "retain_longitudinal_modified_dates", "retain_patient_characteristics", "clean_descriptors", "clean_structured_content", "clean_graphics", "retain_safe_private", "retain_device_identity", "retain_institution_identity", "updated_by", "update_time", "burned_in_text")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    RETAIN_LONGITUDINAL_MODIFIED_DATES_FIELD_NUMBER: _ClassVar[int]
    RETAIN_PATIENT_CHARACTERISTICS_FIELD_NUMBER: _ClassVar[int]
    CLEAN_DESCRIPTORS_FIELD_NUMBER: _ClassVar[int]
    CLEAN_STRUCTURED_CONTENT_FIELD_NUMBER: _ClassVar[int]
    CLEAN_GRAPHICS_FIELD_NUMBER: _ClassVar[int]
    RETAIN_SAFE_PRIVATE_FIELD_NUMBER: _ClassVar[int]
    RETAIN_DEVICE_IDENTITY_FIELD_NUMBER: _ClassVar[int]
    RETAIN_INSTITUTION_IDENTITY_FIELD_NUMBER: _ClassVar[int]
    UPDATED_BY_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    BURNED_IN_TEXT_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    retain_longitudinal_modified_dates: bool
    retain_patient_characteristics: bool
    clean_descriptors: bool
    clean_structured_content: bool
    clean_graphics: bool
    retain_safe_private: bool
    retain_device_identity: bool
    retain_institution_identity: bool
    updated_by: str
    update_time: _timestamp_pb2.Timestamp
    burned_in_text: BurnedInTextPolicy
    def __init__(self, dataset_id: _Optional[str] = ..., retain_longitudinal_modified_dates: _Optional[bool] = ..., retain_patient_characteristics: _Optional[bool] = ..., clean_descriptors: _Optional[bool] = ..., clean_structured_content: _Optional[bool] = ..., clean_graphics: _Optional[bool] = ..., retain_safe_private: _Optional[bool] = ..., retain_device_identity: _Optional[bool] = ..., retain_institution_identity: _Optional[bool] = ..., updated_by: _Optional[str] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., burned_in_text: _Optional[_Union[BurnedInTextPolicy, str]] = ...) -> None: ...

class GetProfileRequest(_message.Message):
    __slots__ = ("dataset_id",)
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    def __init__(self, dataset_id: _Optional[str] = ...) -> None: ...

class GetProfileResponse(_message.Message):
    __slots__ = ("profile",)
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    profile: Profile
    def __init__(self, profile: _Optional[_Union[Profile, _Mapping]] = ...) -> None: ...

class UpdateProfileRequest(_message.Message):
    __slots__ = ("profile", "update_mask")
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    profile: Profile
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, profile: _Optional[_Union[Profile, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateProfileResponse(_message.Message):
    __slots__ = ("profile",)
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    profile: Profile
    def __init__(self, profile: _Optional[_Union[Profile, _Mapping]] = ...) -> None: ...

class ActionCount(_message.Message):
    __slots__ = ("action", "count")
    ACTION_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    action: DeidAction
    count: int
    def __init__(self, action: _Optional[_Union[DeidAction, str]] = ..., count: _Optional[int] = ...) -> None: ...

class AttributeAction(_message.Message):
    __slots__ = ("tag", "keyword", "action", "instance_count")
    TAG_FIELD_NUMBER: _ClassVar[int]
    KEYWORD_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_COUNT_FIELD_NUMBER: _ClassVar[int]
    tag: str
    keyword: str
    action: DeidAction
    instance_count: int
    def __init__(self, tag: _Optional[str] = ..., keyword: _Optional[str] = ..., action: _Optional[_Union[DeidAction, str]] = ..., instance_count: _Optional[int] = ...) -> None: ...

class HoldCount(_message.Message):
    __slots__ = ("reason", "count")
    REASON_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    reason: HoldReason
    count: int
    def __init__(self, reason: _Optional[_Union[HoldReason, str]] = ..., count: _Optional[int] = ...) -> None: ...

class AnonymizationReport(_message.Message):
    __slots__ = ("scan_id", "dataset_id", "profile", "instance_count", "anonymized_count", "held_count", "dropped_count", "action_counts", "attribute_actions", "hold_counts", "warnings", "create_time")
    SCAN_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_COUNT_FIELD_NUMBER: _ClassVar[int]
    ANONYMIZED_COUNT_FIELD_NUMBER: _ClassVar[int]
    HELD_COUNT_FIELD_NUMBER: _ClassVar[int]
    DROPPED_COUNT_FIELD_NUMBER: _ClassVar[int]
    ACTION_COUNTS_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTE_ACTIONS_FIELD_NUMBER: _ClassVar[int]
    HOLD_COUNTS_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    scan_id: str
    dataset_id: str
    profile: Profile
    instance_count: int
    anonymized_count: int
    held_count: int
    dropped_count: int
    action_counts: _containers.RepeatedCompositeFieldContainer[ActionCount]
    attribute_actions: _containers.RepeatedCompositeFieldContainer[AttributeAction]
    hold_counts: _containers.RepeatedCompositeFieldContainer[HoldCount]
    warnings: _containers.RepeatedScalarFieldContainer[str]
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, scan_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., profile: _Optional[_Union[Profile, _Mapping]] = ..., instance_count: _Optional[int] = ..., anonymized_count: _Optional[int] = ..., held_count: _Optional[int] = ..., dropped_count: _Optional[int] = ..., action_counts: _Optional[_Iterable[_Union[ActionCount, _Mapping]]] = ..., attribute_actions: _Optional[_Iterable[_Union[AttributeAction, _Mapping]]] = ..., hold_counts: _Optional[_Iterable[_Union[HoldCount, _Mapping]]] = ..., warnings: _Optional[_Iterable[str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetAnonymizationReportRequest(_message.Message):
    __slots__ = ("scan_id",)
    SCAN_ID_FIELD_NUMBER: _ClassVar[int]
    scan_id: str
    def __init__(self, scan_id: _Optional[str] = ...) -> None: ...

class GetAnonymizationReportResponse(_message.Message):
    __slots__ = ("report",)
    REPORT_FIELD_NUMBER: _ClassVar[int]
    report: AnonymizationReport
    def __init__(self, report: _Optional[_Union[AnonymizationReport, _Mapping]] = ...) -> None: ...

class ListAnonymizationReportsRequest(_message.Message):
    __slots__ = ("dataset_id", "page_size", "page_token")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    page_size: int
    page_token: str
    def __init__(self, dataset_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAnonymizationReportsResponse(_message.Message):
    __slots__ = ("reports", "next_page_token")
    REPORTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    reports: _containers.RepeatedCompositeFieldContainer[AnonymizationReport]
    next_page_token: str
    def __init__(self, reports: _Optional[_Iterable[_Union[AnonymizationReport, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class HeldInstance(_message.Message):
    __slots__ = ("held_instance_id", "scan_id", "dataset_id", "sop_instance_uid", "modality", "reason", "detail", "state", "resolved_by", "create_time", "resolve_time")
    HELD_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    SCAN_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    SOP_INSTANCE_UID_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    RESOLVE_TIME_FIELD_NUMBER: _ClassVar[int]
    held_instance_id: str
    scan_id: str
    dataset_id: str
    sop_instance_uid: str
    modality: str
    reason: HoldReason
    detail: str
    state: HoldState
    resolved_by: str
    create_time: _timestamp_pb2.Timestamp
    resolve_time: _timestamp_pb2.Timestamp
    def __init__(self, held_instance_id: _Optional[str] = ..., scan_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., sop_instance_uid: _Optional[str] = ..., modality: _Optional[str] = ..., reason: _Optional[_Union[HoldReason, str]] = ..., detail: _Optional[str] = ..., state: _Optional[_Union[HoldState, str]] = ..., resolved_by: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resolve_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListHeldInstancesRequest(_message.Message):
    __slots__ = ("dataset_id", "scan_id", "state", "page_size", "page_token")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    SCAN_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    scan_id: str
    state: HoldState
    page_size: int
    page_token: str
    def __init__(self, dataset_id: _Optional[str] = ..., scan_id: _Optional[str] = ..., state: _Optional[_Union[HoldState, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListHeldInstancesResponse(_message.Message):
    __slots__ = ("held_instances", "next_page_token")
    HELD_INSTANCES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    held_instances: _containers.RepeatedCompositeFieldContainer[HeldInstance]
    next_page_token: str
    def __init__(self, held_instances: _Optional[_Iterable[_Union[HeldInstance, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetHeldInstancePreviewRequest(_message.Message):
    __slots__ = ("held_instance_id", "frame_index")
    HELD_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    FRAME_INDEX_FIELD_NUMBER: _ClassVar[int]
    held_instance_id: str
    frame_index: int
    def __init__(self, held_instance_id: _Optional[str] = ..., frame_index: _Optional[int] = ...) -> None: ...

class GetHeldInstancePreviewResponse(_message.Message):
    __slots__ = ("png", "width", "height", "frame_count")
    PNG_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    FRAME_COUNT_FIELD_NUMBER: _ClassVar[int]
    png: bytes
    width: int
    height: int
    frame_count: int
    def __init__(self, png: _Optional[bytes] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., frame_count: _Optional[int] = ...) -> None: ...

class PixelRegion(_message.Message):
    __slots__ = ("x", "y", "width", "height")
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    x: int
    y: int
    width: int
    height: int
    def __init__(self, x: _Optional[int] = ..., y: _Optional[int] = ..., width: _Optional[int] = ..., height: _Optional[int] = ...) -> None: ...

class ReleaseHeldInstanceRequest(_message.Message):
    __slots__ = ("held_instance_id", "resolution", "redact_regions", "comment")
    HELD_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    REDACT_REGIONS_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    held_instance_id: str
    resolution: HoldResolution
    redact_regions: _containers.RepeatedCompositeFieldContainer[PixelRegion]
    comment: str
    def __init__(self, held_instance_id: _Optional[str] = ..., resolution: _Optional[_Union[HoldResolution, str]] = ..., redact_regions: _Optional[_Iterable[_Union[PixelRegion, _Mapping]]] = ..., comment: _Optional[str] = ...) -> None: ...

class ReleaseHeldInstanceResponse(_message.Message):
    __slots__ = ("held_instance",)
    HELD_INSTANCE_FIELD_NUMBER: _ClassVar[int]
    held_instance: HeldInstance
    def __init__(self, held_instance: _Optional[_Union[HeldInstance, _Mapping]] = ...) -> None: ...

class LookupPseudonymRequest(_message.Message):
    __slots__ = ("patient_pseudonym", "study_instance_uid", "series_instance_uid", "sop_instance_uid", "reason")
    PATIENT_PSEUDONYM_FIELD_NUMBER: _ClassVar[int]
    STUDY_INSTANCE_UID_FIELD_NUMBER: _ClassVar[int]
    SERIES_INSTANCE_UID_FIELD_NUMBER: _ClassVar[int]
    SOP_INSTANCE_UID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    patient_pseudonym: str
    study_instance_uid: str
    series_instance_uid: str
    sop_instance_uid: str
    reason: str
    def __init__(self, patient_pseudonym: _Optional[str] = ..., study_instance_uid: _Optional[str] = ..., series_instance_uid: _Optional[str] = ..., sop_instance_uid: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class LookupPseudonymResponse(_message.Message):
    __slots__ = ("patient_id", "issuer_of_patient_id", "patient_name", "patient_birth_date", "study_instance_uid", "accession_number", "series_instance_uid", "sop_instance_uid")
    PATIENT_ID_FIELD_NUMBER: _ClassVar[int]
    ISSUER_OF_PATIENT_ID_FIELD_NUMBER: _ClassVar[int]
    PATIENT_NAME_FIELD_NUMBER: _ClassVar[int]
    PATIENT_BIRTH_DATE_FIELD_NUMBER: _ClassVar[int]
    STUDY_INSTANCE_UID_FIELD_NUMBER: _ClassVar[int]
    ACCESSION_NUMBER_FIELD_NUMBER: _ClassVar[int]
    SERIES_INSTANCE_UID_FIELD_NUMBER: _ClassVar[int]
    SOP_INSTANCE_UID_FIELD_NUMBER: _ClassVar[int]
    patient_id: str
    issuer_of_patient_id: str
    patient_name: str
    patient_birth_date: str
    study_instance_uid: str
    accession_number: str
    series_instance_uid: str
    sop_instance_uid: str
    def __init__(self, patient_id: _Optional[str] = ..., issuer_of_patient_id: _Optional[str] = ..., patient_name: _Optional[str] = ..., patient_birth_date: _Optional[str] = ..., study_instance_uid: _Optional[str] = ..., accession_number: _Optional[str] = ..., series_instance_uid: _Optional[str] = ..., sop_instance_uid: _Optional[str] = ...) -> None: ...
