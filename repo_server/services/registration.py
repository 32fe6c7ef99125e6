"""Registering documents in the records office (NĐ 30/2020 Art. 15–24): an outgoing number, or
an incoming number (số đến) with its arrival date, handler and deadline; the later register
columns (date passed on, receipt); the follow-up of handling; cancelling a number.

Each is a new version of the document: the number and the registration date live in its
metadata (`registration`, and the standard fields `code_number`, `arrival_number`, …), so in
its OCFL object. The number itself is claimed in the same short transaction that reserves the
write (services/numbering.py), and cancelled with a reason if the version cannot be written.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import select

from ..catalog import Document, Fonds, RegisterEntry
from . import numbering
from .catalog_mirror import mirror_document
from .context import Actor, Env
from .documents import SYSTEM_FIELDS as DOCUMENT_SYSTEM_FIELDS
from .documents import duplicate_numbers, get_document, open_dossier_row, visible_doc
from .errors import Conflict, PreconditionFailed, ValidationFailed
from .metadata import check_document
from .records import DOCUMENT_FILE, dump, from_json_dict, object_id, to_json_dict
from .rights import require
from .writes import WritePlan, write_object

LATER_FIELDS = ("delivered_on", "received_by", "assigned_to", "copies", "file_copy_holder",
                "note")


def _today(env: Env) -> date:
    return env.now().astimezone(env.tz).date()


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _write(env: Env, actor: Actor, document_id: str, *, message: str,
           expected_version: int | None, **hooks: Any) -> dict[str, Any]:
    """`_write_once`; without If-Match, a version written meanwhile (the worker's extracted
    text, say) is not the clerk's concern: read again and register on the new head (the
    version is checked before any number is claimed, so nothing is taken twice)."""
    for attempt in range(_ATTEMPTS):
        try:
            return _write_once(env, actor, document_id, message=message,
                               expected_version=expected_version, **hooks)
        except PreconditionFailed:
            if expected_version is not None or attempt == _ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


_ATTEMPTS = 3


def _write_once(env: Env, actor: Actor, document_id: str, *, message: str,
                expected_version: int | None,
                build: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]],
                reserve: Callable[[Any, Document, dict[str, Any]], None] | None = None,
                unreserve: Callable[[Any, dict[str, Any], BaseException | None], None] | None = None,
                after: Callable[[Any, dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """One new version of a document in an open dossier. `reserve` runs in the write-lock
    transaction after the document row is locked and its version checked (claims go there);
    `build(meta, state)` makes the new metadata; `after` runs with the catalog mirror update."""
    with env.db.read() as session:
        row = visible_doc(session, env, actor, document_id, "register.write")
        open_dossier_row(session, row.dossier_id)
    expected = expected_version or row.head_version
    stored = env.store.read_json(object_id(document_id), DOCUMENT_FILE)
    state: dict[str, Any] = {"warnings": []}

    def _reserve(session) -> None:  # noqa: ANN001
        current = session.scalar(select(Document).where(Document.id == document_id)
                                 .with_for_update())
        if current.head_version != expected:
            raise PreconditionFailed(
                f"Document {current.doc_code} was changed meanwhile (now version "
                f"{current.head_version}); reload it and try again.",
                current_version=current.head_version)
        open_dossier_row(session, current.dossier_id)
        if reserve is not None:
            reserve(session, current, state)

    def _unreserve(session) -> None:  # noqa: ANN001
        if unreserve is not None:
            unreserve(session, state, None)

    def _build() -> dict[str, Any]:
        meta = build(from_json_dict({k: v for k, v in stored.items()
                                     if k not in DOCUMENT_SYSTEM_FIELDS}), state)
        meta = {k: v for k, v in meta.items() if v is not None}
        state["meta"] = meta
        record = {**{k: stored[k] for k in ("type", "schema_version", "id", "dossier_id",
                                              "fonds_code", "doc_code", "serial")},
                  **to_json_dict(meta), "files": stored.get("files", {})}
        return {DOCUMENT_FILE: dump(record)}

    def _apply(session, version) -> None:  # noqa: ANN001
        target = session.get(Document, document_id)
        mirror_document(target, state["meta"])
        target.meta = to_json_dict(state["meta"])
        target.head_version = version.number
        target.updated_at = version.created
        if after is not None:
            after(session, state)

    plan = WritePlan(document_id, "document", _build, message=message, expected_head=expected)
    write_object(env, actor, plan, reserve=_reserve, apply=_apply, unreserve=_unreserve)
    result = get_document(env, document_id, actor)
    if state["warnings"]:
        result["warnings"] = state["warnings"]
    return result


def _check(env: Env, meta: dict[str, Any]) -> None:
    errors = check_document(env.codes, meta)
    if errors:
        raise ValidationFailed(errors)


def _claim(env: Env, actor: Actor, direction: str, requested_book: str | None):  # noqa: ANN202
    """reserve/unreserve/after hooks that claim a number and settle its log entry."""

    def reserve(session, current: Document, state: dict[str, Any]) -> None:  # noqa: ANN001
        numbering.ensure_not_registered(session, current.id, direction)
        fonds = session.scalar(select(Fonds).where(Fonds.code == current.fonds_code))
        if fonds is not None and fonds.status == "closed":
            raise Conflict(f"Fonds {fonds.code} is closed: nothing is issued or registered in "
                           "its name any more; register the document in the successor's fonds.")
        meta = from_json_dict(current.meta)
        book = numbering.choose_book(env, direction, meta, requested_book)
        entry = numbering.claim(session, env, actor, fonds_code=current.fonds_code,
                                direction=direction, book=book.code,
                                series=numbering.series_of(book, meta), document_id=current.id)
        state.update(entry_id=entry.id, number=entry.number, year=entry.year, book=book.code,
                     series=entry.series, registered_on=entry.registered_on,
                     registered_at=entry.registered_at, fonds_name=fonds.name if fonds else None)

    def unreserve(session, state: dict[str, Any], _exc) -> None:  # noqa: ANN001
        if "entry_id" in state:
            entry = session.get(RegisterEntry, state["entry_id"])
            numbering.cancel(entry, "repo-server", "The registration failed before the "
                             "document's new version was written; the number was not given "
                             "to any document.", env)

    def after(session, state: dict[str, Any]) -> None:  # noqa: ANN001
        session.get(RegisterEntry, state["entry_id"]).status = "registered"

    return reserve, unreserve, after


def _registration(state: dict[str, Any], actor: Actor, direction: str,
                  extra: dict[str, Any]) -> dict[str, Any]:
    return {"direction": direction, "book": state["book"], "series": state["series"],
            "year": state["year"], "number": state["number"], "entry_id": state["entry_id"],
            "registered_on": state["registered_on"].isoformat(),
            "registered_at": state["registered_at"].isoformat(), "registered_by": actor.name,
            **{k: _iso(v) for k, v in extra.items() if v is not None}}


def _direction_fits(meta: dict[str, Any], direction: str, doc_code: str) -> None:
    if meta.get("direction") not in (None, direction):
        raise Conflict(f"Document {doc_code} is {meta['direction']}; it cannot be registered "
                       f"as {direction}.")


def register_outgoing(env: Env, actor: Actor, document_id: str, data: dict[str, Any],
                      expected_version: int | None = None) -> dict[str, Any]:
    """Give an outgoing document its number (NĐ 30 Art. 15): the next of its book's series in
    this year; its date defaults to the registration date, its issuer to the fonds' name."""
    require(actor, "register.write")
    data = {k: v for k, v in data.items() if v is not None}
    with env.db.read() as session:
        row = visible_doc(session, env, actor, document_id, "register.write")
    current = from_json_dict(row.meta)
    _direction_fits(current, "outgoing", row.doc_code)
    notation = data.get("code_notation") or current.get("code_notation")
    if not notation:
        raise ValidationFailed({"code_notation": [
            "Give the symbol (ký hiệu) of the document, e.g. QĐ-UBND or UBND-VP."]})
    numbering.choose_book(env, "outgoing", {**current, **data}, data.get("number_book"))
    extra = {k: data.get(k) for k in LATER_FIELDS}

    def build(meta: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
        meta.update(direction="outgoing", code_number=numbering.format_number(state["number"]),
                    code_notation=notation,
                    registration=_registration(state, actor, "outgoing", extra))
        meta["issued_date"] = data.get("issued_date") or meta.get("issued_date") \
            or state["registered_on"]
        meta["organ_name"] = data.get("organ_name") or meta.get("organ_name") \
            or state["fonds_name"]
        if data.get("recipients") is not None:
            meta["recipients"] = data["recipients"]
        return meta

    _check(env, {**current, "direction": "outgoing", "code_notation": notation,
                 **{k: data[k] for k in ("issued_date", "organ_name", "recipients")
                    if k in data}})
    reserve, unreserve, after = _claim(env, actor, "outgoing", data.get("number_book"))

    def reserve_and_warn(session, doc: Document, state: dict[str, Any]) -> None:  # noqa: ANN001
        reserve(session, doc, state)
        probe = {"code_number": numbering.format_number(state["number"]),
                 "code_notation": notation,
                 "organ_name": data.get("organ_name") or current.get("organ_name")
                 or state["fonds_name"]}
        state["warnings"].extend(duplicate_numbers(session, probe, doc.id))

    return _write(env, actor, document_id, expected_version=expected_version,
                  message="Register outgoing document (number assigned)", build=build,
                  reserve=reserve_and_warn, unreserve=unreserve, after=after)


def register_incoming(env: Env, actor: Actor, document_id: str, data: dict[str, Any],
                      expected_version: int | None = None) -> dict[str, Any]:
    """Register an incoming document (NĐ 30 Art. 22): số đến by order of receipt in the year,
    ngày đến, the sender's number and date, who handles it and by when."""
    require(actor, "register.write")
    data = {k: v for k, v in data.items() if v is not None}
    with env.db.read() as session:
        row = visible_doc(session, env, actor, document_id, "register.write")
    current = from_json_dict(row.meta)
    _direction_fits(current, "incoming", row.doc_code)
    arrival = data.get("arrival_date") or _today(env)
    if arrival > _today(env):
        raise ValidationFailed({"arrival_date": [
            f"The arrival date ({arrival.isoformat()}) is in the future."]})
    due = data.get("due_date")
    if due and due < arrival:
        raise ValidationFailed({"due_date": [
            f"The handling deadline ({due.isoformat()}) is before the arrival date "
            f"({arrival.isoformat()})."]})
    sender = {k: data[k] for k in ("code_number", "code_notation", "issued_date", "organ_name",
                                   "due_date", "urgency", "secrecy") if k in data}
    extra = {k: data.get(k) for k in LATER_FIELDS}
    # checked with a stand-in number before one is taken: a refused request takes no number
    _check(env, {**current, **sender, "direction": "incoming", "arrival_number": 1,
                 "arrival_date": arrival})
    numbering.choose_book(env, "incoming", {**current, **sender}, data.get("number_book"))

    def build(meta: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
        meta.update(sender, direction="incoming", arrival_number=state["number"],
                    arrival_date=arrival,
                    registration=_registration(state, actor, "incoming", extra))
        return meta

    reserve, unreserve, after = _claim(env, actor, "incoming", data.get("number_book"))
    return _write(env, actor, document_id, expected_version=expected_version,
                  message="Register incoming document (số đến assigned)", build=build,
                  reserve=reserve, unreserve=unreserve, after=after)


def _registered(meta: dict[str, Any], doc_code: str) -> dict[str, Any]:
    reg = meta.get("registration")
    if not reg:
        raise Conflict(f"Document {doc_code} is not registered yet; register it first.")
    return reg


def update_registration(env: Env, actor: Actor, document_id: str, changes: dict[str, Any],
                        expected_version: int | None = None) -> dict[str, Any]:
    """Fill the later columns of the register: date passed on, receipt, handler, copies,
    file-copy holder, note; and, for an incoming document, its handling deadline."""
    require(actor, "register.write")
    with env.db.read() as session:
        row = visible_doc(session, env, actor, document_id, "register.write")
    current = from_json_dict(row.meta)
    reg = _registered(current, row.doc_code)
    if "due_date" in changes and reg["direction"] != "incoming":
        raise ValidationFailed({"due_date": ["Only incoming documents have a handling "
                                             "deadline in the follow-up register."]})

    def build(meta: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
        new = dict(meta["registration"])
        for key in LATER_FIELDS:
            if key in changes:
                new[key] = _iso(changes[key])
        meta["registration"] = {k: v for k, v in new.items() if v is not None}
        if "due_date" in changes:
            meta["due_date"] = changes["due_date"]
        return meta

    return _write(env, actor, document_id, expected_version=expected_version,
                  message=f"Update registration: {', '.join(sorted(changes))}", build=build)


HANDLING_STATES = ("pending", "in_progress", "done")


def record_handling(env: Env, actor: Actor, document_id: str, data: dict[str, Any],
                    expected_version: int | None = None) -> dict[str, Any]:
    """The follow-up register's progress of an incoming document: status, progress text, the
    reply (a registered outgoing document, or its number as text) and the date it was done."""
    require(actor, "register.write")
    with env.db.read() as session:
        row = visible_doc(session, env, actor, document_id, "register.write")
        reply_number = data.get("reply_number")
        if data.get("reply_document_id"):
            reply = visible_doc(session, env, actor, data["reply_document_id"])
            if not (reply.code_number and reply.code_notation):
                raise ValidationFailed({"reply_document_id": [
                    f"Document {reply.doc_code} has no number yet; register it first."]})
            reply_number = f"{reply.code_number}/{reply.code_notation}"
    current = from_json_dict(row.meta)
    if _registered(current, row.doc_code)["direction"] != "incoming":
        raise Conflict(f"Document {row.doc_code} is not an incoming document; only incoming "
                       "documents are followed up.")
    status = data.get("status") or ("done" if reply_number else "in_progress")
    done_on = data.get("done_on") or (_today(env) if status == "done" else None)

    def build(meta: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
        handling = {"status": status, "progress": data.get("progress"),
                    "reply_number": reply_number,
                    "reply_document_id": data.get("reply_document_id"),
                    "done_on": _iso(done_on), "note": data.get("note"),
                    "updated_by": actor.name, "updated_at": env.now().isoformat()}
        meta["handling"] = {k: v for k, v in handling.items() if v is not None}
        return meta

    return _write(env, actor, document_id, expected_version=expected_version,
                  message=f"Follow-up of handling: {status}", build=build)


def cancel_number(env: Env, actor: Actor, entry_id: int, reason: str) -> dict[str, Any]:
    """Cancel a number taken by mistake: the log keeps it with the reason (the register shows
    it, the series never reuses it) and its document, if any, loses it in a new version."""
    require(actor, "register.cancel")
    numbering.settle(env)
    with env.db.read() as session:
        entry = numbering.get_entry(session, actor, entry_id, "register.cancel")
        if not reason or not reason.strip():
            raise ValidationFailed({"reason": ["Say why the number is cancelled."]})
        if entry.status == "cancelled":
            raise Conflict(f"Number {numbering.format_number(entry.number)} is already "
                           f"cancelled: {entry.cancel_reason}")
        document_id, status = entry.document_id, entry.status
        if document_id:
            visible_doc(session, env, actor, document_id)
    if status == "pending" or not document_id:
        with env.db.write() as session:
            entry = session.get(RegisterEntry, entry_id)
            if entry.status != "pending":
                raise Conflict("The number's registration finished meanwhile; try again.")
            numbering.cancel(entry, actor.name, reason, env)
            return numbering.entry_view(entry)
    direction = entry.direction

    def reserve(session, current: Document, state: dict[str, Any]) -> None:  # noqa: ANN001
        locked = session.get(RegisterEntry, entry_id)
        if locked.status != "registered":
            raise Conflict(f"Number {numbering.format_number(locked.number)} is "
                           f"{locked.status}; nothing to cancel.")

    def build(meta: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
        reg = dict(meta.pop("registration", None) or {})
        for field in numbering.REGISTERED_FIELDS[direction]:
            meta.pop(field, None)
        meta.setdefault("registration_history", []).append({
            **reg, "cancelled_at": env.now().isoformat(), "cancelled_by": actor.name,
            "cancel_reason": reason})
        return meta

    def after(session, state: dict[str, Any]) -> None:  # noqa: ANN001
        numbering.cancel(session.get(RegisterEntry, entry_id), actor.name, reason, env)

    _write(env, actor, document_id, expected_version=None, build=build, reserve=reserve,
           after=after, message=f"Cancel {direction} number "
                                f"{numbering.format_number(entry.number)}: {reason[:80]}")
    with env.db.read() as session:
        return numbering.entry_view(session.get(RegisterEntry, entry_id))
