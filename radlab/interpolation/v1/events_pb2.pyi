from radlab.interpolation.v1 import interpolation_service_pb2 as _interpolation_service_pb2
from radlab.type.v1 import geometry_pb2 as _geometry_pb2
from radlab.type.v1 import label_pb2 as _label_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FilledSlices(_message.Message):
    __slots__ = ("label_value", "slice_indices")
    LABEL_VALUE_FIELD_NUMBER: _ClassVar[int]
    SLICE_INDICES_FIELD_NUMBER: _ClassVar[int]
    label_value: int
    slice_indices: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, label_value: _Optional[int] = ..., slice_indices: _Optional[_Iterable[int]] = ...) -> None: ...

class SlicesInterpolated(_message.Message):
    __slots__ = ("item_id", "annotation_id", "key_slice_version", "job_id", "plane", "method", "labels", "filled_slices", "choices")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_SLICE_VERSION_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    PLANE_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    FILLED_SLICES_FIELD_NUMBER: _ClassVar[int]
    CHOICES_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    annotation_id: str
    key_slice_version: int
    job_id: str
    plane: _geometry_pb2.Plane
    method: _interpolation_service_pb2.InterpolationMethod
    labels: _label_pb2.Mask
    filled_slices: _containers.RepeatedCompositeFieldContainer[FilledSlices]
    choices: _containers.RepeatedCompositeFieldContainer[_interpolation_service_pb2.LabelChoice]
    def __init__(self, item_id: _Optional[str] = ..., annotation_id: _Optional[str] = ..., key_slice_version: _Optional[int] = ..., job_id: _Optional[str] = ..., plane: _Optional[_Union[_geometry_pb2.Plane, str]] = ..., method: _Optional[_Union[_interpolation_service_pb2.InterpolationMethod, str]] = ..., labels: _Optional[_Union[_label_pb2.Mask, _Mapping]] = ..., filled_slices: _Optional[_Iterable[_Union[FilledSlices, _Mapping]]] = ..., choices: _Optional[_Iterable[_Union[_interpolation_service_pb2.LabelChoice, _Mapping]]] = ...) -> None: ...
