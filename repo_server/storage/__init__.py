"""The OCFL object store: the storage root is the source of truth for every record."""

from .ocfl import (
    LAYOUT_NAME,
    ContentTooLarge,
    DamagedContent,
    FileInfo,
    LogicalPathError,
    ObjectNotFound,
    ObjectStore,
    StagedFile,
    StaleVersion,
    StorageError,
    VersionInfo,
    VersionWrite,
    check_logical_path,
    layout_path,
)

__all__ = [
    "LAYOUT_NAME",
    "ContentTooLarge",
    "DamagedContent",
    "FileInfo",
    "LogicalPathError",
    "ObjectNotFound",
    "ObjectStore",
    "StagedFile",
    "StaleVersion",
    "StorageError",
    "VersionInfo",
    "VersionWrite",
    "check_logical_path",
    "layout_path",
]
