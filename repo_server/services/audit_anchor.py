"""Anchors of the audit chain outside the database (issue 12 §3, decision 0015).

The chain (services/audit.py) proves that rows were not edited *unless* the editor recomputes
every later hash and the tip, which anyone with write access to the database can. Two anchors
make that fail:

- **A key outside the database** (``AUDIT_KEY_FILE``, default ``<instance>/audit.key``, made
  on the first write of a new trail, mode 0600). The tip carries ``mac`` = HMAC-SHA256 of
  its sequence number and hash under that key, renewed by every append. Rewriting rows (and
  the tip), or cutting off the newest rows and moving the tip back, leaves a tip whose seal
  does not match. Backups carry the key beside the database snapshot, never inside it.
- **Checkpoints in the storage root** (``audit-checkpoints.jsonl``, one sealed line per
  backup and per fixity run): the chain must still hold each checkpoint's event with the
  same hash, and reach at least as far. This catches putting back an *old* genuine tip
  (seal and all) after deleting what came later.

Without the key nothing can be sealed: an append then keeps the old seal (verification will
name the problem) rather than sealing with a new key, which would hide a swap.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..catalog import AuditHead
from .context import Env

log = logging.getLogger(__name__)

KEY_NAME = "audit.key"
CHECKPOINTS = "audit-checkpoints.jsonl"
BROKEN = "x" * 64  # never an HMAC: a tip found unsealed stays unsealed


def key_path(config: dict[str, Any]) -> Path:
    """Where the audit key lives: AUDIT_KEY_FILE, else ``<instance>/audit.key``."""
    configured = config.get("AUDIT_KEY_FILE")
    return Path(configured) if configured else Path(config["INSTANCE_PATH"]) / KEY_NAME


def _read_key(path: Path) -> bytes | None:
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < 32:
        raise RuntimeError(f"{path} is not an audit key (64 hexadecimal characters expected)")
    return key


def create_key(path: Path) -> bytes:
    """Make a new key file (no-op if another process just made one); return the key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, (secrets.token_hex(32) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # never replaces a key another process made meanwhile
        log.info("audit: created the audit key %s; keep a copy apart from the database",
                    path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    key = _read_key(path)
    assert key is not None
    return key


def key(env: Env) -> bytes | None:
    """The instance's audit key (cached per process), or None if there is none."""
    cached = getattr(env, "_audit_key", None)
    if cached is None:
        cached = _read_key(key_path(env.config))
        if cached is not None:
            env._audit_key = cached  # type: ignore[attr-defined]
    return cached


def fingerprint(value: bytes) -> str:
    """A name for a key that gives nothing of it away."""
    return hashlib.sha256(b"repo-server audit key\n" + value).hexdigest()[:16]


def seal(value: bytes, seq: int, digest: str) -> str:
    return hmac.new(value, f"audit-tip:{seq}:{digest}".encode(), hashlib.sha256).hexdigest()


def seal_for_append(env: Env, old_seq: int, old_hash: str, old_mac: str | None, seq: int,
                    digest: str) -> str | None:
    """The tip's new seal. A tip that does not carry a valid seal is never sealed again (that
    would bless a rewritten trail): it stays BROKEN until an operator looks. A new trail (or
    one from before seals) gets a key made now; a sealed trail whose key is gone keeps its old
    seal, so verification reports it."""
    value = key(env)
    if value is None:
        if old_mac is not None and old_seq > 0:
            log.error("audit: the audit key %s is missing; the trail's tip cannot be sealed. "
                      "Put back the key kept with the backups.", key_path(env.config))
            return old_mac
        value = create_key(key_path(env.config))
        env._audit_key = value  # type: ignore[attr-defined]
    elif old_seq > 0 and not (old_mac and hmac.compare_digest(old_mac,
                                                              seal(value, old_seq, old_hash))):
        log.error("audit: the chain's tip (event %d) does not carry this instance's seal: the "
                  "trail was changed outside the server; run `repo-server verify-audit`",
                  old_seq)
        return BROKEN
    return seal(value, seq, digest)


def _checkpoint_seal(value: bytes, point: dict[str, Any]) -> str:
    body = f"audit-checkpoint:{point['seq']}:{point['hash']}:{point['at']}"
    return hmac.new(value, body.encode(), hashlib.sha256).hexdigest()


def read_checkpoints(env: Env) -> list[dict[str, Any]]:
    data = env.store.read_note(CHECKPOINTS) or b""
    out = []
    for n, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        if line.strip():
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append({"line": n, "unreadable": True})
    return out


def write_checkpoint(env: Env) -> dict[str, Any] | None:
    """Seal the chain's tip as it is now into the storage root's checkpoint list (and return
    it, for a backup manifest). None when the trail is empty or there is no key."""
    from sqlalchemy import select

    value = key(env)
    with env.db.read() as session:
        head = session.scalar(select(AuditHead).where(AuditHead.id == 1))
        tip = (head.seq, head.hash) if head is not None else (0, "")
    if value is None or tip[0] == 0:
        return None
    points = read_checkpoints(env)
    if points and points[-1].get("seq") == tip[0] and points[-1].get("hash") == tip[1]:
        return points[-1]
    point = {"seq": tip[0], "hash": tip[1],
             "at": datetime.now(UTC).isoformat(timespec="seconds")}
    point["mac"] = _checkpoint_seal(value, point)
    lines = b"".join(json.dumps(p, separators=(",", ":")).encode() + b"\n"
                     for p in [*points, point])
    env.store.write_note(CHECKPOINTS, lines)
    return point


def trim_checkpoints(env: Env) -> int:
    """After a restore: drop checkpoints beyond the restored chain's tip (sealed after the
    backup's snapshot, while its storage was being copied); returns how many."""
    from sqlalchemy import select

    with env.db.read() as session:
        head = session.scalar(select(AuditHead).where(AuditHead.id == 1))
    tip = head.seq if head is not None else 0
    points = read_checkpoints(env)
    keep = [p for p in points if not isinstance(p.get("seq"), int) or p["seq"] <= tip]
    if len(keep) == len(points):
        return 0
    env.store.write_note(CHECKPOINTS, b"".join(
        json.dumps(p, separators=(",", ":")).encode() + b"\n" for p in keep))
    log.warning("audit: %d checkpoint(s) newer than the restored trail were dropped",
                len(points) - len(keep))
    return len(points) - len(keep)


def check(env: Env, tip: tuple[int, str, str | None] | None, checked: int,
          hash_at: dict[int, str]) -> str | None:
    """The first problem with the anchors (key, tip seal, checkpoints), or None.

    ``tip`` is (seq, hash, mac) of the audit_head row, ``checked`` the number of events in an
    otherwise intact chain, ``hash_at`` the chain's hash at each checkpoint's seq."""
    value = key(env)
    points = read_checkpoints(env)
    if value is None:
        if points or (tip is not None and tip[2] is not None):
            return (f"the audit key {key_path(env.config)} is missing: the trail cannot be "
                    "checked against its seal. Put back the key kept with the backups.")
        return None
    if tip is not None and tip[0] > 0:
        if tip[2] is None:
            return "the chain's tip is not sealed: the tip was rewritten outside the server"
        if not hmac.compare_digest(tip[2], seal(value, tip[0], tip[1])):
            return ("the chain's tip does not carry this instance's seal: events were rewritten "
                    "or removed and the tip moved (or audit.key is not this trail's key)")
    for point in points:
        if point.get("unreadable") or not isinstance(point.get("seq"), int):
            return f"{CHECKPOINTS}: line {point.get('line')} is unreadable"
        if not hmac.compare_digest(str(point.get("mac")), _checkpoint_seal(value, point)):
            return (f"checkpoint at event {point['seq']} is not sealed with this instance's "
                    "key (altered, or audit.key is not this trail's key)")
        if point["seq"] > checked:
            return (f"a checkpoint of {point['at']} saw event {point['seq']}, but the chain "
                    f"ends at event {checked}: the newest events were removed")
        if hash_at.get(point["seq"]) != point["hash"]:
            return (f"event {point['seq']} is not the one a checkpoint of {point['at']} saw: "
                    "the trail was rewritten")
    return None
