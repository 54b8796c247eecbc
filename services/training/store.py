"""Training's tables: runs, the model registry and predictions, and what it caches from annotation's events (items,
their latest submitted labels, vendor shares)."""

from __future__ import annotations

import sqlalchemy as sa

from shared.db import service_metadata
from shared.revocation import RevokedTokens
from shared.sharing import VendorShares

metadata = service_metadata()

revoked_tokens = RevokedTokens(metadata)
vendor_shares = VendorShares(metadata)

# item → its dataset, image volume and modality, from ItemAdded; `labels_key` and the annotation are its latest
# submitted labels, from AnnotationSubmitted (empty until one is submitted).
items = sa.Table(
    "items",
    metadata,
    sa.Column("tenant", sa.String(100), primary_key=True),
    sa.Column("item_id", sa.String(100), primary_key=True),
    sa.Column("dataset_id", sa.String(100), nullable=False, index=True),
    sa.Column("volume_id", sa.String(100), nullable=False),
    sa.Column("modality", sa.String(16), nullable=False),
    sa.Column("annotation_id", sa.String(100), nullable=False),
    sa.Column("annotation_version", sa.BigInteger, nullable=False),
    sa.Column("labels_key", sa.String(400), nullable=False),
    sa.Column("label_values", sa.Text, nullable=False),  # JSON list: the values its submitted labels hold
    sa.Column("submitted_at", sa.Float, nullable=True),
)


def _job_columns() -> list[sa.Column]:
    """What every job row holds for shared.jobs: its state, progress and the worker's claim."""
    return [
        sa.Column("state", sa.Integer, nullable=False),  # radlab.type.v1.JobState
        sa.Column("percent_done", sa.Float, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("ended_at", sa.Float, nullable=True),
        sa.Column("claimed_by", sa.String(36), nullable=True),
        sa.Column("claimed_until", sa.Float, nullable=True),
    ]


# Training runs: one per StartTrainingRun call or TrainingRequested event.
runs = sa.Table(
    "runs",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(36), nullable=False, unique=True),
    sa.Column("tenant", sa.String(100), nullable=False),
    sa.Column("dataset_id", sa.String(100), nullable=False, index=True),
    sa.Column("workflow_id", sa.String(100), nullable=False),
    sa.Column("model_kind", sa.String(100), nullable=False),
    sa.Column("base_model_id", sa.String(36), nullable=False),
    sa.Column("label_values", sa.Text, nullable=False),  # JSON list
    # JSON list of the examples, each {item_id, volume_id, annotation_id, annotation_version, labels_key}.
    sa.Column("examples", sa.Text, nullable=False),
    sa.Column("config", sa.LargeBinary, nullable=False),  # radlab.training.v1.TrainingConfig
    sa.Column("requester", sa.String(200), nullable=False),
    # The TrainingRequested event that started the run: a redelivery finds the run instead of starting another.
    sa.Column("source_event_id", sa.String(36), nullable=True, unique=True),
    sa.Column("metrics", sa.Text, nullable=False),  # JSON list of {name, label_value, value}
    sa.Column("split", sa.Text, nullable=False),  # JSON {how, training, validation}
    sa.Column("model_id", sa.String(36), nullable=False),
    *_job_columns(),
)

# The registry: trained and registered models; versions count up per (tenant, name).
models = sa.Table(
    "models",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model_id", sa.String(36), nullable=False, unique=True),
    sa.Column("tenant", sa.String(100), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("model_kind", sa.String(100), nullable=False),
    sa.Column("source", sa.Integer, nullable=False),  # ModelSource
    sa.Column("format", sa.Integer, nullable=False),  # ModelFormat
    sa.Column("run_id", sa.String(36), nullable=False),
    sa.Column("dataset_id", sa.String(100), nullable=False, index=True),
    sa.Column("modality", sa.String(16), nullable=False),
    sa.Column("labels", sa.Text, nullable=False),  # JSON list of {value, name}
    sa.Column("metrics", sa.Text, nullable=False),  # JSON list of {name, label_value, value}
    sa.Column("preprocessing", sa.Text, nullable=False),  # JSON: settings.Preprocessing
    sa.Column("lineage", sa.Text, nullable=False),  # JSON: examples, split, hyper-parameters, code version
    sa.Column("bucket", sa.String(100), nullable=False),  # the artifact; empty for an endpoint
    sa.Column("object_key", sa.String(400), nullable=False),
    sa.Column("endpoint_url", sa.String(2000), nullable=False),  # an endpoint model's URL; empty otherwise
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("creator", sa.String(200), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.UniqueConstraint("tenant", "name", "version"),
)

# The model each dataset's model stages use now (PromoteModel); a new promotion replaces the row.
promotions = sa.Table(
    "promotions",
    metadata,
    sa.Column("tenant", sa.String(100), primary_key=True),
    sa.Column("dataset_id", sa.String(100), primary_key=True),
    sa.Column("model_id", sa.String(36), nullable=False),
    sa.Column("promoted_by", sa.String(200), nullable=False),
    sa.Column("promoted_at", sa.Float, nullable=False),
)

# Predictions: one per StartPrediction call or PredictionRequested event.
predictions = sa.Table(
    "predictions",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("prediction_id", sa.String(36), nullable=False, unique=True),
    sa.Column("tenant", sa.String(100), nullable=False),
    sa.Column("model_id", sa.String(36), nullable=False),
    sa.Column("item_id", sa.String(100), nullable=False),
    sa.Column("volume_id", sa.String(100), nullable=False),
    sa.Column("dataset_id", sa.String(100), nullable=False),
    sa.Column("workflow_id", sa.String(100), nullable=False),
    sa.Column("task_id", sa.String(100), nullable=False),
    sa.Column("requester", sa.String(200), nullable=False),
    sa.Column("source_event_id", sa.String(36), nullable=True, unique=True),
    sa.Column("result", sa.LargeBinary, nullable=True),  # the PredictionsReady it announced, once SUCCEEDED
    sa.Column("confidence", sa.Float, nullable=True),
    *_job_columns(),
)

# Rankings of a dataset's unlabelled items by a model's uncertainty (active learning).
rankings = sa.Table(
    "rankings",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ranking_id", sa.String(36), nullable=False, unique=True),
    sa.Column("tenant", sa.String(100), nullable=False),
    sa.Column("dataset_id", sa.String(100), nullable=False, index=True),
    sa.Column("model_id", sa.String(36), nullable=False),
    sa.Column("items", sa.Text, nullable=False),  # JSON [[item_id, volume_id]] to rank; then [[item_id, uncertainty]]
    sa.Column("requester", sa.String(200), nullable=False),
    *_job_columns(),
)
