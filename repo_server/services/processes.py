"""Process markers: which processes may be writing, and whether one of them is gone.

Every process that may write (a gunicorn web worker, `repo-server worker`, `serve`, a
command) registers a row: host, pid, the host's boot id and the kernel's start time of that
pid. A pending write and the worker's lease name their process, so recovery
(services/recovery.py) can tell a crashed writer from a live one without waiting.
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
import uuid
import weakref
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete

from ..catalog import Lease, ProcessMarker
from .context import Env

log = logging.getLogger(__name__)
_BOOT_ID_FILE = Path("/proc/sys/kernel/random/boot_id")


def boot_id() -> str:
    """This boot of this host (Linux); "" where unknown (then markers are never judged)."""
    try:
        return _BOOT_ID_FILE.read_text().strip()
    except OSError:
        return ""


def process_started(pid: int) -> str | None:
    """The kernel's start time of `pid` (clock ticks since boot), None when no such process;
    "" where /proc cannot tell (then the process is taken as alive)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:
        return ""
    # the command name (field 2) may hold spaces and parentheses: count from its end
    return stat[stat.rindex(")") + 2:].split()[19]


@dataclass(frozen=True)
class Marker:
    id: str
    pid: int


def this_process(env: Env, role: str = "process") -> str | None:
    """This process's marker id, registered on first use in this process (after a fork the
    child registers its own). None when it cannot be registered (the database is not
    migrated yet, say): writes then fall back to the age rule."""
    marker: Marker | None = getattr(env, "_process_marker", None)
    pid = os.getpid()
    if marker is not None and marker.pid == pid:
        return marker.id
    started = process_started(pid)
    host = socket.gethostname()
    mid = f"{host}:{pid}:{uuid.uuid4().hex[:12]}"
    try:
        with env.db.write() as session:
            session.add(ProcessMarker(id=mid, host=host[:255], pid=pid, boot_id=boot_id(),
                                      process_started=started or "", role=role[:40],
                                      started_at=env.now()))
    except Exception:  # noqa: BLE001 - recovery falls back to the age rule
        log.warning("cannot register this process for crash recovery", exc_info=True)
        env._process_marker = Marker("", pid)  # type: ignore[attr-defined] - not tried again
        return None
    env._process_marker = Marker(mid, pid)  # type: ignore[attr-defined]
    _LIVE.append(weakref.ref(env))
    return mid


def marker_gone(row: ProcessMarker, host: str, boot: str) -> bool | None:
    """True when the marker's process no longer runs, False when it does, None when this host
    cannot tell (another host, or no /proc)."""
    if row.host != host[:255] or not boot or not row.boot_id:
        return None
    if row.boot_id != boot:
        return True  # this host rebooted since
    now_started = process_started(row.pid)
    if now_started is None:
        return True
    if now_started == "" or not row.process_started:
        return None
    return now_started != row.process_started  # the pid was reused by another process


def holder_gone(env: Env, holder: str) -> bool:
    """Is the process behind a lease holder (`<marker id>/<suffix>`) known to be gone? A
    marker is removed only by recovery (its process died) or at a clean exit, so a holder
    whose marker is missing is gone too. A holder without a marker: never judged."""
    if "/" not in holder:
        return False
    mid = holder.split("/", 1)[0]
    with env.db.read() as session:
        row = session.get(ProcessMarker, mid)
        if row is None:
            return True
        session.expunge(row)
    return bool(marker_gone(row, socket.gethostname(), boot_id()))


def forget_process(env: Env) -> None:
    """Remove this process's marker (a clean exit: nothing to recover)."""
    marker: Marker | None = getattr(env, "_process_marker", None)
    if marker is None or not marker.id or marker.pid != os.getpid():
        return
    try:
        with env.db.write() as session:
            session.execute(delete(ProcessMarker).where(ProcessMarker.id == marker.id))
    except Exception:  # noqa: BLE001 - at exit; the next recovery removes it anyway
        log.debug("cannot remove the process marker", exc_info=True)




def current_lease(env: Env, name: str = "worker") -> tuple[str, object] | None:
    """Who holds a lease (the worker's: indexing and jobs) and until when; None when free."""
    with env.db.read() as session:
        row = session.get(Lease, name)
        if row is None or row.expires_at <= env.now():
            return None
        return row.holder, row.expires_at


# The envs of this process that registered a marker: a clean exit removes their markers, so
# only a crash leaves one behind (and only a crash makes the worker recover).
_LIVE: list[weakref.ref[Env]] = []


@atexit.register
def _forget_all() -> None:
    for ref in _LIVE:
        env = ref()
        if env is not None:
            forget_process(env)
