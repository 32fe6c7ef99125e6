"""File contents: hashing, and copying or hard-linking for maintenance (backups, restores),
the one implementation of each."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
from pathlib import Path

CHUNK = 1 << 20


def hash_file(path: Path, algorithms: tuple[str, ...] = ("sha256", "sha512")
              ) -> tuple[list[str], int]:
    """Digests of a file (hex, in the order asked for) and its size, in one pass."""
    hashes = [hashlib.new(name) for name in algorithms]
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            size += len(chunk)
            for h in hashes:
                h.update(chunk)
    return [h.hexdigest() for h in hashes], size


def copy_hashed(src: Path, dst: Path, fsync: bool = False) -> tuple[str, int]:
    """Copy a file, returning (sha256, size) of what was copied."""
    digest = hashlib.sha256()
    size = 0
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        while chunk := fin.read(CHUNK):
            digest.update(chunk)
            fout.write(chunk)
            size += len(chunk)
        if fsync:
            fout.flush()
            os.fsync(fout.fileno())
    return digest.hexdigest(), size


def link_or_copy(src: Path, dst: Path) -> bool:
    """Hard-link src to dst; copy when the file system cannot. True if linked."""
    try:
        os.link(src, dst)
        return True
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK,
                             errno.EXDEV, errno.EACCES):
            raise
    shutil.copyfile(src, dst)
    return False
