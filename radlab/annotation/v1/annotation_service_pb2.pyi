import datetime

from google.protobuf import field_mask_pb2 as _field_mask_pb2
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

class AnnotationState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ANNOTATION_STATE_UNSPECIFIED: _ClassVar[AnnotationState]
    ANNOTATION_STATE_DRAFT: _ClassVar[AnnotationState]
    ANNOTATION_STATE_SUBMITTED: _ClassVar[AnnotationState]

class AnnotationChange(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ANNOTATION_CHANGE_UNSPECIFIED: _ClassVar[AnnotationChange]
    ANNOTATION_CHANGE_KEY_SLICES_SAVED: _ClassVar[AnnotationChange]
    ANNOTATION_CHANGE_SLICES_INTERPOLATED: _ClassVar[AnnotationChange]
    ANNOTATION_CHANGE_PREDICTION_APPLIED: _ClassVar[AnnotationChange]
    ANNOTATION_CHANGE_LABELS_IMPORTED: _ClassVar[AnnotationChange]

class LabelFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LABEL_FORMAT_UNSPECIFIED: _ClassVar[LabelFormat]
    LABEL_FORMAT_NIFTI: _ClassVar[LabelFormat]
    LABEL_FORMAT_DICOM_SEG: _ClassVar[LabelFormat]
    LABEL_FORMAT_RTSTRUCT: _ClassVar[LabelFormat]

class AnnotationSelection(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ANNOTATION_SELECTION_UNSPECIFIED: _ClassVar[AnnotationSelection]
    ANNOTATION_SELECTION_LATEST_SUBMITTED: _ClassVar[AnnotationSelection]
    ANNOTATION_SELECTION_ALL_SUBMITTED: _ClassVar[AnnotationSelection]
ANNOTATION_STATE_UNSPECIFIED: AnnotationState
ANNOTATION_STATE_DRAFT: AnnotationState
ANNOTATION_STATE_SUBMITTED: AnnotationState
ANNOTATION_CHANGE_UNSPECIFIED: AnnotationChange
ANNOTATION_CHANGE_KEY_SLICES_SAVED: AnnotationChange
ANNOTATION_CHANGE_SLICES_INTERPOLATED: AnnotationChange
ANNOTATION_CHANGE_PREDICTION_APPLIED: AnnotationChange
ANNOTATION_CHANGE_LABELS_IMPORTED: AnnotationChange
LABEL_FORMAT_UNSPECIFIED: LabelFormat
LABEL_FORMAT_NIFTI: LabelFormat
LABEL_FORMAT_DICOM_SEG: LabelFormat
LABEL_FORMAT_RTSTRUCT: LabelFormat
ANNOTATION_SELECTION_UNSPECIFIED: AnnotationSelection
ANNOTATION_SELECTION_LATEST_SUBMITTED: AnnotationSelection
ANNOTATION_SELECTION_ALL_SUBMITTED: AnnotationSelection

class Dataset(_message.Message):
    __slots__ = ("dataset_id", "name", "description", "vendor_ids", "item_count", "creator", "create_time")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    VENDOR_IDS_FIELD_NUMBER: _ClassVar[int]
    ITEM_COUNT_FIELD_NUMBER: _ClassVar[int]
    CREATOR_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    name: str
    description: str
    vendor_ids: _containers.RepeatedScalarFieldContainer[str]
    item_count: int
    creator: str
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, dataset_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., vendor_ids: _Optional[_Iterable[str]] = ..., item_count: _Optional[int] = ..., creator: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateDatasetRequest(_message.Message):
    __slots__ = ("name", "description")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class CreateDatasetResponse(_message.Message):
    __slots__ = ("dataset",)
    DATASET_FIELD_NUMBER: _ClassVar[int]
    dataset: Dataset
    def __init__(self, dataset: _Optional[_Union[Dataset, _Mapping]] = ...) -> None: ...

class GetDatasetRequest(_message.Message):
    __slots__ = ("dataset_id",)
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    def __init__(self, dataset_id: _Optional[str] = ...) -> None: ...

class GetDatasetResponse(_message.Message):
    __slots__ = ("dataset",)
    DATASET_FIELD_NUMBER: _ClassVar[int]
    dataset: Dataset
    def __init__(self, dataset: _Optional[_Union[Dataset, _Mapping]] = ...) -> None: ...

class ListDatasetsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListDatasetsResponse(_message.Message):
    __slots__ = ("datasets", "next_page_token")
    DATASETS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    datasets: _containers.RepeatedCompositeFieldContainer[Dataset]
    next_page_token: str
    def __init__(self, datasets: _Optional[_Iterable[_Union[Dataset, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ShareDatasetRequest(_message.Message):
    __slots__ = ("dataset_id", "vendor_id")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    VENDOR_ID_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    vendor_id: str
    def __init__(self, dataset_id: _Optional[str] = ..., vendor_id: _Optional[str] = ...) -> None: ...

class ShareDatasetResponse(_message.Message):
    __slots__ = ("dataset",)
    DATASET_FIELD_NUMBER: _ClassVar[int]
    dataset: Dataset
    def __init__(self, dataset: _Optional[_Union[Dataset, _Mapping]] = ...) -> None: ...

class UnshareDatasetRequest(_message.Message):
    __slots__ = ("dataset_id", "vendor_id")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    VENDOR_ID_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    vendor_id: str
    def __init__(self, dataset_id: _Optional[str] = ..., vendor_id: _Optional[str] = ...) -> None: ...

class UnshareDatasetResponse(_message.Message):
    __slots__ = ("dataset",)
    DATASET_FIELD_NUMBER: _ClassVar[int]
    dataset: Dataset
    def __init__(self, dataset: _Optional[_Union[Dataset, _Mapping]] = ...) -> None: ...

class LabelClass(_message.Message):
    __slots__ = ("label_class_id", "dataset_id", "name", "value", "color", "description")
    LABEL_CLASS_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    COLOR_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    label_class_id: str
    dataset_id: str
    name: str
    value: int
    color: str
    description: str
    def __init__(self, label_class_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., name: _Optional[str] = ..., value: _Optional[int] = ..., color: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class CreateLabelClassRequest(_message.Message):
    __slots__ = ("dataset_id", "name", "value", "color", "description")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    COLOR_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    name: str
    value: int
    color: str
    description: str
    def __init__(self, dataset_id: _Optional[str] = ..., name: _Optional[str] = ..., value: _Optional[int] = ..., color: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class CreateLabelClassResponse(_message.Message):
    __slots__ = ("label_class",)
    LABEL_CLASS_FIELD_NUMBER: _ClassVar[int]
    label_class: LabelClass
    def __init__(self, label_class: _Optional[_Union[LabelClass, _Mapping]] = ...) -> None: ...

class ListLabelClassesRequest(_message.Message):
    __slots__ = ("dataset_id", "page_size", "page_token")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    page_size: int
    page_token: str
    def __init__(self, dataset_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListLabelClassesResponse(_message.Message):
    __slots__ = ("label_classes", "next_page_token")
    LABEL_CLASSES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    label_classes: _containers.RepeatedCompositeFieldContainer[LabelClass]
    next_page_token: str
    def __init__(self, label_classes: _Optional[_Iterable[_Union[LabelClass, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class Folder(_message.Message):
    __slots__ = ("folder_id", "dataset_id", "name", "parent_folder_id", "create_time")
    FOLDER_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PARENT_FOLDER_ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    folder_id: str
    dataset_id: str
    name: str
    parent_folder_id: str
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, folder_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., name: _Optional[str] = ..., parent_folder_id: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateFolderRequest(_message.Message):
    __slots__ = ("dataset_id", "name", "parent_folder_id")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PARENT_FOLDER_ID_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    name: str
    parent_folder_id: str
    def __init__(self, dataset_id: _Optional[str] = ..., name: _Optional[str] = ..., parent_folder_id: _Optional[str] = ...) -> None: ...

class CreateFolderResponse(_message.Message):
    __slots__ = ("folder",)
    FOLDER_FIELD_NUMBER: _ClassVar[int]
    folder: Folder
    def __init__(self, folder: _Optional[_Union[Folder, _Mapping]] = ...) -> None: ...

class ListFoldersRequest(_message.Message):
    __slots__ = ("dataset_id", "page_size", "page_token")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    page_size: int
    page_token: str
    def __init__(self, dataset_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListFoldersResponse(_message.Message):
    __slots__ = ("folders", "next_page_token")
    FOLDERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    folders: _containers.RepeatedCompositeFieldContainer[Folder]
    next_page_token: str
    def __init__(self, folders: _Optional[_Iterable[_Union[Folder, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class Annotation(_message.Message):
    __slots__ = ("annotation_id", "item_id", "dataset_id", "annotator", "model_id", "vendor_id", "version", "key_slice_version", "state", "labels", "create_time", "update_time", "submit_time")
    ANNOTATION_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    ANNOTATOR_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    VENDOR_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    KEY_SLICE_VERSION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    SUBMIT_TIME_FIELD_NUMBER: _ClassVar[int]
    annotation_id: str
    item_id: str
    dataset_id: str
    annotator: str
    model_id: str
    vendor_id: str
    version: int
    key_slice_version: int
    state: AnnotationState
    labels: _label_pb2.Mask
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    submit_time: _timestamp_pb2.Timestamp
    def __init__(self, annotation_id: _Optional[str] = ..., item_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., annotator: _Optional[str] = ..., model_id: _Optional[str] = ..., vendor_id: _Optional[str] = ..., version: _Optional[int] = ..., key_slice_version: _Optional[int] = ..., state: _Optional[_Union[AnnotationState, str]] = ..., labels: _Optional[_Union[_label_pb2.Mask, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., submit_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Item(_message.Message):
    __slots__ = ("item_id", "dataset_id", "volume_id", "volume_ref", "study_id", "series_id", "modality", "display_name", "folder_id", "tags", "annotations", "create_time")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    VOLUME_ID_FIELD_NUMBER: _ClassVar[int]
    VOLUME_REF_FIELD_NUMBER: _ClassVar[int]
    STUDY_ID_FIELD_NUMBER: _ClassVar[int]
    SERIES_ID_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    FOLDER_ID_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    dataset_id: str
    volume_id: str
    volume_ref: _geometry_pb2.VolumeRef
    study_id: str
    series_id: str
    modality: str
    display_name: str
    folder_id: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    annotations: _containers.RepeatedCompositeFieldContainer[Annotation]
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, item_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., volume_id: _Optional[str] = ..., volume_ref: _Optional[_Union[_geometry_pb2.VolumeRef, _Mapping]] = ..., study_id: _Optional[str] = ..., series_id: _Optional[str] = ..., modality: _Optional[str] = ..., display_name: _Optional[str] = ..., folder_id: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ..., annotations: _Optional[_Iterable[_Union[Annotation, _Mapping]]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListItemsRequest(_message.Message):
    __slots__ = ("dataset_id", "folder_id", "tag", "page_size", "page_token")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    FOLDER_ID_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    folder_id: str
    tag: str
    page_size: int
    page_token: str
    def __init__(self, dataset_id: _Optional[str] = ..., folder_id: _Optional[str] = ..., tag: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListItemsResponse(_message.Message):
    __slots__ = ("items", "next_page_token")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Item]
    next_page_token: str
    def __init__(self, items: _Optional[_Iterable[_Union[Item, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetItemRequest(_message.Message):
    __slots__ = ("item_id",)
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    def __init__(self, item_id: _Optional[str] = ...) -> None: ...

class GetItemResponse(_message.Message):
    __slots__ = ("item",)
    ITEM_FIELD_NUMBER: _ClassVar[int]
    item: Item
    def __init__(self, item: _Optional[_Union[Item, _Mapping]] = ...) -> None: ...

class UpdateItemRequest(_message.Message):
    __slots__ = ("item", "update_mask")
    ITEM_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    item: Item
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, item: _Optional[_Union[Item, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateItemResponse(_message.Message):
    __slots__ = ("item",)
    ITEM_FIELD_NUMBER: _ClassVar[int]
    item: Item
    def __init__(self, item: _Optional[_Union[Item, _Mapping]] = ...) -> None: ...

class KeySliceRef(_message.Message):
    __slots__ = ("plane", "slice_index", "label_value")
    PLANE_FIELD_NUMBER: _ClassVar[int]
    SLICE_INDEX_FIELD_NUMBER: _ClassVar[int]
    LABEL_VALUE_FIELD_NUMBER: _ClassVar[int]
    plane: _geometry_pb2.Plane
    slice_index: int
    label_value: int
    def __init__(self, plane: _Optional[_Union[_geometry_pb2.Plane, str]] = ..., slice_index: _Optional[int] = ..., label_value: _Optional[int] = ...) -> None: ...

class SaveKeySlicesRequest(_message.Message):
    __slots__ = ("item_id", "annotation_id", "base_version", "key_slices", "removed_key_slices")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_ID_FIELD_NUMBER: _ClassVar[int]
    BASE_VERSION_FIELD_NUMBER: _ClassVar[int]
    KEY_SLICES_FIELD_NUMBER: _ClassVar[int]
    REMOVED_KEY_SLICES_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    annotation_id: str
    base_version: int
    key_slices: _containers.RepeatedCompositeFieldContainer[_label_pb2.SliceLabel]
    removed_key_slices: _containers.RepeatedCompositeFieldContainer[KeySliceRef]
    def __init__(self, item_id: _Optional[str] = ..., annotation_id: _Optional[str] = ..., base_version: _Optional[int] = ..., key_slices: _Optional[_Iterable[_Union[_label_pb2.SliceLabel, _Mapping]]] = ..., removed_key_slices: _Optional[_Iterable[_Union[KeySliceRef, _Mapping]]] = ...) -> None: ...

class SaveKeySlicesResponse(_message.Message):
    __slots__ = ("annotation_id", "version")
    ANNOTATION_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    annotation_id: str
    version: int
    def __init__(self, annotation_id: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class SliceOrigin(_message.Message):
    __slots__ = ("plane", "slice_index", "label_value", "provenance", "source")
    PLANE_FIELD_NUMBER: _ClassVar[int]
    SLICE_INDEX_FIELD_NUMBER: _ClassVar[int]
    LABEL_VALUE_FIELD_NUMBER: _ClassVar[int]
    PROVENANCE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    plane: _geometry_pb2.Plane
    slice_index: int
    label_value: int
    provenance: _label_pb2.SliceProvenance
    source: str
    def __init__(self, plane: _Optional[_Union[_geometry_pb2.Plane, str]] = ..., slice_index: _Optional[int] = ..., label_value: _Optional[int] = ..., provenance: _Optional[_Union[_label_pb2.SliceProvenance, str]] = ..., source: _Optional[str] = ...) -> None: ...

class GetAnnotationRequest(_message.Message):
    __slots__ = ("annotation_id", "version", "include_key_slices", "plane", "slice_indices")
    ANNOTATION_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_KEY_SLICES_FIELD_NUMBER: _ClassVar[int]
    PLANE_FIELD_NUMBER: _ClassVar[int]
    SLICE_INDICES_FIELD_NUMBER: _ClassVar[int]
    annotation_id: str
    version: int
    include_key_slices: bool
    plane: _geometry_pb2.Plane
    slice_indices: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, annotation_id: _Optional[str] = ..., version: _Optional[int] = ..., include_key_slices: _Optional[bool] = ..., plane: _Optional[_Union[_geometry_pb2.Plane, str]] = ..., slice_indices: _Optional[_Iterable[int]] = ...) -> None: ...

class GetAnnotationResponse(_message.Message):
    __slots__ = ("annotation", "slice_origins", "slices")
    ANNOTATION_FIELD_NUMBER: _ClassVar[int]
    SLICE_ORIGINS_FIELD_NUMBER: _ClassVar[int]
    SLICES_FIELD_NUMBER: _ClassVar[int]
    annotation: Annotation
    slice_origins: _containers.RepeatedCompositeFieldContainer[SliceOrigin]
    slices: _containers.RepeatedCompositeFieldContainer[_label_pb2.SliceLabel]
    def __init__(self, annotation: _Optional[_Union[Annotation, _Mapping]] = ..., slice_origins: _Optional[_Iterable[_Union[SliceOrigin, _Mapping]]] = ..., slices: _Optional[_Iterable[_Union[_label_pb2.SliceLabel, _Mapping]]] = ...) -> None: ...

class SubmitAnnotationRequest(_message.Message):
    __slots__ = ("annotation_id", "version")
    ANNOTATION_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    annotation_id: str
    version: int
    def __init__(self, annotation_id: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class SubmitAnnotationResponse(_message.Message):
    __slots__ = ("annotation",)
    ANNOTATION_FIELD_NUMBER: _ClassVar[int]
    annotation: Annotation
    def __init__(self, annotation: _Optional[_Union[Annotation, _Mapping]] = ...) -> None: ...

class AnnotationVersion(_message.Message):
    __slots__ = ("version", "key_slice_version", "change", "author", "labels", "create_time", "submit_time")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    KEY_SLICE_VERSION_FIELD_NUMBER: _ClassVar[int]
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    SUBMIT_TIME_FIELD_NUMBER: _ClassVar[int]
    version: int
    key_slice_version: int
    change: AnnotationChange
    author: str
    labels: _label_pb2.Mask
    create_time: _timestamp_pb2.Timestamp
    submit_time: _timestamp_pb2.Timestamp
    def __init__(self, version: _Optional[int] = ..., key_slice_version: _Optional[int] = ..., change: _Optional[_Union[AnnotationChange, str]] = ..., author: _Optional[str] = ..., labels: _Optional[_Union[_label_pb2.Mask, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., submit_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListAnnotationVersionsRequest(_message.Message):
    __slots__ = ("annotation_id", "page_size", "page_token")
    ANNOTATION_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    annotation_id: str
    page_size: int
    page_token: str
    def __init__(self, annotation_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAnnotationVersionsResponse(_message.Message):
    __slots__ = ("versions", "next_page_token")
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedCompositeFieldContainer[AnnotationVersion]
    next_page_token: str
    def __init__(self, versions: _Optional[_Iterable[_Union[AnnotationVersion, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ImportLabelsRequest(_message.Message):
    __slots__ = ("item_id", "annotation_id", "base_version", "format", "data", "file_name", "label_mapping")
    class LabelMappingEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_ID_FIELD_NUMBER: _ClassVar[int]
    BASE_VERSION_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    LABEL_MAPPING_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    annotation_id: str
    base_version: int
    format: LabelFormat
    data: bytes
    file_name: str
    label_mapping: _containers.ScalarMap[str, int]
    def __init__(self, item_id: _Optional[str] = ..., annotation_id: _Optional[str] = ..., base_version: _Optional[int] = ..., format: _Optional[_Union[LabelFormat, str]] = ..., data: _Optional[bytes] = ..., file_name: _Optional[str] = ..., label_mapping: _Optional[_Mapping[str, int]] = ...) -> None: ...

class ImportLabelsResponse(_message.Message):
    __slots__ = ("annotation_id", "version", "label_values", "warnings")
    ANNOTATION_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    LABEL_VALUES_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    annotation_id: str
    version: int
    label_values: _containers.RepeatedScalarFieldContainer[int]
    warnings: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, annotation_id: _Optional[str] = ..., version: _Optional[int] = ..., label_values: _Optional[_Iterable[int]] = ..., warnings: _Optional[_Iterable[str]] = ...) -> None: ...

class Export(_message.Message):
    __slots__ = ("export_id", "dataset_id", "format", "item_ids", "selection", "include_images", "job", "bucket", "object_key", "download_url", "creator", "create_time")
    EXPORT_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    ITEM_IDS_FIELD_NUMBER: _ClassVar[int]
    SELECTION_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_IMAGES_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    OBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    DOWNLOAD_URL_FIELD_NUMBER: _ClassVar[int]
    CREATOR_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    export_id: str
    dataset_id: str
    format: LabelFormat
    item_ids: _containers.RepeatedScalarFieldContainer[str]
    selection: AnnotationSelection
    include_images: bool
    job: _job_pb2.Job
    bucket: str
    object_key: str
    download_url: str
    creator: str
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, export_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., format: _Optional[_Union[LabelFormat, str]] = ..., item_ids: _Optional[_Iterable[str]] = ..., selection: _Optional[_Union[AnnotationSelection, str]] = ..., include_images: _Optional[bool] = ..., job: _Optional[_Union[_job_pb2.Job, _Mapping]] = ..., bucket: _Optional[str] = ..., object_key: _Optional[str] = ..., download_url: _Optional[str] = ..., creator: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class StartExportRequest(_message.Message):
    __slots__ = ("dataset_id", "format", "item_ids", "selection", "include_images")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    ITEM_IDS_FIELD_NUMBER: _ClassVar[int]
    SELECTION_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_IMAGES_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    format: LabelFormat
    item_ids: _containers.RepeatedScalarFieldContainer[str]
    selection: AnnotationSelection
    include_images: bool
    def __init__(self, dataset_id: _Optional[str] = ..., format: _Optional[_Union[LabelFormat, str]] = ..., item_ids: _Optional[_Iterable[str]] = ..., selection: _Optional[_Union[AnnotationSelection, str]] = ..., include_images: _Optional[bool] = ...) -> None: ...

class StartExportResponse(_message.Message):
    __slots__ = ("export",)
    EXPORT_FIELD_NUMBER: _ClassVar[int]
    export: Export
    def __init__(self, export: _Optional[_Union[Export, _Mapping]] = ...) -> None: ...

class GetExportRequest(_message.Message):
    __slots__ = ("export_id",)
    EXPORT_ID_FIELD_NUMBER: _ClassVar[int]
    export_id: str
    def __init__(self, export_id: _Optional[str] = ...) -> None: ...

class GetExportResponse(_message.Message):
    __slots__ = ("export",)
    EXPORT_FIELD_NUMBER: _ClassVar[int]
    export: Export
    def __init__(self, export: _Optional[_Union[Export, _Mapping]] = ...) -> None: ...

class RevokeTokenRequest(_message.Message):
    __slots__ = ("token_id", "expire_time")
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    token_id: str
    expire_time: _timestamp_pb2.Timestamp
    def __init__(self, token_id: _Optional[str] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RevokeTokenResponse(_message.Message):
    __slots__ = ("token_id", "expire_time")
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    token_id: str
    expire_time: _timestamp_pb2.Timestamp
    def __init__(self, token_id: _Optional[str] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
