"""Package export: dossiers or a whole fonds streamed as a zipped BagIt bag (the format is in
services/packages.py). Files are read in chunks; manifest lines and the ZIP's central directory
spill to temporary files, so memory does not grow with the number of files."""

from __future__ import annotations

import hashlib
import json
import logging
import marshal
import os
import shutil
import tempfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import select

from ..catalog import (
    AuditEvent,
    Document,
    Dossier,
    Fonds,
)
from ..version import __version__
from . import audit, rights
from .access import filter_documents, filter_dossiers
from .context import Actor, Env
from .dossiers import visible_row
from .errors import ValidationFailed
from .fonds import get_fonds_row
from .package_common import (
    _UNSAFE_NAME,
    ALGORITHMS,
    BAGIT_VERSION,
    BATCH,
    CHUNK,
    FLUSH_AT,
    FORMAT,
    INVENTORY,
    MAX_DOSSIER_IDS,
    OBJECT_NAMASTE,
    OBJECTS,
    SIDECAR,
    human_size,
)
from .records import (
    DOCUMENT_FILE,
    DOSSIER_FILE,
    FONDS_FILE,
    new_id,
    object_id,
)
from .tt05_xml import doc_xml, file_xml

log = logging.getLogger("repo_server.services.packages")


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
                ("Bag-Size", human_size(self.payload_bytes))]
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
        work = env.store.work_dir("export-")
        writer = _BagWriter(work, started)
        try:
            for chunk in self._chunks(writer, started):
                self.stats["bytes"] += len(chunk)
                yield chunk
        finally:
            writer.close()
            shutil.rmtree(work, ignore_errors=True)
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
        for name, path in env.store.root_files():
            yield from writer.add_path(f"{OBJECTS}/{name}", path)
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
                        {"package": self.stats["package"]}) for d in exported], env)
        names = "; ".join(name for _, _, name in fonds) or "repo-server"
        codes = ", ".join(code for _, code, _ in fonds)

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
        snapshot = self.env.store.object_files(oid)
        if snapshot is None:
            log.warning("package %s: object %s is not in the storage root; left out",
                        self.stats["package"], oid)
            self.stats["skipped"].append(rid)
            return None
        data, inv = snapshot.inventory_bytes, snapshot.inventory
        head = int(inv["head"][1:])
        prefix = f"{OBJECTS}/{snapshot.folder}"
        files = {name: path for name, path, _, _ in snapshot.files}
        yield from writer.add_path(f"{prefix}/{OBJECT_NAMASTE}", files[OBJECT_NAMASTE])
        yield from writer.add_bytes(f"{prefix}/{INVENTORY}", data)
        yield from writer.add_bytes(
            f"{prefix}/{SIDECAR}", f"{hashlib.sha512(data).hexdigest()}  {INVENTORY}\n".encode())
        for name, path, sha256, sha512 in snapshot.files:
            if name != OBJECT_NAMASTE:
                yield from writer.add_path(f"{prefix}/{name}", path, sha256, sha512)
        state = inv["versions"][inv["head"]]["state"]
        kind, record = "other", {}
        for logical, name in ((FONDS_FILE, "fonds"), (DOSSIER_FILE, "dossier"),
                              (DOCUMENT_FILE, "document")):
            digest = next((d for d, paths in state.items() if logical in paths), None)
            if digest is not None:
                kind = name
                record = json.loads(files[inv["manifest"][digest][0]].read_bytes())
                break
        self.stats["objects"] += 1
        self.stats["versions"] += head
        versions = [{"version": int(v[1:]), "created": b.get("created"),
                     "user": (b.get("user") or {}).get("name"),
                     "address": (b.get("user") or {}).get("address"),
                     "message": b.get("message")}
                    for v, b in sorted(inv["versions"].items(), key=lambda kv: int(kv[0][1:]))]
        return _Exported(rid, kind, head, record, versions)


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


