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
    ANNOTATION_CHANGE_VERSION_RESTORED: _ClassVar[AnnotationChange]
    ANNOTATION_CHANGE_SHAPES_SAVED: _ClassVar[AnnotationChange]

class LabelFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LABEL_FORMAT_UNSPECIFIED: _ClassVar[LabelFormat]
    LABEL_FORMAT_NIFTI: _ClassVar[LabelFormat]
    LABEL_FORMAT_DICOM_SEG: _ClassVar[LabelFormat]
    LABEL_FORMAT_RTSTRUCT: _ClassVar[LabelFormat]
    LABEL_FORMAT_COCO: _ClassVar[LabelFormat]
    LABEL_FORMAT_DARWIN: _ClassVar[LabelFormat]

class LabelClassType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LABEL_CLASS_TYPE_UNSPECIFIED: _ClassVar[LabelClassType]
    LABEL_CLASS_TYPE_BOUNDING_BOX: _ClassVar[LabelClassType]
    LABEL_CLASS_TYPE_POLYGON: _ClassVar[LabelClassType]
    LABEL_CLASS_TYPE_POLYLINE: _ClassVar[LabelClassType]
    LABEL_CLASS_TYPE_KEYPOINT: _ClassVar[LabelClassType]
    LABEL_CLASS_TYPE_ELLIPSE: _ClassVar[LabelClassType]
    LABEL_CLASS_TYPE_BRUSH_MASK: _ClassVar[LabelClassType]
    LABEL_CLASS_TYPE_SEGMENTATION_3D: _ClassVar[LabelClassType]
    LABEL_CLASS_TYPE_TAG: _ClassVar[LabelClassType]
    LABEL_CLASS_TYPE_MEASUREMENT: _ClassVar[LabelClassType]

class ClassAttributeKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CLASS_ATTRIBUTE_KIND_UNSPECIFIED: _ClassVar[ClassAttributeKind]
    CLASS_ATTRIBUTE_KIND_TEXT: _ClassVar[ClassAttributeKind]
    CLASS_ATTRIBUTE_KIND_CHOICE: _ClassVar[ClassAttributeKind]
    CLASS_ATTRIBUTE_KIND_NUMBER: _ClassVar[ClassAttributeKind]

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
ANNOTATION_CHANGE_VERSION_RESTORED: AnnotationChange
ANNOTATION_CHANGE_SHAPES_SAVED: AnnotationChange
LABEL_FORMAT_UNSPECIFIED: LabelFormat
LABEL_FORMAT_NIFTI: LabelFormat
LABEL_FORMAT_DICOM_SEG: LabelFormat
LABEL_FORMAT_RTSTRUCT: LabelFormat
LABEL_FORMAT_COCO: LabelFormat
LABEL_FORMAT_DARWIN: LabelFormat
LABEL_CLASS_TYPE_UNSPECIFIED: LabelClassType
LABEL_CLASS_TYPE_BOUNDING_BOX: LabelClassType
LABEL_CLASS_TYPE_POLYGON: LabelClassType
LABEL_CLASS_TYPE_POLYLINE: LabelClassType
LABEL_CLASS_TYPE_KEYPOINT: LabelClassType
LABEL_CLASS_TYPE_ELLIPSE: LabelClassType
LABEL_CLASS_TYPE_BRUSH_MASK: LabelClassType
LABEL_CLASS_TYPE_SEGMENTATION_3D: LabelClassType
LABEL_CLASS_TYPE_TAG: LabelClassType
LABEL_CLASS_TYPE_MEASUREMENT: LabelClassType
CLASS_ATTRIBUTE_KIND_UNSPECIFIED: ClassAttributeKind
CLASS_ATTRIBUTE_KIND_TEXT: ClassAttributeKind
CLASS_ATTRIBUTE_KIND_CHOICE: ClassAttributeKind
CLASS_ATTRIBUTE_KIND_NUMBER: ClassAttributeKind
ANNOTATION_SELECTION_UNSPECIFIED: AnnotationSelection
ANNOTATION_SELECTION_LATEST_SUBMITTED: AnnotationSelection
ANNOTATION_SELECTION_ALL_SUBMITTED: AnnotationSelection

class CodedConcept(_message.Message):
    __slots__ = ("value", "scheme", "meaning")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    SCHEME_FIELD_NUMBER: _ClassVar[int]
    MEANING_FIELD_NUMBER: _ClassVar[int]
    value: str
    scheme: str
    meaning: str
    def __init__(self, value: _Optional[str] = ..., scheme: _Optional[str] = ..., meaning: _Optional[str] = ...) -> None: ...

class ClassAttribute(_message.Message):
    __slots__ = ("name", "kind", "choices")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CHOICES_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: ClassAttributeKind
    choices: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[_Union[ClassAttributeKind, str]] = ..., choices: _Optional[_Iterable[str]] = ...) -> None: ...

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
    __slots__ = ("name", "description", "dataset_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    dataset_id: str
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., dataset_id: _Optional[str] = ...) -> None: ...

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
    __slots__ = ("label_class_id", "dataset_id", "name", "value", "color", "description", "type", "category", "concept", "attributes")
    LABEL_CLASS_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    COLOR_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    CONCEPT_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    label_class_id: str
    dataset_id: str
    name: str
    value: int
    color: str
    description: str
    type: LabelClassType
    category: CodedConcept
    concept: CodedConcept
    attributes: _containers.RepeatedCompositeFieldContainer[ClassAttribute]
    def __init__(self, label_class_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., name: _Optional[str] = ..., value: _Optional[int] = ..., color: _Optional[str] = ..., description: _Optional[str] = ..., type: _Optional[_Union[LabelClassType, str]] = ..., category: _Optional[_Union[CodedConcept, _Mapping]] = ..., concept: _Optional[_Union[CodedConcept, _Mapping]] = ..., attributes: _Optional[_Iterable[_Union[ClassAttribute, _Mapping]]] = ...) -> None: ...

class CreateLabelClassRequest(_message.Message):
    __slots__ = ("dataset_id", "name", "value", "color", "description", "type", "category", "concept", "attributes")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    COLOR_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    CONCEPT_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    name: str
    value: int
    color: str
    description: str
    type: LabelClassType
    category: CodedConcept
    concept: CodedConcept
    attributes: _containers.RepeatedCompositeFieldContainer[ClassAttribute]
    def __init__(self, dataset_id: _Optional[str] = ..., name: _Optional[str] = ..., value: _Optional[int] = ..., color: _Optional[str] = ..., description: _Optional[str] = ..., type: _Optional[_Union[LabelClassType, str]] = ..., category: _Optional[_Union[CodedConcept, _Mapping]] = ..., concept: _Optional[_Union[CodedConcept, _Mapping]] = ..., attributes: _Optional[_Iterable[_Union[ClassAttribute, _Mapping]]] = ...) -> None: ...

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
    __slots__ = ("item_id", "dataset_id", "volume_id", "volume_ref", "study_id", "series_id", "modality", "display_name", "folder_id", "tags", "annotations", "create_time", "series_description", "metadata", "label_values", "body_part", "stage_id", "completed", "assignees")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
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
    SERIES_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    LABEL_VALUES_FIELD_NUMBER: _ClassVar[int]
    BODY_PART_FIELD_NUMBER: _ClassVar[int]
    STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEES_FIELD_NUMBER: _ClassVar[int]
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
    series_description: str
    metadata: _containers.ScalarMap[str, str]
    label_values: _containers.RepeatedScalarFieldContainer[int]
    body_part: str
    stage_id: str
    completed: bool
    assignees: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, item_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., volume_id: _Optional[str] = ..., volume_ref: _Optional[_Union[_geometry_pb2.VolumeRef, _Mapping]] = ..., study_id: _Optional[str] = ..., series_id: _Optional[str] = ..., modality: _Optional[str] = ..., display_name: _Optional[str] = ..., folder_id: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ..., annotations: _Optional[_Iterable[_Union[Annotation, _Mapping]]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., series_description: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., label_values: _Optional[_Iterable[int]] = ..., body_part: _Optional[str] = ..., stage_id: _Optional[str] = ..., completed: _Optional[bool] = ..., assignees: _Optional[_Iterable[str]] = ...) -> None: ...

class ListItemsRequest(_message.Message):
    __slots__ = ("dataset_id", "folder_id", "tag", "page_size", "page_token", "modality", "text", "label_value", "create_after", "create_before", "newest_first", "body_part", "stage_id", "assignee", "completed", "filter_completed")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    FOLDER_ID_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    LABEL_VALUE_FIELD_NUMBER: _ClassVar[int]
    CREATE_AFTER_FIELD_NUMBER: _ClassVar[int]
    CREATE_BEFORE_FIELD_NUMBER: _ClassVar[int]
    NEWEST_FIRST_FIELD_NUMBER: _ClassVar[int]
    BODY_PART_FIELD_NUMBER: _ClassVar[int]
    STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_FIELD_NUMBER: _ClassVar[int]
    FILTER_COMPLETED_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    folder_id: str
    tag: str
    page_size: int
    page_token: str
    modality: str
    text: str
    label_value: int
    create_after: _timestamp_pb2.Timestamp
    create_before: _timestamp_pb2.Timestamp
    newest_first: bool
    body_part: str
    stage_id: str
    assignee: str
    completed: bool
    filter_completed: bool
    def __init__(self, dataset_id: _Optional[str] = ..., folder_id: _Optional[str] = ..., tag: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., modality: _Optional[str] = ..., text: _Optional[str] = ..., label_value: _Optional[int] = ..., create_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., create_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., newest_first: _Optional[bool] = ..., body_part: _Optional[str] = ..., stage_id: _Optional[str] = ..., assignee: _Optional[str] = ..., completed: _Optional[bool] = ..., filter_completed: _Optional[bool] = ...) -> None: ...

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

class Box(_message.Message):
    __slots__ = ("x0", "y0", "x1", "y1")
    X0_FIELD_NUMBER: _ClassVar[int]
    Y0_FIELD_NUMBER: _ClassVar[int]
    X1_FIELD_NUMBER: _ClassVar[int]
    Y1_FIELD_NUMBER: _ClassVar[int]
    x0: float
    y0: float
    x1: float
    y1: float
    def __init__(self, x0: _Optional[float] = ..., y0: _Optional[float] = ..., x1: _Optional[float] = ..., y1: _Optional[float] = ...) -> None: ...

class Ellipse(_message.Message):
    __slots__ = ("center_x", "center_y", "radius_x", "radius_y", "rotation_radians")
    CENTER_X_FIELD_NUMBER: _ClassVar[int]
    CENTER_Y_FIELD_NUMBER: _ClassVar[int]
    RADIUS_X_FIELD_NUMBER: _ClassVar[int]
    RADIUS_Y_FIELD_NUMBER: _ClassVar[int]
    ROTATION_RADIANS_FIELD_NUMBER: _ClassVar[int]
    center_x: float
    center_y: float
    radius_x: float
    radius_y: float
    rotation_radians: float
    def __init__(self, center_x: _Optional[float] = ..., center_y: _Optional[float] = ..., radius_x: _Optional[float] = ..., radius_y: _Optional[float] = ..., rotation_radians: _Optional[float] = ...) -> None: ...

class Ring(_message.Message):
    __slots__ = ("vertices",)
    VERTICES_FIELD_NUMBER: _ClassVar[int]
    vertices: _containers.RepeatedCompositeFieldContainer[_label_pb2.Point2]
    def __init__(self, vertices: _Optional[_Iterable[_Union[_label_pb2.Point2, _Mapping]]] = ...) -> None: ...

class ShapePolygon(_message.Message):
    __slots__ = ("outer", "holes")
    OUTER_FIELD_NUMBER: _ClassVar[int]
    HOLES_FIELD_NUMBER: _ClassVar[int]
    outer: Ring
    holes: _containers.RepeatedCompositeFieldContainer[Ring]
    def __init__(self, outer: _Optional[_Union[Ring, _Mapping]] = ..., holes: _Optional[_Iterable[_Union[Ring, _Mapping]]] = ...) -> None: ...

class Polyline(_message.Message):
    __slots__ = ("points",)
    POINTS_FIELD_NUMBER: _ClassVar[int]
    points: _containers.RepeatedCompositeFieldContainer[_label_pb2.Point2]
    def __init__(self, points: _Optional[_Iterable[_Union[_label_pb2.Point2, _Mapping]]] = ...) -> None: ...

class Angle(_message.Message):
    __slots__ = ("a", "vertex", "b")
    A_FIELD_NUMBER: _ClassVar[int]
    VERTEX_FIELD_NUMBER: _ClassVar[int]
    B_FIELD_NUMBER: _ClassVar[int]
    a: _label_pb2.Point2
    vertex: _label_pb2.Point2
    b: _label_pb2.Point2
    def __init__(self, a: _Optional[_Union[_label_pb2.Point2, _Mapping]] = ..., vertex: _Optional[_Union[_label_pb2.Point2, _Mapping]] = ..., b: _Optional[_Union[_label_pb2.Point2, _Mapping]] = ...) -> None: ...

class Measurement(_message.Message):
    __slots__ = ("length_mm", "angle_degrees", "area_mm2", "volume_ml", "voxels", "mean", "sd", "min", "max", "units")
    LENGTH_MM_FIELD_NUMBER: _ClassVar[int]
    ANGLE_DEGREES_FIELD_NUMBER: _ClassVar[int]
    AREA_MM2_FIELD_NUMBER: _ClassVar[int]
    VOLUME_ML_FIELD_NUMBER: _ClassVar[int]
    VOXELS_FIELD_NUMBER: _ClassVar[int]
    MEAN_FIELD_NUMBER: _ClassVar[int]
    SD_FIELD_NUMBER: _ClassVar[int]
    MIN_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    UNITS_FIELD_NUMBER: _ClassVar[int]
    length_mm: float
    angle_degrees: float
    area_mm2: float
    volume_ml: float
    voxels: int
    mean: float
    sd: float
    min: float
    max: float
    units: str
    def __init__(self, length_mm: _Optional[float] = ..., angle_degrees: _Optional[float] = ..., area_mm2: _Optional[float] = ..., volume_ml: _Optional[float] = ..., voxels: _Optional[int] = ..., mean: _Optional[float] = ..., sd: _Optional[float] = ..., min: _Optional[float] = ..., max: _Optional[float] = ..., units: _Optional[str] = ...) -> None: ...

class Shape(_message.Message):
    __slots__ = ("shape_id", "label_value", "plane", "slice_index", "box", "ellipse", "polygon", "polyline", "keypoint", "angle", "attributes", "measurement", "author")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SHAPE_ID_FIELD_NUMBER: _ClassVar[int]
    LABEL_VALUE_FIELD_NUMBER: _ClassVar[int]
    PLANE_FIELD_NUMBER: _ClassVar[int]
    SLICE_INDEX_FIELD_NUMBER: _ClassVar[int]
    BOX_FIELD_NUMBER: _ClassVar[int]
    ELLIPSE_FIELD_NUMBER: _ClassVar[int]
    POLYGON_FIELD_NUMBER: _ClassVar[int]
    POLYLINE_FIELD_NUMBER: _ClassVar[int]
    KEYPOINT_FIELD_NUMBER: _ClassVar[int]
    ANGLE_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    MEASUREMENT_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    shape_id: str
    label_value: int
    plane: _geometry_pb2.Plane
    slice_index: int
    box: Box
    ellipse: Ellipse
    polygon: ShapePolygon
    polyline: Polyline
    keypoint: _label_pb2.Point2
    angle: Angle
    attributes: _containers.ScalarMap[str, str]
    measurement: Measurement
    author: str
    def __init__(self, shape_id: _Optional[str] = ..., label_value: _Optional[int] = ..., plane: _Optional[_Union[_geometry_pb2.Plane, str]] = ..., slice_index: _Optional[int] = ..., box: _Optional[_Union[Box, _Mapping]] = ..., ellipse: _Optional[_Union[Ellipse, _Mapping]] = ..., polygon: _Optional[_Union[ShapePolygon, _Mapping]] = ..., polyline: _Optional[_Union[Polyline, _Mapping]] = ..., keypoint: _Optional[_Union[_label_pb2.Point2, _Mapping]] = ..., angle: _Optional[_Union[Angle, _Mapping]] = ..., attributes: _Optional[_Mapping[str, str]] = ..., measurement: _Optional[_Union[Measurement, _Mapping]] = ..., author: _Optional[str] = ...) -> None: ...

class SaveShapesRequest(_message.Message):
    __slots__ = ("item_id", "annotation_id", "base_version", "shapes", "removed_shape_ids")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_ID_FIELD_NUMBER: _ClassVar[int]
    BASE_VERSION_FIELD_NUMBER: _ClassVar[int]
    SHAPES_FIELD_NUMBER: _ClassVar[int]
    REMOVED_SHAPE_IDS_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    annotation_id: str
    base_version: int
    shapes: _containers.RepeatedCompositeFieldContainer[Shape]
    removed_shape_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, item_id: _Optional[str] = ..., annotation_id: _Optional[str] = ..., base_version: _Optional[int] = ..., shapes: _Optional[_Iterable[_Union[Shape, _Mapping]]] = ..., removed_shape_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class SaveShapesResponse(_message.Message):
    __slots__ = ("annotation_id", "version", "shapes")
    ANNOTATION_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SHAPES_FIELD_NUMBER: _ClassVar[int]
    annotation_id: str
    version: int
    shapes: _containers.RepeatedCompositeFieldContainer[Shape]
    def __init__(self, annotation_id: _Optional[str] = ..., version: _Optional[int] = ..., shapes: _Optional[_Iterable[_Union[Shape, _Mapping]]] = ...) -> None: ...

class LabelMeasurement(_message.Message):
    __slots__ = ("label_value", "measurement")
    LABEL_VALUE_FIELD_NUMBER: _ClassVar[int]
    MEASUREMENT_FIELD_NUMBER: _ClassVar[int]
    label_value: int
    measurement: Measurement
    def __init__(self, label_value: _Optional[int] = ..., measurement: _Optional[_Union[Measurement, _Mapping]] = ...) -> None: ...

class GetAnnotationRequest(_message.Message):
    __slots__ = ("annotation_id", "version", "include_key_slices", "plane", "slice_indices", "include_measurements")
    ANNOTATION_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_KEY_SLICES_FIELD_NUMBER: _ClassVar[int]
    PLANE_FIELD_NUMBER: _ClassVar[int]
    SLICE_INDICES_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_MEASUREMENTS_FIELD_NUMBER: _ClassVar[int]
    annotation_id: str
    version: int
    include_key_slices: bool
    plane: _geometry_pb2.Plane
    slice_indices: _containers.RepeatedScalarFieldContainer[int]
    include_measurements: bool
    def __init__(self, annotation_id: _Optional[str] = ..., version: _Optional[int] = ..., include_key_slices: _Optional[bool] = ..., plane: _Optional[_Union[_geometry_pb2.Plane, str]] = ..., slice_indices: _Optional[_Iterable[int]] = ..., include_measurements: _Optional[bool] = ...) -> None: ...

class GetAnnotationResponse(_message.Message):
    __slots__ = ("annotation", "slice_origins", "slices", "shapes", "label_measurements")
    ANNOTATION_FIELD_NUMBER: _ClassVar[int]
    SLICE_ORIGINS_FIELD_NUMBER: _ClassVar[int]
    SLICES_FIELD_NUMBER: _ClassVar[int]
    SHAPES_FIELD_NUMBER: _ClassVar[int]
    LABEL_MEASUREMENTS_FIELD_NUMBER: _ClassVar[int]
    annotation: Annotation
    slice_origins: _containers.RepeatedCompositeFieldContainer[SliceOrigin]
    slices: _containers.RepeatedCompositeFieldContainer[_label_pb2.SliceLabel]
    shapes: _containers.RepeatedCompositeFieldContainer[Shape]
    label_measurements: _containers.RepeatedCompositeFieldContainer[LabelMeasurement]
    def __init__(self, annotation: _Optional[_Union[Annotation, _Mapping]] = ..., slice_origins: _Optional[_Iterable[_Union[SliceOrigin, _Mapping]]] = ..., slices: _Optional[_Iterable[_Union[_label_pb2.SliceLabel, _Mapping]]] = ..., shapes: _Optional[_Iterable[_Union[Shape, _Mapping]]] = ..., label_measurements: _Optional[_Iterable[_Union[LabelMeasurement, _Mapping]]] = ...) -> None: ...

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
    __slots__ = ("version", "key_slice_version", "change", "author", "labels", "create_time", "submit_time", "parent_version")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    KEY_SLICE_VERSION_FIELD_NUMBER: _ClassVar[int]
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    SUBMIT_TIME_FIELD_NUMBER: _ClassVar[int]
    PARENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    version: int
    key_slice_version: int
    change: AnnotationChange
    author: str
    labels: _label_pb2.Mask
    create_time: _timestamp_pb2.Timestamp
    submit_time: _timestamp_pb2.Timestamp
    parent_version: int
    def __init__(self, version: _Optional[int] = ..., key_slice_version: _Optional[int] = ..., change: _Optional[_Union[AnnotationChange, str]] = ..., author: _Optional[str] = ..., labels: _Optional[_Union[_label_pb2.Mask, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., submit_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., parent_version: _Optional[int] = ...) -> None: ...

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
    __slots__ = ("item_id", "annotation_id", "base_version", "format", "data", "file_name", "label_mapping", "create_missing_classes")
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
    CREATE_MISSING_CLASSES_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    annotation_id: str
    base_version: int
    format: LabelFormat
    data: bytes
    file_name: str
    label_mapping: _containers.ScalarMap[str, int]
    create_missing_classes: bool
    def __init__(self, item_id: _Optional[str] = ..., annotation_id: _Optional[str] = ..., base_version: _Optional[int] = ..., format: _Optional[_Union[LabelFormat, str]] = ..., data: _Optional[bytes] = ..., file_name: _Optional[str] = ..., label_mapping: _Optional[_Mapping[str, int]] = ..., create_missing_classes: _Optional[bool] = ...) -> None: ...

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
    __slots__ = ("export_id", "dataset_id", "format", "item_ids", "selection", "include_images", "job", "bucket", "object_key", "download_url", "creator", "create_time", "seg_labelmap")
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
    SEG_LABELMAP_FIELD_NUMBER: _ClassVar[int]
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
    seg_labelmap: bool
    def __init__(self, export_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., format: _Optional[_Union[LabelFormat, str]] = ..., item_ids: _Optional[_Iterable[str]] = ..., selection: _Optional[_Union[AnnotationSelection, str]] = ..., include_images: _Optional[bool] = ..., job: _Optional[_Union[_job_pb2.Job, _Mapping]] = ..., bucket: _Optional[str] = ..., object_key: _Optional[str] = ..., download_url: _Optional[str] = ..., creator: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., seg_labelmap: _Optional[bool] = ...) -> None: ...

class StartExportRequest(_message.Message):
    __slots__ = ("dataset_id", "format", "item_ids", "selection", "include_images", "seg_labelmap")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    ITEM_IDS_FIELD_NUMBER: _ClassVar[int]
    SELECTION_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_IMAGES_FIELD_NUMBER: _ClassVar[int]
    SEG_LABELMAP_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    format: LabelFormat
    item_ids: _containers.RepeatedScalarFieldContainer[str]
    selection: AnnotationSelection
    include_images: bool
    seg_labelmap: bool
    def __init__(self, dataset_id: _Optional[str] = ..., format: _Optional[_Union[LabelFormat, str]] = ..., item_ids: _Optional[_Iterable[str]] = ..., selection: _Optional[_Union[AnnotationSelection, str]] = ..., include_images: _Optional[bool] = ..., seg_labelmap: _Optional[bool] = ...) -> None: ...

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

class LabelDiff(_message.Message):
    __slots__ = ("label_value", "voxels_added", "voxels_removed", "slices_changed", "shapes_added", "shapes_removed", "shapes_changed")
    LABEL_VALUE_FIELD_NUMBER: _ClassVar[int]
    VOXELS_ADDED_FIELD_NUMBER: _ClassVar[int]
    VOXELS_REMOVED_FIELD_NUMBER: _ClassVar[int]
    SLICES_CHANGED_FIELD_NUMBER: _ClassVar[int]
    SHAPES_ADDED_FIELD_NUMBER: _ClassVar[int]
    SHAPES_REMOVED_FIELD_NUMBER: _ClassVar[int]
    SHAPES_CHANGED_FIELD_NUMBER: _ClassVar[int]
    label_value: int
    voxels_added: int
    voxels_removed: int
    slices_changed: _containers.RepeatedScalarFieldContainer[int]
    shapes_added: int
    shapes_removed: int
    shapes_changed: int
    def __init__(self, label_value: _Optional[int] = ..., voxels_added: _Optional[int] = ..., voxels_removed: _Optional[int] = ..., slices_changed: _Optional[_Iterable[int]] = ..., shapes_added: _Optional[int] = ..., shapes_removed: _Optional[int] = ..., shapes_changed: _Optional[int] = ...) -> None: ...

class GetAnnotationDiffRequest(_message.Message):
    __slots__ = ("annotation_id", "from_version", "to_version")
    ANNOTATION_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_VERSION_FIELD_NUMBER: _ClassVar[int]
    TO_VERSION_FIELD_NUMBER: _ClassVar[int]
    annotation_id: str
    from_version: int
    to_version: int
    def __init__(self, annotation_id: _Optional[str] = ..., from_version: _Optional[int] = ..., to_version: _Optional[int] = ...) -> None: ...

class GetAnnotationDiffResponse(_message.Message):
    __slots__ = ("from_version", "to_version", "labels")
    FROM_VERSION_FIELD_NUMBER: _ClassVar[int]
    TO_VERSION_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    from_version: int
    to_version: int
    labels: _containers.RepeatedCompositeFieldContainer[LabelDiff]
    def __init__(self, from_version: _Optional[int] = ..., to_version: _Optional[int] = ..., labels: _Optional[_Iterable[_Union[LabelDiff, _Mapping]]] = ...) -> None: ...

class RestoreAnnotationVersionRequest(_message.Message):
    __slots__ = ("annotation_id", "version", "base_version")
    ANNOTATION_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    BASE_VERSION_FIELD_NUMBER: _ClassVar[int]
    annotation_id: str
    version: int
    base_version: int
    def __init__(self, annotation_id: _Optional[str] = ..., version: _Optional[int] = ..., base_version: _Optional[int] = ...) -> None: ...

class RestoreAnnotationVersionResponse(_message.Message):
    __slots__ = ("annotation",)
    ANNOTATION_FIELD_NUMBER: _ClassVar[int]
    annotation: Annotation
    def __init__(self, annotation: _Optional[_Union[Annotation, _Mapping]] = ...) -> None: ...

class ListExportsRequest(_message.Message):
    __slots__ = ("dataset_id", "page_size", "page_token")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    page_size: int
    page_token: str
    def __init__(self, dataset_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListExportsResponse(_message.Message):
    __slots__ = ("exports", "next_page_token")
    EXPORTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    exports: _containers.RepeatedCompositeFieldContainer[Export]
    next_page_token: str
    def __init__(self, exports: _Optional[_Iterable[_Union[Export, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class AuditEvent(_message.Message):
    __slots__ = ("audit_event_id", "time", "actor", "action", "dataset_id", "item_id", "annotation_id", "before_version", "after_version", "detail")
    AUDIT_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_ID_FIELD_NUMBER: _ClassVar[int]
    BEFORE_VERSION_FIELD_NUMBER: _ClassVar[int]
    AFTER_VERSION_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    audit_event_id: str
    time: _timestamp_pb2.Timestamp
    actor: str
    action: str
    dataset_id: str
    item_id: str
    annotation_id: str
    before_version: int
    after_version: int
    detail: str
    def __init__(self, audit_event_id: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., actor: _Optional[str] = ..., action: _Optional[str] = ..., dataset_id: _Optional[str] = ..., item_id: _Optional[str] = ..., annotation_id: _Optional[str] = ..., before_version: _Optional[int] = ..., after_version: _Optional[int] = ..., detail: _Optional[str] = ...) -> None: ...

class ListAuditEventsRequest(_message.Message):
    __slots__ = ("dataset_id", "page_size", "page_token")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    page_size: int
    page_token: str
    def __init__(self, dataset_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAuditEventsResponse(_message.Message):
    __slots__ = ("audit_events", "next_page_token")
    AUDIT_EVENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    audit_events: _containers.RepeatedCompositeFieldContainer[AuditEvent]
    next_page_token: str
    def __init__(self, audit_events: _Optional[_Iterable[_Union[AuditEvent, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

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
