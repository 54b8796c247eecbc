import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from radlab.type.v1 import geometry_pb2 as _geometry_pb2
from radlab.type.v1 import label_pb2 as _label_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DatasetCreated(_message.Message):
    __slots__ = ("dataset_id", "name", "creator")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CREATOR_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    name: str
    creator: str
    def __init__(self, dataset_id: _Optional[str] = ..., name: _Optional[str] = ..., creator: _Optional[str] = ...) -> None: ...

class DatasetShared(_message.Message):
    __slots__ = ("dataset_id", "vendor_id")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    VENDOR_ID_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    vendor_id: str
    def __init__(self, dataset_id: _Optional[str] = ..., vendor_id: _Optional[str] = ...) -> None: ...

class DatasetUnshared(_message.Message):
    __slots__ = ("dataset_id", "vendor_id")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    VENDOR_ID_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    vendor_id: str
    def __init__(self, dataset_id: _Optional[str] = ..., vendor_id: _Optional[str] = ...) -> None: ...

class ItemAdded(_message.Message):
    __slots__ = ("item_id", "dataset_id", "volume_id", "study_id", "series_id", "modality")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    VOLUME_ID_FIELD_NUMBER: _ClassVar[int]
    STUDY_ID_FIELD_NUMBER: _ClassVar[int]
    SERIES_ID_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    dataset_id: str
    volume_id: str
    study_id: str
    series_id: str
    modality: str
    def __init__(self, item_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., volume_id: _Optional[str] = ..., study_id: _Optional[str] = ..., series_id: _Optional[str] = ..., modality: _Optional[str] = ...) -> None: ...

class ItemUpdated(_message.Message):
    __slots__ = ("item_id", "dataset_id", "tags", "folder_id")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    FOLDER_ID_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    dataset_id: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    folder_id: str
    def __init__(self, item_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ..., folder_id: _Optional[str] = ...) -> None: ...

class LabelKeySlices(_message.Message):
    __slots__ = ("label_value", "drawn_slice_indices", "absent_slice_indices")
    LABEL_VALUE_FIELD_NUMBER: _ClassVar[int]
    DRAWN_SLICE_INDICES_FIELD_NUMBER: _ClassVar[int]
    ABSENT_SLICE_INDICES_FIELD_NUMBER: _ClassVar[int]
    label_value: int
    drawn_slice_indices: _containers.RepeatedScalarFieldContainer[int]
    absent_slice_indices: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, label_value: _Optional[int] = ..., drawn_slice_indices: _Optional[_Iterable[int]] = ..., absent_slice_indices: _Optional[_Iterable[int]] = ...) -> None: ...

class AnnotationVersionSaved(_message.Message):
    __slots__ = ("item_id", "dataset_id", "annotation_id", "version", "parent_version", "author", "interpolate", "plane")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PARENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    INTERPOLATE_FIELD_NUMBER: _ClassVar[int]
    PLANE_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    dataset_id: str
    annotation_id: str
    version: int
    parent_version: int
    author: str
    interpolate: bool
    plane: _geometry_pb2.Plane
    def __init__(self, item_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., annotation_id: _Optional[str] = ..., version: _Optional[int] = ..., parent_version: _Optional[int] = ..., author: _Optional[str] = ..., interpolate: _Optional[bool] = ..., plane: _Optional[_Union[_geometry_pb2.Plane, str]] = ...) -> None: ...

class KeySlicesSaved(_message.Message):
    __slots__ = ("item_id", "dataset_id", "annotation_id", "version", "volume_id", "plane", "key_slices", "labels")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    VOLUME_ID_FIELD_NUMBER: _ClassVar[int]
    PLANE_FIELD_NUMBER: _ClassVar[int]
    KEY_SLICES_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    dataset_id: str
    annotation_id: str
    version: int
    volume_id: str
    plane: _geometry_pb2.Plane
    key_slices: _containers.RepeatedCompositeFieldContainer[LabelKeySlices]
    labels: _label_pb2.Mask
    def __init__(self, item_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., annotation_id: _Optional[str] = ..., version: _Optional[int] = ..., volume_id: _Optional[str] = ..., plane: _Optional[_Union[_geometry_pb2.Plane, str]] = ..., key_slices: _Optional[_Iterable[_Union[LabelKeySlices, _Mapping]]] = ..., labels: _Optional[_Union[_label_pb2.Mask, _Mapping]] = ...) -> None: ...

class AnnotationSubmitted(_message.Message):
    __slots__ = ("item_id", "dataset_id", "annotation_id", "version", "annotator", "vendor_id", "labels", "boxes", "polygons")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ANNOTATOR_FIELD_NUMBER: _ClassVar[int]
    VENDOR_ID_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    BOXES_FIELD_NUMBER: _ClassVar[int]
    POLYGONS_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    dataset_id: str
    annotation_id: str
    version: int
    annotator: str
    vendor_id: str
    labels: _label_pb2.Mask
    boxes: _containers.RepeatedCompositeFieldContainer[_label_pb2.SliceBox]
    polygons: _containers.RepeatedCompositeFieldContainer[_label_pb2.Polygon]
    def __init__(self, item_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., annotation_id: _Optional[str] = ..., version: _Optional[int] = ..., annotator: _Optional[str] = ..., vendor_id: _Optional[str] = ..., labels: _Optional[_Union[_label_pb2.Mask, _Mapping]] = ..., boxes: _Optional[_Iterable[_Union[_label_pb2.SliceBox, _Mapping]]] = ..., polygons: _Optional[_Iterable[_Union[_label_pb2.Polygon, _Mapping]]] = ...) -> None: ...

class TokenRevoked(_message.Message):
    __slots__ = ("token_id", "expire_time", "revoked_by")
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    REVOKED_BY_FIELD_NUMBER: _ClassVar[int]
    token_id: str
    expire_time: _timestamp_pb2.Timestamp
    revoked_by: str
    def __init__(self, token_id: _Optional[str] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revoked_by: _Optional[str] = ...) -> None: ...
