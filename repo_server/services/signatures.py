"""Signatures of the PDFs a document receives: validated at ingest, reported, re-checkable.

Every file that enters a document (create, push, upload, replace, digitisation) passes
`check_files`. An unsigned file costs one byte scan; a signed PDF is validated with pyHanko
against the agency's trust roots (a folder of PEM/DER certificates, SIGNATURE_TRUST_ROOTS).
The verdict goes into the document's metadata (`signatures`, shown by the API); the
evidence — the full report with every certificate and the revocation data that were
available — goes into the same OCFL version as `signatures/<file name>.json`, so the proof
that a signature was valid when received outlives the CAs (decision 0011).
A signature that does not verify is reported, never refused: the clerk decides.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..extract.signatures import has_signatures, load_certificates, validate_signatures
from .context import Env

log = logging.getLogger(__name__)

EVIDENCE_DIR = "signatures/"


def evidence_path(file_name: str) -> str:
    return f"{EVIDENCE_DIR}{file_name}.json"


@dataclass
class Findings:
    """What the signature check of some files found: metadata entries and evidence files."""

    checked: set[str] = field(default_factory=set)  # file names looked at
    entries: list[dict[str, Any]] = field(default_factory=list)
    evidence: dict[str, bytes] = field(default_factory=dict)  # logical path -> JSON

    def __bool__(self) -> bool:
        return bool(self.entries)


_roots_lock = threading.Lock()
_roots_cache: dict[str, tuple[tuple, list[bytes]]] = {}


def trust_roots_dir(env: Env) -> Path:
    configured = env.config.get("SIGNATURE_TRUST_ROOTS")
    return Path(configured) if configured else Path(env.config["INSTANCE_PATH"]) / "trust-roots"


def trust_roots(env: Env) -> list[bytes]:
    """The agency's trust roots (DER), re-read when the folder's files change."""
    folder = trust_roots_dir(env)
    try:
        files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    except OSError:
        return []
    key = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in files)
    with _roots_lock:
        hit = _roots_cache.get(str(folder))
        if hit is not None and hit[0] == key:
            return hit[1]
    roots: list[bytes] = []
    for p in files:
        try:
            roots.extend(load_certificates(p.read_bytes()))
        except Exception:  # noqa: BLE001 - one bad file must not hide the others
            log.warning("trust root %s is not a certificate; skipped", p)
    with _roots_lock:
        _roots_cache[str(folder)] = (key, roots)
    return roots


def check_paths(env: Env, files: dict[str, Path]) -> Findings:
    """Validate the signatures of files given as name -> path (see `check_files`)."""
    found = Findings(checked=set(files))
    if not env.config.get("SIGNATURE_VALIDATION", True):
        return found
    roots: list[bytes] | None = None
    for name, path in sorted(files.items()):
        if not has_signatures(path):
            continue
        if roots is None:
            roots = trust_roots(env)
        results = validate_signatures(path, trust_roots=roots, now=env.now())
        if not results:
            continue
        for result in results:
            found.entries.append({"file": name, **result.summary,
                                  "evidence": evidence_path(name)})
        found.evidence[evidence_path(name)] = json.dumps(
            {"file": name, "signatures": [r.evidence for r in results]},
            ensure_ascii=False, sort_keys=True, indent=1).encode()
    return found


def check_files(env: Env, files: list) -> Findings:  # noqa: ANN001 - IncomingFile
    """Validate the signatures of incoming (staged) files."""
    return check_paths(env, {f.name: f.staged.path for f in files})


def merge(meta: dict[str, Any], found: Findings, touched: set[str]) -> list[str]:
    """Put the findings into a document's metadata: entries of the files in `touched` (added,
    replaced or removed) are replaced by the new ones. Returns the evidence paths of touched
    files that no longer have any (to remove from the new version)."""
    before = meta.get("signatures") or []
    kept = [e for e in before if e.get("file") not in touched]
    entries = kept + found.entries
    if entries:
        meta["signatures"] = entries
    else:
        meta.pop("signatures", None)
    had = {e["evidence"] for e in before if e.get("file") in touched and e.get("evidence")}
    return sorted(had - set(found.evidence))


def summary_changed(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> bool:
    """Whether a re-check found something different (the time of checking aside)."""
    def key(entries: list[dict[str, Any]]) -> list[tuple]:
        return sorted((e.get("file"), e.get("field"), e.get("verdict"), e.get("trusted"),
                       e.get("revocation"), e.get("intact"), e.get("changed_after_signing"))
                      for e in entries)
    return key(old) != key(new)
