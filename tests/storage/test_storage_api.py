"""The storage API written down (storage.protocol.Storage) is what ObjectStore offers, and
the services named in issue 14 use it rather than paths inside the root."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import repo_server
from repo_server.storage import ObjectStore, Storage

SERVICES = Path(repo_server.__file__).parent


def _members(cls) -> set[str]:  # noqa: ANN001
    return {n for n in dir(cls) if not n.startswith("_")}


def test_object_store_offers_every_member_of_the_protocol(tmp_path):
    store = ObjectStore(tmp_path / "root", fsync=False)
    wanted = {n for n in Storage.__annotations__} | {
        n for n, v in vars(Storage).items() if not n.startswith("_") and callable(v)}
    missing = sorted(n for n in wanted if not hasattr(store, n))
    assert missing == []
    for name, member in vars(Storage).items():
        if name.startswith("_") or not callable(member):
            continue
        ours = inspect.signature(getattr(ObjectStore, name))
        theirs = inspect.signature(member)
        assert list(ours.parameters)[:len(theirs.parameters)] == list(theirs.parameters), name


def test_services_and_http_use_the_storage_api_not_its_folders():
    paths = [SERVICES / "services" / f for f in ("backup.py", "packages.py", "fixity.py")]
    paths += sorted((SERVICES / "api").glob("*.py"))
    private = re.compile(r"\bstore\._|\bstore\.root\b|object_path\(|iter_object_dirs|_syncfs|"
                         r"_fsync_dir|os\.link\(")
    found = [f"{p.name}:{n}: {line.strip()}" for p in paths
             for n, line in enumerate(p.read_text().splitlines(), 1) if private.search(line)]
    assert found == []
    api = [p.name for p in (SERVICES / "api").glob("*.py")
           if re.search(r"^from \.\.storage|^import repo_server\.storage", p.read_text(), re.M)]
    assert api == []
