"""Annotation's tables: datasets and their vendors, label classes, folders, items and their tags, annotations with
their immutable versions, the append-only audit log, export jobs, and who works on which item."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.operations import Operations

from shared.db import service_metadata
from shared.migrations import Migration
from shared.revocation import RevokedTokens

metadata = service_metadata()

datasets = sa.Table(
    "datasets",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("dataset_id", sa.String(36), nullable=False, unique=True),
    sa.Column("tenant", sa.String(100), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("description", sa.Text, nullable=False, default=""),
    sa.Column("creator", sa.String(200), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.UniqueConstraint("tenant", "name", name="dataset_name_unique_in_tenant"),
)

dataset_vendors = sa.Table(
    "dataset_vendors",
    metadata,
    sa.Column("dataset_id", sa.String(36), sa.ForeignKey("datasets.dataset_id"), primary_key=True),
    sa.Column("vendor_id", sa.String(63), primary_key=True),
    sa.Column("shared_by", sa.String(200), nullable=False),
    sa.Column("shared_at", sa.Float, nullable=False),
)

label_classes = sa.Table(
    "label_classes",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("label_class_id", sa.String(36), nullable=False, unique=True),
    sa.Column("dataset_id", sa.String(36), sa.ForeignKey("datasets.dataset_id"), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("value", sa.Integer, nullable=False),
    sa.Column("color", sa.String(7), nullable=False),
    sa.Column("description", sa.Text, nullable=False, default=""),
    sa.Column("class_type", sa.Integer, nullable=False),
    # [value, scheme, meaning] each
    sa.Column("category", sa.JSON, nullable=False),
    sa.Column("concept", sa.JSON, nullable=False),
    sa.Column("attributes", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.UniqueConstraint("dataset_id", "name", name="class_name_unique_in_dataset"),
    sa.UniqueConstraint("dataset_id", "value", name="class_value_unique_in_dataset"),
)

folders = sa.Table(
    "folders",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("folder_id", sa.String(36), nullable=False, unique=True),
    sa.Column("dataset_id", sa.String(36), sa.ForeignKey("datasets.dataset_id"), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("parent_folder_id", sa.String(36), nullable=False, default=""),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.UniqueConstraint("dataset_id", "parent_folder_id", "name", name="folder_name_unique_in_parent"),
)

items = sa.Table(
    "items",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("item_id", sa.String(36), nullable=False, unique=True),
    sa.Column("tenant", sa.String(100), nullable=False),
    sa.Column("dataset_id", sa.String(36), nullable=False),
    sa.Column("volume_id", sa.String(100), nullable=False, unique=True),
    sa.Column("study_id", sa.String(100), nullable=False),
    sa.Column("series_id", sa.String(100), nullable=False),
    sa.Column("modality", sa.String(16), nullable=False),
    sa.Column("body_part", sa.String(64), nullable=False),
    sa.Column("display_name", sa.String(400), nullable=False),
    # lowercase display name and series description, for case-insensitive search on every database
    sa.Column("search_text", sa.String(900), nullable=False),
    sa.Column("series_description", sa.String(400), nullable=False),
    sa.Column("folder_id", sa.String(36), nullable=False, default=""),
    sa.Column("item_metadata", sa.JSON, nullable=False),
    sa.Column("volume_ref", sa.LargeBinary, nullable=False),  # radlab.type.v1.VolumeRef
    sa.Column("created_at", sa.Float, nullable=False),
    # Where the item stands in its workflow, as workflow's events say, and the time of the event that said it last.
    sa.Column("stage_id", sa.String(100), nullable=False, default=""),
    sa.Column("completed", sa.Boolean, nullable=False, default=False),
    sa.Column("stage_at", sa.Float, nullable=False, default=0.0),
    # The annotation that carried the item through its last stage (StageCompleted) and when: after consensus, the
    # merge or the adjudicator's choice; the item's labels to exports unless one is handed in after that.
    sa.Column("carried_annotation_id", sa.String(36), nullable=False, server_default=""),
    sa.Column("carried_at", sa.Float, nullable=False, server_default="0"),
    sa.Index("items_by_dataset", "dataset_id", "seq"),
    sa.Index("items_by_modality", "dataset_id", "modality", "seq"),
    sa.Index("items_by_folder", "dataset_id", "folder_id", "seq"),
    sa.Index("items_by_body_part", "dataset_id", "body_part", "seq"),
    sa.Index("items_by_time", "dataset_id", "created_at"),
    sa.Index("items_by_stage", "dataset_id", "stage_id", "seq"),
)

item_tags = sa.Table(
    "item_tags",
    metadata,
    sa.Column("item_seq", sa.Integer, primary_key=True),
    sa.Column("tag", sa.String(100), primary_key=True),
    sa.Column("dataset_id", sa.String(36), nullable=False),
    sa.Index("item_tags_by_tag", "dataset_id", "tag", "item_seq"),
)

# Label values in each annotation's current version, for "items where class X is present".
item_labels = sa.Table(
    "item_labels",
    metadata,
    sa.Column("annotation_id", sa.String(36), primary_key=True),
    sa.Column("label_value", sa.Integer, primary_key=True),
    sa.Column("item_seq", sa.Integer, nullable=False),
    sa.Column("dataset_id", sa.String(36), nullable=False),
    sa.Index("item_labels_by_value", "dataset_id", "label_value", "item_seq"),
)

annotations = sa.Table(
    "annotations",
    metadata,
    sa.Column("annotation_id", sa.String(36), primary_key=True),
    sa.Column("tenant", sa.String(100), nullable=False),
    sa.Column("item_id", sa.String(36), nullable=False, index=True),
    sa.Column("dataset_id", sa.String(36), nullable=False),
    sa.Column("annotator", sa.String(200), nullable=False),
    sa.Column("vendor_id", sa.String(63), nullable=False, default=""),
    sa.Column("model_id", sa.String(200), nullable=False, default=""),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("key_slice_version", sa.Integer, nullable=False),
    sa.Column("state", sa.Integer, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("submitted_at", sa.Float, nullable=True),
)

annotation_versions = sa.Table(
    "annotation_versions",
    metadata,
    sa.Column("annotation_id", sa.String(36), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("parent_version", sa.Integer, nullable=False),
    sa.Column("key_slice_version", sa.Integer, nullable=False),
    sa.Column("change", sa.Integer, nullable=False),
    sa.Column("author", sa.String(200), nullable=False),
    sa.Column("plane", sa.Integer, nullable=False, default=0),
    sa.Column("manifest", sa.LargeBinary, nullable=False),  # domain.manifest.Manifest.to_bytes()
    sa.Column("label_values", sa.JSON, nullable=False),
    # The version's label array (Zarr), once written; empty until then.
    sa.Column("labels_key", sa.String(400), nullable=False, default=""),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("submitted_at", sa.Float, nullable=True),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("audit_event_id", sa.String(36), nullable=False, unique=True),
    sa.Column("tenant", sa.String(100), nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(60), nullable=False),
    sa.Column("dataset_id", sa.String(36), nullable=False, default=""),
    sa.Column("item_id", sa.String(36), nullable=False, default=""),
    sa.Column("annotation_id", sa.String(36), nullable=False, default=""),
    sa.Column("before_version", sa.Integer, nullable=False, default=0),
    sa.Column("after_version", sa.Integer, nullable=False, default=0),
    sa.Column("detail", sa.JSON, nullable=False),
    sa.Index("audit_by_tenant", "tenant", "seq"),
    sa.Index("audit_by_dataset", "tenant", "dataset_id", "seq"),
)

exports = sa.Table(
    "exports",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("export_id", sa.String(36), nullable=False, unique=True),
    sa.Column("tenant", sa.String(100), nullable=False),
    sa.Column("dataset_id", sa.String(36), nullable=False, index=True),
    sa.Column("format", sa.Integer, nullable=False),
    sa.Column("item_ids", sa.JSON, nullable=False),
    sa.Column("selection", sa.Integer, nullable=False),
    sa.Column("include_images", sa.Boolean, nullable=False),
    sa.Column("seg_labelmap", sa.Boolean, nullable=False),
    sa.Column("state", sa.Integer, nullable=False),
    sa.Column("percent_done", sa.Float, nullable=False, default=0.0),
    sa.Column("message", sa.String(400), nullable=False, default=""),
    sa.Column("error", sa.Text, nullable=False, default=""),
    sa.Column("object_key", sa.String(400), nullable=False, default=""),
    sa.Column("creator", sa.String(200), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)


# Who works on which item, as workflow announces it (TaskAssigned, TaskReleased): annotators and reviewers see only
# the items of their tasks.
task_access = sa.Table(
    "task_access",
    metadata,
    sa.Column("task_id", sa.String(36), primary_key=True),
    sa.Column("subject", sa.String(200), primary_key=True),
    sa.Column("tenant", sa.String(100), nullable=False),
    sa.Column("item_id", sa.String(36), nullable=False),
    sa.Column("stage_kind", sa.Integer, nullable=False),
    # False once the task is done: its holder keeps seeing the item but no longer holds a task on it.
    sa.Column("open", sa.Boolean, nullable=False, default=True),
    sa.Index("task_access_by_subject", "tenant", "subject", "item_id"),
)

revoked_tokens = RevokedTokens(metadata)


def _add_item_carried_annotation(op: Operations) -> None:
    op.add_column("items", sa.Column("carried_annotation_id", sa.String(36), nullable=False, server_default=""))
    op.add_column("items", sa.Column("carried_at", sa.Float, nullable=False, server_default="0"))


migrations: list[Migration] = [
    ("items-carried-annotation", "items", _add_item_carried_annotation),
]
