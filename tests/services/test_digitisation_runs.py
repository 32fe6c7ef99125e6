"""Digitisation batches that fail, crash and run again (tests/services/test_digitisation.py
has the batch end to end; split for the two test workers, decision 0025): a rerun files only
what failed, a run that died after filing files nothing twice."""

from __future__ import annotations

import shutil

import pytest
from sqlalchemy import select, update

from repo_server.catalog import DigitisationBatch, DigitisationDossier, DigitisationItem
from repo_server.services.digitisation import create_batch
from repo_server.services.digitisation_run import claim_batch, run_batch

from .digitisation_data import Batch, make_batch
from .test_digitisation import ADMIN

pytestmark = [pytest.mark.skipif(shutil.which("tesseract") is None,
                                 reason="Tesseract is not installed"), pytest.mark.slow(35)]


def _start(env, batch: Batch, fonds: str = "000.00.00.H49") -> str:  # noqa: ANN001
    view = create_batch(env, ADMIN, fonds, [(p, p.name) for p in batch.finding_aid],
                        batch.scans, keep_files=False)
    return view["id"]


def test_a_rerun_skips_what_is_filed_and_retries_what_failed(env, client, fonds,  # noqa: ANN001
                                                              tmp_path) -> None:
    batch = make_batch(tmp_path / "in", dossiers=3, bad=False, zip_scans=False)
    batch_id = _start(env, batch)
    # a scan is damaged after the check: its document fails, its dossier is not filed
    victim = sorted((batch.scans / "hop-02").glob("vb-01*"))[0]
    good = victim.read_bytes()
    victim.write_bytes(good[:200])  # cut short
    assert claim_batch(env, "test") == batch_id
    first = run_batch(env, batch_id, "test", workers=2)
    assert first["state"] == "partial", first
    assert first["dossiers"] == {"total": 3, "done": 2, "failed": 1, "pending": 0}
    with env.db.read() as session:
        done_ids = set(session.scalars(select(DigitisationDossier.dossier_id).where(
            DigitisationDossier.state == "done")))
        cpu_before = {i.id: i.cpu_seconds for i in session.scalars(select(DigitisationItem))}
    report = client.get(f"/api/v1/digitisation/batches/{batch_id}/report").json
    failed = [doc for d in report["dossiers"] for doc in d["documents"] if doc["error"]]
    assert len(failed) == 1 and failed[0]["row"] == 4
    # the clerk replaces the scan and resumes: only the failed dossier is worked on
    victim.write_bytes(good)
    r = client.post(f"/api/v1/digitisation/batches/{batch_id}/resume")
    assert r.status_code == 202, r.json
    assert claim_batch(env, "test") == batch_id
    second = run_batch(env, batch_id, "test", workers=2)
    assert second["state"] == "done", second
    with env.db.read() as session:
        items = list(session.scalars(select(DigitisationItem)))
    redone = [i for i in items if i.cpu_seconds != cpu_before[i.id]]
    assert {i.row for i in redone} <= {4, 5}  # the documents of dossier 02 only
    assert client.get("/api/v1/dossiers").json["total"] == 3
    assert done_ids < {d["id"] for d in client.get("/api/v1/dossiers").json["items"]}
    again = client.post(f"/api/v1/digitisation/batches/{batch_id}/resume")
    assert again.status_code == 409


def test_a_run_that_crashed_after_filing_does_not_file_twice(env, client, fonds,  # noqa: ANN001
                                                             tmp_path) -> None:
    batch = make_batch(tmp_path / "in", dossiers=2, bad=False)
    batch_id = _start(env, batch)
    env.config["DIGITISATION_KEEP_ORIGINALS"] = False
    claim_batch(env, "first")
    run_batch(env, batch_id, "first", workers=1)
    # as if the process died after filing but before recording it: rows back to pending,
    # the runner silent since long ago
    with env.db.write() as session:
        session.execute(update(DigitisationDossier).values(state="pending"))
        session.execute(update(DigitisationItem).values(state="converted"))
        session.execute(update(DigitisationBatch).values(state="running", heartbeat_at=None,
                                                         runner="first"))
    assert claim_batch(env, "second") == batch_id
    result = run_batch(env, batch_id, "second", workers=1)
    assert result["state"] == "done"
    dossiers = client.get("/api/v1/dossiers").json["items"]
    assert len(dossiers) == 2
    for d in dossiers:  # originals not kept (DIGITISATION_KEEP_ORIGINALS false): the PDF/A only
        for doc in client.get(f"/api/v1/dossiers/{d['id']}/documents").json["items"]:
            assert [f["name"] for f in doc["files"]] == [doc["digitisation"]["archival_file"]]
            assert doc["digitisation"]["original_scans"] == []
