"""The issue's acceptance run: a finding aid with 50 dossiers and 500 scanned pages (a few of
them below the standard on purpose) through the API, and the same 50-dossier finding aid with
one page per document (100 pages) through the CLI.

The CLI and the API file a batch through the same service (services/digitisation.py); what
differs is how the batch arrives (a folder read in process, or a zip uploaded and converted by
the worker). So the 500 pages go through one path, the API, and the CLI proves its own part on
the full finding aid at a fifth of the OCR (decision 0020: CI time). Several minutes of OCR on
two cores, so this runs only with REPO_TEST_HEAVY=1 (`.ci/run` sets it in its first leg); every
run of the suite has the same checks on small batches (test_digitisation.py)."""

from __future__ import annotations

import json
import os
import resource
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from repo_server import build_env, create_app
from repo_server.catalog import DigitisationBatch
from repo_server.services.keys import create_key
from tests.conftest import Client, close_env, make_config

from .digitisation_data import make_batch
from .test_digitisation import assert_conforming, assert_exactly_the_bad_pages, upload, wait_done

pytestmark = pytest.mark.skipif(os.environ.get("REPO_TEST_HEAVY") != "1",
                                reason="the 500-page run: set REPO_TEST_HEAVY=1")
DOSSIERS, DOCS, PAGES = 50, 2, 5
CLI_PAGES = 1  # per document: 100 pages


def _cpu() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _figures(path: str, pages: int, seconds: float, cpu: float, view: dict) -> None:
    line = {"path": path, "pages": pages, "seconds": round(seconds, 1),
            "pages_per_minute": round(pages / seconds * 60, 1),
            "cpu_seconds_per_page_conversion": view["cpu_seconds_per_page"],
            "cpu_seconds_per_page_process": round(cpu / pages, 3)}
    print(f"\nDIGITISATION FIGURES {json.dumps(line)}")


def _instance(tmp_path: Path):  # noqa: ANN202
    """A fresh instance of its own (uploads up to 256 MiB) with a fonds and an admin client."""
    from repo_server.catalog.migrate import upgrade

    config = make_config(tmp_path / "instance", MAX_UPLOAD_BYTES=256 * 1024 * 1024)
    (tmp_path / "instance").mkdir()
    upgrade(config["DATABASE_URL"])
    env = build_env(config)
    client = Client(create_app(config, env=env), create_key(env, "t", ["admin"])[1])
    client.make_fonds()
    return config, env, client


def test_500_pages_through_the_api(tmp_path: Path) -> None:
    from repo_server.jobs.worker import Worker
    from repo_server.services.search import open_writer

    config, env, client = _instance(tmp_path)
    try:
        batch = make_batch(tmp_path / "in", dossiers=DOSSIERS, docs_per_dossier=DOCS,
                           pages_per_doc=PAGES)
        assert batch.pages == 500 and len(batch.bad_pages) >= 6
        worker = Worker(env, lambda: open_writer(env), use_scheduler=False)
        started, cpu = time.monotonic(), _cpu()
        r = upload(client, batch)
        assert r.status_code == 202, r.json
        view = wait_done(client, worker, r.json["id"], timeout=3600)
        _figures("api", batch.pages, time.monotonic() - started, _cpu() - cpu, view)
        assert view["state"] == "done", view
        report = client.get(f"/api/v1/digitisation/batches/{view['id']}/report").json
        assert_exactly_the_bad_pages(report, batch)
        assert_conforming(client, env, report, batch)
        if worker.backend is not None:
            worker.backend.close()
    finally:
        close_env(env)


def test_the_50_dossier_finding_aid_through_the_cli(tmp_path: Path) -> None:
    from repo_server.cli import main

    config, env, client = _instance(tmp_path)
    try:
        batch = make_batch(tmp_path / "in", dossiers=DOSSIERS, docs_per_dossier=DOCS,
                           pages_per_doc=CLI_PAGES, zip_scans=False)
        assert batch.pages == 100 and len(batch.bad_pages) >= 6
        started, cpu = time.monotonic(), _cpu()
        result = CliRunner(env={"REPO_DATABASE_URL": config["DATABASE_URL"]}).invoke(main, [
            "--instance", config["INSTANCE_PATH"], "digitise", "start",
            *map(str, batch.finding_aid), "--scans", str(batch.scans),
            "--fonds", "000.00.00.H49"])
        assert result.exit_code == 0, result.output
        with env.db.read() as session:
            batch_id = session.scalar(select(DigitisationBatch.id))
        view = client.get(f"/api/v1/digitisation/batches/{batch_id}").json
        _figures("cli", batch.pages, time.monotonic() - started, _cpu() - cpu, view)
        report = client.get(f"/api/v1/digitisation/batches/{batch_id}/report").json
        assert_exactly_the_bad_pages(report, batch)
        assert_conforming(client, env, report, batch)
    finally:
        close_env(env)
