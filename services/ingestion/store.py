"""Ingestion's tables: uploads, studies, series, instances (de-identified metadata only), volumes, known datasets, vendor shares.

No file name or identifying value is stored: an upload keeps only its file name's extension, and
studies, series and instances hold the replaced UIDs and cleaned text anonymization wrote.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic.operations import Operations

from shared.datasets import KnownDatasets
from shared.db import service_metadata
from shared.migrations import Migration
from shared.revocation import RevokedTokens
from shared.sharing import VendorShares

metadata = service_metadata()

uploads = sa.Table(
    "uploads",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("upload_id", sa.String(36), nullable=False, unique=True),
    sa.Column("tenant", sa.String(100), nullable=False),
    sa.Column("dataset_id", sa.String(36), nullable=False, index=True),
    sa.Column("scan_id", sa.String(36), nullable=False, default=""),
    # The client's file name reduced to its extension (".zip", ".nii.gz"): names may carry PHI.
    sa.Column("suffix", sa.String(16), nullable=False),
    sa.Column("total_size", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("bytes_received", sa.BigInteger, nullable=False),
    # JSON [quarantine key, ...] of the parts received, in file order (one per stream; they join end to end).
    sa.Column("parts", sa.Text, nullable=False, default="[]"),
    sa.Column("state", sa.Integer, nullable=False),  # UploadState
    sa.Column("failure_reason", sa.Text, nullable=False, default=""),
    sa.Column("uploader", sa.String(200), nullable=False),
    sa.Column("file_count", sa.Integer, nullable=False, default=0),
    # JSON [why, ...]: archive members skipped, each named by position and extension.
    sa.Column("skipped", sa.Text, nullable=False, default="[]"),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

studies = sa.Table(
    "studies",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("study_id", sa.String(36), nullable=False, unique=True),
    sa.Column("tenant", sa.String(100), nullable=False),
    sa.Column("dataset_id", sa.String(36), nullable=False, index=True),
    sa.Column("study_instance_uid", sa.String(64), nullable=False),
    sa.Column("patient_pseudonym", sa.String(64), nullable=False),
    sa.Column("study_date", sa.String(8), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("modalities", sa.Text, nullable=False),  # JSON list
    sa.Column("created_at", sa.Float, nullable=False),
    sa.UniqueConstraint("tenant", "dataset_id", "study_instance_uid", name="study_once_per_dataset"),
)

series = sa.Table(
    "series",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("series_id", sa.String(36), nullable=False, unique=True),
    sa.Column("study_id", sa.String(36), nullable=False, index=True),
    sa.Column("tenant", sa.String(100), nullable=False),
    sa.Column("dataset_id", sa.String(36), nullable=False, index=True),
    sa.Column("series_instance_uid", sa.String(64), nullable=False),
    sa.Column("modality", sa.String(16), nullable=False),
    sa.Column("series_number", sa.Integer, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("body_part", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.UniqueConstraint("tenant", "dataset_id", "series_instance_uid", name="series_once_per_dataset"),
)

instances = sa.Table(
    "instances",
    metadata,
    sa.Column("tenant", sa.String(100), primary_key=True),
    sa.Column("series_id", sa.String(36), primary_key=True),
    sa.Column("sop_instance_uid", sa.String(64), primary_key=True),  # the replacement, never the original
    sa.Column("instance_number", sa.Integer, nullable=True),
    sa.Column("bucket", sa.String(63), nullable=False),
    sa.Column("object_key", sa.String(1024), nullable=False),  # in `dicom`: made of replaced UIDs only
)

volumes = sa.Table(
    "volumes",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("volume_id", sa.String(36), nullable=False, unique=True),
    sa.Column("tenant", sa.String(100), nullable=False),
    sa.Column("dataset_id", sa.String(36), nullable=False, index=True),
    sa.Column("study_id", sa.String(36), nullable=False),
    sa.Column("series_id", sa.String(36), nullable=False, index=True),
    sa.Column("upload_id", sa.String(36), nullable=False, index=True),
    sa.Column("scan_id", sa.String(36), nullable=False),
    sa.Column("modality", sa.String(16), nullable=False),
    # The radlab.type.v1.VolumeRef (storage, geometry and its issues), serialized.
    sa.Column("volume_ref", sa.LargeBinary, nullable=False),
    sa.Column("min_value", sa.Float, nullable=False),
    sa.Column("max_value", sa.Float, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

# The instances each DICOM volume was built from, so a series that arrives in parts knows which earlier volumes the
# whole one contains (VolumeReady.supersedes_volume_ids).
volume_instances = sa.Table(
    "volume_instances",
    metadata,
    sa.Column("tenant", sa.String(100), primary_key=True),
    sa.Column("volume_id", sa.String(36), primary_key=True),
    sa.Column("sop_instance_uid", sa.String(64), primary_key=True),  # the replacement, never the original
)

# Which volumes each upload yielded: also those it only repeated (a series uploaded again keeps its first volume).
upload_volumes = sa.Table(
    "upload_volumes",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("upload_id", sa.String(36), nullable=False, index=True),
    sa.Column("volume_id", sa.String(36), nullable=False),
    sa.Column("study_id", sa.String(36), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.UniqueConstraint("upload_id", "volume_id", name="volume_once_per_upload"),
)

# Instances a PACS sent (C-STORE, STOW-RS) that wait in quarantine for their study to go quiet, when they become one
# upload. Studies and instances are named by SHA-256 digests of their UIDs (the originals may identify a patient).
pacs_arrivals = sa.Table(
    "pacs_arrivals",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("tenant", sa.String(100), nullable=False),
    sa.Column("dataset_id", sa.String(36), nullable=False),
    sa.Column("study_key", sa.String(64), nullable=False, index=True),
    sa.Column("instance_key", sa.String(64), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),  # the calling AE title it is bound by
    sa.Column("quarantine_key", sa.String(1024), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("received_at", sa.Float, nullable=False),
    sa.UniqueConstraint("tenant", "dataset_id", "study_key", "instance_key", name="instance_once_per_arriving_study"),
)

# Annotation's DatasetCreated, cached: the datasets uploads may go into.
datasets = KnownDatasets(metadata)

# Annotation's DatasetShared / DatasetUnshared, cached: which vendors may read a dataset's volumes.
vendor_shares = VendorShares(metadata)
revoked_tokens = RevokedTokens(metadata)


def _rename_vendor_shares(op: Operations) -> None:
    """Earlier releases named the cache `dataset_vendors`, as annotation names its own table of shares."""
    op.rename_table("dataset_vendors", "vendor_shares")
    if op.get_bind().dialect.name == "postgresql":
        # PostgreSQL keeps the primary key's old name: give it the one a new database's table has.
        op.execute("ALTER TABLE vendor_shares RENAME CONSTRAINT dataset_vendors_pkey TO vendor_shares_pkey")


migrations: list[Migration] = [("vendor-shares-renamed", "dataset_vendors", _rename_vendor_shares)]
