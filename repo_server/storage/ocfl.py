"""The names the object store had when it was one module (``repo_server.storage.ocfl``), kept
for callers and tests written against it. New code imports from ``repo_server.storage``."""

from __future__ import annotations

from .layout import (
    CONTENT_DIR,
    INVENTORY,
    LAYOUT_CONFIG,
    LAYOUT_NAME,
    OBJECT_NAMASTE,
    ROOT_NAMASTE,
    SIDECAR,
    check_logical_path,
    layout_path,
)
from .store import ObjectStore
from .sync import SYNC_METHODS, resolve_sync_method
from .types import (
    ContentTooLarge,
    DamagedContent,
    FileInfo,
    LogicalPathError,
    ObjectNotFound,
    StagedFile,
    StaleVersion,
    StorageError,
    VersionInfo,
    VersionWrite,
)

__all__ = [
    "CONTENT_DIR",
    "INVENTORY",
    "LAYOUT_CONFIG",
    "LAYOUT_NAME",
    "OBJECT_NAMASTE",
    "ROOT_NAMASTE",
    "SIDECAR",
    "SYNC_METHODS",
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
    "resolve_sync_method",
]
