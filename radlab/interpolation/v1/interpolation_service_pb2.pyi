import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from radlab.type.v1 import access_pb2 as _access_pb2
from radlab.type.v1 import geometry_pb2 as _geometry_pb2
from radlab.type.v1 import job_pb2 as _job_pb2
from radlab.type.v1 import label_pb2 as _label_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class InterpolationMethod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INTERPOLATION_METHOD_UNSPECIFIED: _ClassVar[InterpolationMethod]
    INTERPOLATION_METHOD_SHAPE: _ClassVar[InterpolationMethod]
    INTERPOLATION_METHOD_IMAGE_GUIDED: _ClassVar[InterpolationMethod]
    INTERPOLATION_METHOD_IMAGE_GUIDED_FAST: _ClassVar[InterpolationMethod]
    INTERPOLATION_METHOD_AUTOMATIC: _ClassVar[InterpolationMethod]
    INTERPOLATION_METHOD_NEAREST_KEY: _ClassVar[InterpolationMethod]
    INTERPOLATION_METHOD_SIGNED_DISTANCE: _ClassVar[InterpolationMethod]
    INTERPOLATION_METHOD_BLEND: _ClassVar[InterpolationMethod]
INTERPOLATION_METHOD_UNSPECIFIED: InterpolationMethod
INTERPOLATION_METHOD_SHAPE: InterpolationMethod
INTERPOLATION_METHOD_IMAGE_GUIDED: InterpolationMethod
INTERPOLATION_METHOD_IMAGE_GUIDED_FAST: InterpolationMethod
INTERPOLATION_METHOD_AUTOMATIC: InterpolationMethod
INTERPOLATION_METHOD_NEAREST_KEY: InterpolationMethod
INTERPOLATION_METHOD_SIGNED_DISTANCE: InterpolationMethod
INTERPOLATION_METHOD_BLEND: InterpolationMethod

class LabelChoice(_message.Message):
    __slots__ = ("label_value", "method", "reason")
    LABEL_VALUE_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    label_value: int
    method: InterpolationMethod
    reason: str
    def __init__(self, label_value: _Optional[int] = ..., method: _Optional[_Union[InterpolationMethod, str]] = ..., reason: _Optional[str] = ...) -> None: ...

class InterpolateRequest(_message.Message):
    __slots__ = ("item_id", "plane", "label_value", "key_slices", "method", "include_polygons")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    PLANE_FIELD_NUMBER: _ClassVar[int]
    LABEL_VALUE_FIELD_NUMBER: _ClassVar[int]
    KEY_SLICES_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_POLYGONS_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    plane: _geometry_pb2.Plane
    label_value: int
    key_slices: _containers.RepeatedCompositeFieldContainer[_label_pb2.SliceLabel]
    method: InterpolationMethod
    include_polygons: bool
    def __init__(self, item_id: _Optional[str] = ..., plane: _Optional[_Union[_geometry_pb2.Plane, str]] = ..., label_value: _Optional[int] = ..., key_slices: _Optional[_Iterable[_Union[_label_pb2.SliceLabel, _Mapping]]] = ..., method: _Optional[_Union[InterpolationMethod, str]] = ..., include_polygons: _Optional[bool] = ...) -> None: ...

class InterpolateResponse(_message.Message):
    __slots__ = ("slices", "method", "choices")
    SLICES_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    CHOICES_FIELD_NUMBER: _ClassVar[int]
    slices: _containers.RepeatedCompositeFieldContainer[_label_pb2.SliceLabel]
    method: InterpolationMethod
    choices: _containers.RepeatedCompositeFieldContainer[LabelChoice]
    def __init__(self, slices: _Optional[_Iterable[_Union[_label_pb2.SliceLabel, _Mapping]]] = ..., method: _Optional[_Union[InterpolationMethod, str]] = ..., choices: _Optional[_Iterable[_Union[LabelChoice, _Mapping]]] = ...) -> None: ...

class InterpolationJob(_message.Message):
    __slots__ = ("job", "item_id", "annotation_id", "key_slice_version", "plane", "method", "label_values", "labels", "requester", "create_time", "choices")
    JOB_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_SLICE_VERSION_FIELD_NUMBER: _ClassVar[int]
    PLANE_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    LABEL_VALUES_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    REQUESTER_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    CHOICES_FIELD_NUMBER: _ClassVar[int]
    job: _job_pb2.Job
    item_id: str
    annotation_id: str
    key_slice_version: int
    plane: _geometry_pb2.Plane
    method: InterpolationMethod
    label_values: _containers.RepeatedScalarFieldContainer[int]
    labels: _label_pb2.Mask
    requester: str
    create_time: _timestamp_pb2.Timestamp
    choices: _containers.RepeatedCompositeFieldContainer[LabelChoice]
    def __init__(self, job: _Optional[_Union[_job_pb2.Job, _Mapping]] = ..., item_id: _Optional[str] = ..., annotation_id: _Optional[str] = ..., key_slice_version: _Optional[int] = ..., plane: _Optional[_Union[_geometry_pb2.Plane, str]] = ..., method: _Optional[_Union[InterpolationMethod, str]] = ..., label_values: _Optional[_Iterable[int]] = ..., labels: _Optional[_Union[_label_pb2.Mask, _Mapping]] = ..., requester: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., choices: _Optional[_Iterable[_Union[LabelChoice, _Mapping]]] = ...) -> None: ...

class StartInterpolationRequest(_message.Message):
    __slots__ = ("item_id", "annotation_id", "key_slice_version", "plane", "method", "label_values")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_SLICE_VERSION_FIELD_NUMBER: _ClassVar[int]
    PLANE_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    LABEL_VALUES_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    annotation_id: str
    key_slice_version: int
    plane: _geometry_pb2.Plane
    method: InterpolationMethod
    label_values: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, item_id: _Optional[str] = ..., annotation_id: _Optional[str] = ..., key_slice_version: _Optional[int] = ..., plane: _Optional[_Union[_geometry_pb2.Plane, str]] = ..., method: _Optional[_Union[InterpolationMethod, str]] = ..., label_values: _Optional[_Iterable[int]] = ...) -> None: ...

class StartInterpolationResponse(_message.Message):
    __slots__ = ("interpolation_job",)
    INTERPOLATION_JOB_FIELD_NUMBER: _ClassVar[int]
    interpolation_job: InterpolationJob
    def __init__(self, interpolation_job: _Optional[_Union[InterpolationJob, _Mapping]] = ...) -> None: ...

class GetInterpolationJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class GetInterpolationJobResponse(_message.Message):
    __slots__ = ("interpolation_job",)
    INTERPOLATION_JOB_FIELD_NUMBER: _ClassVar[int]
    interpolation_job: InterpolationJob
    def __init__(self, interpolation_job: _Optional[_Union[InterpolationJob, _Mapping]] = ...) -> None: ...
