"""OCFL inventories: planning a new version (dedup by sha512), building its inventory,
reading fixity and sidecars. Pure functions over dicts and folders."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .layout import (
    CONTENT_DIR,
    INVENTORY,
    INVENTORY_TYPE,
    SIDECAR,
    VERSION_DIR,
    check_no_conflicts,
)
from .types import LogicalPathError, StagedFile


def format_created(created: datetime | None) -> str:
    if created is None:
        created = datetime.now(UTC)
    elif created.tzinfo is None:
        raise ValueError("created must be timezone-aware")
    return created.astimezone(UTC).isoformat().replace("+00:00", "Z")


def dump_inventory(inv: dict[str, Any]) -> tuple[bytes, bytes]:
    """Serialise an inventory; return (inventory bytes, sidecar bytes)."""
    # indent=None keeps json on its C encoder (indent forces the pure Python one).
    data = json.dumps(inv, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return data, sidecar_line(data)


def sidecar_line(inventory: bytes) -> bytes:
    return f"{hashlib.sha512(inventory).hexdigest()}  {INVENTORY}\n".encode()



@dataclass
class Plan:
    """What a new version adds: its state and the content files it must store."""

    state: dict[str, str]  # logical path -> sha512
    new_content: dict[str, tuple[str, StagedFile | bytes]]  # sha512 -> (logical path, source)
    sha256: dict[str, str]  # sha512 -> sha256 for content added by this version
    sizes: dict[str, int]  # sha512 -> size for content added by this version



def plan_version(
    inv: dict[str, Any] | None, add: dict[str, StagedFile | bytes], remove: list[str]
) -> Plan:
    """Work out the new state and which added contents are not stored yet (dedup by sha512)."""
    state: dict[str, str] = {}
    if inv is not None:
        for digest, paths in inv["versions"][inv["head"]]["state"].items():
            for path in paths:
                state[path] = digest
    for path in remove:
        if state.pop(path, None) is None:
            raise LogicalPathError(f"cannot remove {path!r}: not in the current version")
    manifest = inv["manifest"] if inv is not None else {}
    plan = Plan(state, {}, {}, {})
    for path, value in add.items():
        if isinstance(value, StagedFile):
            sha512, sha256, size = value.sha512, value.sha256, value.size
        else:
            value = bytes(value)
            sha512, sha256 = hashlib.sha512(value).hexdigest(), hashlib.sha256(value).hexdigest()
            size = len(value)
        state[path] = sha512
        if sha512 not in manifest and sha512 not in plan.new_content:
            plan.new_content[sha512] = (path, value)
            plan.sha256[sha512] = sha256
            plan.sizes[sha512] = size
    check_no_conflicts(state)
    return plan


def next_inventory(
    object_id: str, inv: dict[str, Any] | None, number: int, plan: Plan, block: dict[str, Any]
) -> dict[str, Any]:
    """A new inventory dict; containers shared with ``inv`` are copied, never mutated."""
    vname = f"v{number}"
    manifest = dict(inv["manifest"]) if inv else {}
    fixity = dict(inv.get("fixity", {}).get("sha256", {})) if inv else {}
    for sha512, (logical, _) in plan.new_content.items():
        content_path = f"{vname}/{CONTENT_DIR}/{logical}"
        manifest[sha512] = [content_path]
        sha256 = plan.sha256[sha512]
        fixity[sha256] = [*fixity.get(sha256, []), content_path]
    by_digest: dict[str, list[str]] = {}
    for path, digest in sorted(plan.state.items()):
        by_digest.setdefault(digest, []).append(path)
    versions = dict(inv["versions"]) if inv else {}
    versions[vname] = {**block, "state": by_digest}
    return {
        "id": object_id,
        "type": INVENTORY_TYPE,
        "digestAlgorithm": "sha512",
        "head": vname,
        "manifest": manifest,
        "versions": versions,
        "fixity": {"sha256": fixity},
    }


def version_block(
    created: datetime | None, message: str, user_name: str, user_address: str | None
) -> dict[str, Any]:
    if not isinstance(message, str) or not isinstance(user_name, str) or not user_name:
        raise ValueError("message must be a string and user_name a non-empty string")
    user = {"name": user_name}
    if user_address is not None:
        user["address"] = user_address
    return {"created": format_created(created), "message": message, "user": user}


def fixity_by_path(inv: dict[str, Any]) -> dict[str, str]:
    """content path -> sha256, from the fixity block."""
    return {
        path: digest
        for digest, paths in inv.get("fixity", {}).get("sha256", {}).items()
        for path in paths
    }



def check_sidecar(objdir: Path, prefix: str) -> list[str]:
    try:
        data = (objdir / prefix / INVENTORY).read_bytes()
        recorded = (objdir / prefix / SIDECAR).read_text().split()[:1]
    except FileNotFoundError as exc:
        return [f"{prefix}{Path(exc.filename).name}: missing"]
    if recorded != [hashlib.sha512(data).hexdigest()]:
        return [f"{prefix}{SIDECAR}: does not match {prefix}{INVENTORY}"]
    return []


def content_files(objdir: Path) -> set[str]:
    """Every file under vN/content, as content paths."""
    found: set[str] = set()
    for entry in os.scandir(objdir):
        if not (VERSION_DIR.fullmatch(entry.name) and entry.is_dir()):
            continue
        for folder, _, files in os.walk(Path(entry.path) / CONTENT_DIR):
            rel = Path(folder).relative_to(objdir).as_posix()
            found.update(f"{rel}/{name}" for name in files)
    return found
