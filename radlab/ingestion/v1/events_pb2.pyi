from radlab.type.v1 import geometry_pb2 as _geometry_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ScanUploaded(_message.Message):
    __slots__ = ("upload_id", "scan_id", "dataset_id", "quarantine_bucket", "quarantine_keys", "file_count", "byte_count", "uploader")
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    SCAN_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    QUARANTINE_BUCKET_FIELD_NUMBER: _ClassVar[int]
    QUARANTINE_KEYS_FIELD_NUMBER: _ClassVar[int]
    FILE_COUNT_FIELD_NUMBER: _ClassVar[int]
    BYTE_COUNT_FIELD_NUMBER: _ClassVar[int]
    UPLOADER_FIELD_NUMBER: _ClassVar[int]
    upload_id: str
    scan_id: str
    dataset_id: str
    quarantine_bucket: str
    quarantine_keys: _containers.RepeatedScalarFieldContainer[str]
    file_count: int
    byte_count: int
    uploader: str
    def __init__(self, upload_id: _Optional[str] = ..., scan_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., quarantine_bucket: _Optional[str] = ..., quarantine_keys: _Optional[_Iterable[str]] = ..., file_count: _Optional[int] = ..., byte_count: _Optional[int] = ..., uploader: _Optional[str] = ...) -> None: ...

class VolumeReady(_message.Message):
    __slots__ = ("volume_id", "study_id", "series_id", "dataset_id", "scan_id", "volume_ref", "modality", "series_description", "body_part", "supersedes_volume_ids")
    VOLUME_ID_FIELD_NUMBER: _ClassVar[int]
    STUDY_ID_FIELD_NUMBER: _ClassVar[int]
    SERIES_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    SCAN_ID_FIELD_NUMBER: _ClassVar[int]
    VOLUME_REF_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    SERIES_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    BODY_PART_FIELD_NUMBER: _ClassVar[int]
    SUPERSEDES_VOLUME_IDS_FIELD_NUMBER: _ClassVar[int]
    volume_id: str
    study_id: str
    series_id: str
    dataset_id: str
    scan_id: str
    volume_ref: _geometry_pb2.VolumeRef
    modality: str
    series_description: str
    body_part: str
    supersedes_volume_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, volume_id: _Optional[str] = ..., study_id: _Optional[str] = ..., series_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., scan_id: _Optional[str] = ..., volume_ref: _Optional[_Union[_geometry_pb2.VolumeRef, _Mapping]] = ..., modality: _Optional[str] = ..., series_description: _Optional[str] = ..., body_part: _Optional[str] = ..., supersedes_volume_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class IngestFailed(_message.Message):
    __slots__ = ("upload_id", "scan_id", "dataset_id", "series_instance_uid", "reason")
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    SCAN_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    SERIES_INSTANCE_UID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    upload_id: str
    scan_id: str
    dataset_id: str
    series_instance_uid: str
    reason: str
    def __init__(self, upload_id: _Optional[str] = ..., scan_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., series_instance_uid: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...
