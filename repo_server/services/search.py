"""Search: ask the index, then keep only hits that still exist in the catalog, and describe them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from ..catalog import Document, Dossier
from ..search import (
    FILTERS,
    IndexUnavailable,
    QuerySyntaxError,
    SearchBackend,
    SearchRequest,
    open_backend,
)
from . import rights
from .access import modes, sees_everything
from .context import Actor, Env
from .errors import ServiceError
from .fonds import predecessors


class SearchUnavailable(ServiceError):
    status = 503


class BadQuery(ServiceError):
    status = 400


def _open(env: Env, writer: bool) -> SearchBackend:
    return open_backend(env.config.get("SEARCH_BACKEND") or "whoosh",
                        Path(env.config["INDEX_DIR"]), writer=writer,
                        database_url=env.config["DATABASE_URL"], config=env.config)


def open_reader(env: Env) -> SearchBackend:
    return _open(env, writer=False)


def open_writer(env: Env) -> SearchBackend:
    """The index writer; only the worker opens one."""
    return _open(env, writer=True)


def _narrow(requested: list[str] | None, allowed: set[str] | tuple[str, ...] | None
            ) -> list[str] | None:
    """The caller's filter intersected with what they may see (None: no restriction)."""
    if allowed is None:
        return requested
    if requested is None:
        return sorted(allowed)
    return [v for v in requested if v in allowed]


def search(env: Env, backend, args: dict[str, Any], viewer: Actor) -> dict[str, Any]:  # noqa: ANN001
    rights.require(viewer, "search")
    problem = backend.check()
    if problem is not None:
        raise SearchUnavailable("The search index is being rebuilt; everything else works. "
                                "Try the search again in a few minutes.", index=problem)
    backend.refresh()
    fonds_codes = args.get("fonds_code")
    if fonds_codes and args.get("include_predecessors"):
        with env.db.read() as session:
            fonds_codes = sorted(set(fonds_codes) | predecessors(session, set(fonds_codes)))
    allowed = {f.request: args.get(f.name) for f in FILTERS}
    allowed["fonds_codes"] = _narrow(fonds_codes, viewer.scope)
    allowed["access_modes"] = _narrow(args.get("access_mode"),
                                      None if sees_everything(viewer) else modes(viewer))
    request = SearchRequest(
        q=args["q"], exact=args["exact"], kind=args["kind"],
        dossier_id=str(args["dossier_id"]) if args.get("dossier_id") else None,
        date_from=args.get("date_from"), date_to=args.get("date_to"), sort=args["sort"],
        page=args["page"], page_size=args["page_size"], facets=args["facets"],
        snippets=args["snippets"], **allowed)
    try:
        result = backend.search(request)
    except QuerySyntaxError as exc:
        raise BadQuery(str(exc)) from exc
    except IndexUnavailable as exc:  # damaged after the check: the worker rebuilds it
        raise SearchUnavailable("The search index is being rebuilt; everything else works. "
                                "Try the search again in a few minutes.") from exc
    items = _describe(env, result.hits)
    return {"items": items, "total": result.total, "total_is_estimate": result.total_is_estimate,
            "page": request.page, "page_size": request.page_size, "facets": result.facets}


def _describe(env: Env, hits) -> list[dict[str, Any]]:  # noqa: ANN001
    doc_ids = [h.id for h in hits if h.kind == "document"]
    dossier_ids = [h.id for h in hits if h.kind == "dossier"]
    # only the columns the answer shows: loading whole ORM rows cost more than the search
    with env.db.read() as session:
        docs = {d.id: d for d in session.execute(
            select(Document.id, Document.subject, Document.code_number, Document.code_notation,
                   Document.doc_code, Document.issued_date, Document.fonds_code,
                   Document.type_code)
            .where(Document.id.in_(doc_ids), Document.head_version > 0))} if doc_ids else {}
        dossiers = {d.id: d for d in session.execute(
            select(Dossier.id, Dossier.title, Dossier.file_code, Dossier.start_date,
                   Dossier.fonds_code, Dossier.state)
            .where(Dossier.id.in_(dossier_ids), Dossier.head_version > 0))} if dossier_ids else {}
    out = []
    for hit in hits:
        base = {"id": hit.id, "kind": hit.kind, "dossier_id": hit.dossier_id, "score": hit.score,
                "highlights": hit.highlights}
        if hit.kind == "document" and hit.id in docs:
            d = docs[hit.id]
            number = "/".join(p for p in (d.code_number, d.code_notation) if p) or None
            out.append({**base, "title": d.subject, "number": number, "code": d.doc_code,
                        "date": d.issued_date, "fonds_code": d.fonds_code,
                        "type_code": d.type_code})
        elif hit.kind == "dossier" and hit.id in dossiers:
            d = dossiers[hit.id]
            out.append({**base, "title": d.title, "number": d.file_code, "code": d.file_code,
                        "date": d.start_date, "fonds_code": d.fonds_code, "type_code": None,
                        "state": d.state})
    return out
