"""Settings from `RADLAB_*` environment variables, each with a single-machine default."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_GRPC_ADDR = "127.0.0.1:50051"
DEFAULT_METRICS_PORT = 9464


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

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Read the settings from `env` (default: the process environment)."""
        env = dict(os.environ if env is None else env)
        home = Path(env.get("RADLAB_HOME", "./.radlab")).resolve()
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
        )
