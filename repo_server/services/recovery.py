"""Crash recovery that does not wait: process markers tell a dead writer from a live one.

Every process that may write (a gunicorn web worker, `repo-server worker`, `serve`, a
command) leaves a marker row: host, pid, the host's boot id and the kernel's start time of
that pid. A pending write names its process. After a `kill -9`, recovery (at the start of a
worker, and on the worker's periodic check) sees that the marker's process is gone (no such
pid, another process under that pid, or the host rebooted) and, at once:

- imports or drops the pending writes of that process (a reserved catalog row goes with them);
- removes temporary files in the storage's staging folder that are older than every live
  writer (a live process cannot own a file made before it started);
- deletes the dead markers.

A marker of another host cannot be checked from here: its rows and files fall back to the
age rule (`RECOVERY_FALLBACK_SECONDS`, the old fixed wait), as do rows written before markers
existed. See docs/decisions/0016-nothing-stalls-silently.md.
"""

from __future__ import annotations

import logging
import socket
from datetime import timedelta

from sqlalchemy import delete, select

from ..catalog import PendingWrite, ProcessMarker
from .context import Env
from .processes import boot_id, marker_gone, this_process
from .rebuild import reconcile_pending

log = logging.getLogger(__name__)


def _judge(env: Env) -> tuple[list[ProcessMarker], list[ProcessMarker], list[ProcessMarker]]:
    """(gone, alive, unknown) markers."""
    host, boot = socket.gethostname(), boot_id()
    gone, alive, unknown = [], [], []
    with env.db.read() as session:
        rows = session.scalars(select(ProcessMarker)).all()
        for row in rows:
            session.expunge(row)
    for row in rows:
        verdict = marker_gone(row, host, boot)
        (gone if verdict else alive if verdict is False else unknown).append(row)
    return gone, alive, unknown


def needs_recovery(env: Env) -> bool:
    """A cheap look (one small read): did a writer of this host die since the last recovery?"""
    gone, _, _ = _judge(env)
    return bool(gone)


def recover(env: Env) -> dict[str, int]:
    """Recover what crashed writers left, without waiting: their pending writes and reserved
    rows, the staging folder's orphans and interrupted storage commits, their markers."""
    fallback = float(env.config["RECOVERY_FALLBACK_SECONDS"])
    this_process(env, "recovery")
    gone, alive, unknown = _judge(env)
    now = env.now()
    if unknown:  # a writer this host cannot judge: its files keep the age rule
        older_than = fallback
    else:  # a live writer cannot own a file older than itself
        oldest_live = min((m.started_at for m in alive), default=now)
        older_than = min(max((now - oldest_live).total_seconds(), 0.0), fallback)
    counts: dict[str, int] = dict(env.store.recover(older_than_seconds=older_than))
    dead = {m.id for m in gone}
    live = {m.id for m in alive} | {m.id for m in unknown}
    cutoff = now - timedelta(seconds=fallback)
    with env.db.read() as session:
        tokens = [p.token for p in session.scalars(select(PendingWrite))
                  if p.holder in dead
                  or ((p.holder is None or p.holder not in live) and p.started_at <= cutoff)]
    counts["pending"] = reconcile_pending(env, tokens=tokens) if tokens else 0
    if dead:
        with env.db.write() as session:
            session.execute(delete(ProcessMarker).where(ProcessMarker.id.in_(dead)))
    counts["processes_gone"] = len(dead)
    repaired = counts["pending"] or any(
        counts.get(k) for k in ("rolled_forward", "sidecars_repaired", "errors", "temp_removed",
                                "empty_folders_removed"))
    if repaired:
        log.warning("recovered after a crash: %s", counts)
    elif dead:  # a process that ended without removing its marker left nothing to repair
        log.info("forgot %d marker(s) of processes that are gone; nothing to recover", len(dead))
    return counts
