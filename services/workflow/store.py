"""Workflow's tables: the datasets and items it has heard of (from annotation's events), workflow definitions, where
each item stands, its tasks, round-robin turns, consensus results and each reader's record."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.operations import Operations

from shared.db import service_metadata
from shared.migrations import Migration
from shared.revocation import RevokedTokens

metadata = service_metadata()

known_datasets = sa.Table(
    "known_datasets",
    metadata,
    sa.Column("tenant", sa.String(100), primary_key=True),
    sa.Column("dataset_id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
)

workflows = sa.Table(
    "workflows",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("workflow_id", sa.String(36), nullable=False, unique=True),
    sa.Column("tenant", sa.String(100), nullable=False),
    sa.Column("dataset_id", sa.String(36), nullable=False, index=True),
    sa.Column("name", sa.String(200), nullable=False),
    # The stages as a serialized radlab.workflow.v1.Workflow holding only `stages`: one document, read whole.
    sa.Column("stages", sa.LargeBinary, nullable=False),
    sa.Column("creator", sa.String(200), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)


# Items announced by annotation (ItemAdded), and where each stands in its dataset's workflow.
items = sa.Table(
    "items",
    metadata,
    sa.Column("item_id", sa.String(36), primary_key=True),
    sa.Column("tenant", sa.String(100), nullable=False),
    sa.Column("dataset_id", sa.String(36), nullable=False, index=True),
    sa.Column("volume_id", sa.String(100), nullable=False),
    sa.Column("workflow_id", sa.String(36), nullable=False),
    sa.Column("stage_id", sa.String(100), nullable=False),
    sa.Column("stage_kind", sa.Integer, nullable=False),
    # The annotation carrying the item: the last submitted at an annotate stage, or accepted at review.
    sa.Column("annotation_id", sa.String(36), nullable=False, default=""),
    sa.Column("annotation_version", sa.Integer, nullable=False, default=0),
    sa.Column("entered_at", sa.Float, nullable=False),
    # What routes decide on: the item's tags (ItemUpdated) and the label values of its carrying annotation.
    sa.Column("tags", sa.JSON, nullable=False, default=list),
    sa.Column("label_values", sa.JSON, nullable=False, default=list),
    # The confidence of the item's last model prediction (PredictionsReady), for routes; none before one.
    sa.Column("confidence", sa.Float, nullable=True),
    sa.Index("items_by_stage", "workflow_id", "stage_id", "entered_at"),
)

tasks = sa.Table(
    "tasks",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("task_id", sa.String(36), nullable=False, unique=True),
    sa.Column("tenant", sa.String(100), nullable=False),
    sa.Column("workflow_id", sa.String(36), nullable=False),
    sa.Column("dataset_id", sa.String(36), nullable=False),
    sa.Column("item_id", sa.String(36), nullable=False, index=True),
    sa.Column("stage_id", sa.String(100), nullable=False),
    sa.Column("stage_kind", sa.Integer, nullable=False),
    sa.Column("state", sa.Integer, nullable=False),
    sa.Column("assignee", sa.String(200), nullable=False, default=""),
    sa.Column("vendor_id", sa.String(63), nullable=False, default=""),
    sa.Column("annotation_id", sa.String(36), nullable=False, default=""),
    sa.Column("annotation_version", sa.Integer, nullable=False, default=0),
    sa.Column("rework_of_task_id", sa.String(36), nullable=False, default=""),
    sa.Column("comment", sa.Text, nullable=False, default=""),
    sa.Column("review", sa.LargeBinary, nullable=True),  # radlab.workflow.v1.Review, once decided
    sa.Column("labels_key", sa.String(400), nullable=False, default=""),  # the submitted label array (Zarr, labels bucket)
    # A consensus reader's submitted boxes and polygons: a serialized radlab.annotation.v1.AnnotationSubmitted holding
    # only `boxes` and `polygons`; NULL when none were drawn.
    sa.Column("shapes", sa.LargeBinary, nullable=True),
    sa.Column("delivery_id", sa.String(36), nullable=False, default=""),  # webhook tasks: their payload's delivery id
    sa.Column("claim_expires_at", sa.Float, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Index("tasks_open_by_stage", "workflow_id", "stage_id", "state", "seq"),
    sa.Index("tasks_by_assignee", "tenant", "assignee", "state"),
    sa.Index("tasks_by_claim_deadline", "tenant", "state", "claim_expires_at"),
)

# Round-robin position per workflow stage: the index of the next assignee in the stage's list.
turns = sa.Table(
    "turns",
    metadata,
    sa.Column("workflow_id", sa.String(36), primary_key=True),
    sa.Column("stage_id", sa.String(100), primary_key=True),
    sa.Column("next_index", sa.Integer, nullable=False),
)

# Every annotation of an item, its latest version (AnnotationVersionSaved) and the label array of its last submitted
# version (AnnotationSubmitted): what an adjudicator may choose.
item_annotations = sa.Table(
    "item_annotations",
    metadata,
    sa.Column("annotation_id", sa.String(36), primary_key=True),
    sa.Column("item_id", sa.String(36), nullable=False, index=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("submitted_version", sa.Integer, nullable=False, default=0),
    sa.Column("labels_key", sa.String(400), nullable=False, default=""),
    sa.Column("label_values", sa.JSON, nullable=False, default=list),
)

consensus_results = sa.Table(
    "consensus_results",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("consensus_result_id", sa.String(36), nullable=False, unique=True),
    sa.Column("tenant", sa.String(100), nullable=False),
    sa.Column("workflow_id", sa.String(36), nullable=False),
    sa.Column("dataset_id", sa.String(36), nullable=False),
    sa.Column("item_id", sa.String(36), nullable=False, index=True),
    sa.Column("stage_id", sa.String(100), nullable=False),
    sa.Column("result", sa.LargeBinary, nullable=False),  # radlab.workflow.v1.ConsensusResult
    sa.Column("created_at", sa.Float, nullable=False),
)

# Each reader's agreement with the final labels of a consensus item they read.
reader_scores = sa.Table(
    "reader_scores",
    metadata,
    sa.Column("consensus_result_id", sa.String(36), primary_key=True),
    sa.Column("reader", sa.String(200), primary_key=True),
    sa.Column("tenant", sa.String(100), nullable=False),
    sa.Column("dataset_id", sa.String(36), nullable=False),
    sa.Column("dice", sa.Float, nullable=False),
    sa.Column("surface_dice", sa.Float, nullable=False),
    # Against the fused boxes, when the readers drew shapes; NULL otherwise.
    sa.Column("shape_iou", sa.Float, nullable=True),
    sa.Column("at", sa.Float, nullable=False),
    sa.Index("reader_scores_by_dataset", "tenant", "dataset_id", "reader"),
)

# Every stage an item left, how and when: what workflow's metrics and statistics count.
stage_exits = sa.Table(
    "stage_exits",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("tenant", sa.String(100), nullable=False),
    sa.Column("workflow_id", sa.String(36), nullable=False),
    sa.Column("item_id", sa.String(36), nullable=False),
    sa.Column("stage_id", sa.String(100), nullable=False),
    sa.Column("stage_kind", sa.Integer, nullable=False),
    sa.Column("outcome", sa.Integer, nullable=False),  # radlab.workflow.v1.StageOutcome
    sa.Column("entered_at", sa.Float, nullable=False),
    sa.Column("left_at", sa.Float, nullable=False),
    sa.Index("stage_exits_by_workflow", "workflow_id", "stage_id"),
)

# People a manager recorded: their seniority (stages may require a minimum) and vendor.
people = sa.Table(
    "people",
    metadata,
    sa.Column("tenant", sa.String(100), primary_key=True),
    sa.Column("subject", sa.String(200), primary_key=True),
    sa.Column("display_name", sa.String(200), nullable=False),
    sa.Column("seniority", sa.Integer, nullable=False),
    sa.Column("vendor_id", sa.String(63), nullable=False),
)

# Items moved between stages by hand: who, when, from where to where, and why (the audit of MoveItem).
item_moves = sa.Table(
    "item_moves",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("tenant", sa.String(100), nullable=False),
    sa.Column("item_id", sa.String(36), nullable=False, index=True),
    sa.Column("from_stage_id", sa.String(100), nullable=False),
    sa.Column("to_stage_id", sa.String(100), nullable=False),
    sa.Column("moved_by", sa.String(200), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("at", sa.Float, nullable=False),
)

# Models trained for a workflow (ModelTrained): its model stages pre-label with the newest unless they name one.
models = sa.Table(
    "models",
    metadata,
    sa.Column("model_id", sa.String(200), primary_key=True),
    sa.Column("workflow_id", sa.String(36), nullable=False, index=True),
    sa.Column("model_kind", sa.String(200), nullable=False),
    sa.Column("trained_at", sa.Float, nullable=False),
)

# The model each dataset's model stages use (ModelPromoted), ahead of the newest trained.
promoted_models = sa.Table(
    "promoted_models",
    metadata,
    sa.Column("dataset_id", sa.String(100), primary_key=True),
    sa.Column("model_id", sa.String(200), nullable=False),
)

# Items' places in their dataset's latest ranking by model uncertainty (ItemsRanked): open tasks of more uncertain
# items are claimed first.
item_priorities = sa.Table(
    "item_priorities",
    metadata,
    sa.Column("item_id", sa.String(36), primary_key=True),
    sa.Column("dataset_id", sa.String(36), nullable=False, index=True),
    sa.Column("uncertainty", sa.Float, nullable=False),
)

# Webhook answers accepted, by the answer's delivery id: a replayed answer is refused.
webhook_answers = sa.Table(
    "webhook_answers",
    metadata,
    sa.Column("delivery_id", sa.String(200), primary_key=True),
    sa.Column("task_id", sa.String(36), nullable=False),
    sa.Column("at", sa.Float, nullable=False),
)

revoked_tokens = RevokedTokens(metadata)


def _add_task_shapes(op: Operations) -> None:
    op.add_column("tasks", sa.Column("shapes", sa.LargeBinary, nullable=True))


def _add_reader_shape_iou(op: Operations) -> None:
    op.add_column("reader_scores", sa.Column("shape_iou", sa.Float, nullable=True))


migrations: list[Migration] = [("tasks-shapes", "tasks", _add_task_shapes),
                               ("reader-scores-shape-iou", "reader_scores", _add_reader_shape_iou)]
