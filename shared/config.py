"""Settings from `RADLAB_*` environment variables, each with a single-machine default."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_GRPC_ADDR = "127.0.0.1:50051"
DEFAULT_METRICS_PORT = 9464
# Uploads: archives are refused whole beyond these (studies of thousands of files fit), and an upload that
# receives nothing for DEFAULT_UPLOAD_TTL_S expires (its parts deleted).
DEFAULT_UPLOAD_MAX_BYTES = 32 << 30  # every member of an archive together, uncompressed; also the largest upload
DEFAULT_UPLOAD_MAX_RATIO = 200.0  # uncompressed bytes per compressed byte, for a whole archive
DEFAULT_UPLOAD_MAX_FILES = 200_000
DEFAULT_UPLOAD_TTL_S = 24 * 3600.0
REPOSITORY = Path(__file__).resolve().parents[1]


def data_dir(env: Mapping[str, str] | None = None) -> Path:
    """The real-data folder: RADLAB_DATA, default the repository's own `data/` (sample scans with their licences).

    Tests, benchmarks, `make run` and the rule generator read real scans and the standard's tables from it;
    no service does. Callers decide what its absence means (a failed test, a message)."""
    env = os.environ if env is None else env
    return Path(env.get("RADLAB_DATA") or REPOSITORY / "data")


@dataclass(frozen=True)
class Settings:
    """Where each port lives and how the process serves; one instance per process."""

    home: Path
    bus_url: str
    store_url: str
    db_url: str
    ray_url: str
    grpc_addr: str
    metrics_port: int
    token_key: str | None
    log_level: str
    upload_max_bytes: int = DEFAULT_UPLOAD_MAX_BYTES
    upload_max_ratio: float = DEFAULT_UPLOAD_MAX_RATIO
    upload_max_files: int = DEFAULT_UPLOAD_MAX_FILES
    upload_ttl_s: float = DEFAULT_UPLOAD_TTL_S

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Read the settings from `env` (default: the process environment)."""
        env = dict(os.environ if env is None else env)
        home = Path(env.get("RADLAB_HOME", "./.radlab")).resolve()
        upload_ttl_s = float(env.get("RADLAB_UPLOAD_TTL_S") or DEFAULT_UPLOAD_TTL_S)
        if upload_ttl_s <= 0:
            raise ValueError(f"RADLAB_UPLOAD_TTL_S must be a number of seconds above 0, not {upload_ttl_s:g}")
        return cls(
            home=home,
            bus_url=env.get("RADLAB_BUS") or f"local://{home / 'bus.sqlite'}",
            store_url=env.get("RADLAB_STORE") or f"file://{home / 'objects'}",
            db_url=env.get("RADLAB_DB") or f"sqlite:///{home / 'db'}",
            ray_url=env.get("RADLAB_RAY") or "local",
            grpc_addr=env.get("RADLAB_GRPC_ADDR") or DEFAULT_GRPC_ADDR,
            metrics_port=int(env.get("RADLAB_METRICS_PORT") or DEFAULT_METRICS_PORT),
            token_key=env.get("RADLAB_TOKEN_KEY") or None,
            log_level=env.get("RADLAB_LOG_LEVEL") or "INFO",
            upload_max_bytes=int(env.get("RADLAB_UPLOAD_MAX_BYTES") or DEFAULT_UPLOAD_MAX_BYTES),
            upload_max_ratio=float(env.get("RADLAB_UPLOAD_MAX_RATIO") or DEFAULT_UPLOAD_MAX_RATIO),
            upload_max_files=int(env.get("RADLAB_UPLOAD_MAX_FILES") or DEFAULT_UPLOAD_MAX_FILES),
            upload_ttl_s=upload_ttl_s,
        )
