"""Re-checking a document's signatures later (after the agency added a root CA, say)."""

from __future__ import annotations

from typing import Any

from ..catalog import Document, Dossier
from ..storage import ObjectNotFound
from . import audit
from .context import Actor, Env
from .documents import file_list, visible_doc
from .errors import NotFound
from .holds import ensure_not_held
from .records import DOCUMENT_FILE, FILES_DIR, dump, from_json_dict, object_id, to_json_dict
from .signatures import check_paths, evidence_path, merge, summary_changed
from .writes import WritePlan, write_object


def recheck(env: Env, actor: Actor, document_id: str) -> dict[str, Any]:
    """Validate a document's signatures again (e.g. after a root CA was added to the trust
    roots). When the outcome differs, a new version records it with fresh evidence (the
    evidence of receipt stays in the version that received the file); otherwise only the
    audit trail notes the check. Returns the signatures now and whether a version was made."""
    with env.db.read() as session:
        row = visible_doc(session, env, actor, document_id, "signature.check")
        dossier = session.get(Dossier, row.dossier_id)
        ensure_not_held(session, dossier.id, dossier.file_code)
        names = [f.name for f in file_list(session, document_id)]
        head = row.head_version
        meta = from_json_dict(row.meta)
    oid = object_id(document_id)
    paths = {n: env.store.file_path(oid, FILES_DIR + n, head)[0] for n in names}
    found = check_paths(env, paths)
    old = meta.get("signatures") or []
    changed = summary_changed(old, found.entries)
    result: dict[str, Any] = {"document_id": document_id, "signatures": found.entries,
                              "changed": changed, "version": head}
    if not changed:
        with env.db.write() as session:
            audit.log_in(session, env, actor, "document.signatures_checked", document_id,
                         {"changed": False, "signatures": len(found.entries)})
        # what is stored keeps the time of its own check; the answer shows this one
        return result
    stale = merge(meta, found, set(names))
    stored = env.store.read_json(oid, DOCUMENT_FILE, head)
    record = {**{k: stored[k] for k in ("type", "schema_version", "id", "dossier_id",
                                         "fonds_code", "doc_code", "serial")},
              **to_json_dict(meta), "files": stored.get("files", {})}
    done: dict[str, Any] = {}

    def apply(session, version) -> None:  # noqa: ANN001
        target = session.get(Document, document_id)
        target.meta = to_json_dict(meta)
        target.head_version = version.number
        target.updated_at = version.created
        done["version"] = version.number

    plan = WritePlan(document_id, "document", {DOCUMENT_FILE: dump(record), **found.evidence},
                     remove=stale, message="Re-check signatures", expected_head=head)
    write_object(env, actor, plan, apply=apply)
    result["version"] = done["version"]
    return result


def signatures_of(env: Env, actor: Actor, document_id: str) -> dict[str, Any]:
    """The signatures recorded for the document's current files."""
    with env.db.read() as session:
        row = visible_doc(session, env, actor, document_id, "document.read")
        meta = from_json_dict(row.meta)
        return {"document_id": document_id, "version": row.head_version,
                "signatures": meta.get("signatures") or []}


def evidence_of(env: Env, actor: Actor, document_id: str, file_name: str,
                version: int | None = None) -> bytes:
    """The evidence JSON kept for a file's signatures (now, or as in `version`)."""
    with env.db.read() as session:
        row = visible_doc(session, env, actor, document_id, "file.read")
    try:
        return env.store.read_bytes(object_id(document_id), evidence_path(file_name), version)
    except (ObjectNotFound, KeyError) as exc:
        where = f"in version {version}" if version else "now"
        raise NotFound(f"Document {row.doc_code} has no signature evidence for "
                       f"{file_name!r} {where}.") from exc
