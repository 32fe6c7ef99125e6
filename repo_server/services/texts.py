"""Extracted text: made by the worker, kept in the document's own OCFL version under `text/`.

`text/<file name>.txt` holds the text of each file and `text/status.json` says, per file, how
it was read (status, method, reason) and from which bytes (sha256), so a reindex never
extracts again and a replaced file is read anew.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..catalog import Document
from ..extract import extract_text
from ..storage import ObjectNotFound
from .context import Env
from .documents import FILES_DIR, TEXT_SUFFIX
from .records import DOCUMENT_FILE, object_id
from .writes import SYSTEM_TEXT_MESSAGE, WritePlan, write_system_versions

TEXT_DIR = "text/"
ORIGINAL_SCAN = "original-scan"  # a file role: the scan a digitised PDF/A was made from
STATUS_FILE = TEXT_DIR + "status.json"


def text_path(name: str) -> str:
    return f"{TEXT_DIR}{name}{TEXT_SUFFIX}"


def summarise(statuses: dict[str, dict[str, Any]]) -> tuple[str, str | None]:
    """One status for the document: ok, none (no files), or the worst file's status."""
    if not statuses:
        return "none", None
    bad = {n: s for n, s in statuses.items() if s["status"] not in ("ok", "empty")}
    if not bad:
        return ("ok" if any(s["status"] == "ok" for s in statuses.values()) else "empty"), None
    name, worst = sorted(bad.items())[0]
    return worst["status"], f"{name}: {worst.get('reason') or worst['status']}"


def read_texts(env: Env, document_id: str, version: int | None = None) -> dict[str, str]:
    """The extracted text of each file in a version (name -> text)."""
    oid = object_id(document_id)
    info = env.store.version(oid, version)
    texts = {}
    for path in info.state:
        if path.startswith(TEXT_DIR) and path.endswith(".txt"):
            name = path.removeprefix(TEXT_DIR).removesuffix(".txt")
            if FILES_DIR + name in info.state:
                texts[name] = env.store.read_bytes(oid, path, version).decode("utf-8")
    return texts


@dataclass
class TextPlan:
    """A document's new text version, extracted and waiting to be written."""

    plan: WritePlan
    status: str
    reason: str | None


def plan_document_text(env: Env, document_id: str) -> TextPlan | None:
    """Extract text from the files that have none (or stale text); None when nothing needs
    writing (the document's text status is then brought up to date here)."""
    oid = object_id(document_id)
    try:
        head = env.store.version(oid)
    except ObjectNotFound:
        return None
    if DOCUMENT_FILE not in head.state:
        return None
    statuses: dict[str, dict[str, Any]] = (
        env.store.read_json(oid, STATUS_FILE) if STATUS_FILE in head.state else {})
    files = {p.removeprefix(FILES_DIR): fi for p, fi in head.state.items()
             if p.startswith(FILES_DIR)}
    media = env.store.read_json(oid, DOCUMENT_FILE).get("files", {})
    add: dict[str, bytes] = {}
    remove = [p for p in head.state if p.startswith(TEXT_DIR) and p != STATUS_FILE
              and p.removeprefix(TEXT_DIR).removesuffix(".txt") not in files]
    for name in list(statuses):
        if name not in files:
            del statuses[name]
    for name, fi in sorted(files.items()):
        if statuses.get(name, {}).get("sha256") == fi.sha256:
            continue
        if media.get(name, {}).get("role") == ORIGINAL_SCAN:
            continue  # its text is in the archival PDF/A beside it: never OCR'd twice
        path, _ = env.store.file_path(oid, FILES_DIR + name)
        result = extract_text(path, filename=name,
                              media_type=media.get(name, {}).get("media_type"),
                              ocr=env.config.get("OCR", True))
        statuses[name] = {"sha256": fi.sha256, "status": result.status, "method": result.method,
                          "reason": result.reason, "pages": result.pages}
        add[text_path(name)] = result.text.encode("utf-8")
    if not add and not remove:
        _set_status(env, document_id, *summarise(statuses))
        return None
    add[STATUS_FILE] = json.dumps(statuses, ensure_ascii=False, sort_keys=True,
                                  indent=1).encode()
    names = ", ".join(sorted(n for n in files if text_path(n) in add)) or "cleanup"
    plan = WritePlan(document_id, "document", add, remove=remove,
                     message=f"{SYSTEM_TEXT_MESSAGE}: {names}", expected_head=head.number)
    return TextPlan(plan, *summarise(statuses))


def _apply_text(session, text: TextPlan, version) -> None:  # noqa: ANN001
    row = session.get(Document, text.plan.record_id)
    # A client's version written on top of this one (it rebases over text versions) may have
    # been mirrored first: the head never goes back. Its own outbox item settles the status.
    if row is not None and version.number > row.head_version:
        row.head_version = version.number
        row.text_status, row.text_reason = text.status, text.reason


def write_texts(env: Env, texts: list[TextPlan]) -> list[str | None]:
    """Store the texts of several documents in one batch (see `write_system_versions`); the
    new status of each, or None for a document a client changed meanwhile."""
    by_id = {t.plan.record_id: t for t in texts}
    written = write_system_versions(
        env, [t.plan for t in texts],
        lambda session, plan, version: _apply_text(session, by_id[plan.record_id], version))
    return [t.status if v is not None else None for t, v in zip(texts, written, strict=True)]


def _set_status(env: Env, document_id: str, status: str, reason: str | None) -> None:
    with env.db.write() as session:
        row = session.get(Document, document_id)
        if row is not None and (row.text_status, row.text_reason) != (status, reason):
            row.text_status, row.text_reason = status, reason
