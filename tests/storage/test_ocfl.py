"""Tests for the OCFL object store: real files in tmp_path, ocfl-py as the independent validator."""

from __future__ import annotations

import hashlib
import io
import json
import multiprocessing
import os
import random
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import ocfl
import pytest
from ocfl.layout_registry import get_layout
from ocfl.validator import Validator

from repo_server.storage import (
    ContentTooLarge,
    LogicalPathError,
    ObjectNotFound,
    ObjectStore,
    StaleVersion,
    StorageError,
)

USER = {"user_name": "Nguyễn Văn A", "user_address": "urn:repo-server:user:7"}


def new_id() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    return ObjectStore(tmp_path / "root", fsync=False)


def assert_root_valid(root: Path) -> None:
    """Validate the whole storage root with ocfl-py, warnings included."""
    sr = ocfl.StorageRoot(root=str(root))
    valid = sr.validate(log_warnings=True)
    problems = "\n".join(messages for _, messages in sr.errors)
    assert valid and sr.num_objects == sr.good_objects, problems
    assert sr.errors == [], problems


def assert_object_valid(path: Path) -> None:
    validator = Validator(log_warnings=True)
    assert validator.validate_object(str(path)), validator.status_str()
    assert validator.status_str() == ""
    passed, obj_validator = ocfl.Object().validate(objdir=str(path))
    assert passed, obj_validator.status_str()


def content_files(store: ObjectStore, object_id: str) -> list[Path]:
    return sorted(p for p in store.object_path(object_id).glob("v*/content/**/*") if p.is_file())


def write(store: ObjectStore, object_id: str, **kwargs):
    kwargs.setdefault("message", "test")
    return store.write_version(object_id, **USER, **kwargs)


# --- layout and root ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "object_id",
    [
        "urn:uuid:6f1c3a4e-8d2b-4c7a-9e55-0b1d2c3e4f50",
        "urn:uuid:00000000-0000-4000-8000-000000000000",
        "ark:/12345/bcd987",
        "info:fedora/object:123",
        "a b c d %20 ~ * ? \\ \" ' < > |",
        "Quyết định số 15/QĐ-UBND",
        "..",
        "-_-_",
        "x" * 99 + "é",
        "urn:uuid:" + "a/b:c" * 30,
        "🙂" * 40,
    ],
)
def test_layout_matches_ocfl_py(store: ObjectStore, object_id: str) -> None:
    expected = get_layout("0003-hash-and-id-n-tuple-storage-layout").identifier_to_path(object_id)
    assert store.object_path(object_id) == store.root / expected
    assert ocfl.StorageRoot(root=str(store.root)).object_path(object_id) == expected


def test_root_declaration_and_layout_files(store: ObjectStore) -> None:
    root = store.root
    assert (root / "0=ocfl_1.1").read_text() == "ocfl_1.1\n"
    layout = json.loads((root / "ocfl_layout.json").read_text())
    assert layout["extension"] == "0003-hash-and-id-n-tuple-storage-layout"
    config_file = root / "extensions/0003-hash-and-id-n-tuple-storage-layout/config.json"
    config = json.loads(config_file.read_text())
    assert config["digestAlgorithm"] == "sha256"
    assert (config["tupleSize"], config["numberOfTuples"]) == (3, 3)
    assert store.tmp_dir == Path(f"{root}.tmp") and (store.tmp_dir / "locks").is_dir()
    ObjectStore(root)  # reopening an existing root is fine
    assert_root_valid(root)


def test_refuses_foreign_folder_and_other_file_system(tmp_path: Path) -> None:
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "file.txt").write_text("x")
    with pytest.raises(StorageError, match="not an OCFL"):
        ObjectStore(tmp_path / "junk")
    if not Path("/dev/shm").is_dir() or os.stat("/dev/shm").st_dev == tmp_path.stat().st_dev:
        pytest.skip("no second file system to test with")
    other = Path("/dev/shm") / f"ocfl-test-{uuid.uuid4().hex}"
    try:
        with pytest.raises(StorageError, match="same file system"):
            ObjectStore(tmp_path / "root", tmp_dir=other)
    finally:
        for path in sorted(other.rglob("*"), reverse=True):
            path.rmdir()
        other.rmdir()


# --- a realistic workload, validated by ocfl-py ------------------------------------------------

NAMES = [
    "Quyết định số 15.pdf",
    "Tờ trình về việc phê duyệt.docx",
    "Công văn 123-UBND.odt",
    "Biên bản họp (bản gốc).pdf",
    "scan_0001.tiff",
]


def test_realistic_workload_validates(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "root", fsync=False)
    rng = random.Random(15)
    shared = b"%PDF-1.7 shared template " * 200  # the same file in many objects
    expected: dict[str, dict[str, bytes]] = {}
    for n in range(30):
        object_id = new_id()
        state: dict[str, bytes] = {}
        for v in range(rng.randint(2, 6)):
            contents = {"metadata.json": json.dumps({"n": n, "v": v}).encode()}
            for name in rng.sample(NAMES, rng.randint(0, 3)):
                data = shared if rng.random() < 0.3 else os.urandom(rng.randint(0, 5000))
                contents[f"files/{name}"] = data
                contents[f"text/{name}.txt"] = data[:100]  # often equal to another file: dedup
            add = {
                p: store.stage_bytes(d) if rng.random() < 0.5 else d for p, d in contents.items()
            }
            removable = sorted(p for p in state if p.startswith("files/") and p not in add)
            remove = rng.sample(removable, min(len(removable), rng.randint(0, 1)))
            write(store, object_id, add=add, remove=remove, message=f"v{v + 1}")
            for path in remove:
                del state[path]
            state.update(contents)
        expected[object_id] = state
    assert_root_valid(store.root)
    for object_id, state in expected.items():
        assert set(store.version(object_id).state) == set(state)
        for path, data in state.items():
            assert store.read_bytes(object_id, path) == data
    some_id = next(iter(expected))
    assert_object_valid(store.object_path(some_id))
    assert set(store.iter_object_ids()) == set(expected)
    listed = dict((i, p) for p, i in ocfl.StorageRoot(root=str(store.root)).list_objects())
    assert {i: store.root / p for i, p in listed.items()} == {
        i: store.object_path(i) for i in expected
    }
    assert [p.name for p in store.tmp_dir.iterdir()] == ["locks"]  # nothing left staged
    assert store.verify_object(some_id) == []


def test_inventory_contents(store: ObjectStore) -> None:
    object_id = new_id()
    created = datetime(2024, 5, 1, 3, 4, 5, 123456, tzinfo=UTC)
    info = write(store, object_id, add={"files/Quyết định số 15.pdf": b"pdf"}, created=created)
    inv = store.inventory(object_id)
    assert inv["type"] == "https://ocfl.io/1.1/spec/#inventory"
    assert inv["digestAlgorithm"] == "sha512" and inv["head"] == "v1"
    version = inv["versions"]["v1"]
    assert version["created"] == "2024-05-01T03:04:05.123456Z"
    assert version["user"] == {"name": USER["user_name"], "address": USER["user_address"]}
    file = info.state["files/Quyết định số 15.pdf"]
    assert file.content_path == "v1/content/files/Quyết định số 15.pdf"
    assert inv["fixity"]["sha256"] == {hashlib.sha256(b"pdf").hexdigest(): [file.content_path]}
    assert info.created == created and info.user_address == USER["user_address"]
    objdir = store.object_path(object_id)
    assert (objdir / "0=ocfl_object_1.1").read_text() == "ocfl_object_1.1\n"
    for folder in (objdir, objdir / "v1"):
        data = (folder / "inventory.json").read_bytes()
        assert (folder / "inventory.json.sha512").read_text().split()[0] == hashlib.sha512(
            data
        ).hexdigest()
    inv["head"] = "v99"  # the caller gets a copy: the cache is not touched
    assert store.head(object_id) == 1
    with pytest.raises(ValueError, match="timezone"):
        write(store, object_id, created=datetime(2024, 1, 1))


# --- dedup, versions, reading ------------------------------------------------------------------


def test_dedup_within_and_across_versions(store: ObjectStore) -> None:
    object_id = new_id()
    data = b"same bytes " * 1000
    first, second = store.stage_bytes(data), store.stage_bytes(data)
    write(store, object_id, add={"files/a.pdf": first, "files/b.pdf": second, "c": data})
    assert len(content_files(store, object_id)) == 1
    assert not first.path.exists() and not second.path.exists()
    third = store.stage(io.BytesIO(data))
    info = write(store, object_id, add={"files/copy.pdf": third})
    assert len(content_files(store, object_id)) == 1 and not third.path.exists()
    assert {f.content_path for f in info.state.values()} == {"v1/content/files/a.pdf"}
    assert not (store.object_path(object_id) / "v2" / "content").exists()  # no empty content dir
    assert_object_valid(store.object_path(object_id))


def test_old_versions_keep_their_bytes(store: ObjectStore) -> None:
    object_id = new_id()
    write(store, object_id, add={"metadata.json": b'{"v": 1}', "files/a.pdf": b"A1"})
    info = write(store, object_id, add={"metadata.json": b'{"v": 2}', "files/a.pdf": b"A2"})
    assert info.number == 2 and info.state["files/a.pdf"].content_path == "v2/content/files/a.pdf"
    info = write(
        store, object_id, add={"metadata.json": b'{"v": 3}', "b": b"A2"}, remove=["files/a.pdf"]
    )
    assert set(info.state) == {"metadata.json", "b"}
    assert (info.state["b"].size, info.state["b"].content_path) == (2, "v2/content/files/a.pdf")
    assert store.read_json(object_id, "metadata.json") == {"v": 3}
    assert store.read_json(object_id, "metadata.json", 1) == {"v": 1}
    assert store.read_bytes(object_id, "files/a.pdf", 1) == b"A1"
    assert store.read_bytes(object_id, "files/a.pdf", 2) == b"A2"
    with pytest.raises(ObjectNotFound):
        store.read_bytes(object_id, "files/a.pdf")
    with pytest.raises(ObjectNotFound):
        store.version(object_id, 4)
    with pytest.raises(ObjectNotFound):
        store.version(new_id())
    with pytest.raises(ObjectNotFound):
        store.inventory(new_id())
    with pytest.raises(ObjectNotFound):
        store.file_path(object_id, "no/such/file")
    path, info = store.file_path(object_id, "files/a.pdf", 2)
    assert path.read_bytes() == b"A2" and info.size == 2
    assert info.sha256 == hashlib.sha256(b"A2").hexdigest()
    assert [v.number for v in store.versions(object_id)] == [1, 2, 3]
    assert store.head(object_id) == 3 and store.head(new_id()) == 0
    assert store.exists(object_id) and not store.exists(new_id())


def test_metadata_only_and_empty_versions(store: ObjectStore) -> None:
    object_id = new_id()
    write(store, object_id)  # an empty first version is allowed
    write(store, object_id, add={"dossier.json": b"{}"})
    write(store, object_id)  # and a version that changes nothing
    assert store.head(object_id) == 3
    assert set(store.version(object_id).state) == {"dossier.json"}
    assert_object_valid(store.object_path(object_id))


def test_stage_streams_and_limits(store: ObjectStore) -> None:
    data = os.urandom(3 * 65536 + 17)
    staged = store.stage(io.BytesIO(data), max_bytes=len(data), chunk_size=65536)
    assert staged.size == len(data) and staged.path.read_bytes() == data
    assert staged.sha256 == hashlib.sha256(data).hexdigest()
    assert staged.sha512 == hashlib.sha512(data).hexdigest()
    store.discard(staged)
    assert not staged.path.exists()
    with pytest.raises(ContentTooLarge) as caught:
        store.stage(io.BytesIO(data), max_bytes=len(data) - 1, chunk_size=65536)
    assert caught.value.limit == len(data) - 1
    assert [p.name for p in store.tmp_dir.iterdir()] == ["locks"]


@pytest.mark.parametrize(
    "path",
    [
        "",
        "/abs.pdf",
        "a/../b",
        "../a",
        "./a",
        "a//b",
        "a/",
        "a\\b",
        "a\x00b",
        "a\nb",
        "a\x7fb",
        "x" * 256,
        "ệ" * 86,  # 258 bytes in UTF-8
        "bad\udcffsurrogate",
    ],
)
def test_bad_logical_paths(store: ObjectStore, path: str) -> None:
    with pytest.raises(LogicalPathError):
        write(store, new_id(), add={path: b"x"})


def test_path_conflicts_and_missing_removals(store: ObjectStore) -> None:
    object_id = new_id()
    write(store, object_id, add={"files/a.pdf": b"a"})
    with pytest.raises(LogicalPathError):
        write(store, object_id, add={"files": b"conflict"})
    with pytest.raises(LogicalPathError):
        write(store, object_id, add={"files/a.pdf/x": b"conflict"})
    with pytest.raises(LogicalPathError):
        write(store, object_id, remove=["files/missing.pdf"])
    write(store, object_id, add={"files": b"ok now"}, remove=["files/a.pdf"])
    assert set(store.version(object_id).state) == {"files"}
    assert_object_valid(store.object_path(object_id))


# --- optimistic locking and concurrency --------------------------------------------------------


def test_stale_version_writes_nothing(store: ObjectStore) -> None:
    object_id = new_id()
    write(store, object_id, add={"a": b"1"}, expected_head=0)
    staged = store.stage_bytes(b"new content")
    before = sorted(p for p in store.object_path(object_id).rglob("*"))
    for wrong in (0, 2, 5):
        with pytest.raises(StaleVersion) as caught:
            write(store, object_id, add={"b": staged}, expected_head=wrong)
        assert (caught.value.expected, caught.value.actual) == (wrong, 1)
    with pytest.raises(StaleVersion):
        write(store, new_id(), add={"b": staged}, expected_head=1)
    assert sorted(p for p in store.object_path(object_id).rglob("*")) == before
    assert staged.path.exists()  # still usable for a retry
    write(store, object_id, add={"b": staged}, expected_head=1)
    assert store.read_bytes(object_id, "b") == b"new content"


def _append_versions(root: str, object_id: str, worker: int, count: int) -> None:
    store = ObjectStore(root, fsync=False)
    for i in range(count):
        data = f"{worker}-{i}".encode()
        write(
            store,
            object_id,
            add={f"w{worker}.json": data, "shared.json": data},
            message=f"{worker}-{i}",
        )


def _check_all_versions_landed(store: ObjectStore, object_id: str, expected: set[str]) -> None:
    versions = store.versions(object_id)
    assert [v.number for v in versions] == list(range(1, len(expected) + 1))
    assert {v.message for v in versions} == expected
    assert_object_valid(store.object_path(object_id))
    assert_root_valid(store.root)


def test_concurrent_threads_on_one_object(store: ObjectStore) -> None:
    object_id = new_id()
    threads = [
        threading.Thread(target=_append_versions, args=(str(store.root), object_id, w, 6))
        for w in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _check_all_versions_landed(store, object_id, {f"{w}-{i}" for w in range(6) for i in range(6)})


def test_concurrent_processes_on_one_object(store: ObjectStore) -> None:
    object_id = new_id()
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_append_versions, args=(str(store.root), object_id, w, 15))
        for w in range(2)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    _check_all_versions_landed(store, object_id, {f"{w}-{i}" for w in range(2) for i in range(15)})


def test_cache_sees_writes_from_another_store(tmp_path: Path) -> None:
    one = ObjectStore(tmp_path / "root", fsync=False)
    two = ObjectStore(tmp_path / "root", fsync=False)
    object_id = new_id()
    write(one, object_id, add={"m.json": b"1"})
    assert two.read_bytes(object_id, "m.json") == b"1"
    write(two, object_id, add={"m.json": b"2"}, expected_head=1)
    assert one.head(object_id) == 2 and one.read_bytes(object_id, "m.json") == b"2"
    write(one, object_id, add={"m.json": b"3"}, expected_head=2)
    assert two.version(object_id).number == 3


# --- purge, recovery, verification -------------------------------------------------------------


def test_purge_leaves_nothing(store: ObjectStore) -> None:
    keep, doomed = new_id(), new_id()
    marker = f"SECRET-{uuid.uuid4().hex}".encode()
    write(store, keep, add={"a": b"keep me"})
    write(store, doomed, add={"files/secret.pdf": store.stage_bytes(marker * 10)})
    write(store, doomed, add={"metadata.json": marker})
    objdir = store.object_path(doomed)
    store.purge(doomed)
    assert not objdir.exists() and not objdir.parent.exists()  # empty tuple folders pruned
    for folder in (store.root, store.tmp_dir):
        for path in folder.rglob("*"):
            assert path.is_dir() or marker not in path.read_bytes(), path
    with pytest.raises(ObjectNotFound):
        store.purge(doomed)
    with pytest.raises(ObjectNotFound):
        store.version(doomed)
    assert list(store.iter_object_ids()) == [keep]
    assert_root_valid(store.root)
    write(store, doomed, add={"again": b"new"}, expected_head=0)  # the id can be reused
    assert store.head(doomed) == 1


def _simulate_crash_before_root_inventory(store: ObjectStore, object_id: str) -> None:
    """Write a version, then put the previous root inventory back, as if we crashed."""
    objdir = store.object_path(object_id)
    saved = {n: (objdir / n).read_bytes() for n in ("inventory.json", "inventory.json.sha512")}
    write(store, object_id, add={"m.json": b"committed but root not updated"})
    for name, data in saved.items():
        (objdir / name).write_bytes(data)


def test_recover_rolls_forward_and_cleans_tmp(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "root", fsync=False)
    object_id, other = new_id(), new_id()
    write(store, object_id, add={"m.json": b"1"})
    write(store, object_id, add={"m.json": b"2"})
    write(store, other, add={"m.json": b"x"})
    _simulate_crash_before_root_inventory(store, object_id)
    # Stray leftovers of a crashed writer: a staged file and a half-built version folder.
    store.stage_bytes(b"orphan")
    (store.tmp_dir / "build-deadbeef" / "content").mkdir(parents=True)
    (store.object_path(other) / "inventory.json.sha512").write_text(
        "0" * 128 + "  inventory.json\n"
    )
    # A writer killed after making the tuple folders of a new object, before its rename.
    (store.root / "abc" / "def" / "012").mkdir(parents=True)
    fresh = ObjectStore(tmp_path / "root", fsync=False)  # a new process after the crash
    assert fresh.head(object_id) == 2
    counts = fresh.recover()
    assert counts == {
        "objects": 2,
        "rolled_forward": 1,
        "sidecars_repaired": 1,
        "errors": 0,
        "temp_removed": 2,
        "empty_folders_removed": 3,
    }
    assert not (store.root / "abc").exists()
    assert fresh.head(object_id) == 3
    assert fresh.read_bytes(object_id, "m.json") == b"committed but root not updated"
    assert [p.name for p in store.tmp_dir.iterdir()] == ["locks"]
    assert_root_valid(store.root)
    assert fresh.recover()["rolled_forward"] == 0


def test_recover_keeps_recent_temp_files(store: ObjectStore) -> None:
    staged = store.stage_bytes(b"upload in progress")
    tuple_folder = store.object_path(new_id()).parent  # a live writer's, about to be used
    tuple_folder.mkdir(parents=True)
    assert store.recover(older_than_seconds=3600)["temp_removed"] == 0
    assert staged.path.exists() and tuple_folder.exists()
    old = time.time() - 7200
    os.utime(staged.path, (old, old))
    for folder in (tuple_folder, tuple_folder.parent, tuple_folder.parent.parent):
        os.utime(folder, (old, old))
    counts = store.recover(older_than_seconds=3600)
    assert counts["temp_removed"] == 1 and counts["empty_folders_removed"] == 3
    assert not tuple_folder.parent.parent.exists()


def test_next_writer_rolls_forward_without_recover(store: ObjectStore) -> None:
    object_id = new_id()
    write(store, object_id, add={"m.json": b"1"})
    _simulate_crash_before_root_inventory(store, object_id)
    with pytest.raises(StaleVersion) as caught:
        write(store, object_id, add={"m.json": b"x"}, expected_head=1)
    assert caught.value.actual == 2
    write(store, object_id, add={"m.json": b"3"}, expected_head=2)
    assert [v.number for v in store.versions(object_id)] == [1, 2, 3]
    assert_object_valid(store.object_path(object_id))


def test_verify_object_finds_damage(store: ObjectStore) -> None:
    object_id = new_id()
    write(store, object_id, add={"files/a.pdf": b"original", "b.txt": b"b"})
    write(store, object_id, add={"c.txt": b"c"})
    assert store.verify_object(object_id) == []
    objdir = store.object_path(object_id)
    (objdir / "v1/content/files/a.pdf").write_bytes(b"tampered")
    (objdir / "v2/content/stray.bin").write_bytes(b"?")
    (objdir / "v1/content/b.txt").unlink()
    (objdir / "v1/inventory.json.sha512").write_text("0" * 128 + "  inventory.json\n")
    problems = store.verify_object(object_id)
    assert any("a.pdf: sha512" in p for p in problems)
    assert any("a.pdf: sha256" in p for p in problems)
    assert any("b.txt: missing" in p for p in problems)
    assert any("stray.bin: not in the manifest" in p for p in problems)
    assert any(p.startswith("v1/inventory.json.sha512") for p in problems)
    assert len(problems) == 5


@pytest.mark.parametrize("method", ["syncfs", "fsync"])
def test_fsync_on_path_writes_valid_objects(tmp_path: Path, monkeypatch, method: str) -> None:
    import repo_server.storage.sync as sync

    calls = {"syncfs": 0, "fsync": 0}
    real_syncfs, real_fsync = sync.syncfs, os.fsync

    def counting_syncfs(path: Path) -> None:
        calls["syncfs"] += 1
        real_syncfs(path)

    def counting_fsync(fd: int) -> None:
        calls["fsync"] += 1
        real_fsync(fd)

    monkeypatch.setattr(sync, "syncfs", counting_syncfs)
    monkeypatch.setattr(os, "fsync", counting_fsync)
    # fsync=True: exercise the real code path of each method
    store = ObjectStore(tmp_path / "root", sync_method=method)
    assert store.sync_method == method
    before = dict(calls)
    object_id = new_id()
    write(store, object_id, add={"f": store.stage(io.BytesIO(b"x" * 5000)), "m": b"{}"})
    made = {k: calls[k] - before[k] for k in calls}
    if method == "syncfs":  # the build, then the folders the rename changed; nothing else
        assert made == {"syncfs": 2, "fsync": 0}
    else:  # the staged file, four files and three folders of the object, the tuple folders
        assert made["syncfs"] == 0 and made["fsync"] >= 8
    write(store, object_id, add={"f": store.stage(io.BytesIO(b"x" * 5000)), "m": b"{}"})
    write(store, object_id, add={"m": b"[]"})
    other = new_id()
    write(store, other, add={"m": b"gone"})
    store.purge(other)
    assert_root_valid(store.root)
    assert list(store.iter_object_ids()) == [object_id]


def test_sync_method_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="syncfs, fsync"):
        ObjectStore(tmp_path / "root", sync_method="sometimes")
    with pytest.raises(ValueError, match="syncfs, fsync"):
        ObjectStore(tmp_path / "other", fsync=False, sync_method="sometimes")
    assert ObjectStore(tmp_path / "third", fsync=False).sync_method == "none"


# --- micro-benchmark: python tests/storage/test_ocfl.py ----------------------------------------


def _percentiles(samples: list[float]) -> str:
    samples = sorted(samples)
    median = samples[len(samples) // 2]
    p95 = samples[int(len(samples) * 0.95)]
    return f"median {median:.2f} ms, p95 {p95:.2f} ms (n={len(samples)})"


def benchmark(root: Path, creates: int = 1000, updates: int = 200) -> None:
    store = ObjectStore(root, fsync=True)
    metadata = json.dumps({"title": "Quyết định số 15", "pad": "x" * 1900}).encode()
    create_ms, write_ms, ids = [], [], []
    for _ in range(creates):
        object_id, upload = new_id(), io.BytesIO(os.urandom(20 * 1024))
        start = time.perf_counter()
        staged = store.stage(upload, max_bytes=1 << 20)
        staged_at = time.perf_counter()
        store.write_version(
            object_id,
            add={"files/Quyết định số 15.pdf": staged, "metadata.json": metadata},
            message="create",
            user_name="bench",
            expected_head=0,
        )
        create_ms.append((time.perf_counter() - start) * 1000)
        write_ms.append((time.perf_counter() - staged_at) * 1000)
        ids.append(object_id)
    targets = ids[:20]
    for object_id in targets:  # bring each target to 9 versions, the update makes the 10th+
        for v in range(8):
            store.write_version(
                object_id, add={"metadata.json": b"%d" % v}, message="u", user_name="b"
            )
    update_ms = []
    for i in range(updates):
        object_id = targets[i % len(targets)]
        start = time.perf_counter()
        store.write_version(
            object_id,
            add={"metadata.json": metadata + b"%d" % i},
            message="update",
            user_name="bench",
            expected_head=store.head(object_id),
        )
        update_ms.append((time.perf_counter() - start) * 1000)
    print(f"create (stage 20 KB + write with 2 KB json): {_percentiles(create_ms)}")
    print(f"  of which write_version alone: {_percentiles(write_ms)}")
    print(f"update (2 KB json, objects with 9-19 versions): {_percentiles(update_ms)}")


if __name__ == "__main__":
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="ocfl-bench-", dir=os.environ.get("BENCH_DIR")))
    try:
        benchmark(folder / "root")
    finally:
        shutil.rmtree(folder)


# --- batches ----------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["syncfs", "fsync"])
def test_write_versions_commits_a_batch_with_three_syncs(tmp_path: Path, monkeypatch,
                                                         method: str) -> None:
    import repo_server.storage.ocfl as ocfl
    import repo_server.storage.sync as sync

    calls = {"syncfs": 0, "fsync": 0}
    real_syncfs, real_fsync = sync.syncfs, os.fsync
    monkeypatch.setattr(sync, "syncfs", lambda p: (calls.__setitem__("syncfs", calls["syncfs"] + 1),
                                                    real_syncfs(p))[1])
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.__setitem__("fsync", calls["fsync"] + 1),
                                                      real_fsync(fd))[1])
    store = ObjectStore(tmp_path / "root", sync_method=method)
    ids = [new_id() for _ in range(5)]
    for object_id in ids:
        write(store, object_id, add={"files/a.pdf": b"%PDF " + object_id.encode()})
    write(store, ids[4], add={"metadata.json": b"{}"})  # v2: a batch expecting v1 is stale
    before = dict(calls)
    staged = store.stage(io.BytesIO(b"text of three"))
    writes = [ocfl.VersionWrite(object_id, {"text/a.pdf.txt": f"text {n}".encode()},
                                message="Extract text", **USER, expected_head=1)
              for n, object_id in enumerate(ids)]
    writes[3] = ocfl.VersionWrite(ids[3], {"text/a.pdf.txt": staged}, message="Extract text",
                                  **USER, remove=("files/a.pdf",), expected_head=1)
    results = store.write_versions(writes)
    made = {k: calls[k] - before[k] for k in calls}
    if method == "syncfs":  # before the renames, after them, after the root inventories
        assert made == {"syncfs": 3, "fsync": 0}
    else:  # per file and folder, but the object folders once per step for the whole batch
        assert made["syncfs"] == 0 and made["fsync"] < 5 * 12
    assert [r.number for r in results[:4]] == [2, 2, 2, 2]
    assert isinstance(results[4], StaleVersion) and results[4].actual == 2
    assert store.read_bytes(ids[0], "text/a.pdf.txt") == b"text 0"
    assert store.read_bytes(ids[3], "text/a.pdf.txt") == b"text of three"
    assert "files/a.pdf" not in store.version(ids[3]).state
    assert store.read_bytes(ids[3], "files/a.pdf", 1).startswith(b"%PDF")
    assert "text/a.pdf.txt" not in store.version(ids[4]).state  # the stale one is untouched
    assert not staged.path.exists()  # moved into the object
    assert_root_valid(store.root)
    assert store.write_versions([]) == []


def test_write_versions_leaves_nothing_when_it_fails(store: ObjectStore) -> None:
    from repo_server.storage.ocfl import VersionWrite

    a, b = new_id(), new_id()
    write(store, a, add={"m": b"1"})
    staged = store.stage(io.BytesIO(b"keep me"))
    with pytest.raises(ObjectNotFound):  # b does not exist: nothing of the batch is written
        store.write_versions([VersionWrite(a, {"t": staged}, message="x", **USER),
                              VersionWrite(b, {"t": b"y"}, message="x", **USER)])
    assert store.version(a).number == 1
    assert staged.path.read_bytes() == b"keep me"  # back where the caller left it
    with pytest.raises(ValueError):
        store.write_versions([VersionWrite(a, {"t": b"1"}, message="x", **USER)] * 2)
    assert sorted(p.name.split("-")[0] for p in store.tmp_dir.iterdir()
                  if p.name != "locks") == ["stage"]
    assert_root_valid(store.root)
