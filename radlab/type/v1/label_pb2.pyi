from radlab.type.v1 import geometry_pb2 as _geometry_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SliceProvenance(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SLICE_PROVENANCE_UNSPECIFIED: _ClassVar[SliceProvenance]
    SLICE_PROVENANCE_DRAWN: _ClassVar[SliceProvenance]
    SLICE_PROVENANCE_INTERPOLATED: _ClassVar[SliceProvenance]
    SLICE_PROVENANCE_PREDICTED: _ClassVar[SliceProvenance]
    SLICE_PROVENANCE_ABSENT: _ClassVar[SliceProvenance]
    SLICE_PROVENANCE_IMPORTED: _ClassVar[SliceProvenance]

class MaskEncoding(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MASK_ENCODING_UNSPECIFIED: _ClassVar[MaskEncoding]
    MASK_ENCODING_RAW: _ClassVar[MaskEncoding]
    MASK_ENCODING_PNG: _ClassVar[MaskEncoding]
SLICE_PROVENANCE_UNSPECIFIED: SliceProvenance
SLICE_PROVENANCE_DRAWN: SliceProvenance
SLICE_PROVENANCE_INTERPOLATED: SliceProvenance
SLICE_PROVENANCE_PREDICTED: SliceProvenance
SLICE_PROVENANCE_ABSENT: SliceProvenance
SLICE_PROVENANCE_IMPORTED: SliceProvenance
MASK_ENCODING_UNSPECIFIED: MaskEncoding
MASK_ENCODING_RAW: MaskEncoding
MASK_ENCODING_PNG: MaskEncoding

class Point2(_message.Message):
    __slots__ = ("x", "y")
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    x: float
    y: float
    def __init__(self, x: _Optional[float] = ..., y: _Optional[float] = ...) -> None: ...

class Polygon(_message.Message):
    __slots__ = ("plane", "slice_index", "vertices", "label_value", "hole")
    PLANE_FIELD_NUMBER: _ClassVar[int]
    SLICE_INDEX_FIELD_NUMBER: _ClassVar[int]
    VERTICES_FIELD_NUMBER: _ClassVar[int]
    LABEL_VALUE_FIELD_NUMBER: _ClassVar[int]
    HOLE_FIELD_NUMBER: _ClassVar[int]
    plane: _geometry_pb2.Plane
    slice_index: int
    vertices: _containers.RepeatedCompositeFieldContainer[Point2]
    label_value: int
    hole: bool
    def __init__(self, plane: _Optional[_Union[_geometry_pb2.Plane, str]] = ..., slice_index: _Optional[int] = ..., vertices: _Optional[_Iterable[_Union[Point2, _Mapping]]] = ..., label_value: _Optional[int] = ..., hole: _Optional[bool] = ...) -> None: ...

class SliceBox(_message.Message):
    __slots__ = ("plane", "slice_index", "label_value", "x0", "y0", "x1", "y1", "score")
    PLANE_FIELD_NUMBER: _ClassVar[int]
    SLICE_INDEX_FIELD_NUMBER: _ClassVar[int]
    LABEL_VALUE_FIELD_NUMBER: _ClassVar[int]
    X0_FIELD_NUMBER: _ClassVar[int]
    Y0_FIELD_NUMBER: _ClassVar[int]
    X1_FIELD_NUMBER: _ClassVar[int]
    Y1_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    plane: _geometry_pb2.Plane
    slice_index: int
    label_value: int
    x0: float
    y0: float
    x1: float
    y1: float
    score: float
    def __init__(self, plane: _Optional[_Union[_geometry_pb2.Plane, str]] = ..., slice_index: _Optional[int] = ..., label_value: _Optional[int] = ..., x0: _Optional[float] = ..., y0: _Optional[float] = ..., x1: _Optional[float] = ..., y1: _Optional[float] = ..., score: _Optional[float] = ...) -> None: ...

class SliceMask(_message.Message):
    __slots__ = ("rows", "columns", "encoding", "data")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    rows: int
    columns: int
    encoding: MaskEncoding
    data: bytes
    def __init__(self, rows: _Optional[int] = ..., columns: _Optional[int] = ..., encoding: _Optional[_Union[MaskEncoding, str]] = ..., data: _Optional[bytes] = ...) -> None: ...

class SliceLabel(_message.Message):
    __slots__ = ("plane", "slice_index", "label_value", "provenance", "mask", "polygons")
    PLANE_FIELD_NUMBER: _ClassVar[int]
    SLICE_INDEX_FIELD_NUMBER: _ClassVar[int]
    LABEL_VALUE_FIELD_NUMBER: _ClassVar[int]
    PROVENANCE_FIELD_NUMBER: _ClassVar[int]
    MASK_FIELD_NUMBER: _ClassVar[int]
    POLYGONS_FIELD_NUMBER: _ClassVar[int]
    plane: _geometry_pb2.Plane
    slice_index: int
    label_value: int
    provenance: SliceProvenance
    mask: SliceMask
    polygons: _containers.RepeatedCompositeFieldContainer[Polygon]
    def __init__(self, plane: _Optional[_Union[_geometry_pb2.Plane, str]] = ..., slice_index: _Optional[int] = ..., label_value: _Optional[int] = ..., provenance: _Optional[_Union[SliceProvenance, str]] = ..., mask: _Optional[_Union[SliceMask, _Mapping]] = ..., polygons: _Optional[_Iterable[_Union[Polygon, _Mapping]]] = ...) -> None: ...

class Mask(_message.Message):
    __slots__ = ("bucket", "key", "format", "dtype", "label_values", "volume_id", "geometry")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    LABEL_VALUES_FIELD_NUMBER: _ClassVar[int]
    VOLUME_ID_FIELD_NUMBER: _ClassVar[int]
    GEOMETRY_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    key: str
    format: _geometry_pb2.VolumeFormat
    dtype: _geometry_pb2.DataType
    label_values: _containers.RepeatedScalarFieldContainer[int]
    volume_id: str
    geometry: _geometry_pb2.Geometry
    def __init__(self, bucket: _Optional[str] = ..., key: _Optional[str] = ..., format: _Optional[_Union[_geometry_pb2.VolumeFormat, str]] = ..., dtype: _Optional[_Union[_geometry_pb2.DataType, str]] = ..., label_values: _Optional[_Iterable[int]] = ..., volume_id: _Optional[str] = ..., geometry: _Optional[_Union[_geometry_pb2.Geometry, _Mapping]] = ...) -> None: ...
