"""Shared fixtures: a real app on a temporary instance (SQLite, storage root, index)."""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from repo_server import build_env, create_app
from repo_server.catalog.migrate import upgrade
from repo_server.config import load_config
from repo_server.services.keys import create_key


def pytest_configure(config) -> None:  # noqa: ANN001
    """Under pytest-xdist each worker has a PostgreSQL test database of its own
    (`<name>_gw0`, …): everything that reads TEST_DATABASE_URL sees the worker's.

    With `--dist loadfile` the files go to the workers in collection order, slowest first
    (`pytest_collection_modifyitems` below), instead of xdist's default of the files with the
    most tests first, which left the single long tests for the end (decision 0025)."""
    config.addinivalue_line(
        "markers", "slow(seconds=50): a test of tens of seconds (real servers, OCR, fuzzing); "
        "its file is sent to a test worker first, the longest first; deselect with -m 'not slow'")
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    url = os.environ.get("TEST_DATABASE_URL")
    if worker and url:
        from sqlalchemy.engine import make_url

        u = make_url(url)
        os.environ["TEST_DATABASE_URL"] = u.set(database=f"{u.database}_{worker}") \
            .render_as_string(hide_password=False)


def _weight(item) -> float:  # noqa: ANN001
    mark = item.get_closest_marker("slow")
    if mark is None:
        return 0.0
    return float(mark.args[0] if mark.args else mark.kwargs.get("seconds", 50))


def pytest_collection_modifyitems(items) -> None:  # noqa: ANN001
    """The files of slow tests first, the slowest first (the longest processing time first:
    with two workers the run ends with short files, not with one long test). The order within
    a file stays (the README walkthroughs run in README order)."""
    weight: dict = {}
    for item in items:
        weight[item.path] = max(weight.get(item.path, 0.0), _weight(item))
    items.sort(key=lambda item: -weight[item.path])  # stable: files stay whole and in order


def make_config(instance: Path, **overrides) -> dict:  # noqa: ANN003
    url = os.environ.get("TEST_DATABASE_URL")
    base = {"FSYNC": False, "SQLITE_SYNCHRONOUS": "NORMAL"}
    if url:
        base["DATABASE_URL"] = url
    return load_config(instance, {**base, **overrides})


class Client:
    """A test client that sends the API key and speaks JSON."""

    def __init__(self, app, secret: str) -> None:  # noqa: ANN001
        self.app = app
        self.raw = app.test_client()
        self.headers = {"Authorization": f"Bearer {secret}"}

    def _call(self, method: str, url: str, **kw):  # noqa: ANN003, ANN202
        headers = {**self.headers, **kw.pop("headers", {})}
        return self.raw.open(url, method=method, headers=headers, **kw)

    def get(self, url, **kw):  # noqa: ANN001, ANN003, ANN201
        return self._call("GET", url, **kw)

    def post(self, url, **kw):  # noqa: ANN001, ANN003, ANN201
        return self._call("POST", url, **kw)

    def patch(self, url, **kw):  # noqa: ANN001, ANN003, ANN201
        return self._call("PATCH", url, **kw)

    def put(self, url, **kw):  # noqa: ANN001, ANN003, ANN201
        return self._call("PUT", url, **kw)

    def delete(self, url, **kw):  # noqa: ANN001, ANN003, ANN201
        return self._call("DELETE", url, **kw)

    # ---- helpers that build data through the public API
    def make_fonds(self, code: str = "000.00.00.H49", name: str = "UBND phường An Cựu") -> dict:
        r = self.post("/api/v1/fonds", json={"code": code, "name": name})
        assert r.status_code == 201, r.json
        return r.json

    def make_dossier(self, fonds_code: str = "000.00.00.H49", **fields) -> dict:  # noqa: ANN003
        body = {"fonds_code": fonds_code, "title": "Hồ sơ cấp giấy phép xây dựng",
                "retention": "05", "start_date": "2025-07-15", **fields}
        body = {k: v for k, v in body.items() if v is not None}
        r = self.post("/api/v1/dossiers", json=body)
        assert r.status_code == 201, r.json
        return r.json

    def make_document(self, dossier_id: str, files: dict[str, bytes] | None = None,
                      **fields) -> dict:  # noqa: ANN003
        meta = {"type_code": "02", "subject": "Quyết định về việc cấp giấy phép xây dựng",
                **fields}
        if files is None:
            r = self.post(f"/api/v1/dossiers/{dossier_id}/documents", json=meta)
        else:
            import json

            data = {"metadata": json.dumps(meta, ensure_ascii=False),
                    "file": [(io.BytesIO(b), name, "text/plain" if name.endswith(".txt")
                              else "application/pdf") for name, b in files.items()]}
            r = self.post(f"/api/v1/dossiers/{dossier_id}/documents", data=data,
                          content_type="multipart/form-data")
        assert r.status_code == 201, r.json
        return r.json


@pytest.fixture
def instance(tmp_path: Path) -> Path:
    return tmp_path / "instance"


@pytest.fixture
def config(instance: Path, migrated_template: Template) -> dict:
    cfg = make_config(instance, MAX_UPLOAD_BYTES=2 * 1024 * 1024)
    instance.mkdir(parents=True, exist_ok=True)
    migrated_template.copy_to(cfg["DATABASE_URL"])
    return cfg


class Template:
    """A catalog database migrated once per test session, copied for each test instead of
    running the migrations again (decision 0020). SQLite: the template is a file, copied to
    the test's instance. PostgreSQL: the template is the database ``<test database>_template``,
    and each test gets ``DROP DATABASE … WITH (FORCE)`` and ``CREATE DATABASE … TEMPLATE``."""

    def __init__(self, folder: Path) -> None:
        self.pg_url = os.environ.get("TEST_DATABASE_URL")
        self._admin = None
        if self.pg_url:
            from sqlalchemy import create_engine
            from sqlalchemy.engine import make_url

            u = make_url(self.pg_url)
            self.name = u.database
            self.template = f"{u.database}_template"
            self._admin = create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
            self._recreate(self.template, source="template0")
            upgrade(u.set(database=self.template).render_as_string(hide_password=False))
            self._recreate(self.name, source=self.template)  # exists for every test
        else:
            self.file = folder / "template.db"
            upgrade(f"sqlite:///{self.file}")

    def _recreate(self, name: str, source: str) -> None:
        from sqlalchemy import text

        with self._admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{source}"'))

    def copy_to(self, url: str) -> None:
        """Give ``url`` (the test's catalog) a freshly migrated, empty schema."""
        if url.startswith("sqlite"):
            from sqlalchemy.engine import make_url

            target = Path(make_url(url).database)
            for suffix in ("-wal", "-shm", "-journal"):
                Path(f"{target}{suffix}").unlink(missing_ok=True)
            shutil.copyfile(self.file, target)
        elif url == self.pg_url:
            self._recreate(self.name, source=self.template)
        else:  # some other server: the long way
            _reset_database(url)
            upgrade(url)

    def close(self) -> None:
        if self._admin is not None:
            self._admin.dispose()


@pytest.fixture(scope="session", autouse=True)
def migrated_template(tmp_path_factory) -> Iterator[Template]:  # noqa: ANN001
    t = Template(tmp_path_factory.mktemp("template"))
    yield t
    t.close()


def _reset_database(url: str) -> None:
    """A PostgreSQL test database is shared between tests: empty it first."""
    if url.startswith("sqlite"):
        return
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture
def env(config: dict):  # noqa: ANN201
    from repo_server.services.retention import seed_default_schedule

    e = build_env(config)
    seed_default_schedule(e)
    yield e
    close_env(e)


def close_env(e) -> None:  # noqa: ANN001
    """Flush and drop the env's buffered audit events, then close its connections (on
    PostgreSQL a buffer left retrying against the next test's emptied schema would keep a
    connection open for the rest of the run, until the server refuses new clients)."""
    buf = getattr(e, "_audit_buffer", None)
    if buf is not None:
        try:
            buf.flush()
        finally:
            with buf._lock:
                buf._events.clear()
    e.db.dispose()


@pytest.fixture
def app(config: dict, env):  # noqa: ANN001, ANN201
    return create_app(config, env=env)


@pytest.fixture
def client(app, env) -> Iterator[Client]:  # noqa: ANN001
    _, secret = create_key(env, "clerk-test", ["admin"])
    yield Client(app, secret)


@pytest.fixture
def fonds(client: Client) -> dict:
    return client.make_fonds()


@pytest.fixture
def dossier(client: Client, fonds: dict) -> dict:
    return client.make_dossier()


@pytest.fixture
def worker(env):  # noqa: ANN001, ANN201
    """The worker (indexer and jobs) driven by hand, without its scheduler thread."""
    from repo_server.jobs.worker import Worker
    from repo_server.services.search import open_writer

    w = Worker(env, lambda: open_writer(env), use_scheduler=False)
    yield w
    if w.backend is not None:
        w.backend.close()


def drain(worker) -> None:  # noqa: ANN001
    """Let the worker process everything queued."""
    import time

    for _ in range(50):
        if not worker.step(time.monotonic()):
            return
