"""After a kill -9 the next worker recovers at once what the dead process left (pending
write, reserved catalog row, staged file, the worker lease), without waiting out a fixed
delay: process markers tell a dead writer from a live one (services/recovery.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

from sqlalchemy import func, select

from repo_server import build_env
from repo_server.catalog import Document, PendingWrite, ProcessMarker
from repo_server.jobs.lease import Lease
from repo_server.services.processes import forget_process
from repo_server.services.recovery import recover
from tests.conftest import close_env

# A process that takes the worker lease for 120 s, stages a file and starts a document
# create; it stops for good inside the storage write, where it is killed.
CHILD = textwrap.dedent("""
    import json, sys, time
    from repo_server import build_env
    from repo_server.jobs.lease import Lease
    from repo_server.services.context import SYSTEM
    from repo_server.services.documents import IncomingFile, create_document
    from repo_server.storage import ObjectStore

    config, dossier_id = json.loads(sys.argv[1]), sys.argv[2]
    env = build_env(config)
    assert Lease(env, "worker", ttl_seconds=120).acquire()
    staged = env.store.stage_bytes(b"van ban dang ghi")

    def stuck(self, *args, **kwargs):
        print("writing", flush=True)
        time.sleep(600)

    ObjectStore.write_version = stuck
    create_document(env, SYSTEM, dossier_id, {"type_code": "02", "subject": "Bị ngắt"},
                    [IncomingFile("a.txt", "text/plain", staged)])
""")


def _count(env, model, *where) -> int:  # noqa: ANN001
    with env.db.read() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def test_a_killed_writer_is_recovered_at_once(config, env, dossier):
    child = subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(config), dossier["id"]],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "writing"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    staged = [p for p in env.store.tmp_dir.rglob("*") if p.is_file() and "locks" not in p.parts]
    assert staged, "the killed process left its staged file"
    assert _count(env, PendingWrite) == 1
    assert _count(env, Document, Document.head_version == 0) == 1  # the reserved row
    assert _count(env, ProcessMarker, ProcessMarker.pid == child.pid) == 1
    # Everything of the old run is dead (this test's own requests came from it): a new
    # worker process starts.
    forget_process(env)
    fresh = build_env(config)
    try:
        t0 = time.monotonic()
        counts = recover(fresh)  # what `repo-server worker` does as it starts
        assert Lease(fresh, "worker", ttl_seconds=30).acquire(), \
            "the lease of a dead worker is taken over at once"
        assert time.monotonic() - t0 < 10
    finally:
        close_env(fresh)
    assert counts["pending"] == 1 and counts["processes_gone"] == 1
    assert counts["temp_removed"] >= 1
    assert _count(env, PendingWrite) == 0
    assert _count(env, Document, Document.head_version == 0) == 0
    assert [p for p in staged if p.exists()] == []
    assert _count(env, ProcessMarker, ProcessMarker.pid == child.pid) == 0


def test_a_live_writers_work_is_left_alone(config, env, dossier):
    """The same state left by a process that still runs is not touched."""
    child = subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(config), dossier["id"]],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "writing"
        counts = recover(env)
        assert counts["pending"] == 0 and counts["processes_gone"] == 0
        assert _count(env, PendingWrite) == 1
        assert not Lease(env, "worker").acquire()  # its lease holds
        staged = [p for p in env.store.tmp_dir.rglob("*") if p.is_file()
                  and "locks" not in p.parts]
        assert staged
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()


def test_the_worker_recovers_a_killed_web_process_while_it_runs(config, env, dossier, worker):
    child = subprocess.Popen([sys.executable, "-c", CHILD.replace(
        'assert Lease(env, "worker", ttl_seconds=120).acquire()', ""),
        json.dumps(config), dossier["id"]], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "writing"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert _count(env, PendingWrite) == 1
    worker.step(time.monotonic())  # its periodic check
    assert _count(env, PendingWrite) == 0
    assert _count(env, Document, Document.head_version == 0) == 0
    # (its staged file outlives it until it is older than every live writer, or
    # RECOVERY_FALLBACK_SECONDS old: files carry no owner, see decision 0016)
