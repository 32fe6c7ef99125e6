"""Extracted text: derived data, kept in the derived-text cache, never a version of a record.

The worker reads the text of each file of a document's head and keeps it in the cache
(`env.texts`, extract/cache.py), keyed by the SHA-256 of the file's bytes: identical files are
read once, and a replaced file (new bytes) is read anew. A document's OCFL versions are only
the changes a person or a client system made, so the ETag a client holds stays valid until
someone changes the record (decision 0021).

Storage roots written before decision 0021 hold the text in document versions
(`text/<file name>.txt`, and `text/status.json` with the sha256 each text was read from).
Those versions are history: they are read, never rewritten, and fill the cache when it has no
entry, so a reindex of an old root extracts nothing again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, update

from ..catalog import Document
from ..extract import ExtractionResult, extract_text
from ..extract.cache import cacheable
from ..storage import FileInfo, VersionInfo
from .context import Env
from .documents import FILES_DIR, TEXT_SUFFIX
from .records import DOCUMENT_FILE, object_id

ORIGINAL_SCAN = "original-scan"  # a file role: the scan a digitised PDF/A was made from
# Where pre-0021 roots kept the text (read only)
LEGACY_TEXT_DIR = "text/"
LEGACY_STATUS_FILE = LEGACY_TEXT_DIR + "status.json"


def summarise(statuses: dict[str, dict[str, Any]]) -> tuple[str, str | None]:
    """One status for the document: ok, none (no files), or the worst file's status."""
    if not statuses:
        return "none", None
    bad = {n: s for n, s in statuses.items() if s["status"] not in ("ok", "empty")}
    if not bad:
        return ("ok" if any(s["status"] == "ok" for s in statuses.values()) else "empty"), None
    name, worst = sorted(bad.items())[0]
    return worst["status"], f"{name}: {worst.get('reason') or worst['status']}"


@dataclass
class DocumentText:
    """The text of each file of one document version, and how each was read."""

    version: int
    texts: dict[str, str] = field(default_factory=dict)
    statuses: dict[str, dict[str, Any]] = field(default_factory=dict)
    extracted: int = 0  # files read now (not found in the cache or a legacy text file)
    missing: list[str] = field(default_factory=list)  # not in the cache, not extracted

    @property
    def summary(self) -> tuple[str, str | None]:
        return summarise(self.statuses)


class _Legacy:
    """The `text/` files of a pre-0021 version, read on first need."""

    def __init__(self, env: Env, oid: str, head: VersionInfo) -> None:
        self.env, self.oid, self.head = env, oid, head
        self._statuses: dict[str, Any] | None = None

    def entry(self, name: str, fi: FileInfo) -> ExtractionResult | None:
        path = f"{LEGACY_TEXT_DIR}{name}{TEXT_SUFFIX}"
        if path not in self.head.state or LEGACY_STATUS_FILE not in self.head.state:
            return None
        if self._statuses is None:
            self._statuses = self.env.store.read_json(self.oid, LEGACY_STATUS_FILE,
                                                      self.head.number)
        status = self._statuses.get(name) or {}
        if status.get("sha256") != fi.sha256:
            return None  # the text of bytes this version no longer holds
        text = self.env.store.read_bytes(self.oid, path, self.head.number).decode("utf-8")
        return ExtractionResult(text, status.get("status", "ok"), status.get("method", "none"),
                                status.get("reason"), status.get("pages"))


def document_text(env: Env, oid: str, head: VersionInfo, media: dict[str, Any], *,
                  extract: bool = True) -> DocumentText:
    """The text of every file of `head`: from the cache, else from a legacy text file (which
    fills the cache), else extracted now (`extract`) and cached. A file with the role
    `original-scan` has none: its text is in the archival PDF/A beside it."""
    out = DocumentText(head.number)
    legacy = _Legacy(env, oid, head)
    for path, fi in head.state.items():
        if not path.startswith(FILES_DIR):
            continue
        name = path.removeprefix(FILES_DIR)
        about = media.get(name, {})
        if about.get("role") == ORIGINAL_SCAN:
            continue
        entry = env.texts.get(fi.sha256)
        if entry is None:
            entry = legacy.entry(name, fi)
            if entry is not None:
                env.texts.put(fi.sha256, entry)
        if entry is None and extract:
            content, fi = env.store.file_path(oid, path, head.number)
            entry = extract_text(content, filename=name, media_type=about.get("media_type"),
                                 ocr=env.config.get("OCR", True))
            out.extracted += 1
            if cacheable(entry):
                env.texts.put(fi.sha256, entry)
        if entry is None:
            out.missing.append(name)
            continue
        out.texts[name] = entry.text
        out.statuses[name] = {"status": entry.status, "method": entry.method,
                              "reason": entry.reason, "pages": entry.pages}
    return out


def read_texts(env: Env, document_id: str, version: int | None = None, *,
               extract: bool = False) -> dict[str, str]:
    """The text of each file of a document version (name -> text), as far as the cache (or an
    old root's text files) holds it; `extract` reads the missing ones now."""
    oid = object_id(document_id)
    info = env.store.version(oid, version)
    media = (env.store.read_json(oid, DOCUMENT_FILE, info.number).get("files", {})
             if DOCUMENT_FILE in info.state else {})
    return document_text(env, oid, info, media, extract=extract).texts


_DOCS = Document.__table__
_SET_STATUS = (update(_DOCS).where(_DOCS.c.id == bindparam("rid"),
                                   _DOCS.c.head_version == bindparam("version"))
               .values(text_status=bindparam("status"), text_reason=bindparam("reason")))


def record_statuses(session, settled: dict[str, DocumentText]) -> None:  # noqa: ANN001
    """Set the text status of documents whose text was read, in the caller's transaction.
    Only where the catalog's head is still the version that was read: a clerk's newer version
    keeps its own "pending" until its own turn."""
    rows = []
    for rid, text in settled.items():
        if text.missing:
            continue
        status, reason = text.summary
        rows.append({"rid": rid, "version": text.version, "status": status, "reason": reason})
    if rows:
        session.connection().execute(_SET_STATUS, rows)
