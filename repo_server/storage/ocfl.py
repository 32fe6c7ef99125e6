"""The names the object store had when it was one module (``repo_server.storage.ocfl``), kept
for callers and tests written against it. New code imports from ``repo_server.storage``."""

from __future__ import annotations

from . import *  # noqa: F403 - everything public, as before
from . import __all__ as _public
from .layout import CONTENT_DIR, INVENTORY, LAYOUT_CONFIG, OBJECT_NAMASTE, ROOT_NAMASTE, SIDECAR
from .sync import SYNC_METHODS, resolve_sync_method

__all__ = [*_public, "CONTENT_DIR", "INVENTORY", "LAYOUT_CONFIG", "OBJECT_NAMASTE",
           "ROOT_NAMASTE", "SIDECAR", "SYNC_METHODS", "resolve_sync_method"]
