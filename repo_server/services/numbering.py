"""Number series of the records office (NĐ 30/2020 Art. 15 and 22): outgoing numbers and
incoming numbers (số đến) per issuing organ (fonds) × book × calendar year in Vietnam, from 01
on 1 January, consecutive, never reused.

The books are data (`codes/number_book.json`, overridable per agency). Each number is claimed
in the caller's write transaction from a counter row (serialised by BEGIN IMMEDIATE on SQLite
and a row lock on PostgreSQL, so processes and nodes never get the same number), and logged as
a `RegisterEntry`: pending while its document's version is written, then registered, or
cancelled with a reason. A gap in a series is therefore always explained by a cancelled entry.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select

from ..catalog import Counter, Document, RegisterEntry
from ..codes import CodeEntry
from .context import Actor, Env
from .errors import Conflict, NotFound, ValidationFailed
from .records import next_in_sequence
from .rights import reach_fonds, require

COUNTER_SCOPE = "register"
DIRECTIONS = ("outgoing", "incoming")
# Fields a registered document keeps under the registration's control (changed only through
# services/registration.py, so that the register and the document never disagree).
REGISTERED_FIELDS = {"outgoing": ("code_number",),
                     "incoming": ("arrival_number", "arrival_date")}
# A pending entry older than this belongs to an interrupted registration (see `settle`).
PENDING_GRACE = timedelta(minutes=2)


def books(env: Env, direction: str) -> list[CodeEntry]:
    """The books of one direction, in the order of the code list."""
    return [e for e in env.codes["number_book"] if e.extra.get("direction") == direction]


def choose_book(env: Env, direction: str, meta: dict[str, Any],
                requested: str | None) -> CodeEntry:
    """The book a document is numbered in: the one the clerk names, else the first book of the
    direction whose `select` matches (secrecy: a secret document), else the default one."""
    candidates = books(env, direction)
    if requested is not None:
        for entry in candidates:
            if entry.code == requested:
                return entry
        choices = ", ".join(f"{e.code} ({e.name_vi})" for e in candidates)
        raise ValidationFailed({"number_book": [
            f"{requested!r} is not a book for {direction} documents; use one of: {choices}."]})
    for entry in candidates:
        if entry.extra.get("select") == "secrecy" and meta.get("secrecy"):
            return entry
    for entry in candidates:
        if entry.extra.get("select") == "default":
            return entry
    raise ValidationFailed({"number_book": [
        f"No default book for {direction} documents in the number_book code list; name one."]})


def series_of(book: CodeEntry, meta: dict[str, Any]) -> str:
    """The series inside a book: books numbered per document type (VBQPPL) have one each."""
    if book.extra.get("per_type"):
        if not meta.get("type_code"):
            raise ValidationFailed({"type_code": [
                f"Book {book.code} numbers each document type separately; give the type."]})
        return f"{book.code}:{meta['type_code']}"
    return book.code


def format_number(number: int) -> str:
    """NĐ 30 PL I: numbers below 10 get a leading zero (01, 02, … 10, 11)."""
    return f"{number:02d}"


def claim(session, env: Env, by: Actor, *, fonds_code: str, direction: str,  # noqa: ANN001
          book: str, series: str, document_id: str) -> RegisterEntry:
    """Take the next number of a series, in the caller's write transaction (`by` is who is
    recorded; the caller checked the right to register)."""
    now = env.now()
    local = now.astimezone(env.tz)
    number = next_in_sequence(session, COUNTER_SCOPE, f"{fonds_code}:{local.year}:{series}")
    entry = RegisterEntry(fonds_code=fonds_code, direction=direction, book=book, series=series,
                          year=local.year, number=number, document_id=document_id,
                          status="pending", registered_on=local.date(), registered_at=now,
                          registered_by=by.name)
    session.add(entry)
    session.flush()
    return entry


def active_entry(session, document_id: str, direction: str) -> RegisterEntry | None:  # noqa: ANN001
    """The document's number in this direction that is not cancelled, if any."""
    return session.scalar(select(RegisterEntry).where(
        RegisterEntry.document_id == document_id, RegisterEntry.direction == direction,
        RegisterEntry.status != "cancelled"))


def cancel(entry: RegisterEntry, by: str, reason: str, env: Env) -> None:
    entry.status = "cancelled"
    entry.cancelled_at = env.now()
    entry.cancelled_by = by
    entry.cancel_reason = reason


def settle(env: Env, older_than: timedelta = PENDING_GRACE) -> dict[str, int]:
    """Finish entries an interrupted registration left pending: registered when the document's
    metadata carries the number (its version was written), otherwise cancelled, saying so."""
    cutoff = env.now() - older_than
    counts = {"registered": 0, "cancelled": 0}
    with env.db.write() as session:
        for entry in session.scalars(select(RegisterEntry).where(
                RegisterEntry.status == "pending", RegisterEntry.registered_at < cutoff)):
            doc = session.get(Document, entry.document_id) if entry.document_id else None
            reg = ((doc.meta or {}).get("registration") or {}) if doc is not None else {}
            if reg.get("entry_id") == entry.id:
                entry.status = "registered"
                counts["registered"] += 1
            else:
                cancel(entry, "repo-server", "The registration was interrupted before the "
                       "document was written; the number was not given to any document.", env)
                counts["cancelled"] += 1
    return counts


def entry_view(entry: RegisterEntry) -> dict[str, Any]:
    return {"id": entry.id, "fonds_code": entry.fonds_code, "direction": entry.direction,
            "book": entry.book, "series": entry.series, "year": entry.year,
            "number": entry.number, "number_text": format_number(entry.number),
            "document_id": entry.document_id, "status": entry.status,
            "registered_on": entry.registered_on, "registered_at": entry.registered_at,
            "registered_by": entry.registered_by, "cancelled_at": entry.cancelled_at,
            "cancelled_by": entry.cancelled_by, "cancel_reason": entry.cancel_reason}


def list_entries(env: Env, viewer: Actor, *, fonds_code: str, year: int | None = None,
                 direction: str | None = None, book: str | None = None,
                 status: str | None = None, page: int = 1,
                 page_size: int = 50) -> tuple[list[dict[str, Any]], int]:
    """The number log of a fonds: every number given, pending or cancelled, in series order."""
    require(viewer, "register.read")
    reach_fonds(viewer, fonds_code)
    stmt = select(RegisterEntry).where(RegisterEntry.fonds_code == fonds_code)
    if year:
        stmt = stmt.where(RegisterEntry.year == year)
    if direction:
        stmt = stmt.where(RegisterEntry.direction == direction)
    if book:
        stmt = stmt.where(RegisterEntry.book == book)
    if status:
        stmt = stmt.where(RegisterEntry.status == status)
    with env.db.read() as session:
        total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = session.scalars(stmt.order_by(RegisterEntry.year, RegisterEntry.series,
                                             RegisterEntry.number)
                               .offset((page - 1) * page_size).limit(page_size)).all()
        return [entry_view(r) for r in rows], total


def get_entry(session, viewer: Actor, entry_id: int,  # noqa: ANN001
              action: str = "register.read") -> RegisterEntry:
    """The number log entry, for `action` by `viewer`: 403 without the role, 404 outside
    the viewer's fonds."""
    require(viewer, action)
    entry = session.get(RegisterEntry, entry_id)
    missing = f"There is no registered number with id {entry_id}."
    if entry is None:
        raise NotFound(missing)
    reach_fonds(viewer, entry.fonds_code, missing)
    return entry


def ensure_not_registered(session, document_id: str, direction: str) -> None:  # noqa: ANN001
    existing = active_entry(session, document_id, direction)
    if existing is not None:
        raise Conflict(f"This document already has {direction} number "
                       f"{format_number(existing.number)} ({existing.book}, {existing.year}); "
                       "cancel that number first if it was taken by mistake.",
                       entry_id=existing.id)


def guard_registered_fields(meta: dict[str, Any], changes: dict[str, Any], doc_code: str) -> None:
    """A registered document's number changes only by cancelling it (called by PATCH)."""
    reg = meta.get("registration")
    if not reg:
        return
    touched = [f for f in REGISTERED_FIELDS.get(reg.get("direction"), ()) if f in changes]
    if "direction" in changes and changes["direction"] != reg.get("direction"):
        touched.append("direction")
    if touched:
        raise Conflict(f"Document {doc_code} is registered (number {reg.get('number')}); "
                       f"{', '.join(touched)} change only by cancelling the number "
                       "(POST /registrations/{id}/cancel) and registering again.",
                       fields=touched)


def restore_from_documents(session, env: Env) -> int:  # noqa: ANN001
    """After a catalog rebuild on an empty database: the number log and its counters again,
    from the documents' metadata (their numbers and the numbers they had and lost). Entries
    already in the log are kept. Returns how many were added."""
    from datetime import datetime

    known = {(e.fonds_code, e.series, e.year, e.number) for e in session.scalars(
        select(RegisterEntry))}
    added = 0
    for doc_id, fonds_code, meta in session.execute(
            select(Document.id, Document.fonds_code, Document.meta)
            .where(Document.head_version > 0)):
        for reg in [meta.get("registration"), *(meta.get("registration_history") or [])]:
            if not reg or "number" not in reg:
                continue
            key = (fonds_code, reg["series"], reg["year"], reg["number"])
            if key in known:
                continue
            known.add(key)
            cancelled = "cancelled_at" in reg
            session.add(RegisterEntry(
                fonds_code=fonds_code, direction=reg["direction"], book=reg["book"],
                series=reg["series"], year=reg["year"], number=reg["number"],
                document_id=doc_id, status="cancelled" if cancelled else "registered",
                registered_on=date.fromisoformat(reg["registered_on"]),
                registered_at=datetime.fromisoformat(reg["registered_at"]),
                registered_by=reg.get("registered_by", ""),
                cancelled_at=datetime.fromisoformat(reg["cancelled_at"]) if cancelled else None,
                cancelled_by=reg.get("cancelled_by"), cancel_reason=reg.get("cancel_reason")))
            added += 1
    session.flush()
    for fonds_code, year, series, top in session.execute(
            select(RegisterEntry.fonds_code, RegisterEntry.year, RegisterEntry.series,
                   func.max(RegisterEntry.number))
            .group_by(RegisterEntry.fonds_code, RegisterEntry.year, RegisterEntry.series)):
        counter = session.get(Counter, (COUNTER_SCOPE, f"{fonds_code}:{year}:{series}"))
        if counter is None:
            session.add(Counter(scope=COUNTER_SCOPE, key=f"{fonds_code}:{year}:{series}",
                                value=top))
        else:
            counter.value = max(counter.value, top)
    return added
