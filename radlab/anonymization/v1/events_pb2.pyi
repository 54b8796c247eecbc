from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class ScanAnonymized(_message.Message):
    __slots__ = ("scan_id", "upload_id", "dataset_id", "dicom_bucket", "object_keys", "study_instance_uids", "instance_count", "held_count", "released_held_instance_id")
    SCAN_ID_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    DICOM_BUCKET_FIELD_NUMBER: _ClassVar[int]
    OBJECT_KEYS_FIELD_NUMBER: _ClassVar[int]
    STUDY_INSTANCE_UIDS_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_COUNT_FIELD_NUMBER: _ClassVar[int]
    HELD_COUNT_FIELD_NUMBER: _ClassVar[int]
    RELEASED_HELD_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    scan_id: str
    upload_id: str
    dataset_id: str
    dicom_bucket: str
    object_keys: _containers.RepeatedScalarFieldContainer[str]
    study_instance_uids: _containers.RepeatedScalarFieldContainer[str]
    instance_count: int
    held_count: int
    released_held_instance_id: str
    def __init__(self, scan_id: _Optional[str] = ..., upload_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., dicom_bucket: _Optional[str] = ..., object_keys: _Optional[_Iterable[str]] = ..., study_instance_uids: _Optional[_Iterable[str]] = ..., instance_count: _Optional[int] = ..., held_count: _Optional[int] = ..., released_held_instance_id: _Optional[str] = ...) -> None: ...

class AnonymizationFailed(_message.Message):
    __slots__ = ("scan_id", "upload_id", "dataset_id", "reason")
    SCAN_ID_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    scan_id: str
    upload_id: str
    dataset_id: str
    reason: str
    def __init__(self, scan_id: _Optional[str] = ..., upload_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...
