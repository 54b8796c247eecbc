"""Structured logs: one JSON object a line, carrying the service and the current trace id."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
import uuid

_trace_id: contextvars.ContextVar[str] = contextvars.ContextVar("radlab_trace_id", default="")


def current_trace_id() -> str:
    """The trace id of the request or event being handled, or '' outside one."""
    return _trace_id.get()


def set_trace_id(trace_id: str | None) -> contextvars.Token:
    """Make `trace_id` (or a new one) current; pass the token to `reset_trace_id` when done."""
    return _trace_id.set(trace_id or uuid.uuid4().hex)


def reset_trace_id(token: contextvars.Token) -> None:
    _trace_id.reset(token)


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object; `extra={...}` fields are kept."""

    _standard = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if trace := current_trace_id():
            entry["trace_id"] = trace
        entry.update({k: v for k, v in vars(record).items() if k not in self._standard and not k.startswith("_")})
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(service: str, level: str = "INFO") -> None:
    """Send every log of this process to stderr as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
