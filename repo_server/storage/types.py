"""What the object store hands out and raises: errors and value types."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

__all__ = [
    "ContentTooLarge", "DamagedContent", "FileInfo", "LogicalPathError", "ObjectNotFound",
    "StagedFile", "StaleVersion", "StorageBusy", "StorageError", "VersionInfo", "VersionWrite",
]


class StorageError(Exception):
    """Base class of every error raised by the object store."""


class StorageBusy(StorageError):
    """A lock asked for without waiting is held by someone else."""


class ObjectNotFound(StorageError):
    """The object, version or logical path does not exist."""


class StaleVersion(StorageError):
    """``expected_head`` did not match the object's head version."""

    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(f"expected head v{expected}, object is at v{actual}")
        self.expected = expected
        self.actual = actual


class ContentTooLarge(StorageError):
    """A staged stream went past its size limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"content larger than {limit} bytes")
        self.limit = limit


class LogicalPathError(StorageError, ValueError):
    """A logical path is not acceptable (or not present, for a removal)."""


class DamagedContent(StorageError):
    """A stored file's bytes no longer match the digest recorded when it was written."""

    def __init__(self, object_id: str, content_path: str, expected: str, actual: str) -> None:
        super().__init__(f"{object_id} {content_path}: digest {actual} does not match the "
                         f"recorded {expected}")
        self.object_id = object_id
        self.content_path = content_path
        self.expected = expected
        self.actual = actual


@dataclass(frozen=True)
class StagedFile:
    """A stream saved in ``tmp_dir``, hashed, waiting to be added to a version."""

    path: Path
    size: int
    sha256: str
    sha512: str


@dataclass(frozen=True)
class FileInfo:
    """One file of a version: where it lives in the object and its digests."""

    logical_path: str
    content_path: str
    size: int
    sha256: str
    sha512: str


@dataclass(frozen=True)
class VersionInfo:
    """Metadata and state (logical path -> file) of one object version."""

    number: int
    created: datetime
    message: str
    user_name: str
    user_address: str | None
    state: dict[str, FileInfo]


@dataclass(frozen=True)
class VersionWrite:
    """One object's new version in a ``write_versions`` batch (as ``write_version``'s
    arguments)."""

    object_id: str
    add: Mapping[str, StagedFile | bytes]
    message: str
    user_name: str
    remove: tuple[str, ...] = ()
    user_address: str | None = None
    created: datetime | None = None
    expected_head: int | None = None

