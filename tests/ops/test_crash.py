"""Crash safety: SIGKILL the server at random moments during a write load, restart it, and
check that every acknowledged write is there, that no partial version is visible, that the
catalog agrees with the storage root, that no temporary file is left and that the index
catches up."""

from __future__ import annotations

import hashlib
import json
import os
import random
import threading
import time
import uuid

import ocfl
import pytest
import requests

from repo_server import build_env
from repo_server.services.records import object_id
from tests.conftest import close_env, make_config
from tests.ops.helpers import assert_catalog_matches_storage
from tests.ops.stack import database_url, loadtest

KILLS = int(os.environ.get("REPO_CRASH_KILLS", "6"))
FONDS = "000.00.00.H49"


class Writer(threading.Thread):
    """Writes through the API and remembers what the server acknowledged."""

    def __init__(self, n: int, stack, key: str, stop: threading.Event) -> None:  # noqa: ANN001
        super().__init__(daemon=True)
        self.n, self.stack, self.stop = n, stack, stop
        self.s = requests.Session()
        self.s.headers["Authorization"] = f"Bearer {key}"
        self.rng = random.Random(n)
        self.dossiers: list[str] = []
        self.docs: dict[str, dict] = {}  # id -> {version: {"subject", "files"}}
        self.acked = 0
        self.unknown = 0
        self.server_errors: list[str] = []

    def call(self, method: str, path: str, **kw):  # noqa: ANN003, ANN201
        try:
            r = self.s.request(method, self.stack.base + path, timeout=30, **kw)
        except requests.RequestException:
            self.unknown += 1  # the server died under us: not acknowledged
            time.sleep(0.2)
            return None
        if r.status_code >= 500:
            self.server_errors.append(f"{method} {path}: {r.status_code} {r.text[:300]}")
            return None
        if r.status_code >= 400:
            return None
        self.acked += 1
        return r

    def run(self) -> None:
        i = 0
        while not self.stop.is_set():
            i += 1
            choice = self.rng.random()
            if not self.dossiers or choice < 0.2:
                r = self.call("POST", "/dossiers", json={
                    "fonds_code": FONDS, "title": f"Hồ sơ {self.n}.{i}", "retention": "05",
                    "start_date": "2025-07-15"})
                if r is not None:
                    self.dossiers.append(r.json()["id"])
            elif not self.docs or choice < 0.5:
                token = f"crash{uuid.uuid4().hex[:10]}"
                body = f"Văn bản {token}\n".encode() * self.rng.randint(10, 4000)
                meta = {"type_code": "02", "subject": f"Quyết định {token}"}
                r = self.call("POST", f"/dossiers/{self.rng.choice(self.dossiers)}/documents",
                              files={"metadata": (None, json.dumps(meta, ensure_ascii=False),
                                                  "application/json"),
                                     "file": ("a.txt", body, "text/plain")})
                if r is not None:
                    doc = r.json()
                    self.docs[doc["id"]] = {"token": token, "versions": {doc["version"]: {
                        "subject": meta["subject"],
                        "files": {"a.txt": hashlib.sha256(body).hexdigest()}}}}
            else:
                doc_id = self.rng.choice(list(self.docs))
                rec = self.docs[doc_id]
                head = max(rec["versions"])
                state = rec["versions"][head]
                if choice < 0.75:
                    subject = f"Quyết định {rec['token']} sửa {i}"
                    r = self.call("PATCH", f"/documents/{doc_id}", json={"subject": subject},
                                  headers={"If-Match": f'"v{head}"'})
                    new = {"subject": subject, "files": state["files"]}
                else:
                    name = f"b{i}.bin"
                    body = os.urandom(self.rng.randint(100, 200_000))
                    r = self.call("POST", f"/documents/{doc_id}/files", params={"name": name},
                                  data=body, headers={"Content-Type": "application/octet-stream",
                                                      "If-Match": f'"v{head}"'})
                    new = {"subject": state["subject"],
                           "files": {**state["files"], name: hashlib.sha256(body).hexdigest()}}
                if r is not None:
                    rec["versions"][r.json()["version"]] = new
                else:
                    # not acknowledged (or refused: a system version came in between): learn
                    # the head again before the next change
                    got = self.call("GET", f"/documents/{doc_id}")
                    if got is not None and got.json()["version"] > head:
                        v = got.json()
                        rec["versions"].setdefault(v["version"], {
                            "subject": v["subject"], "unverified": True,
                            "files": {f["name"]: f["sha256"] for f in v["files"]}})


@pytest.mark.slow(60)
def test_sigkill_at_random_moments_loses_nothing_acknowledged(tmp_path):
    lt = loadtest()
    url = database_url()
    stack = lt.Stack(tmp_path, mode="embedded", database_url=url)
    key = stack.init()
    try:
        _run(lt, stack, key, url)
    finally:
        stack.kill()  # whatever happened: no server left running


def _run(lt, stack, key: str, url: str | None) -> None:  # noqa: ANN001
    stack.start()
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {key}"
    assert s.post(f"{stack.base}/fonds", json={"code": FONDS, "name": "UBND"}).status_code == 201
    stop = threading.Event()
    writers = [Writer(n, stack, key, stop) for n in range(4)]
    for w in writers:
        w.start()
    rng = random.Random(7)
    try:
        for _ in range(KILLS):
            time.sleep(rng.uniform(0.4, 2.5))
            stack.kill()
            time.sleep(rng.uniform(0, 0.3))
            stack.start()
        time.sleep(1.0)
    finally:
        stop.set()
        for w in writers:
            w.join(timeout=60)
    # index catches up (the new process waits out the dead one's worker lease)
    stack.wait_indexed(timeout=120)
    docs = {doc_id: rec for w in writers for doc_id, rec in w.docs.items()}
    missing_in_search = []
    for doc_id, rec in docs.items():
        hits = s.get(f"{stack.base}/search", params={"q": rec["token"]}).json()
        if doc_id not in {h["id"] for h in hits["items"]}:
            missing_in_search.append(doc_id)
    stack.stop()
    assert sum(w.acked for w in writers) > 50
    assert [e for w in writers for e in w.server_errors] == []
    assert missing_in_search == []

    # every acknowledged write is there, version by version
    cfg = make_config(stack.instance, **({"DATABASE_URL": url} if url else {}))
    env = build_env(cfg)
    try:
        with env.db.read() as session:
            from repo_server.catalog import Dossier

            for w in writers:
                for did in w.dossiers:
                    assert session.get(Dossier, did) is not None, did
        for doc_id, rec in docs.items():
            oid = object_id(doc_id)
            for number, state in rec["versions"].items():
                meta = env.store.read_json(oid, "metadata.json", number)
                assert meta["subject"] == state["subject"], (doc_id, number)
                for name, digest in state["files"].items():
                    data = env.store.read_bytes(oid, f"files/{name}", number)
                    assert hashlib.sha256(data).hexdigest() == digest, (doc_id, number, name)
        # the catalog agrees with the storage root; every object verifies
        assert_catalog_matches_storage(env)
        root = ocfl.StorageRoot(root=str(env.store.root))
        assert root.validate(log_warnings=False), _object_problems(env.store)
        # no temporary file left behind (staging, half-built versions, lock files)
        leftovers = [p.relative_to(env.store.tmp_dir).as_posix()
                     for p in env.store.tmp_dir.rglob("*") if p.name != "locks"]
        assert leftovers == [], leftovers
    finally:
        close_env(env)
    print(f"\n{KILLS} kills, {sum(w.acked for w in writers)} acknowledged writes, "
          f"{sum(w.unknown for w in writers)} requests cut off by a kill, {len(docs)} documents")


def _object_problems(store) -> list[tuple[str, str]]:  # noqa: ANN001
    """What ocfl-py finds wrong, object by object (the root validator only says "invalid")."""
    from ocfl.validator import Validator

    problems = []
    for oid in store.iter_object_ids():
        validator = Validator(log_warnings=False)
        if not validator.validate_object(str(store.object_path(oid))):
            problems.append((oid, validator.status_str()))
    return problems
