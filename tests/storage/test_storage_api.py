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
    services = SERVICES / "services"
    paths = [*sorted(services.glob("backup*.py")), *sorted(services.glob("package*.py")),
             services / "fixity.py"]
    paths += sorted((SERVICES / "api").glob("*.py"))
    # a path inside the root (`store.root / ...`), the store's private parts, its walk or
    # sync helpers by hand; the root itself as a place (which disk) is fine
    private = re.compile(r"\bstore\._|\bstore\.root\s*/|object_path\(|iter_object_dirs|"
                         r"_syncfs|_fsync_dir|os\.link\(")
    found = [f"{p.name}:{n}: {line.strip()}" for p in paths
             for n, line in enumerate(p.read_text().splitlines(), 1) if private.search(line)]
    assert found == []
    api = [p.name for p in (SERVICES / "api").glob("*.py")
           if re.search(r"^from \.\.storage|^import repo_server\.storage", p.read_text(), re.M)]
    assert api == []
