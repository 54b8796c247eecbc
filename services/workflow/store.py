"""Workflow's tables: the datasets it has heard of (from annotation's events) and workflow definitions."""

from __future__ import annotations

import sqlalchemy as sa

from shared.db import service_metadata
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

revoked_tokens = RevokedTokens(metadata)
