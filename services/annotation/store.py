"""Annotation's tables: datasets and the vendors each is shared with."""

from __future__ import annotations

import sqlalchemy as sa

from shared.db import service_metadata
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

revoked_tokens = RevokedTokens(metadata)
