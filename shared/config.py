"""Settings from `RADLAB_*` environment variables, each with a single-machine default."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from radlab.tokens import DAY_S, DEFAULT_MAX_TTL_DAYS, checked_key, token_max_ttl_s

DEFAULT_GRPC_ADDR = "127.0.0.1:50051"
DEFAULT_METRICS_PORT = 9464
DEFAULT_HTTP_ADDR = "127.0.0.1:8000"  # the HTTP gateway (REST, OpenAPI, the web viewer)
# Uploads: archives are refused whole beyond these (studies of thousands of files fit), and an upload that
# receives nothing for DEFAULT_UPLOAD_TTL_S expires (its parts deleted).
DEFAULT_UPLOAD_MAX_BYTES = 32 << 30  # every member of an archive together, uncompressed; also the largest upload
DEFAULT_UPLOAD_MAX_RATIO = 200.0  # uncompressed bytes per compressed byte, for a whole archive
DEFAULT_UPLOAD_MAX_FILES = 200_000
DEFAULT_UPLOAD_TTL_S = 24 * 3600.0
# Voxels one built volume may hold, checked from headers before anything is decoded (its decoded bytes may be 4×
# that): 2^29 holds a 2048-slice 512² CT or 512 slices of 1024², and each time point of a 4D series (built one
# volume per time point); a series or NIfTI beyond it is refused, as is a header declaring it from a small upload.
DEFAULT_VOLUME_MAX_VOXELS = 1 << 29
# Requests: every RPC's request is checked against these before a handler sees it (shared/validation.py).
DEFAULT_REQUEST_MAX_NAME_CHARS = 256  # ids, names, tokens, UIDs: a UUID is 36 characters, a DICOM UID at most 64
DEFAULT_REQUEST_MAX_TEXT_CHARS = 64 << 10  # free text (descriptions, comments, reasons) and URIs
DEFAULT_REQUEST_MAX_REPEATED = 10_000  # entries of one repeated or map field (key slices, polygon vertices, item ids)
# What ingestion renders: a thumbnail's longest side, and the largest slice (rows × columns) it reads for any view;
# 4096² holds every radiograph and mammogram detector (a 16-bit RAW slice of it is 32 MiB).
DEFAULT_THUMBNAIL_MAX_SIZE = 1024
DEFAULT_SLICE_MAX_PIXELS = 4096 * 4096
# A PACS's way in (ingestion): the DICOM C-STORE SCP's and the DICOMweb STOW-RS ports (0: not served; neither is
# served while no source is bound), and how long a study must receive nothing before it is handed on as one scan.
DEFAULT_DICOM_PORT = 11112
DEFAULT_DICOMWEB_PORT = 8080
DEFAULT_DICOM_QUIET_S = 30.0
# Readiness: how often each service's database, the bus and the store are probed, and how long one probe may take
# before its dependency counts as unreachable.
DEFAULT_READINESS_PERIOD_S = 3.0
DEFAULT_READINESS_TIMEOUT_S = 2.0
REPOSITORY = Path(__file__).resolve().parents[1]


def data_dir(env: Mapping[str, str] | None = None) -> Path:
    """The real-data folder: RADLAB_DATA, default the repository's own `data/` (sample scans with their licences).

    Tests, benchmarks, `make run` and the rule generator read real scans and the standard's tables from it;
    no service does. Callers decide what its absence means (a failed test, a message)."""
    env = os.environ if env is None else env
    return Path(env.get("RADLAB_DATA") or REPOSITORY / "data")


def _limit(env: Mapping[str, str], name: str, default: int) -> int:
    """Setting `name`, a whole number above 0, or `default` when unset."""
    text = env.get(name) or str(default)
    if not (text.isascii() and text.isdigit()) or int(text) == 0:
        raise ValueError(f"{name} must be a whole number above 0, not {text[:40]!r}")
    return int(text)


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    """Setting `name`, a TCP port (0: not served), or `default` when unset."""
    text = env.get(name) or str(default)
    if not (text.isascii() and text.isdigit()) or int(text) > 65535:
        raise ValueError(f"{name} must be a TCP port (0 to 65535; 0 turns it off), not {text[:40]!r}")
    return int(text)


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    """Setting `name`, a number of seconds above 0, or `default` when unset."""
    text = env.get(name) or str(default)
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not seconds > 0:
        raise ValueError(f"{name} must be a number of seconds above 0, not {text[:40]!r}")
    return seconds


def _burned_in_text(env: Mapping[str, str]) -> str:
    """RADLAB_BURNED_IN_TEXT: hold (default), redact or off."""
    policy = (env.get("RADLAB_BURNED_IN_TEXT") or "hold").strip().lower()
    if policy not in ("hold", "redact", "off"):
        raise ValueError(f"RADLAB_BURNED_IN_TEXT must be hold, redact or off, not {policy[:40]!r}")
    return policy


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
    volume_max_voxels: int = DEFAULT_VOLUME_MAX_VOXELS
    request_max_name_chars: int = DEFAULT_REQUEST_MAX_NAME_CHARS
    request_max_text_chars: int = DEFAULT_REQUEST_MAX_TEXT_CHARS
    request_max_repeated: int = DEFAULT_REQUEST_MAX_REPEATED
    thumbnail_max_size: int = DEFAULT_THUMBNAIL_MAX_SIZE
    slice_max_pixels: int = DEFAULT_SLICE_MAX_PIXELS
    metrics_host: str = "127.0.0.1"
    token_previous_keys: tuple[str, ...] = ()
    token_max_ttl_s: float = DEFAULT_MAX_TTL_DAYS * DAY_S
    dicom_sources: str = ""  # "CALLING_AE=tenant/dataset_id ..." (ingestion.sources reads it)
    dicom_ae_title: str = "RADLAB"
    dicom_port: int = DEFAULT_DICOM_PORT
    dicomweb_port: int = DEFAULT_DICOMWEB_PORT
    dicom_quiet_s: float = DEFAULT_DICOM_QUIET_S
    burned_in_text: str = "hold"  # hold | redact | off: what anonymization does with identifying text in the pixels
    tesseract: str = "tesseract"  # the OCR binary burned-in text is read with (a path, or a name on PATH)
    http_addr: str = DEFAULT_HTTP_ADDR  # where the HTTP gateway listens (port 0: any free one)
    services_url: str = DEFAULT_GRPC_ADDR  # RADLAB_URL: the services' gRPC address a lone gateway forwards to
    gateway_targets: str = ""  # "service=host:port ...": services RADLAB_URL does not reach (one Deployment each)
    viewer_dir: Path = REPOSITORY / "viewer" / "dist"  # the web viewer's built files the gateway serves
    readiness_period_s: float = DEFAULT_READINESS_PERIOD_S
    readiness_timeout_s: float = DEFAULT_READINESS_TIMEOUT_S

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Read the settings from `env` (default: the process environment)."""
        env = dict(os.environ if env is None else env)
        home = Path(env.get("RADLAB_HOME", "./.radlab")).resolve()
        grpc_addr = env.get("RADLAB_GRPC_ADDR") or DEFAULT_GRPC_ADDR
        upload_ttl_s = float(env.get("RADLAB_UPLOAD_TTL_S") or DEFAULT_UPLOAD_TTL_S)
        if upload_ttl_s <= 0:
            raise ValueError(f"RADLAB_UPLOAD_TTL_S must be a number of seconds above 0, not {upload_ttl_s:g}")
        return cls(
            home=home,
            bus_url=env.get("RADLAB_BUS") or f"local://{home / 'bus.sqlite'}",
            store_url=env.get("RADLAB_STORE") or f"file://{home / 'objects'}",
            db_url=env.get("RADLAB_DB") or f"sqlite:///{home / 'db'}",
            ray_url=env.get("RADLAB_RAY") or "local",
            grpc_addr=grpc_addr,
            metrics_port=int(env.get("RADLAB_METRICS_PORT") or DEFAULT_METRICS_PORT),
            token_key=env.get("RADLAB_TOKEN_KEY") or None,
            log_level=env.get("RADLAB_LOG_LEVEL") or "INFO",
            upload_max_bytes=int(env.get("RADLAB_UPLOAD_MAX_BYTES") or DEFAULT_UPLOAD_MAX_BYTES),
            upload_max_ratio=float(env.get("RADLAB_UPLOAD_MAX_RATIO") or DEFAULT_UPLOAD_MAX_RATIO),
            upload_max_files=int(env.get("RADLAB_UPLOAD_MAX_FILES") or DEFAULT_UPLOAD_MAX_FILES),
            upload_ttl_s=upload_ttl_s,
            volume_max_voxels=_limit(env, "RADLAB_VOLUME_MAX_VOXELS", DEFAULT_VOLUME_MAX_VOXELS),
            request_max_name_chars=_limit(env, "RADLAB_REQUEST_MAX_NAME_CHARS", DEFAULT_REQUEST_MAX_NAME_CHARS),
            request_max_text_chars=_limit(env, "RADLAB_REQUEST_MAX_TEXT_CHARS", DEFAULT_REQUEST_MAX_TEXT_CHARS),
            request_max_repeated=_limit(env, "RADLAB_REQUEST_MAX_REPEATED", DEFAULT_REQUEST_MAX_REPEATED),
            thumbnail_max_size=_limit(env, "RADLAB_THUMBNAIL_MAX_SIZE", DEFAULT_THUMBNAIL_MAX_SIZE),
            slice_max_pixels=_limit(env, "RADLAB_SLICE_MAX_PIXELS", DEFAULT_SLICE_MAX_PIXELS),
            # Metrics are as exposed as the API and no more: a pod that serves gRPC on 0.0.0.0 says so for both.
            metrics_host=env.get("RADLAB_METRICS_HOST") or grpc_addr.rsplit(":", 1)[0].strip("[]"),
            token_previous_keys=tuple(
                checked_key(key, "a key in RADLAB_TOKEN_PREVIOUS_KEYS")
                for key in (env.get("RADLAB_TOKEN_PREVIOUS_KEYS") or "").replace(",", " ").split()
            ),
            token_max_ttl_s=token_max_ttl_s(env.get("RADLAB_TOKEN_MAX_TTL_DAYS")),
            dicom_sources=env.get("RADLAB_DICOM_SOURCES") or "",
            dicom_ae_title=env.get("RADLAB_DICOM_AE_TITLE") or "RADLAB",
            dicom_port=_port(env, "RADLAB_DICOM_PORT", DEFAULT_DICOM_PORT),
            dicomweb_port=_port(env, "RADLAB_DICOMWEB_PORT", DEFAULT_DICOMWEB_PORT),
            dicom_quiet_s=_seconds(env, "RADLAB_DICOM_QUIET_S", DEFAULT_DICOM_QUIET_S),
            burned_in_text=_burned_in_text(env),
            tesseract=env.get("RADLAB_TESSERACT") or "tesseract",
            http_addr=env.get("RADLAB_HTTP_ADDR") or DEFAULT_HTTP_ADDR,
            services_url=env.get("RADLAB_URL") or DEFAULT_GRPC_ADDR,
            gateway_targets=env.get("RADLAB_GATEWAY_TARGETS") or "",
            viewer_dir=Path(env.get("RADLAB_VIEWER_DIR") or REPOSITORY / "viewer" / "dist"),
            readiness_period_s=_seconds(env, "RADLAB_READINESS_PERIOD_S", DEFAULT_READINESS_PERIOD_S),
            readiness_timeout_s=_seconds(env, "RADLAB_READINESS_TIMEOUT_S", DEFAULT_READINESS_TIMEOUT_S),
        )
