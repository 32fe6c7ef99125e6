"""The derived-text cache: what extraction gave for a file's bytes, keyed by their SHA-256.

Extracted text is derived data (decision 0021): it is never a version of a record. The cache
lives in the instance folder (`DERIVED_DIR`, default `<instance>/derived`), outside the OCFL
storage root, one small JSON file per distinct file content:

    derived/text/<first two hex digits>/<sha256>.json.gz
        {"format": 1, "sha256": ..., "status": ..., "method": ..., "reason": ..., "pages": ...,
         "text": ...}                                       (gzip: `zcat` shows it)

Identical bytes in two documents share one entry (they are extracted once). An entry is
written to a temporary name and renamed into place, without fsync: after a crash an entry is
either complete, absent, or unreadable, and an unreadable one (torn, empty, not for this
digest) is a miss, so the text is extracted again. Losing the whole folder loses nothing but
time: `repo-server reindex` (or the worker) extracts again. Backups copy it
(services/backup.py) so that a restore does not have to.

This module knows nothing of OCFL or the catalog: it maps a digest to an extraction result.
"""

from __future__ import annotations

import gzip
import json
import os
import zlib
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

from ._common import OCR_UNAVAILABLE, ExtractionResult

FORMAT = 1
TEXT_FOLDER = "text"
SUFFIX = ".json.gz"  # text compresses 4-7 times: a 20 KB PDF's 7 KB of text takes 1.1 KB
_HEX = frozenset("0123456789abcdef")


def cacheable(entry: ExtractionResult) -> bool:
    """Whether a result depends on the bytes alone: "OCR is not available" depends on this
    machine and its settings, so it is not kept (the next turn tries again)."""
    return entry.status != OCR_UNAVAILABLE


def _valid_digest(sha256: str) -> bool:
    return len(sha256) == 64 and set(sha256) <= _HEX


class TextCache:
    """The derived-text cache in one folder."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def path(self, sha256: str) -> Path:
        if not _valid_digest(sha256):
            raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
        return self.folder / TEXT_FOLDER / sha256[:2] / f"{sha256}{SUFFIX}"

    def get(self, sha256: str) -> ExtractionResult | None:
        """The entry for these bytes, or None (absent, torn or not this digest's)."""
        try:
            raw = json.loads(gzip.decompress(self.path(sha256).read_bytes()))
        except (OSError, ValueError, EOFError, zlib.error):
            return None
        if not isinstance(raw, dict) or raw.get("format") != FORMAT \
                or raw.get("sha256") != sha256 or not isinstance(raw.get("text"), str):
            return None
        try:
            return ExtractionResult(raw["text"], raw["status"], raw["method"], raw.get("reason"),
                                    raw.get("pages"))
        except KeyError:
            return None

    def put(self, sha256: str, entry: ExtractionResult) -> None:
        """Store an entry (atomically: a reader sees the old state or the whole new file)."""
        target = self.path(sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        data = gzip.compress(json.dumps({"format": FORMAT, "sha256": sha256, **asdict(entry)},
                                        ensure_ascii=False, separators=(",", ":"))
                             .encode("utf-8"), compresslevel=6, mtime=0)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, target)

    def files(self) -> Iterator[tuple[str, Path]]:
        """Every entry: (path relative to the folder, with "/", absolute path); leftover
        temporary files are skipped."""
        base = self.folder / TEXT_FOLDER
        if not base.is_dir():
            return
        for sub in sorted(base.iterdir()):
            if not sub.is_dir():
                continue
            for f in sorted(sub.iterdir()):
                if f.name.endswith(SUFFIX) and not f.name.startswith("."):
                    yield f"{TEXT_FOLDER}/{sub.name}/{f.name}", f

    def __len__(self) -> int:
        return sum(1 for _ in self.files())
