"""Search: ask the index, then keep only hits that still exist in the catalog, and describe them."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Select, bindparam, func, select

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
from .access import PUBLIC, modes, sees_everything
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
    items = _describe(env, result.hits, viewer)
    return {"items": items, "total": result.total, "total_is_estimate": result.total_is_estimate,
            "page": request.page, "page_size": request.page_size, "facets": result.facets}


_DOC_COLUMNS = (Document.id, Document.subject, Document.code_number, Document.code_notation,
                Document.doc_code, Document.issued_date, Document.fonds_code, Document.type_code)
_DOSSIER_COLUMNS = (Dossier.id, Dossier.title, Dossier.file_code, Dossier.start_date,
                    Dossier.fonds_code, Dossier.state)


@cache
def _statement(kind: str, scoped: bool, by_mode: bool) -> Select:
    """The describing query of one kind of hit, made once: ids, scope and modes are bound at
    each execution (expanding parameters); building the statement per request cost more than
    running it."""
    ids = bindparam("ids", expanding=True)
    scope = bindparam("scope", expanding=True)
    allowed = bindparam("modes", expanding=True)
    tables = [Document, Dossier] if kind == "document" else [Dossier]
    if kind == "document":
        stmt = select(*_DOC_COLUMNS).where(Document.id.in_(ids), Document.head_version > 0)
        if scoped or by_mode:
            stmt = stmt.join(Dossier, Dossier.id == Document.dossier_id)
    else:
        stmt = select(*_DOSSIER_COLUMNS).where(Dossier.id.in_(ids), Dossier.head_version > 0)
    for table in tables:
        if scoped:
            stmt = stmt.where(table.fonds_code.in_(scope))
        if by_mode:
            stmt = stmt.where(func.coalesce(table.access_mode, PUBLIC).in_(allowed))
    return stmt


def _describe(env: Env, hits, viewer: Actor) -> list[dict[str, Any]]:  # noqa: ANN001
    """The hits that still exist and that the viewer may still see, described from the catalog.

    Rights are checked again here for every hit, against the catalog rather than the index
    (which lags a change of access mode by a worker pass): fonds scope and the access mode of
    the document and of its dossier, as access.can_see_document does (a hit opened only by a
    per-dossier grant is not shown: search filters by modes, not grants). One query per kind,
    on a Core connection, only the columns the answer shows: the ORM's row handling cost more
    per hit than the search itself (decision 0024)."""
    allowed = None if sees_everything(viewer) else sorted(modes(viewer))
    params: dict[str, Any] = {}
    if viewer.scope is not None:
        params["scope"] = list(viewer.scope)
    if allowed is not None:
        params["modes"] = allowed
    found: dict[str, dict[str, Any]] = {"document": {}, "dossier": {}}
    with env.db.read() as session:
        conn = session.connection()
        for kind, rows in found.items():
            ids = [h.id for h in hits if h.kind == kind]
            if ids:
                stmt = _statement(kind, viewer.scope is not None, allowed is not None)
                rows.update((r.id, r) for r in conn.execute(stmt, {**params, "ids": ids}).all())
    docs, dossiers = found["document"], found["dossier"]
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
