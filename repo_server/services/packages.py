"""Transfer packages: dossiers or a whole fonds as a zipped BagIt bag, and its import into
another repository (TT 05/2025 transfer; docs/decisions/0004-packages.md).

A package (BagIt 0.97, as the `bagit` tool writes; SHA-256 and SHA-512 manifests)::

    bagit.txt
    data/objects/                   an OCFL 1.1 storage root with the exported objects exactly
                                    as stored: every version with its date, user and message,
                                    the metadata JSON of each version, files, extracted text
    data/metadata/<file code>.xml   TT 05 file elements of each dossier
    data/metadata/<doc code>.xml    TT 05 document elements of each document
    data/history/<dossier id>.json  the version lists and the audit events of the dossier and
                                    its documents
    manifest-sha256.txt  manifest-sha512.txt  bag-info.txt  tagmanifest-sha256.txt  ...

Export streams the ZIP as it is built: files are read in chunks, manifest lines and the ZIP's
central-directory entries go to temporary files (so memory does not grow with the number of
files), and the digests of stored content are the ones the OCFL inventories already hold (each
file's sha512, and the sha256 of the fixity block), so nothing is read twice.

Import unpacks into the storage's staging folder, validates the bag with the `bagit` package
(every checksum) and every object with the OCFL verifier, checks references and conflicts
against this repository, and only then moves the object folders into the storage root (a
rename on the same file system) and mirrors them in the catalog, dossier by dossier.
"""

from __future__ import annotations

import ctypes
import fcntl
import hashlib
import json
import logging
import marshal
import os
import re
import shutil
import string
import tempfile
import time
import uuid
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import delete, func, insert, select

from ..catalog import (
    AuditEvent,
    Counter,
    Document,
    Dossier,
    Fonds,
    PendingWrite,
    Tombstone,
)
from ..storage import ObjectStore, StorageError, layout_path
from . import audit, rights
from .access import filter_documents, filter_dossiers, in_scope
from .context import Actor, Env
from .dossiers import visible_row
from .errors import Conflict, Forbidden, ServiceError, ValidationFailed
from .fonds import get_fonds_row
from .holds import held_dossier_ids
from .rebuild import import_object
from .records import (
    DOCUMENT_FILE,
    DOSSIER_FILE,
    FONDS_FILE,
    new_id,
    object_id,
    record_id,
)
from .tt05_xml import doc_xml, file_xml
from .writes import add_outbox

log = logging.getLogger(__name__)

FORMAT = "repo-server-ocfl-bag/1"
BAGIT_VERSION = "0.97"
ALGORITHMS = ("sha256", "sha512")
OBJECTS = "data/objects"
CHUNK = 1 << 20
FLUSH_AT = 256 * 1024  # hand the client what the ZIP writer produced once this much is ready
BATCH = 200  # dossiers per catalog query while exporting
MAX_DOSSIER_IDS = 1000
ROOT_FILES = ("0=ocfl_1.1", "ocfl_layout.json")
OBJECT_NAMASTE = "0=ocfl_object_1.1"
INVENTORY = "inventory.json"
SIDECAR = "inventory.json.sha512"
_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|%]')


class PackageRejected(ServiceError):
    """The package is damaged, incomplete or not a package of this kind (nothing was written)."""

    status = 422


class PackageConflict(Conflict):
    """Records in the package clash with this repository's (nothing was written)."""


class InsufficientStorage(ServiceError):
    status = 507


# --- export ------------------------------------------------------------------------------------


@dataclass
class ExportSelection:
    """What an export holds, checked against the caller's view before a byte is sent."""

    fonds_codes: list[str]
    fonds_code: str | None = None  # a whole fonds
    dossier_ids: list[str] = field(default_factory=list)  # or these dossiers
    package_id: str = field(default_factory=new_id)

    @property
    def filename(self) -> str:
        what = self.fonds_code or (f"{len(self.dossier_ids)}-dossiers"
                                   if len(self.dossier_ids) > 1 else self.dossier_ids[0])
        return f"package-{safe_name(what)}-{self.package_id[:8]}.zip"


def prepare_export(env: Env, actor: Actor, *, fonds_code: str | None = None,
                   dossier_ids: list[str] | None = None) -> ExportSelection:
    """Check the request: one fonds, or dossiers the caller may see (404 otherwise)."""
    rights.require(actor, "package.export")
    dossier_ids = list(dict.fromkeys(dossier_ids or []))
    if bool(fonds_code) == bool(dossier_ids):
        raise ValidationFailed({"fonds_code": [
            "Give either fonds_code (a whole fonds) or one or more dossier_id, not both."]})
    if len(dossier_ids) > MAX_DOSSIER_IDS:
        raise ValidationFailed({"dossier_id": [
            f"At most {MAX_DOSSIER_IDS} dossiers per package; export the fonds instead."]})
    with env.db.read() as session:
        if fonds_code:
            get_fonds_row(session, fonds_code, actor, "package.export")
            return ExportSelection([fonds_code], fonds_code=fonds_code)
        codes = {visible_row(session, env, actor, d, "package.export").fonds_code
                 for d in dossier_ids}
    return ExportSelection(sorted(codes), dossier_ids=dossier_ids)


class _Sink:
    """The write-only file the ZIP writer writes into; the generator hands its bytes on.

    The writer hands bytes on after every chunk it writes, except when the ZIP is closed:
    the central directory (~150 bytes per entry) is written in one go, so past `SPILL_AT`
    what comes in goes to a temporary file, handed on in chunks."""

    SPILL_AT = 2 * 1024 * 1024  # above what one chunk written in streaming leaves

    def __init__(self, tmp_dir: Path) -> None:
        self._tmp_dir = tmp_dir
        self._buffer = bytearray()
        self._spill: BinaryIO | None = None
        self.size = 0

    def write(self, data: bytes) -> int:
        if self._spill is None and len(self._buffer) + len(data) > self.SPILL_AT:
            self._spill = tempfile.TemporaryFile(dir=self._tmp_dir)
            self._spill.write(self._buffer)
            self._buffer = bytearray()
        if self._spill is not None:
            self._spill.write(data)
        else:
            self._buffer += data
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> Iterator[bytes]:
        """What was written since the last call."""
        self.size = 0
        if self._spill is None:
            out = bytes(self._buffer)
            self._buffer.clear()
            yield out
            return
        spill, self._spill = self._spill, None
        with spill:
            spill.seek(0)
            while chunk := spill.read(CHUNK):
                yield chunk

    def close(self) -> None:
        if self._spill is not None:
            self._spill.close()


class _SpilledDirectory:
    """The list of written entries a `zipfile.ZipFile` keeps for its central directory
    (`filelist`), held in a temporary file instead of in memory.

    A `ZipInfo` costs ~450 bytes with its name, and a fonds has ~9 entries per document. The
    writer only appends to this list, counts it and, when closed, iterates it to write the
    central directory (zip64 records where needed), so each entry is kept as one `marshal`
    record of its slots and made into a `ZipInfo` again at the end, one at a time: the ZIP is
    byte for byte what the stdlib writes from a list."""

    _SLOTS = zipfile.ZipInfo.__slots__

    def __init__(self, tmp_dir: Path) -> None:
        self._file = tempfile.TemporaryFile(dir=tmp_dir)
        self._count = 0

    def append(self, info: zipfile.ZipInfo) -> None:
        # ... (Ellipsis) marks a slot the entry never set; marshal keeps it
        record = marshal.dumps([getattr(info, slot, ...) for slot in self._SLOTS])
        self._file.write(len(record).to_bytes(4, "little"))
        self._file.write(record)
        self._count += 1

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[zipfile.ZipInfo]:
        self._file.seek(0)
        while head := self._file.read(4):
            values = marshal.loads(self._file.read(int.from_bytes(head, "little")))
            info = zipfile.ZipInfo.__new__(zipfile.ZipInfo)
            for slot, value in zip(self._SLOTS, values, strict=True):
                if value is not ...:
                    setattr(info, slot, value)
            yield info
        self._file.seek(0, os.SEEK_END)

    def close(self) -> None:
        self._file.close()


class _StreamZip(zipfile.ZipFile):
    """A write-only ZIP (stored entries, zip64 allowed) whose central directory waits on disk
    (`_SpilledDirectory`): its memory does not grow with the number of entries."""

    def __init__(self, sink: _Sink, tmp_dir: Path) -> None:
        super().__init__(sink, "w", zipfile.ZIP_STORED, allowZip64=True)
        self.directory = _SpilledDirectory(tmp_dir)
        self.filelist = self.directory  # type: ignore[assignment]

    def entry_done(self, name: str) -> None:
        """Forget an entry's name: the name index only serves reading and duplicate
        warnings, and would keep every entry's `ZipInfo` alive."""
        self.NameToInfo.pop(name, None)


class _BagWriter:
    """A BagIt bag written as a ZIP stream: payload first, tag files at the end."""

    def __init__(self, tmp_dir: Path, when: datetime) -> None:
        self.sink = _Sink(tmp_dir)
        self.zip = _StreamZip(self.sink, tmp_dir)
        local = when.astimezone()
        self.date_time = (max(local.year, 1980), local.month, local.day, local.hour,
                          local.minute, local.second)  # one tuple shared by every entry
        self.manifests = {alg: tempfile.TemporaryFile(dir=tmp_dir) for alg in ALGORITHMS}
        self.tag_digests: list[tuple[str, dict[str, str]]] = []
        self.payload_bytes = 0
        self.payload_files = 0

    def close(self) -> None:
        """Release the temporary files, also when the stream stopped early (an error, a
        client gone): that ZIP is then dropped without a central directory."""
        for fh in self.manifests.values():
            fh.close()
        self.zip.fp = None  # closed already when finished; else `ZipFile.close` is a no-op
        self.zip.directory.close()
        self.sink.close()

    def _info(self, name: str, size: int) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, self.date_time)
        info.file_size = size
        info.compress_type = zipfile.ZIP_STORED
        info.external_attr = 0o644 << 16
        return info

    def _ready(self, force: bool = False) -> Iterator[bytes]:
        if self.sink.size >= FLUSH_AT or (force and self.sink.size):
            yield from self.sink.take()

    def _done(self, name: str, size: int, digests: dict[str, str], payload: bool) -> None:
        self.zip.entry_done(name)
        if payload:
            self.payload_bytes += size
            self.payload_files += 1
            for alg in ALGORITHMS:
                self.manifests[alg].write(f"{digests[alg]}  {name}\n".encode())
        else:
            self.tag_digests.append((name, digests))

    def add_path(self, name: str, path: Path, sha256: str | None = None,
                 sha512: str | None = None, *, size: int | None = None) -> Iterator[bytes]:
        """A file from disk; known digests are trusted (OCFL's), others computed."""
        hashers = {} if sha256 and sha512 else {a: hashlib.new(a) for a in ALGORITHMS}
        written = 0
        with open(path, "rb") as src:
            total = os.fstat(src.fileno()).st_size if size is None else size
            with self.zip.open(self._info(name, total), "w") as out:
                while chunk := src.read(CHUNK):
                    out.write(chunk)
                    written += len(chunk)
                    for h in hashers.values():
                        h.update(chunk)
                    yield from self._ready()
        digests = ({a: h.hexdigest() for a, h in hashers.items()} if hashers
                   else {"sha256": sha256, "sha512": sha512})
        self._done(name, written, digests, payload=True)
        yield from self._ready()

    def add_bytes(self, name: str, data: bytes, *, payload: bool = True) -> Iterator[bytes]:
        with self.zip.open(self._info(name, len(data)), "w") as out:
            out.write(data)
        self._done(name, len(data), {a: hashlib.new(a, data).hexdigest() for a in ALGORITHMS},
                   payload)
        yield from self._ready()

    def add_spooled(self, name: str, fh: BinaryIO) -> Iterator[bytes]:
        """A tag file spooled to disk (the payload manifests)."""
        size = fh.seek(0, os.SEEK_END)
        fh.seek(0)
        hashers = {a: hashlib.new(a) for a in ALGORITHMS}
        with self.zip.open(self._info(name, size), "w") as out:
            while chunk := fh.read(CHUNK):
                out.write(chunk)
                for h in hashers.values():
                    h.update(chunk)
                yield from self._ready()
        self._done(name, size, {a: h.hexdigest() for a, h in hashers.items()}, payload=False)

    def finish(self, bag_info: list[tuple[str, str]]) -> Iterator[bytes]:
        """Manifests, bag-info (with the Payload-Oxum now known), tag manifests, the ZIP end."""
        for alg in ALGORITHMS:
            yield from self.add_spooled(f"manifest-{alg}.txt", self.manifests[alg])
        info = [*bag_info, ("Payload-Oxum", f"{self.payload_bytes}.{self.payload_files}"),
                ("Bag-Size", _human(self.payload_bytes))]
        text = "".join(f"{k}: {_one_line(v)}\n" for k, v in info)
        yield from self.add_bytes("bag-info.txt", text.encode(), payload=False)
        for alg in ALGORITHMS:
            lines = "".join(f"{d[alg]} {name}\n" for name, d in self.tag_digests)
            with self.zip.open(self._info(f"tagmanifest-{alg}.txt", len(lines.encode())),
                               "w") as out:
                out.write(lines.encode())
        self.zip.close()
        yield from self._ready(force=True)


def _one_line(value: str) -> str:
    return " ".join(str(value).split())


def _human(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def safe_name(code: str) -> str:
    """A code as one file name: characters a file system or ZIP tool may mangle are %XX."""
    out = _UNSAFE_NAME.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), code)
    return "%2E" + out[1:] if out.startswith(".") else out


@dataclass
class _Exported:
    """One object as it was read for the package (its inventory at that moment)."""

    rid: str
    kind: str
    head: int
    record: dict[str, Any]
    versions: list[dict[str, Any]]


class PackageExport:
    """Streams one package; `stats` holds the counts once the stream is consumed."""

    def __init__(self, env: Env, actor: Actor, selection: ExportSelection) -> None:
        self.env, self.actor, self.selection = env, actor, selection
        self.stats = {"package": f"urn:uuid:{selection.package_id}", "fonds": 0, "dossiers": 0,
                      "documents": 0, "objects": 0, "versions": 0, "bytes": 0,
                      "payload_bytes": 0, "payload_files": 0, "skipped": []}

    def stream(self) -> Iterator[bytes]:
        env = self.env
        audit.buffer(env).flush()  # recent request events belong in the history files
        started = env.now()
        writer = _BagWriter(env.store.tmp_dir, started)
        try:
            for chunk in self._chunks(writer, started):
                self.stats["bytes"] += len(chunk)
                yield chunk
        finally:
            writer.close()
        self.stats["payload_bytes"] = writer.payload_bytes
        self.stats["payload_files"] = writer.payload_files
        audit.record(env, self.actor, "package.export", self.stats["package"], "ok",
                     {k: v for k, v in self.stats.items() if k != "skipped"}
                     | {"fonds_codes": self.selection.fonds_codes,
                        "skipped": self.stats["skipped"][:100]})

    def _chunks(self, writer: _BagWriter, started: datetime) -> Iterator[bytes]:
        env, sel = self.env, self.selection
        yield from writer.add_bytes(
            "bagit.txt", f"BagIt-Version: {BAGIT_VERSION}\nTag-File-Character-Encoding: UTF-8\n"
            .encode(), payload=False)
        for name in ROOT_FILES:
            yield from writer.add_path(f"{OBJECTS}/{name}", env.store.root / name)
        config = Path("extensions") / layout_extension(env.store) / "config.json"
        yield from writer.add_path(f"{OBJECTS}/{config.as_posix()}", env.store.root / config)
        with env.db.read() as session:
            fonds = [(r.id, r.code, r.name) for r in session.scalars(
                select(Fonds).where(Fonds.code.in_(sel.fonds_codes)).order_by(Fonds.code))]
        for rid, _, _ in fonds:
            if (yield from self._object(writer, rid)) is not None:
                self.stats["fonds"] += 1
        for batch in self._dossier_batches():
            exported: list[str] = []
            for dossier_id in batch:
                if (yield from self._dossier(writer, dossier_id)):
                    exported.append(dossier_id)
            if exported:  # every record handed out is a logged read
                with env.db.write() as session:
                    audit.append(session, [audit.make_event(
                        env, self.actor, "dossier.export", d, "ok",
                        {"package": self.stats["package"]}) for d in exported])
        names = "; ".join(name for _, _, name in fonds) or "repo-server"
        codes = ", ".join(code for _, code, _ in fonds)
        from ..version import __version__

        info = [
            ("Source-Organization", names),
            ("Internal-Sender-Identifier", codes),
            ("External-Identifier", self.stats["package"]),
            ("External-Description",
             f"Records of fonds {codes}: {self.stats['dossiers']} dossiers, "
             f"{self.stats['documents']} documents (TT 05/2025 metadata in data/metadata, "
             "OCFL 1.1 objects in data/objects)"),
            ("Bagging-Date", started.astimezone(env.tz).date().isoformat()),
            ("Bag-Software-Agent", f"repo-server {__version__}"),
            ("Package-Format", FORMAT),
            ("Package-Scope", f"fonds {sel.fonds_code}" if sel.fonds_code
             else f"{len(sel.dossier_ids)} dossier(s)"),
            ("Exported-By", self.actor.name),
            ("Exported-At", started.astimezone(UTC).isoformat()),
            ("Fonds-Count", str(self.stats["fonds"])),
            ("Dossier-Count", str(self.stats["dossiers"])),
            ("Document-Count", str(self.stats["documents"])),
            ("Object-Count", str(self.stats["objects"])),
            ("Version-Count", str(self.stats["versions"])),
        ]
        yield from writer.finish(info)

    def _dossier_batches(self) -> Iterator[list[str]]:
        """Dossier ids in file-code order, a batch at a time, filtered by the caller's view."""
        env, sel, actor = self.env, self.selection, self.actor
        if sel.dossier_ids:
            for i in range(0, len(sel.dossier_ids), BATCH):
                ids = sel.dossier_ids[i:i + BATCH]
                with env.db.read() as session:
                    stmt = filter_dossiers(session, env, actor, select(Dossier.id).where(
                        Dossier.id.in_(ids), Dossier.head_version > 0))
                    visible = set(session.scalars(stmt))
                yield [d for d in ids if d in visible]
            return
        last = ""
        while True:
            with env.db.read() as session:
                stmt = select(Dossier.id, Dossier.file_code).where(
                    Dossier.fonds_code == sel.fonds_code, Dossier.head_version > 0,
                    Dossier.file_code > last)
                rows = session.execute(filter_dossiers(session, env, actor, stmt)
                                       .order_by(Dossier.file_code).limit(BATCH)).all()
            if not rows:
                return
            last = rows[-1].file_code
            yield [r.id for r in rows]

    def _document_ids(self, dossier_id: str) -> list[str]:
        env = self.env
        with env.db.read() as session:
            stmt = select(Document.id).join(Dossier, Dossier.id == Document.dossier_id).where(
                Document.dossier_id == dossier_id, Document.head_version > 0)
            stmt = filter_documents(session, env, self.actor, stmt).order_by(Document.serial)
            return list(session.scalars(stmt))

    def _dossier(self, writer: _BagWriter, dossier_id: str):  # noqa: ANN202 - a generator
        """The dossier object, its documents, their TT 05 XML and the history file."""
        dossier = yield from self._object(writer, dossier_id)
        if dossier is None:
            return False
        docs: list[_Exported] = []
        file_code = dossier.record["file_code"]
        for doc_id in self._document_ids(dossier_id):
            doc = yield from self._object(writer, doc_id)
            if doc is None:
                continue
            docs.append(doc)
            yield from writer.add_bytes(
                f"data/metadata/{safe_name(doc.record['doc_code'])}.xml",
                doc_xml(doc.record, file_code=file_code, version=doc.head))
        yield from writer.add_bytes(f"data/metadata/{safe_name(file_code)}.xml",
                                    file_xml(dossier.record, doc_total=len(docs),
                                             version=dossier.head))
        yield from writer.add_bytes(f"data/history/{dossier_id}.json",
                                    self._history(dossier, docs))
        self.stats["dossiers"] += 1
        self.stats["documents"] += len(docs)
        return True

    def _history(self, dossier: _Exported, docs: list[_Exported]) -> bytes:
        ids = [dossier.rid] + [d.rid for d in docs]
        events: list[dict[str, Any]] = []
        with self.env.db.read() as session:
            for i in range(0, len(ids), 500):
                for e in session.scalars(select(AuditEvent).where(
                        AuditEvent.target.in_(ids[i:i + 500]))):
                    events.append({"seq": e.seq, "at": e.at.isoformat(), "actor": e.actor,
                                   "action": e.action, "target": e.target,
                                   "outcome": e.outcome, "client_addr": e.client_addr,
                                   "request_id": e.request_id, "details": e.details,
                                   "prev_hash": e.prev_hash, "hash": e.hash})
        events.sort(key=lambda e: e["seq"])
        body = {
            "format": "repo-server-history/1",
            "dossier_id": dossier.rid,
            "file_code": dossier.record.get("file_code"),
            "fonds_code": dossier.record.get("fonds_code"),
            "objects": [{"id": o.rid, "kind": o.kind,
                         "code": o.record.get("file_code" if o.kind == "dossier" else "doc_code"),
                         "versions": o.versions} for o in (dossier, *docs)],
            "audit_events": events,
        }
        return json.dumps(body, ensure_ascii=False, indent=1, default=str).encode()

    def _object(self, writer: _BagWriter, rid: str):  # noqa: ANN202 - a generator
        """Every file of one OCFL object, from one reading of its inventory (a snapshot)."""
        oid = object_id(rid)
        objdir = self.env.store.object_path(oid)
        try:
            data = (objdir / INVENTORY).read_bytes()
        except FileNotFoundError:
            log.warning("package %s: object %s is not in the storage root; left out",
                        self.stats["package"], oid)
            self.stats["skipped"].append(rid)
            return None
        inv = json.loads(data)
        head = int(inv["head"][1:])
        prefix = f"{OBJECTS}/{layout_path(oid)}"
        yield from writer.add_path(f"{prefix}/{OBJECT_NAMASTE}", objdir / OBJECT_NAMASTE)
        yield from writer.add_bytes(f"{prefix}/{INVENTORY}", data)
        yield from writer.add_bytes(
            f"{prefix}/{SIDECAR}", f"{hashlib.sha512(data).hexdigest()}  {INVENTORY}\n".encode())
        for n in range(1, head + 1):
            for name in (INVENTORY, SIDECAR):
                yield from writer.add_path(f"{prefix}/v{n}/{name}", objdir / f"v{n}" / name)
        sha256_of = {p: d for d, paths in inv.get("fixity", {}).get("sha256", {}).items()
                     for p in paths}
        for digest, paths in sorted(inv["manifest"].items(), key=lambda kv: kv[1][0]):
            for path in paths:
                yield from writer.add_path(f"{prefix}/{path}", objdir / path,
                                           sha256_of.get(path), digest)
        state = inv["versions"][inv["head"]]["state"]
        kind, record = "other", {}
        for logical, name in ((FONDS_FILE, "fonds"), (DOSSIER_FILE, "dossier"),
                              (DOCUMENT_FILE, "document")):
            digest = next((d for d, paths in state.items() if logical in paths), None)
            if digest is not None:
                kind = name
                record = json.loads((objdir / inv["manifest"][digest][0]).read_bytes())
                break
        self.stats["objects"] += 1
        self.stats["versions"] += head
        versions = [{"version": int(v[1:]), "created": b.get("created"),
                     "user": (b.get("user") or {}).get("name"),
                     "address": (b.get("user") or {}).get("address"),
                     "message": b.get("message")}
                    for v, b in sorted(inv["versions"].items(), key=lambda kv: int(kv[0][1:]))]
        return _Exported(rid, kind, head, record, versions)


def layout_extension(store: ObjectStore) -> str:
    return json.loads((store.root / "ocfl_layout.json").read_bytes())["extension"]


def export_to_file(env: Env, actor: Actor, selection: ExportSelection, path: str | Path
                   ) -> dict[str, Any]:
    """Write a package to a file (the command line); returns the export's counts."""
    rights.require(actor, "package.export")
    path = Path(path)
    part = path.with_name(path.name + ".part")
    export = PackageExport(env, actor, selection)
    started = time.monotonic()
    try:
        with open(part, "wb") as fh:
            for chunk in export.stream():
                fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(part, path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return {**export.stats, "seconds": round(time.monotonic() - started, 3), "path": str(path)}


# --- import ------------------------------------------------------------------------------------


@dataclass
class _Item:
    """One object of the package and what the import will do with it."""

    rid: str
    kind: str  # fonds | dossier | document
    head: int
    code: str  # fonds code, file code or doc code
    fonds_code: str
    dossier_id: str | None = None
    serial: int = 0
    record: dict[str, Any] = field(default_factory=dict)
    action: str = "new"  # new | update | skip
    target_head: int = 0
    note: str | None = None


@dataclass
class _Plan:
    items: dict[str, _Item] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def of(self, kind: str) -> list[_Item]:
        return [i for i in self.items.values() if i.kind == kind]


def _counts() -> dict[str, int]:
    return {"fonds": 0, "dossier": 0, "document": 0}


@contextmanager
def _quiet_bagit() -> Iterator[None]:
    """The bagit package logs a line per file at INFO; keep its warnings only."""
    logger = logging.getLogger("bagit")
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)


def import_package(env: Env, actor: Actor, package: str | Path,
                   progress: Callable[[str, int], None] | None = None) -> dict[str, Any]:
    """Import a package; all or nothing for damaged packages and conflicts (422 / 409 with the
    report), idempotent (objects already here with the same history are skipped)."""
    rights.require(actor, "package.import")
    started = time.monotonic()
    with _import_lock(env):
        work = Path(tempfile.mkdtemp(prefix="import-", dir=env.store.tmp_dir))
        try:
            return _import(env, actor, Path(package), work, started, progress)
        finally:
            shutil.rmtree(work, ignore_errors=True)


@contextmanager
def _import_lock(env: Env) -> Iterator[None]:
    """One import at a time per storage root (two imports of one package would race)."""
    path = env.store.tmp_dir / "locks" / "package-import.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Conflict("Another package is being imported into this repository; try again "
                           "when it has finished.") from None
        yield
    finally:
        os.close(fd)


def _import(env: Env, actor: Actor, package: Path, work: Path, started: float,
            progress: Callable[[str, int], None] | None) -> dict[str, Any]:
    bag = _unpack(env, Path(package), work)
    info = _check_bag(bag)
    source = _source_store(bag, work)
    plan = _plan(env, actor, bag, source, work)
    report = _report(info, plan)
    if plan.problems:
        raise PackageRejected(
            f"The package is not consistent ({len(plan.problems)} problem(s)); nothing was "
            "imported.", errors={"package": plan.problems[:200]}, report=report)
    if plan.conflicts:
        raise PackageConflict(
            f"{len(plan.conflicts)} record(s) in the package clash with records here; "
            "nothing was imported.", conflicts=plan.conflicts[:200], report=report)
    _execute(env, actor, plan, bag, report, work, progress)
    report["seconds"] = round(time.monotonic() - started, 3)
    audit.record(env, actor, "package.import", report["package"], "ok",
                 {k: report[k] for k in ("source_organization", "objects", "imported",
                                         "updated", "skipped", "bytes")})
    return report


def _report(info: dict[str, Any], plan: _Plan) -> dict[str, Any]:
    def first(key: str) -> str | None:
        value = info.get(key)
        return value[0] if isinstance(value, list) else value

    objects = _counts()
    for item in plan.items.values():
        objects[item.kind] += 1
    return {"package": first("External-Identifier"),
            "source_organization": first("Source-Organization"),
            "bagging_date": first("Bagging-Date"), "objects": objects,
            "imported": _counts(), "updated": _counts(), "skipped": _counts(),
            "catalog_repaired": 0, "history_events": 0,
            "bytes": int(oxum) if (oxum := str(first("Payload-Oxum") or "").split(".")[0])
            .isdigit() else 0,
            "notes": plan.notes, "problems": plan.problems, "conflicts": plan.conflicts}


def _keepalive(work: Path) -> None:
    """Start-up recovery removes staging entries older than a few minutes: stay young."""
    try:
        os.utime(work)
    except OSError:
        pass


def _unpack(env: Env, package: Path, work: Path) -> Path:
    """Extract the ZIP into `work/bag` (flushed to disk when the store fsyncs); refuse unsafe
    names, duplicates and damaged entries."""
    bag = work / "bag"
    bag.mkdir()
    try:
        zf = zipfile.ZipFile(package)
    except (zipfile.BadZipFile, OSError) as exc:
        raise PackageRejected("The package is not a readable ZIP file; nothing was imported.",
                              errors={"package": [str(exc)]}) from exc
    problems: list[str] = []
    made: list[Path] = []
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        names = {i.filename for i in infos}
        prefix = ""
        if "bagit.txt" not in names:
            tops = {n.split("/", 1)[0] for n in names}
            if len(tops) == 1 and f"{next(iter(tops))}/bagit.txt" in names:
                prefix = f"{next(iter(tops))}/"
        total = sum(i.file_size for i in infos)
        free = shutil.disk_usage(work).free
        if total + (64 << 20) > free:
            raise InsufficientStorage(
                f"Unpacking the package needs {_human(total)}; only {_human(free)} are free in "
                "the storage's staging folder. Nothing was imported.")
        for n, info in enumerate(infos):
            name = info.filename
            rel = name[len(prefix):] if name.startswith(prefix) else None
            if not rel or not _safe_member(rel):
                problems.append(f"{name}: not an acceptable path inside a package")
                continue
            dest = bag / rel
            _make_dirs(dest.parent, bag, made)
            try:
                with zf.open(info) as src, open(dest, "xb") as out:
                    shutil.copyfileobj(src, out, CHUNK)
            except FileExistsError:
                problems.append(f"{rel}: appears twice in the ZIP")
            except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
                problems.append(f"{rel}: damaged inside the ZIP ({exc})")
            if n % 1000 == 0:
                _keepalive(work)
    if problems:
        raise PackageRejected(f"The ZIP file is damaged or unsafe ({len(problems)} problem(s)); "
                              "nothing was imported.", errors={"package": problems[:200]},
                              report={"problems": problems[:200]})
    if env.store.fsync:  # one flush for every file and folder, before any is moved in
        _syncfs(work)
    return bag


def _syncfs(path: Path) -> None:
    """Flush the file system holding `path` (syncfs(2)): one call instead of an fsync per
    unpacked file and folder, which cost ~8 ms each here."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        syncfs = getattr(ctypes.CDLL(None, use_errno=True), "syncfs", None)
        if syncfs is None:
            os.sync()
        elif syncfs(fd) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"syncfs failed: {os.strerror(err)}")
    finally:
        os.close(fd)


_BAD_MEMBER = re.compile(r"[\x00-\x1f\x7f\\]|^/|(?:^|/)\.{0,2}(?:/|$)")


def _safe_member(rel: str) -> bool:
    """No absolute path, backslash, control character, or empty, '.' or '..' segment."""
    return _BAD_MEMBER.search(rel) is None


def _make_dirs(folder: Path, stop: Path, made: list[Path]) -> None:
    missing = []
    while folder != stop and not folder.is_dir():
        missing.append(folder)
        folder = folder.parent
    for f in reversed(missing):
        f.mkdir()
        made.append(f)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _describe(detail: Exception) -> str:
    import bagit

    if isinstance(detail, bagit.ChecksumMismatch):
        return (f"{detail.path}: {detail.algorithm} checksum does not match the manifest "
                f"(expected {detail.expected}, found {detail.found})")
    if isinstance(detail, bagit.FileMissing):
        return f"{detail.path}: listed in the manifest but missing from the package"
    if isinstance(detail, bagit.UnexpectedFile):
        return f"{detail.path}: in the package but in no manifest (an added file)"
    return str(detail)


def _check_bag(bag: Path) -> dict[str, Any]:
    """Validate with the `bagit` package: structure, completeness, every checksum."""
    import bagit

    with _quiet_bagit():
        try:
            parsed = bagit.Bag(str(bag))
        except bagit.BagError as exc:
            raise PackageRejected("The package is not a valid BagIt bag; nothing was imported.",
                                  errors={"package": [str(exc)]},
                                  report={"problems": [str(exc)]}) from exc
        problems: list[str] = []
        try:
            parsed.validate(processes=1)
        except bagit.BagValidationError as exc:
            problems = [_describe(d) for d in exc.details]
            if not problems:  # the size and count check failed first: name the files
                problems.append(str(exc.message))
                missing, extra = parsed.compare_manifests_with_fs()
                problems += [_describe(bagit.FileMissing(p)) for p in sorted(missing)]
                problems += [_describe(bagit.UnexpectedFile(p)) for p in sorted(extra)]
        except bagit.BagError as exc:
            problems = [str(exc)]
        if not problems and "sha256" not in parsed.algorithms:
            problems.append("The package has no SHA-256 manifest (TT 05/2025 requires SHA-256).")
        if problems:
            raise PackageRejected(
                f"The package failed BagIt validation ({len(problems)} problem(s)): it was "
                "damaged or changed after it was made. Nothing was imported.",
                errors={"package": problems[:200]}, report={"problems": problems[:200]})
        return dict(parsed.info)


def _source_store(bag: Path, work: Path) -> ObjectStore:
    objects = bag / OBJECTS
    if not (objects / ROOT_FILES[0]).is_file():
        raise PackageRejected(
            "The package holds no OCFL storage root in data/objects (it was not made by "
            "repo-server); nothing was imported.",
            errors={"package": ["data/objects/0=ocfl_1.1: missing"]})
    try:
        return ObjectStore(objects, tmp_dir=work / "source.tmp", fsync=False)
    except StorageError as exc:
        raise PackageRejected(f"data/objects is not a storage root this repository can read: "
                              f"{exc}", errors={"package": [str(exc)]}) from exc


_KIND_FILES = ((FONDS_FILE, "fonds"), (DOSSIER_FILE, "dossier"), (DOCUMENT_FILE, "document"))


def _read_item(source: ObjectStore, oid: str, plan: _Plan) -> _Item | None:
    where = f"{OBJECTS}/{layout_path(oid)}"
    try:
        rid = record_id(oid)
        uuid.UUID(rid)
    except ValueError:
        plan.problems.append(f"{where}: {oid!r} is not an object id of this repository")
        return None
    if not source.exists(oid):
        plan.problems.append(f"object {oid} is not stored at its layout path ({where})")
        return None
    bad = source.verify_object(oid)
    if bad:
        plan.problems += [f"{where}/{p}" for p in bad]
        return None
    head = source.version(oid)
    kind = next((k for name, k in _KIND_FILES if name in head.state), None)
    if kind is None:
        plan.problems.append(f"{where}: neither a fonds, a dossier nor a document")
        return None
    record = source.read_json(oid, next(n for n, k in _KIND_FILES if k == kind))
    if record.get("id") != rid:
        plan.problems.append(f"{where}: its record names another id ({record.get('id')!r})")
        return None
    if kind == "fonds":
        return _Item(rid, kind, head.number, record["code"], record["code"], record=record)
    if kind == "dossier":
        keep = {k: record.get(k) for k in ("archive_code", "external_ref", "state")}
        return _Item(rid, kind, head.number, record["file_code"], record["fonds_code"],
                     record=keep)
    return _Item(rid, kind, head.number, record["doc_code"], record["fonds_code"],
                 dossier_id=record["dossier_id"], serial=int(record.get("serial") or 0))


def _compare(source: ObjectStore, target: ObjectStore, oid: str) -> tuple[str, int]:
    """same | target_newer | package_newer | diverged (with the first differing version)."""
    s = source.inventory(oid)["versions"]
    t = target.inventory(oid)["versions"]
    for n in range(1, min(len(s), len(t)) + 1):
        if s[f"v{n}"] != t[f"v{n}"]:
            return "diverged", n
    if len(s) == len(t):
        return "same", len(t)
    return ("target_newer" if len(t) > len(s) else "package_newer"), len(t)


def _plan(env: Env, actor: Actor, bag: Path, source: ObjectStore, work: Path) -> _Plan:
    plan = _Plan()
    for n, oid in enumerate(source.iter_object_ids()):
        if n % 500 == 0:
            _keepalive(work)
        item = _read_item(source, oid, plan)
        if item is None:
            continue
        if item.rid in plan.items:
            plan.problems.append(f"object {oid} appears twice in data/objects")
            continue
        plan.items[item.rid] = item
    if plan.problems:
        return plan
    if not plan.items:
        plan.problems.append("The package holds no records.")
        return plan
    fonds_in_bag = {i.code for i in plan.of("fonds")}
    dossiers = {i.rid: i for i in plan.of("dossier")}
    for doc in plan.of("document"):
        dossier = dossiers.get(doc.dossier_id or "")
        if dossier is None:
            plan.problems.append(f"document {doc.code} ({doc.rid}) comes without its dossier "
                                 f"{doc.dossier_id}")
        elif dossier.fonds_code != doc.fonds_code:
            plan.problems.append(f"document {doc.code} names fonds {doc.fonds_code}, its "
                                 f"dossier {dossier.code} fonds {dossier.fonds_code}")
    outside = sorted({i.fonds_code for i in plan.items.values()
                      if not in_scope(actor, i.fonds_code)})
    if outside:
        raise Forbidden(f"The package holds records of fonds outside your scope "
                        f"({', '.join(outside)}); nothing was imported.")
    with env.db.read() as session:
        known = set(session.scalars(select(Fonds.code).where(
            Fonds.code.in_({d.fonds_code for d in dossiers.values()}))))
        for d in dossiers.values():
            if d.fonds_code not in fonds_in_bag and d.fonds_code not in known:
                plan.problems.append(f"dossier {d.code}: its fonds {d.fonds_code} is neither in "
                                     "the package nor in this repository; create it first")
        if plan.problems:
            return plan
        taken = _taken(session, plan)
    for item in plan.items.values():
        _decide(env, taken, source, item, plan)
    return plan


@dataclass
class _Taken:
    """What this repository already has of the package's codes (a few queries, not one per
    record): code -> the id that holds it here."""

    fonds: dict[str, str]
    file_codes: dict[str, str]
    archive_codes: dict[str, str]
    refs: dict[tuple[str, str], str]
    doc_codes: dict[str, str]
    tombstones: dict[str, Tombstone]
    held: set[str]


def _in_chunks(session, stmt_of, values: list[Any]) -> list[Any]:  # noqa: ANN001
    out: list[Any] = []
    for i in range(0, len(values), 500):
        out += session.execute(stmt_of(values[i:i + 500])).all()
    return out


def _taken(session, plan: _Plan) -> _Taken:  # noqa: ANN001
    dossiers, docs = plan.of("dossier"), plan.of("document")
    refs = [i.record["external_ref"] for i in dossiers if i.record.get("external_ref")]
    archive = [i.record["archive_code"] for i in dossiers if i.record.get("archive_code")]
    return _Taken(
        fonds=dict(_in_chunks(session, lambda v: select(Fonds.code, Fonds.id).where(
            Fonds.code.in_(v)), [i.code for i in plan.of("fonds")])),
        file_codes=dict(_in_chunks(session, lambda v: select(Dossier.file_code, Dossier.id)
                                   .where(Dossier.file_code.in_(v)), [i.code for i in dossiers])),
        archive_codes=dict(_in_chunks(session, lambda v: select(
            Dossier.archive_code, Dossier.id).where(Dossier.archive_code.in_(v)), archive)),
        refs={(f, r): i for f, r, i in _in_chunks(session, lambda v: select(
            Dossier.fonds_code, Dossier.external_ref, Dossier.id).where(
            Dossier.external_ref.in_(v)), refs)},
        doc_codes=dict(_in_chunks(session, lambda v: select(Document.doc_code, Document.id)
                                  .where(Document.doc_code.in_(v)), [i.code for i in docs])),
        tombstones={t.dossier_id: t for t in session.scalars(select(Tombstone).where(
            Tombstone.dossier_id.in_([i.rid for i in dossiers])))},
        held=held_dossier_ids(session),
    )


def _decide(env: Env, taken: _Taken, source: ObjectStore, item: _Item, plan: _Plan) -> None:
    """new, update or skip, or a conflict; checks the catalog's unique codes too."""
    oid = object_id(item.rid)
    label = f"{item.kind} {item.code} ({item.rid})"
    try:
        exists = env.store.exists(oid)
    except StorageError as exc:
        plan.conflicts.append(f"{label}: its folder here is damaged ({exc})")
        return
    if exists:
        outcome, target_head = _compare(source, env.store, oid)
        item.target_head = target_head
        if outcome == "same":
            item.action = "skip"
        elif outcome == "target_newer":
            item.action, item.note = "skip", f"{label}: this repository has newer versions " \
                                             f"(v{target_head} > v{item.head}); kept"
        elif outcome == "package_newer":
            item.action = "update"
        elif item.kind == "fonds":
            item.action, item.note = "skip", f"fonds {item.code}: kept this repository's " \
                                             "fonds record (it has its own history here)"
        else:
            plan.conflicts.append(f"{label}: has a different history here from version "
                                  f"{target_head} on")
            return
    if item.kind == "fonds":
        other = taken.fonds.get(item.code)
        if other and other != item.rid:
            item.action = "skip"
            item.note = (f"fonds {item.code}: already registered here (as {other}); the "
                         "package's dossiers join it")
    elif item.kind == "dossier" and item.action != "skip":
        _dossier_clashes(taken, item, label, plan)
    elif item.kind == "document" and item.action != "skip":
        other = taken.doc_codes.get(item.code)
        if other and other != item.rid:
            plan.conflicts.append(f"{label}: document code already used here by {other}")
        if item.dossier_id in taken.held:
            plan.conflicts.append(f"{label}: its dossier is under a legal hold here; nothing "
                                  "can be added to it or changed in it")
    if item.note:
        plan.notes.append(item.note)


def _dossier_clashes(taken: _Taken, item: _Item, label: str, plan: _Plan) -> None:
    tomb = taken.tombstones.get(item.rid)
    if tomb is not None:
        plan.conflicts.append(f"{label}: was destroyed here on "
                              f"{tomb.destroyed_at.date().isoformat()} (review {tomb.review_id})")
        return
    checks = [(taken.file_codes.get(item.code), f"file code {item.code}")]
    archive_code = item.record.get("archive_code")
    if archive_code:
        checks.append((taken.archive_codes.get(archive_code), f"archive code {archive_code}"))
    ref = item.record.get("external_ref")
    if ref:
        checks.append((taken.refs.get((item.fonds_code, ref)), f"case number {ref}"))
    for other, what in checks:
        if other and other != item.rid:
            plan.conflicts.append(f"{label}: {what} is already used here by dossier {other}")
    if item.action == "update" and item.rid in taken.held:
        plan.conflicts.append(f"{label}: is under a legal hold here; it cannot change")


def _place(env: Env, item: _Item, objects: Path) -> None:
    """Move the object folder (or its new versions) from the unpacked bag into the root."""
    oid = object_id(item.rid)
    src = objects / layout_path(oid)
    dest = env.store.object_path(oid)
    store = env.store
    if item.action == "new":
        created: list[Path] = []
        _make_dirs(dest.parent, store.root, created)
        try:
            os.rename(src, dest)
        except OSError as exc:
            raise Conflict(f"{item.kind} {item.code} ({item.rid}) appeared in this repository "
                           "while the package was imported; import it again.") from exc
        return  # made durable with the whole group (`_import_group`)
    # update: the new versions first (each rename commits one), then the root inventory,
    # as the store itself writes; a crash in between is rolled forward by `recover`.
    with store._locked(oid):  # noqa: SLF001 - the store's own per-object lock
        if store.head(oid) != item.target_head:
            raise Conflict(f"{item.kind} {item.code} ({item.rid}) changed here while the "
                           "package was imported; import it again.")
        for n in range(item.target_head + 1, item.head + 1):
            os.rename(src / f"v{n}", dest / f"v{n}")
        if store.fsync:
            _fsync_dir(dest)
        os.replace(src / INVENTORY, dest / INVENTORY)
        os.replace(src / SIDECAR, dest / SIDECAR)
        if store.fsync:
            _fsync_dir(dest)


def _execute(env: Env, actor: Actor, plan: _Plan, bag: Path, report: dict[str, Any],
             work: Path,
             progress: Callable[[str, int], None] | None) -> None:
    objects = bag / OBJECTS
    package = report["package"]
    for item in plan.of("fonds"):
        if item.action in ("new", "update"):
            _place(env, item, objects)
            if env.store.fsync:
                _syncfs(env.store.root)
        with env.db.write() as session:
            other = session.scalar(select(Fonds.id).where(Fonds.code == item.code,
                                                          Fonds.id != item.rid))
            if other is None and (item.action != "skip" or _catalog_behind(session, env, item)):
                import_object(session, env, item.rid)
                _count(report, item)
                audit.log_in(session, env, actor, "fonds.import", item.rid,
                             {"package": package, "action": item.action})
            else:  # the same, or another fonds record holds the code here: dossiers join it
                report["skipped"]["fonds"] += 1
    docs_of: dict[str, list[_Item]] = {}
    for doc in plan.of("document"):
        docs_of.setdefault(doc.dossier_id or "", []).append(doc)
    for n, dossier in enumerate(sorted(plan.of("dossier"), key=lambda i: i.code)):
        _keepalive(work)
        group = [dossier, *sorted(docs_of.get(dossier.rid, []), key=lambda i: i.serial)]
        _import_group(env, actor, group, objects, bag, package, report)
        if progress:
            progress("dossier", n + 1)


def _catalog_behind(session, env: Env, item: _Item) -> bool:  # noqa: ANN001
    model = {"fonds": Fonds, "dossier": Dossier, "document": Document}[item.kind]
    row = session.get(model, item.rid)
    return row is None or row.head_version != env.store.head(object_id(item.rid))


def _count(report: dict[str, Any], item: _Item) -> None:
    key = {"new": "imported", "update": "updated"}.get(item.action)
    if key:
        report[key][item.kind] += 1
    else:
        report["catalog_repaired"] += 1


def _import_group(env: Env, actor: Actor, group: list[_Item], objects: Path, bag: Path,
                  package: str, report: dict[str, Any]) -> None:
    """One dossier and its documents: storage first (pending rows guard a crash), then one
    catalog transaction with the outbox and the history."""
    dossier = group[0]
    moving = [i for i in group if i.action in ("new", "update")]
    tokens = {i.rid: new_id() for i in moving}
    if moving:
        with env.db.write() as session:
            now = env.now()
            session.execute(insert(PendingWrite), [
                {"token": tokens[i.rid], "object_id": i.rid, "object_kind": i.kind,
                 "started_at": now} for i in moving])
        placed = 0
        try:
            for item in moving:
                _place(env, item, objects)
                placed += 1
            if env.store.fsync:  # every new folder and rename of the group, in one flush
                _syncfs(env.store.root)
        except BaseException:
            # what was placed stays guarded by its pending row (start-up imports it)
            with env.db.write() as session:
                session.execute(delete(PendingWrite).where(PendingWrite.token.in_(
                    [tokens[i.rid] for i in moving[placed:]])))
            raise
    with env.db.write() as session:
        row = session.get(Dossier, dossier.rid)
        is_new = row is None or row.head_version == 0
        touched = False
        for item in group:
            if item.action != "skip" or _catalog_behind(session, env, item):
                import_object(session, env, item.rid)
                add_outbox(session, env, item.rid, item.kind, "index")
                _count(report, item)
                touched = True
            else:
                report["skipped"][item.kind] += 1
            if item.kind == "dossier":
                session.flush()
        if touched:
            session.flush()
            _derive(session, env, dossier.rid)
            if is_new:
                report["history_events"] += _append_history(session, bag, dossier.rid, package)
            audit.log_in(session, env, actor, "dossier.import", dossier.rid,
                         {"package": package, "file_code": dossier.code,
                          "actions": {i.rid: i.action for i in group if i.action != "skip"}})
        if tokens:
            session.execute(delete(PendingWrite).where(
                PendingWrite.token.in_(list(tokens.values()))))


def _derive(session, env: Env, dossier_id: str) -> None:  # noqa: ANN001
    """Catalog fields the object mirror leaves out: due date, archive code, counts, counters."""
    row = session.get(Dossier, dossier_id)  # due date and archive code: import_object
    row.doc_total = session.scalar(select(func.count()).select_from(Document).where(
        Document.dossier_id == dossier_id, Document.head_version > 0)) or 0
    row.doc_seq = max(row.doc_seq or 0, session.scalar(
        select(func.max(Document.serial)).where(Document.dossier_id == dossier_id)) or 0)
    # the next file number and archive code here must not reuse an imported one
    prefix = f"{row.fonds_code}.{row.year}."
    number = row.file_code.removeprefix(prefix) if row.file_code.startswith(prefix) else ""
    if number.isdigit():
        _at_least(session, "file_number", f"{row.fonds_code}:{row.year}", int(number))
    parsed = _parse_archive_code(env, row.archive_code)
    if parsed:
        _at_least(session, "archive_code", f"{parsed[0]}:{parsed[1]}", parsed[2])


def _at_least(session, scope: str, key: str, value: int) -> None:  # noqa: ANN001
    counter = session.get(Counter, (scope, key), with_for_update=True)
    if counter is None:
        session.add(Counter(scope=scope, key=key, value=value))
    elif counter.value < value:
        counter.value = value


def _parse_archive_code(env: Env, code: str | None) -> tuple[str, int, int] | None:
    """(fonds code, year, serial) of an archive code made with ARCHIVE_CODE_FORMAT."""
    if not code:
        return None
    pattern = ""
    for literal, name, _spec, _conv in string.Formatter().parse(env.config["ARCHIVE_CODE_FORMAT"]):
        pattern += re.escape(literal)
        if name in ("fonds_code", "year", "serial"):
            pattern += {"fonds_code": r"(?P<fonds_code>.+?)", "year": r"(?P<year>\d{4})",
                        "serial": r"(?P<serial>\d+)"}[name]
        elif name is not None:
            pattern += ".*?"
    match = re.fullmatch(pattern, code)
    if not match or not {"fonds_code", "year", "serial"} <= match.groupdict().keys():
        return None
    return match["fonds_code"], int(match["year"]), int(match["serial"])


def _append_history(session, bag: Path, dossier_id: str, package: str) -> int:  # noqa: ANN001
    """The source's audit events of the dossier, appended to this trail (marked imported)."""
    path = bag / "data" / "history" / f"{dossier_id}.json"
    try:
        history = json.loads(path.read_bytes())
    except (FileNotFoundError, ValueError):
        return 0
    events = []
    for e in history.get("audit_events") or []:
        try:
            at = datetime.fromisoformat(e["at"]).astimezone(UTC)
        except (KeyError, TypeError, ValueError):
            continue
        details = dict(e.get("details") or {})
        details["imported"] = {"package": package, "source_seq": e.get("seq"),
                               "source_hash": e.get("hash")}
        events.append({"at": at, "actor": str(e.get("actor") or "unknown")[:200],
                       "action": str(e.get("action") or "unknown")[:60],
                       "target": e.get("target"), "outcome": str(e.get("outcome") or "ok")[:20],
                       "client_addr": e.get("client_addr"), "request_id": e.get("request_id"),
                       "details": json.loads(json.dumps(details, ensure_ascii=False,
                                                        default=str))})
    audit.append(session, events)
    return len(events)
