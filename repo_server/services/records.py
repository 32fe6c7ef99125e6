"""How dossier, document and fonds metadata look inside their OCFL objects.

One JSON file per object version: `dossier.json`, `metadata.json` (documents) or `fonds.json`.
Dates are ISO 8601 strings there, `datetime.date` in Python.
"""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any

from ..catalog import Counter
from .errors import NotFound

DOSSIER_FILE = "dossier.json"
DOCUMENT_FILE = "metadata.json"
FONDS_FILE = "fonds.json"
FILES_DIR = "files/"  # a document's content files: files/<name>
SCHEMA_VERSION = 1

DATE_FIELDS = frozenset(
    {"start_date", "end_date", "issued_date", "arrival_date", "due_date", "closed_on"}
)


def object_id(record_id: str) -> str:
    """The OCFL object id of a catalog id."""
    return f"urn:uuid:{record_id}"


def record_id(ocfl_id: str) -> str:
    """The catalog id of an OCFL object id."""
    if not ocfl_id.startswith("urn:uuid:"):
        raise ValueError(f"not a repo-server object id: {ocfl_id!r}")
    return ocfl_id.removeprefix("urn:uuid:")


def next_in_sequence(session, scope: str, key: str) -> int:  # noqa: ANN001
    """The next number of a named sequence (file numbers, archive codes, ...), in the caller's
    write transaction so that two writers never get the same number."""
    counter = session.get(Counter, (scope, key), with_for_update=True)
    if counter is None and session.get_bind().dialect.name == "postgresql":
        # FOR UPDATE locks nothing while the row does not exist, so two writers could both
        # insert it (a unique violation); insert it if absent, then lock it.
        from sqlalchemy.dialects.postgresql import insert

        session.execute(insert(Counter).values(scope=scope, key=key, value=0)
                        .on_conflict_do_nothing())
        counter = session.get(Counter, (scope, key), with_for_update=True,
                              populate_existing=True)
    if counter is None:  # SQLite: writers are serialised (BEGIN IMMEDIATE)
        counter = Counter(scope=scope, key=key, value=0)
        session.add(counter)
    counter.value += 1
    session.flush()
    return counter.value


def new_id() -> str:
    return str(uuid.uuid4())


def to_json_dict(meta: dict[str, Any]) -> dict[str, Any]:
    """Metadata with dates as ISO strings (for storage and the catalog's JSON column)."""
    return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in meta.items()}


def from_json_dict(meta: dict[str, Any]) -> dict[str, Any]:
    """Metadata with ISO date strings turned back into dates."""
    out = dict(meta)
    for key in DATE_FIELDS & out.keys():
        if isinstance(out[key], str):
            out[key] = date.fromisoformat(out[key])
    return out


def dump(record: dict[str, Any]) -> bytes:
    """Serialise a record for storage: stable key order, UTF-8, readable."""
    return json.dumps(to_json_dict(record), ensure_ascii=False, sort_keys=True, indent=1).encode()


def version_at(store, record_id: str, as_of, what: str) -> int:  # noqa: ANN001
    """The number of the version that was current at `as_of` (NotFound before the first)."""
    earlier = [v for v in store.versions(object_id(record_id)) if v.created <= as_of]
    if not earlier:
        raise NotFound(f"The {what} did not exist yet at {as_of.isoformat()}.")
    return earlier[-1].number
