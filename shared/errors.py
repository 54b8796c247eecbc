"""Errors a caller can cause, each with the gRPC status it is reported as and a message to act on."""

from __future__ import annotations

import grpc


class RadlabError(Exception):
    """Base of the errors servicers let through; the server reports them with `code` and the message."""

    code = grpc.StatusCode.INTERNAL


class InvalidArgument(RadlabError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(RadlabError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(RadlabError):
    code = grpc.StatusCode.ALREADY_EXISTS


class PermissionDenied(RadlabError):
    code = grpc.StatusCode.PERMISSION_DENIED


class FailedPrecondition(RadlabError):
    """The request is valid but the resource is not in a state that allows it."""

    code = grpc.StatusCode.FAILED_PRECONDITION


class Conflict(RadlabError):
    """A change made on a state that is no longer current (e.g. a stale version): reload, then redo it."""

    code = grpc.StatusCode.ABORTED


# A status message travels in a trailer that clients refuse beyond 8 KiB by default, and percent-encoding may
# triple it: 1 KiB of UTF-8 stays well inside, with room for every message the services write.
MAX_STATUS_BYTES = 1024


def capped(message: str, limit: int = MAX_STATUS_BYTES) -> str:
    """`message` cut to at most `limit` bytes of UTF-8 (at a character boundary), '…' marking a cut."""
    encoded = message.encode("utf-8", "backslashreplace")  # a lone surrogate would fail gRPC's own encoding
    if len(encoded) <= limit:
        return encoded.decode("utf-8")
    return encoded[: limit - len("…".encode())].decode("utf-8", "ignore") + "…"
