"""Interpolation's tables: its jobs, and what it caches from annotation's events (items, vendor shares, key-slice versions)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.operations import Operations

from shared.db import service_metadata
from shared.migrations import Migration
from shared.revocation import RevokedTokens
from shared.sharing import VendorShares

metadata = service_metadata()

# item → its dataset and image volume, from ItemAdded: access checks and the image that guides the fill.
items = sa.Table(
    "items",
    metadata,
    sa.Column("tenant", sa.String(100), primary_key=True),
    sa.Column("item_id", sa.String(100), primary_key=True),
    sa.Column("dataset_id", sa.String(100), nullable=False),
    sa.Column("volume_id", sa.String(100), nullable=False),
)

# Datasets shared with a vendor, from DatasetShared / DatasetUnshared: a vendor reaches only these.
vendor_shares = VendorShares(metadata)
revoked_tokens = RevokedTokens(metadata)

# Every key-slice version announced by KeySlicesSaved, so StartInterpolation can find its label array and keys.
key_slice_versions = sa.Table(
    "key_slice_versions",
    metadata,
    sa.Column("tenant", sa.String(100), primary_key=True),
    sa.Column("annotation_id", sa.String(100), primary_key=True),
    sa.Column("version", sa.BigInteger, primary_key=True),
    sa.Column("item_id", sa.String(100), nullable=False, index=True),
    sa.Column("dataset_id", sa.String(100), nullable=False),
    # The KeySlicesSaved message itself (plane, per-label drawn/absent slices, label array ref): one document.
    sa.Column("key_slices_saved", sa.LargeBinary, nullable=False),
    sa.Column("saved_at", sa.Float, nullable=False),
)

# Whole-volume interpolations: one per KeySlicesSaved and one per StartInterpolation call.
jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("job_id", sa.String(36), nullable=False, unique=True),
    sa.Column("tenant", sa.String(100), nullable=False),
    sa.Column("item_id", sa.String(100), nullable=False),
    sa.Column("dataset_id", sa.String(100), nullable=False),
    sa.Column("annotation_id", sa.String(100), nullable=False),
    sa.Column("key_slice_version", sa.BigInteger, nullable=False),
    sa.Column("plane", sa.Integer, nullable=False),  # radlab.type.v1.Plane
    sa.Column("method", sa.Integer, nullable=False),  # InterpolationMethod asked for (UNSPECIFIED: the default)
    sa.Column("label_values", sa.Text, nullable=False),  # JSON list; empty = every label
    sa.Column("requester", sa.String(200), nullable=False),  # token subject; empty when started by KeySlicesSaved
    # The KeySlicesSaved event that started the job: a redelivery finds the job instead of starting another.
    sa.Column("source_event_id", sa.String(36), nullable=True, unique=True),
    sa.Column("state", sa.Integer, nullable=False),  # radlab.type.v1.JobState
    sa.Column("percent_done", sa.Float, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("error", sa.Text, nullable=False),
    # Once SUCCEEDED: the radlab.type.v1.Mask written to the labels bucket, and the method actually used.
    sa.Column("result", sa.LargeBinary, nullable=True),
    sa.Column("method_used", sa.Integer, nullable=False),
    # Once SUCCEEDED: per label [value, InterpolationMethod used, why], JSON; NULL before (and for older jobs).
    sa.Column("choices", sa.Text, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    # StartInterpolation jobs: the worker running it (see shared/jobs.py) and until when, unless renewed; NULL for
    # KeySlicesSaved jobs, which their event's redelivery resumes.
    sa.Column("claimed_by", sa.String(36), nullable=True),
    sa.Column("claimed_until", sa.Float, nullable=True),
)


def _add_job_claims(op: Operations) -> None:
    op.add_column("jobs", sa.Column("claimed_by", sa.String(36), nullable=True))
    op.add_column("jobs", sa.Column("claimed_until", sa.Float, nullable=True))


def _add_job_choices(op: Operations) -> None:
    op.add_column("jobs", sa.Column("choices", sa.Text, nullable=True))


migrations: list[Migration] = [("jobs-claimed-by-until", "jobs", _add_job_claims),
                               ("jobs-choices", "jobs", _add_job_choices)]
