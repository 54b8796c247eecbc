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
