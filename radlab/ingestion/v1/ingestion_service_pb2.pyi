import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from radlab.type.v1 import access_pb2 as _access_pb2
from radlab.type.v1 import geometry_pb2 as _geometry_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class UploadState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    UPLOAD_STATE_UNSPECIFIED: _ClassVar[UploadState]
    UPLOAD_STATE_RECEIVING: _ClassVar[UploadState]
    UPLOAD_STATE_UPLOADED: _ClassVar[UploadState]
    UPLOAD_STATE_PROCESSING: _ClassVar[UploadState]
    UPLOAD_STATE_COMPLETED: _ClassVar[UploadState]
    UPLOAD_STATE_FAILED: _ClassVar[UploadState]
    UPLOAD_STATE_EXPIRED: _ClassVar[UploadState]

class WindowPreset(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WINDOW_PRESET_UNSPECIFIED: _ClassVar[WindowPreset]
    WINDOW_PRESET_CT_BRAIN: _ClassVar[WindowPreset]
    WINDOW_PRESET_CT_SUBDURAL: _ClassVar[WindowPreset]
    WINDOW_PRESET_CT_STROKE: _ClassVar[WindowPreset]
    WINDOW_PRESET_CT_LUNG: _ClassVar[WindowPreset]
    WINDOW_PRESET_CT_MEDIASTINUM: _ClassVar[WindowPreset]
    WINDOW_PRESET_CT_ABDOMEN: _ClassVar[WindowPreset]
    WINDOW_PRESET_CT_LIVER: _ClassVar[WindowPreset]
    WINDOW_PRESET_CT_BONE: _ClassVar[WindowPreset]
    WINDOW_PRESET_MR_AUTO: _ClassVar[WindowPreset]

class Colormap(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COLORMAP_UNSPECIFIED: _ClassVar[Colormap]
    COLORMAP_GRAY: _ClassVar[Colormap]
    COLORMAP_BONE: _ClassVar[Colormap]
    COLORMAP_HOT: _ClassVar[Colormap]
    COLORMAP_VIRIDIS: _ClassVar[Colormap]

class SliceFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SLICE_FORMAT_UNSPECIFIED: _ClassVar[SliceFormat]
    SLICE_FORMAT_RAW: _ClassVar[SliceFormat]
    SLICE_FORMAT_PNG: _ClassVar[SliceFormat]
UPLOAD_STATE_UNSPECIFIED: UploadState
UPLOAD_STATE_RECEIVING: UploadState
UPLOAD_STATE_UPLOADED: UploadState
UPLOAD_STATE_PROCESSING: UploadState
UPLOAD_STATE_COMPLETED: UploadState
UPLOAD_STATE_FAILED: UploadState
UPLOAD_STATE_EXPIRED: UploadState
WINDOW_PRESET_UNSPECIFIED: WindowPreset
WINDOW_PRESET_CT_BRAIN: WindowPreset
WINDOW_PRESET_CT_SUBDURAL: WindowPreset
WINDOW_PRESET_CT_STROKE: WindowPreset
WINDOW_PRESET_CT_LUNG: WindowPreset
WINDOW_PRESET_CT_MEDIASTINUM: WindowPreset
WINDOW_PRESET_CT_ABDOMEN: WindowPreset
WINDOW_PRESET_CT_LIVER: WindowPreset
WINDOW_PRESET_CT_BONE: WindowPreset
WINDOW_PRESET_MR_AUTO: WindowPreset
COLORMAP_UNSPECIFIED: Colormap
COLORMAP_GRAY: Colormap
COLORMAP_BONE: Colormap
COLORMAP_HOT: Colormap
COLORMAP_VIRIDIS: Colormap
SLICE_FORMAT_UNSPECIFIED: SliceFormat
SLICE_FORMAT_RAW: SliceFormat
SLICE_FORMAT_PNG: SliceFormat

class UploadMetadata(_message.Message):
    __slots__ = ("dataset_id", "file_name", "total_size", "sha256", "resume_upload_id", "offset")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    RESUME_UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    file_name: str
    total_size: int
    sha256: str
    resume_upload_id: str
    offset: int
    def __init__(self, dataset_id: _Optional[str] = ..., file_name: _Optional[str] = ..., total_size: _Optional[int] = ..., sha256: _Optional[str] = ..., resume_upload_id: _Optional[str] = ..., offset: _Optional[int] = ...) -> None: ...

class UploadFilesRequest(_message.Message):
    __slots__ = ("metadata", "chunk")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    metadata: UploadMetadata
    chunk: bytes
    def __init__(self, metadata: _Optional[_Union[UploadMetadata, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class UploadFilesResponse(_message.Message):
    __slots__ = ("upload_id", "scan_id", "bytes_received", "state", "failure_reason", "file_count", "skipped")
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    SCAN_ID_FIELD_NUMBER: _ClassVar[int]
    BYTES_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    FAILURE_REASON_FIELD_NUMBER: _ClassVar[int]
    FILE_COUNT_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    upload_id: str
    scan_id: str
    bytes_received: int
    state: UploadState
    failure_reason: str
    file_count: int
    skipped: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, upload_id: _Optional[str] = ..., scan_id: _Optional[str] = ..., bytes_received: _Optional[int] = ..., state: _Optional[_Union[UploadState, str]] = ..., failure_reason: _Optional[str] = ..., file_count: _Optional[int] = ..., skipped: _Optional[_Iterable[str]] = ...) -> None: ...

class Upload(_message.Message):
    __slots__ = ("upload_id", "scan_id", "dataset_id", "file_name", "total_size", "sha256", "bytes_received", "state", "failure_reason", "uploader", "study_ids", "volume_ids", "create_time", "update_time", "file_count", "skipped")
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    SCAN_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    BYTES_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    FAILURE_REASON_FIELD_NUMBER: _ClassVar[int]
    UPLOADER_FIELD_NUMBER: _ClassVar[int]
    STUDY_IDS_FIELD_NUMBER: _ClassVar[int]
    VOLUME_IDS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    FILE_COUNT_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    upload_id: str
    scan_id: str
    dataset_id: str
    file_name: str
    total_size: int
    sha256: str
    bytes_received: int
    state: UploadState
    failure_reason: str
    uploader: str
    study_ids: _containers.RepeatedScalarFieldContainer[str]
    volume_ids: _containers.RepeatedScalarFieldContainer[str]
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    file_count: int
    skipped: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, upload_id: _Optional[str] = ..., scan_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., file_name: _Optional[str] = ..., total_size: _Optional[int] = ..., sha256: _Optional[str] = ..., bytes_received: _Optional[int] = ..., state: _Optional[_Union[UploadState, str]] = ..., failure_reason: _Optional[str] = ..., uploader: _Optional[str] = ..., study_ids: _Optional[_Iterable[str]] = ..., volume_ids: _Optional[_Iterable[str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., file_count: _Optional[int] = ..., skipped: _Optional[_Iterable[str]] = ...) -> None: ...

class GetUploadRequest(_message.Message):
    __slots__ = ("upload_id",)
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    upload_id: str
    def __init__(self, upload_id: _Optional[str] = ...) -> None: ...

class GetUploadResponse(_message.Message):
    __slots__ = ("upload",)
    UPLOAD_FIELD_NUMBER: _ClassVar[int]
    upload: Upload
    def __init__(self, upload: _Optional[_Union[Upload, _Mapping]] = ...) -> None: ...

class ListUploadsRequest(_message.Message):
    __slots__ = ("dataset_id", "state", "page_size", "page_token")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    state: UploadState
    page_size: int
    page_token: str
    def __init__(self, dataset_id: _Optional[str] = ..., state: _Optional[_Union[UploadState, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListUploadsResponse(_message.Message):
    __slots__ = ("uploads", "next_page_token")
    UPLOADS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    uploads: _containers.RepeatedCompositeFieldContainer[Upload]
    next_page_token: str
    def __init__(self, uploads: _Optional[_Iterable[_Union[Upload, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class Study(_message.Message):
    __slots__ = ("study_id", "dataset_id", "study_instance_uid", "patient_pseudonym", "study_date", "description", "modalities", "series_count", "create_time")
    STUDY_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    STUDY_INSTANCE_UID_FIELD_NUMBER: _ClassVar[int]
    PATIENT_PSEUDONYM_FIELD_NUMBER: _ClassVar[int]
    STUDY_DATE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    MODALITIES_FIELD_NUMBER: _ClassVar[int]
    SERIES_COUNT_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    study_id: str
    dataset_id: str
    study_instance_uid: str
    patient_pseudonym: str
    study_date: str
    description: str
    modalities: _containers.RepeatedScalarFieldContainer[str]
    series_count: int
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, study_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., study_instance_uid: _Optional[str] = ..., patient_pseudonym: _Optional[str] = ..., study_date: _Optional[str] = ..., description: _Optional[str] = ..., modalities: _Optional[_Iterable[str]] = ..., series_count: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListStudiesRequest(_message.Message):
    __slots__ = ("dataset_id", "patient_pseudonym", "modality", "page_size", "page_token")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    PATIENT_PSEUDONYM_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    patient_pseudonym: str
    modality: str
    page_size: int
    page_token: str
    def __init__(self, dataset_id: _Optional[str] = ..., patient_pseudonym: _Optional[str] = ..., modality: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListStudiesResponse(_message.Message):
    __slots__ = ("studies", "next_page_token")
    STUDIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    studies: _containers.RepeatedCompositeFieldContainer[Study]
    next_page_token: str
    def __init__(self, studies: _Optional[_Iterable[_Union[Study, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetStudyRequest(_message.Message):
    __slots__ = ("study_id",)
    STUDY_ID_FIELD_NUMBER: _ClassVar[int]
    study_id: str
    def __init__(self, study_id: _Optional[str] = ...) -> None: ...

class GetStudyResponse(_message.Message):
    __slots__ = ("study",)
    STUDY_FIELD_NUMBER: _ClassVar[int]
    study: Study
    def __init__(self, study: _Optional[_Union[Study, _Mapping]] = ...) -> None: ...

class Series(_message.Message):
    __slots__ = ("series_id", "study_id", "dataset_id", "series_instance_uid", "modality", "series_number", "description", "body_part", "instance_count", "volume_ids", "create_time")
    SERIES_ID_FIELD_NUMBER: _ClassVar[int]
    STUDY_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    SERIES_INSTANCE_UID_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    SERIES_NUMBER_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    BODY_PART_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_COUNT_FIELD_NUMBER: _ClassVar[int]
    VOLUME_IDS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    series_id: str
    study_id: str
    dataset_id: str
    series_instance_uid: str
    modality: str
    series_number: int
    description: str
    body_part: str
    instance_count: int
    volume_ids: _containers.RepeatedScalarFieldContainer[str]
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, series_id: _Optional[str] = ..., study_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., series_instance_uid: _Optional[str] = ..., modality: _Optional[str] = ..., series_number: _Optional[int] = ..., description: _Optional[str] = ..., body_part: _Optional[str] = ..., instance_count: _Optional[int] = ..., volume_ids: _Optional[_Iterable[str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListSeriesRequest(_message.Message):
    __slots__ = ("study_id", "dataset_id", "page_size", "page_token")
    STUDY_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    study_id: str
    dataset_id: str
    page_size: int
    page_token: str
    def __init__(self, study_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListSeriesResponse(_message.Message):
    __slots__ = ("series", "next_page_token")
    SERIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    series: _containers.RepeatedCompositeFieldContainer[Series]
    next_page_token: str
    def __init__(self, series: _Optional[_Iterable[_Union[Series, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetSeriesRequest(_message.Message):
    __slots__ = ("series_id",)
    SERIES_ID_FIELD_NUMBER: _ClassVar[int]
    series_id: str
    def __init__(self, series_id: _Optional[str] = ...) -> None: ...

class GetSeriesResponse(_message.Message):
    __slots__ = ("series",)
    SERIES_FIELD_NUMBER: _ClassVar[int]
    series: Series
    def __init__(self, series: _Optional[_Union[Series, _Mapping]] = ...) -> None: ...

class Volume(_message.Message):
    __slots__ = ("volume_ref", "series_id", "study_id", "dataset_id", "modality", "min_value", "max_value", "create_time")
    VOLUME_REF_FIELD_NUMBER: _ClassVar[int]
    SERIES_ID_FIELD_NUMBER: _ClassVar[int]
    STUDY_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    MIN_VALUE_FIELD_NUMBER: _ClassVar[int]
    MAX_VALUE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    volume_ref: _geometry_pb2.VolumeRef
    series_id: str
    study_id: str
    dataset_id: str
    modality: str
    min_value: float
    max_value: float
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, volume_ref: _Optional[_Union[_geometry_pb2.VolumeRef, _Mapping]] = ..., series_id: _Optional[str] = ..., study_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., modality: _Optional[str] = ..., min_value: _Optional[float] = ..., max_value: _Optional[float] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetVolumeRequest(_message.Message):
    __slots__ = ("volume_id",)
    VOLUME_ID_FIELD_NUMBER: _ClassVar[int]
    volume_id: str
    def __init__(self, volume_id: _Optional[str] = ...) -> None: ...

class GetVolumeResponse(_message.Message):
    __slots__ = ("volume",)
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    volume: Volume
    def __init__(self, volume: _Optional[_Union[Volume, _Mapping]] = ...) -> None: ...

class Window(_message.Message):
    __slots__ = ("center", "width")
    CENTER_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    center: float
    width: float
    def __init__(self, center: _Optional[float] = ..., width: _Optional[float] = ...) -> None: ...

class GetSliceRequest(_message.Message):
    __slots__ = ("volume_id", "plane", "slice_index", "position_mm", "format", "window_preset", "explicit_window", "colormap", "invert", "time_index")
    VOLUME_ID_FIELD_NUMBER: _ClassVar[int]
    PLANE_FIELD_NUMBER: _ClassVar[int]
    SLICE_INDEX_FIELD_NUMBER: _ClassVar[int]
    POSITION_MM_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    WINDOW_PRESET_FIELD_NUMBER: _ClassVar[int]
    EXPLICIT_WINDOW_FIELD_NUMBER: _ClassVar[int]
    COLORMAP_FIELD_NUMBER: _ClassVar[int]
    INVERT_FIELD_NUMBER: _ClassVar[int]
    TIME_INDEX_FIELD_NUMBER: _ClassVar[int]
    volume_id: str
    plane: _geometry_pb2.Plane
    slice_index: int
    position_mm: float
    format: SliceFormat
    window_preset: WindowPreset
    explicit_window: Window
    colormap: Colormap
    invert: bool
    time_index: int
    def __init__(self, volume_id: _Optional[str] = ..., plane: _Optional[_Union[_geometry_pb2.Plane, str]] = ..., slice_index: _Optional[int] = ..., position_mm: _Optional[float] = ..., format: _Optional[_Union[SliceFormat, str]] = ..., window_preset: _Optional[_Union[WindowPreset, str]] = ..., explicit_window: _Optional[_Union[Window, _Mapping]] = ..., colormap: _Optional[_Union[Colormap, str]] = ..., invert: _Optional[bool] = ..., time_index: _Optional[int] = ...) -> None: ...

class GetSliceResponse(_message.Message):
    __slots__ = ("slice_index", "position_mm", "data", "dtype", "shape", "pixel_spacing", "applied_window")
    SLICE_INDEX_FIELD_NUMBER: _ClassVar[int]
    POSITION_MM_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    PIXEL_SPACING_FIELD_NUMBER: _ClassVar[int]
    APPLIED_WINDOW_FIELD_NUMBER: _ClassVar[int]
    slice_index: int
    position_mm: float
    data: bytes
    dtype: _geometry_pb2.DataType
    shape: _containers.RepeatedScalarFieldContainer[int]
    pixel_spacing: _containers.RepeatedScalarFieldContainer[float]
    applied_window: Window
    def __init__(self, slice_index: _Optional[int] = ..., position_mm: _Optional[float] = ..., data: _Optional[bytes] = ..., dtype: _Optional[_Union[_geometry_pb2.DataType, str]] = ..., shape: _Optional[_Iterable[int]] = ..., pixel_spacing: _Optional[_Iterable[float]] = ..., applied_window: _Optional[_Union[Window, _Mapping]] = ...) -> None: ...

class GetVolumeDataRequest(_message.Message):
    __slots__ = ("volume_id", "time_index", "first_slice", "slice_count")
    VOLUME_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_INDEX_FIELD_NUMBER: _ClassVar[int]
    FIRST_SLICE_FIELD_NUMBER: _ClassVar[int]
    SLICE_COUNT_FIELD_NUMBER: _ClassVar[int]
    volume_id: str
    time_index: int
    first_slice: int
    slice_count: int
    def __init__(self, volume_id: _Optional[str] = ..., time_index: _Optional[int] = ..., first_slice: _Optional[int] = ..., slice_count: _Optional[int] = ...) -> None: ...

class GetVolumeDataResponse(_message.Message):
    __slots__ = ("data", "dtype", "shape", "volume_shape")
    DATA_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    VOLUME_SHAPE_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    dtype: _geometry_pb2.DataType
    shape: _containers.RepeatedScalarFieldContainer[int]
    volume_shape: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, data: _Optional[bytes] = ..., dtype: _Optional[_Union[_geometry_pb2.DataType, str]] = ..., shape: _Optional[_Iterable[int]] = ..., volume_shape: _Optional[_Iterable[int]] = ...) -> None: ...

class GetThumbnailRequest(_message.Message):
    __slots__ = ("study_id", "series_id", "volume_id", "max_size", "time_index")
    STUDY_ID_FIELD_NUMBER: _ClassVar[int]
    SERIES_ID_FIELD_NUMBER: _ClassVar[int]
    VOLUME_ID_FIELD_NUMBER: _ClassVar[int]
    MAX_SIZE_FIELD_NUMBER: _ClassVar[int]
    TIME_INDEX_FIELD_NUMBER: _ClassVar[int]
    study_id: str
    series_id: str
    volume_id: str
    max_size: int
    time_index: int
    def __init__(self, study_id: _Optional[str] = ..., series_id: _Optional[str] = ..., volume_id: _Optional[str] = ..., max_size: _Optional[int] = ..., time_index: _Optional[int] = ...) -> None: ...

class GetThumbnailResponse(_message.Message):
    __slots__ = ("png", "width", "height")
    PNG_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    png: bytes
    width: int
    height: int
    def __init__(self, png: _Optional[bytes] = ..., width: _Optional[int] = ..., height: _Optional[int] = ...) -> None: ...
