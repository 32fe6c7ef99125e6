"""Domain errors. The API turns each into one HTTP status; services never know HTTP."""

from __future__ import annotations

from typing import Any

# Raised by the storage layer through any service (a disk that fails, a root that went
# away): the HTTP layer answers 503 for it, without knowing the storage.
from ..storage import StorageError as StorageError


class ServiceError(Exception):
    """Base of every rule violation a caller can act on."""

    status = 400

    def __init__(self, message: str, *, errors: dict[str, Any] | None = None, **details: Any):
        super().__init__(message)
        self.message = message
        self.errors = errors
        self.details = details


class NotFound(ServiceError):
    status = 404


class Gone(ServiceError):
    """The record was destroyed after an approved disposal; a tombstone remains."""

    status = 410


class Conflict(ServiceError):
    """The request clashes with existing data (duplicate code, wrong state, ...)."""

    status = 409


class ValidationFailed(ServiceError):
    """Input breaks a rule; `errors` maps each field to its messages."""

    status = 422

    def __init__(self, errors: dict[str, list[str]], message: str | None = None):
        fields = ", ".join(sorted(errors))
        super().__init__(message or f"Please correct these fields: {fields}.", errors=errors)


class PreconditionRequired(ServiceError):
    """An update was sent without If-Match."""

    status = 428


class PreconditionFailed(ServiceError):
    """If-Match names a version that is no longer the current one."""

    status = 412


class PayloadTooLarge(ServiceError):
    status = 413


class Unauthorized(ServiceError):
    status = 401


class Forbidden(ServiceError):
    status = 403
