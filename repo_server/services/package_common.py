"""What package export and import share: the package's constants and the errors of an
import (docs/decisions/0004-packages.md; the format is described in services/packages.py)."""

from __future__ import annotations

import re

from .errors import Conflict, ServiceError

FORMAT = "repo-server-ocfl-bag/1"
BAGIT_VERSION = "0.97"
ALGORITHMS = ("sha256", "sha512")
OBJECTS = "data/objects"
CHUNK = 1 << 20
FLUSH_AT = 256 * 1024  # hand the client what the ZIP writer produced once this much is ready
BATCH = 200  # dossiers per catalog query while exporting
MAX_DOSSIER_IDS = 1000
ROOT_FILES = ("0=ocfl_1.1", "ocfl_layout.json")
OBJECT_NAMASTE = "0=ocfl_object_1.1"
INVENTORY = "inventory.json"
SIDECAR = "inventory.json.sha512"
_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|%]')


class PackageRejected(ServiceError):
    """The package is damaged, incomplete or not a package of this kind (nothing was written)."""

    status = 422


class PackageConflict(Conflict):
    """Records in the package clash with this repository's (nothing was written)."""


class InsufficientStorage(ServiceError):
    status = 507


def human_size(n: float) -> str:
    """1536 -> '1.5 KB' (for messages a clerk reads)."""
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)
