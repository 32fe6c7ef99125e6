"""Digitisation batches in the worker: a batch cancels and resumes later, and the API stays
responsive while one runs (split from tests/services/test_digitisation.py for the two test
workers, decision 0025)."""

from __future__ import annotations

import shutil
import time

import pytest

from .digitisation_data import make_batch
from .test_digitisation import upload, wait_done

pytestmark = [pytest.mark.skipif(shutil.which("tesseract") is None,
                                 reason="Tesseract is not installed"), pytest.mark.slow(70)]


def test_a_cancelled_batch_stops_and_resumes_later(env, client, worker, fonds,  # noqa: ANN001
                                                   tmp_path) -> None:
    batch = make_batch(tmp_path / "in", dossiers=6, bad=False, pages_per_doc=3)
    r = upload(client, batch)
    batch_id = r.json["id"]
    worker.step(time.monotonic())
    deadline = time.monotonic() + 120
    while client.get(f"/api/v1/digitisation/batches/{batch_id}").json["state"] == "queued":
        worker.step(time.monotonic())
        assert time.monotonic() < deadline
        time.sleep(0.2)
    cancelled = client.post(f"/api/v1/digitisation/batches/{batch_id}/cancel")
    assert cancelled.status_code == 200 and cancelled.json["cancel_requested"] is True
    view = wait_done(client, worker, batch_id)
    assert view["state"] == "cancelled"
    assert view["dossiers"]["done"] < 6
    filed = client.get("/api/v1/dossiers").json["total"]
    assert filed == view["dossiers"]["done"]
    assert client.post(f"/api/v1/digitisation/batches/{batch_id}/resume").status_code == 202
    view = wait_done(client, worker, batch_id)
    assert view["state"] == "done"
    assert client.get("/api/v1/dossiers").json["total"] == 6


def test_the_api_stays_responsive_during_a_batch(client, worker, fonds, tmp_path) -> None:  # noqa: ANN001
    batch = make_batch(tmp_path / "in", dossiers=4, bad=False, pages_per_doc=3)
    batch_id = upload(client, batch).json["id"]
    worker.step(time.monotonic())
    slowest = 0.0
    while True:
        started = time.monotonic()
        view = client.get(f"/api/v1/digitisation/batches/{batch_id}").json
        client.get("/api/v1/dossiers")
        slowest = max(slowest, time.monotonic() - started)
        if view["state"] == "running" and view["pages"]["converted"]:
            assert view["eta"] and view["pages_per_minute"]
        if view["state"] in ("done", "partial"):
            break
        worker.step(time.monotonic())
        time.sleep(0.2)
    assert view["state"] == "done"
    assert slowest < 2.0, slowest  # the conversion is in other processes, niced
