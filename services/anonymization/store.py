"""Anonymization's tables: known datasets, profiles, the encrypted pseudonym map, per-scan reports, held instances, re-identification audit.

Nothing here holds PHI in clear: originals (pseudonym map) and quarantine keys (upload file names may
carry PHI) are stored only as AES-256-GCM ciphertext bound to their row.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic.operations import Operations

from shared.datasets import KnownDatasets
from shared.db import service_metadata
from shared.migrations import Migration
from shared.revocation import RevokedTokens

metadata = service_metadata()

# Annotation's DatasetCreated, cached: the datasets a profile may be read or set for.
datasets = KnownDatasets(metadata)

# The PS3.15 options of a dataset (defaults: the engine's Options); absent row = defaults. Only for a row of `datasets`:
# rows written before that rule, for ids never announced in their tenant, are never read.
profiles = sa.Table(
    "profiles",
    metadata,
    sa.Column("tenant", sa.String(100), primary_key=True),
    sa.Column("dataset_id", sa.String(36), primary_key=True),
    sa.Column("retain_longitudinal_modified_dates", sa.Boolean, nullable=False),
    sa.Column("retain_patient_characteristics", sa.Boolean, nullable=False),
    sa.Column("clean_descriptors", sa.Boolean, nullable=False),
    sa.Column("clean_structured_content", sa.Boolean, nullable=False),
    sa.Column("clean_graphics", sa.Boolean, nullable=False),
    sa.Column("retain_safe_private", sa.Boolean, nullable=False),
    sa.Column("retain_device_identity", sa.Boolean, nullable=False),
    sa.Column("retain_institution_identity", sa.Boolean, nullable=False),
    # BurnedInTextPolicy: 0 (UNSPECIFIED) follows the deployment's RADLAB_BURNED_IN_TEXT.
    sa.Column("burned_in_text", sa.Integer, nullable=False, server_default="0"),
    sa.Column("updated_by", sa.String(200), nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

# pseudonym → original, per tenant; kind is patient_id, study_uid, series_uid or sop_uid.
pseudonyms = sa.Table(
    "pseudonyms",
    metadata,
    sa.Column("tenant", sa.String(100), primary_key=True),
    sa.Column("kind", sa.String(20), primary_key=True),
    sa.Column("pseudonym", sa.String(64), primary_key=True),
    sa.Column("nonce", sa.LargeBinary, nullable=False),
    # AES-256-GCM of the original, with "tenant\0kind\0pseudonym" as associated data.
    sa.Column("ciphertext", sa.LargeBinary, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

# What the automatic pass did to one scan (counts and warnings only, never values).
reports = sa.Table(
    "reports",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("tenant", sa.String(100), nullable=False),
    sa.Column("scan_id", sa.String(100), nullable=False),
    sa.Column("upload_id", sa.String(100), nullable=False),
    sa.Column("dataset_id", sa.String(36), nullable=False, index=True),
    # The radlab.anonymization.v1.Profile in force, serialized.
    sa.Column("profile", sa.LargeBinary, nullable=False),
    sa.Column("instance_count", sa.Integer, nullable=False),
    sa.Column("anonymized_count", sa.Integer, nullable=False),
    sa.Column("held_count", sa.Integer, nullable=False),
    sa.Column("dropped_count", sa.Integer, nullable=False),
    # JSON {DeidAction name: count} and JSON [warning, ...]; a warning names a file by its position, never its name.
    sa.Column("action_counts", sa.Text, nullable=False),
    sa.Column("warnings", sa.Text, nullable=False),
    # JSON {HoldReason name: count}.
    sa.Column("hold_counts", sa.Text, nullable=False),
    # JSON [[keyword, DeidAction name, instances], ...]: what became of each attribute kept cleaned (KEPT: vouched for
    # as safe, CLEANED: replaced), never its values; NULL in reports older than the column.
    sa.Column("attribute_actions", sa.Text, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    # Set once the non-held originals are deleted from quarantine (after the commit that recorded the outputs).
    sa.Column("originals_deleted_at", sa.Float, nullable=True),
    sa.UniqueConstraint("tenant", "scan_id", name="report_per_scan"),
)

held_instances = sa.Table(
    "held_instances",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("held_instance_id", sa.String(36), nullable=False, unique=True),
    sa.Column("tenant", sa.String(100), nullable=False),
    sa.Column("scan_id", sa.String(100), nullable=False, index=True),
    sa.Column("upload_id", sa.String(100), nullable=False),
    sa.Column("dataset_id", sa.String(36), nullable=False),
    sa.Column("sop_instance_uid", sa.String(64), nullable=False),  # the replacement, never the original
    sa.Column("modality", sa.String(16), nullable=False),
    sa.Column("reason", sa.Integer, nullable=False),  # HoldReason
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("state", sa.Integer, nullable=False),  # HoldState
    sa.Column("quarantine_bucket", sa.String(63), nullable=False),
    # AES-256-GCM of the quarantine key (file names may carry PHI), associated data "tenant\0held_instance_id".
    sa.Column("key_nonce", sa.LargeBinary, nullable=False),
    sa.Column("key_ciphertext", sa.LargeBinary, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("resolved_by", sa.String(200), nullable=False, default=""),
    sa.Column("resolved_at", sa.Float, nullable=True),
    sa.Column("comment", sa.Text, nullable=False, default=""),
    sa.UniqueConstraint("tenant", "scan_id", "sop_instance_uid", name="held_once_per_scan"),
)

# Every re-identification attempt: who, when, what, why (the original itself is never written here).
lookups = sa.Table(
    "lookups",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("tenant", sa.String(100), nullable=False),
    sa.Column("subject", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("pseudonym", sa.String(64), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("found", sa.Boolean, nullable=False),
    sa.Column("at", sa.Float, nullable=False),
)

revoked_tokens = RevokedTokens(metadata)


def _add_report_attribute_actions(op: Operations) -> None:
    op.add_column("reports", sa.Column("attribute_actions", sa.Text, nullable=True))


def _add_profile_burned_in_text(op: Operations) -> None:
    op.add_column("profiles", sa.Column("burned_in_text", sa.Integer, nullable=False, server_default="0"))


migrations: list[Migration] = [
    ("reports-attribute-actions", "reports", _add_report_attribute_actions),
    ("profiles-burned-in-text", "profiles", _add_profile_burned_in_text),
]
