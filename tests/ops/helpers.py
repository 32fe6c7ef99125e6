"""Checks shared by the operations tests: tables row for row, catalog against storage."""

from __future__ import annotations

from typing import Any

from sqlalchemy import MetaData, create_engine, select

MIRROR = {"fonds", "dossiers", "documents", "document_files", "counters", "outbox",
          "pending_writes"}


def table_rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every table of a database (whatever tables exist), rows ordered by primary key."""
    engine = create_engine(url)
    try:
        md = MetaData()
        md.reflect(engine)
        out = {}
        with engine.connect() as conn:
            for table in md.sorted_tables:
                order = list(table.primary_key.columns) or list(table.columns)
                out[table.name] = [tuple(r) for r in conn.execute(select(table).order_by(*order))]
        return out
    finally:
        engine.dispose()


def assert_same_tables(source: dict, restored: dict, *, skip: set[str] = frozenset()) -> None:
    """Row for row; the restored audit trail is the source's plus the restore event."""
    assert set(source) == set(restored)
    for name in sorted(source):
        if name in skip or name in {"leases", "audit_head"}:
            continue
        if name == "audit_events":
            head, last = restored[name][:-1], restored[name][-1]
            assert source[name][:len(head)] == head, name
            assert "system.restore" in last, last
            continue
        assert source[name] == restored[name], (name, _diff(source[name], restored[name]))


def _diff(a: list, b: list) -> list:
    sa, sb = set(map(repr, a)), set(map(repr, b))
    return [("only in source", x) for x in sorted(sa - sb)][:5] + \
        [("only in restored", x) for x in sorted(sb - sa)][:5]


def assert_catalog_matches_storage(env) -> None:  # noqa: ANN001
    """Every object intact, and the catalog mirrors each one's head (nothing more, nothing less)."""
    from repo_server.catalog import Document, Dossier, Fonds, PendingWrite
    from repo_server.services.records import DOCUMENT_FILE, DOSSIER_FILE, FONDS_FILE, record_id

    heads = {}
    for oid in sorted(env.store.stored_object_ids()):
        assert env.store.verify_object(oid) == [], oid
        v = env.store.version(oid)
        kind = ("fonds" if FONDS_FILE in v.state else "dossier" if DOSSIER_FILE in v.state
                else "document" if DOCUMENT_FILE in v.state else "record")
        heads[record_id(oid)] = (kind, v.number)
    with env.db.read() as session:
        assert session.scalars(select(PendingWrite)).all() == []
        catalog = {}
        for model, kind in ((Fonds, "fonds"), (Dossier, "dossier"), (Document, "document")):
            for rid, head in session.execute(select(model.id, model.head_version)):
                catalog[rid] = (kind, head)
    stored = {k: v for k, v in heads.items() if v[0] != "record"}
    differ = {rid: (catalog.get(rid), stored.get(rid)) for rid in catalog.keys() | stored.keys()
              if catalog.get(rid) != stored.get(rid)}
    assert differ == {}, f"(catalog, storage) heads that differ: {differ}"
