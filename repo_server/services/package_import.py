"""Package import: unpack (refusing unsafe ZIPs and zip bombs), validate the bag and every
object, check references and conflicts, then hand the objects to the store and mirror them
in the catalog, dossier by dossier (the format is in services/packages.py)."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import stat
import string
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
    Counter,
    Document,
    Dossier,
    Fonds,
    PendingWrite,
    Tombstone,
)
from ..storage import ObjectStore, StaleVersion, StorageBusy, StorageError, layout_path
from . import audit, rights
from .access import in_scope
from .context import Actor, Env
from .errors import Conflict, Forbidden
from .holds import held_dossier_ids
from .package_common import (
    CHUNK,
    OBJECTS,
    ROOT_FILES,
    InsufficientStorage,
    PackageConflict,
    PackageRejected,
    human_size,
)
from .rebuild import import_object
from .records import (
    DOCUMENT_FILE,
    DOSSIER_FILE,
    FONDS_FILE,
    new_id,
    object_id,
    record_id,
)
from .writes import add_outbox

log = logging.getLogger("repo_server.services.packages")


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
        work = env.store.work_dir("import-")
        try:
            return _import(env, actor, Path(package), work, started, progress)
        finally:
            shutil.rmtree(work, ignore_errors=True)


@contextmanager
def _import_lock(env: Env) -> Iterator[None]:
    """One import at a time per storage root (two imports of one package would race)."""
    try:
        with env.store.lock("package-import", wait=False):
            yield
    except StorageBusy:
        raise Conflict("Another package is being imported into this repository; try again "
                       "when it has finished.") from None


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


# A ZIP entry may expand this many times over its compressed size (deflate's limit is about
# 1,030; the PDF, TIFF and JSON of a real package stay far below 20), and a whole package this
# many times over its own size: beyond that it is a zip bomb, refused before anything is read.
MAX_ENTRY_RATIO = 100
MAX_PACKAGE_RATIO = 100
RATIO_FREE_BYTES = 1 << 20  # entries and packages that expand to less are never refused


def _unpack(env: Env, package: Path, work: Path) -> Path:
    """Extract the ZIP into `work/bag` (flushed to disk when the store fsyncs); refuse unsafe
    names, duplicates, encrypted entries, links, zip bombs and damaged entries."""
    bag = work / "bag"
    bag.mkdir()
    try:
        zf = zipfile.ZipFile(package)
    except (zipfile.BadZipFile, OSError) as exc:
        raise PackageRejected("The package is not a readable ZIP file; nothing was imported.",
                              errors={"package": [str(exc)]}) from exc
    made: list[Path] = []
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        names = {i.filename for i in infos}
        prefix = ""
        if "bagit.txt" not in names:
            tops = {n.split("/", 1)[0] for n in names}
            if len(tops) == 1 and f"{next(iter(tops))}/bagit.txt" in names:
                prefix = f"{next(iter(tops))}/"
        problems = _entry_problems(zf, infos, prefix)
        if problems:
            _refuse_zip(problems)
        total = sum(i.file_size for i in infos)
        _refuse_bomb(package, total)
        free = shutil.disk_usage(work).free
        if total + (64 << 20) > free:
            raise InsufficientStorage(
                f"Unpacking the package needs {human_size(total)}; only {human_size(free)} are free in "
                "the storage's staging folder. Nothing was imported.")
        for n, info in enumerate(infos):
            rel = info.filename[len(prefix):]
            dest = bag / rel
            _make_dirs(dest.parent, bag, made)
            try:
                with zf.open(info) as src, open(dest, "xb") as out:
                    _copy_at_most(src, out, info.file_size, rel)
            except FileExistsError:
                problems.append(f"{rel}: appears twice in the ZIP")
            except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
                problems.append(f"{rel}: damaged inside the ZIP ({exc})")
            if n % 1000 == 0:
                _keepalive(work)
    if problems:
        _refuse_zip(problems)
    env.store.sync_all()  # one flush for every file and folder, before any is moved in
    return bag


def _refuse_zip(problems: list[str]) -> None:
    raise PackageRejected(f"The ZIP file is damaged or unsafe ({len(problems)} problem(s)); "
                          "nothing was imported.", errors={"package": problems[:200]},
                          report={"problems": problems[:200]})


def _entry_problems(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo],
                    prefix: str) -> list[str]:
    """What is wrong with the entries, from the ZIP's directory alone (nothing is read)."""
    problems: list[str] = []
    files: set[str] = set()
    folders = {i.filename[len(prefix):].rstrip("/") for i in zf.infolist()
               if i.is_dir() and i.filename.startswith(prefix)}
    for info in infos:
        name = info.filename
        rel = name[len(prefix):] if name.startswith(prefix) else None
        if not rel or not _safe_member(rel):
            problems.append(f"{name}: not an acceptable path inside a package")
            continue
        long = [seg for seg in rel.split("/") if len(seg.encode("utf-8")) > 255]
        if long:
            problems.append(f"{name}: a folder or file name is longer than 255 bytes "
                            f"({len(long[0].encode('utf-8'))}); no file system can hold it")
            continue
        if info.flag_bits & 0x1:
            problems.append(f"{name}: encrypted; export the package again without a password")
            continue
        if stat.S_ISLNK(info.external_attr >> 16):
            problems.append(f"{name}: a symbolic link; packages hold only files and folders")
            continue
        if info.file_size > RATIO_FREE_BYTES and \
                info.file_size > MAX_ENTRY_RATIO * max(info.compress_size, 1):
            problems.append(f"{name}: expands {info.file_size // max(info.compress_size, 1)} "
                            f"times (to {human_size(info.file_size)}); more than {MAX_ENTRY_RATIO} "
                            "times is refused as a zip bomb")
            continue
        files.add(rel)
        parts = rel.split("/")
        folders.update("/".join(parts[:i]) for i in range(1, len(parts)))
    for rel in sorted(files & folders):
        problems.append(f"{prefix}{rel}: is both a file and a folder in the ZIP")
    return problems


def _refuse_bomb(package: Path, total: int) -> None:
    size = package.stat().st_size
    if total > RATIO_FREE_BYTES and total > MAX_PACKAGE_RATIO * max(size, 1):
        raise PackageRejected(
            f"The package ({human_size(size)}) would expand to {human_size(total)}, more than "
            f"{MAX_PACKAGE_RATIO} times its size: refused as a zip bomb; nothing was imported.",
            errors={"package": [f"declared size {total} bytes from {size} bytes"]})


def _copy_at_most(src: BinaryIO, out: BinaryIO, limit: int, rel: str) -> None:
    """Copy an entry, never more than its declared size (zipfile stops there too; this keeps
    the promise whatever the reader does)."""
    written = 0
    while chunk := src.read(CHUNK):
        written += len(chunk)
        if written > limit:
            raise zipfile.BadZipFile(f"{rel} is larger than its declared {limit} bytes")
        out.write(chunk)


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
    """Hand the object folder (or its new versions) from the unpacked bag to the store."""
    oid = object_id(item.rid)
    try:
        env.store.adopt(oid, objects / layout_path(oid),
                        expected_head=item.target_head if item.action == "update" else 0,
                        new_head=item.head)
    except StaleVersion as exc:
        happened = "appeared in" if item.action == "new" else "changed in"
        raise Conflict(f"{item.kind} {item.code} ({item.rid}) {happened} this repository "
                       "while the package was imported; import it again.") from exc


def _execute(env: Env, actor: Actor, plan: _Plan, bag: Path, report: dict[str, Any],
             work: Path,
             progress: Callable[[str, int], None] | None) -> None:
    objects = bag / OBJECTS
    package = report["package"]
    for item in plan.of("fonds"):
        if item.action in ("new", "update"):
            _place(env, item, objects)
            env.store.sync_all()
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
            env.store.sync_all()  # every new folder and rename of the group, in one flush
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
                report["history_events"] += _append_history(session, env, bag, dossier.rid, package)
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


def _append_history(session, env: Env, bag: Path, dossier_id: str,  # noqa: ANN001
                    package: str) -> int:
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
    audit.append(session, events, env)
    return len(events)
