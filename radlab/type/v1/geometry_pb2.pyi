from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Plane(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PLANE_UNSPECIFIED: _ClassVar[Plane]
    PLANE_AXIAL: _ClassVar[Plane]
    PLANE_CORONAL: _ClassVar[Plane]
    PLANE_SAGITTAL: _ClassVar[Plane]

class DataType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DATA_TYPE_UNSPECIFIED: _ClassVar[DataType]
    DATA_TYPE_UINT8: _ClassVar[DataType]
    DATA_TYPE_INT8: _ClassVar[DataType]
    DATA_TYPE_UINT16: _ClassVar[DataType]
    DATA_TYPE_INT16: _ClassVar[DataType]
    DATA_TYPE_UINT32: _ClassVar[DataType]
    DATA_TYPE_INT32: _ClassVar[DataType]
    DATA_TYPE_FLOAT32: _ClassVar[DataType]
    DATA_TYPE_FLOAT64: _ClassVar[DataType]

class VolumeFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VOLUME_FORMAT_UNSPECIFIED: _ClassVar[VolumeFormat]
    VOLUME_FORMAT_ZARR: _ClassVar[VolumeFormat]
    VOLUME_FORMAT_NIFTI: _ClassVar[VolumeFormat]

class GeometryIssueKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GEOMETRY_ISSUE_KIND_UNSPECIFIED: _ClassVar[GeometryIssueKind]
    GEOMETRY_ISSUE_KIND_GANTRY_TILT: _ClassVar[GeometryIssueKind]
    GEOMETRY_ISSUE_KIND_UNEVEN_SPACING: _ClassVar[GeometryIssueKind]
    GEOMETRY_ISSUE_KIND_MISSING_SLICES: _ClassVar[GeometryIssueKind]
    GEOMETRY_ISSUE_KIND_DUPLICATE_POSITIONS: _ClassVar[GeometryIssueKind]
PLANE_UNSPECIFIED: Plane
PLANE_AXIAL: Plane
PLANE_CORONAL: Plane
PLANE_SAGITTAL: Plane
DATA_TYPE_UNSPECIFIED: DataType
DATA_TYPE_UINT8: DataType
DATA_TYPE_INT8: DataType
DATA_TYPE_UINT16: DataType
DATA_TYPE_INT16: DataType
DATA_TYPE_UINT32: DataType
DATA_TYPE_INT32: DataType
DATA_TYPE_FLOAT32: DataType
DATA_TYPE_FLOAT64: DataType
VOLUME_FORMAT_UNSPECIFIED: VolumeFormat
VOLUME_FORMAT_ZARR: VolumeFormat
VOLUME_FORMAT_NIFTI: VolumeFormat
GEOMETRY_ISSUE_KIND_UNSPECIFIED: GeometryIssueKind
GEOMETRY_ISSUE_KIND_GANTRY_TILT: GeometryIssueKind
GEOMETRY_ISSUE_KIND_UNEVEN_SPACING: GeometryIssueKind
GEOMETRY_ISSUE_KIND_MISSING_SLICES: GeometryIssueKind
GEOMETRY_ISSUE_KIND_DUPLICATE_POSITIONS: GeometryIssueKind

class GeometryIssue(_message.Message):
    __slots__ = ("kind", "message", "slice_indices", "value", "corrected")
    KIND_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    SLICE_INDICES_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    CORRECTED_FIELD_NUMBER: _ClassVar[int]
    kind: GeometryIssueKind
    message: str
    slice_indices: _containers.RepeatedScalarFieldContainer[int]
    value: float
    corrected: bool
    def __init__(self, kind: _Optional[_Union[GeometryIssueKind, str]] = ..., message: _Optional[str] = ..., slice_indices: _Optional[_Iterable[int]] = ..., value: _Optional[float] = ..., corrected: _Optional[bool] = ...) -> None: ...

class Geometry(_message.Message):
    __slots__ = ("shape", "affine", "spacing", "frame_of_reference_uid", "issues", "time_points", "fourth_axis")
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    AFFINE_FIELD_NUMBER: _ClassVar[int]
    SPACING_FIELD_NUMBER: _ClassVar[int]
    FRAME_OF_REFERENCE_UID_FIELD_NUMBER: _ClassVar[int]
    ISSUES_FIELD_NUMBER: _ClassVar[int]
    TIME_POINTS_FIELD_NUMBER: _ClassVar[int]
    FOURTH_AXIS_FIELD_NUMBER: _ClassVar[int]
    shape: _containers.RepeatedScalarFieldContainer[int]
    affine: _containers.RepeatedScalarFieldContainer[float]
    spacing: _containers.RepeatedScalarFieldContainer[float]
    frame_of_reference_uid: str
    issues: _containers.RepeatedCompositeFieldContainer[GeometryIssue]
    time_points: int
    fourth_axis: str
    def __init__(self, shape: _Optional[_Iterable[int]] = ..., affine: _Optional[_Iterable[float]] = ..., spacing: _Optional[_Iterable[float]] = ..., frame_of_reference_uid: _Optional[str] = ..., issues: _Optional[_Iterable[_Union[GeometryIssue, _Mapping]]] = ..., time_points: _Optional[int] = ..., fourth_axis: _Optional[str] = ...) -> None: ...

class VolumeRef(_message.Message):
    __slots__ = ("volume_id", "bucket", "key_prefix", "format", "dtype", "geometry")
    VOLUME_ID_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    KEY_PREFIX_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    GEOMETRY_FIELD_NUMBER: _ClassVar[int]
    volume_id: str
    bucket: str
    key_prefix: str
    format: VolumeFormat
    dtype: DataType
    geometry: Geometry
    def __init__(self, volume_id: _Optional[str] = ..., bucket: _Optional[str] = ..., key_prefix: _Optional[str] = ..., format: _Optional[_Union[VolumeFormat, str]] = ..., dtype: _Optional[_Union[DataType, str]] = ..., geometry: _Optional[_Union[Geometry, _Mapping]] = ...) -> None: ...
