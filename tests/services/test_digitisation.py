"""Digitisation batches end to end: a finding aid and scans go in through the API or the CLI
and come out as searchable, conforming dossiers (confidence level 02, two-layer PDF/A) with a
report that names exactly the pages below the standard. Batches that resume, crash and cancel:
test_digitisation_runs.py and test_digitisation_worker.py (one file each per test worker,
decision 0025)."""

from __future__ import annotations

import io
import json
import shutil
import time
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from repo_server.catalog import DigitisationBatch
from repo_server.services.context import Actor
from tests.conftest import drain

from .digitisation_data import Batch, make_batch

pytestmark = [pytest.mark.skipif(shutil.which("tesseract") is None,
                                 reason="Tesseract is not installed"), pytest.mark.slow(45)]
ADMIN = Actor("archivist-test", ("admin",), conditional=True, clearance=True)


def upload(client, batch: Batch, fonds: str = "000.00.00.H49", path: str = "batches",  # noqa: ANN001
           **form) -> object:  # noqa: ANN003
    data = {"fonds_code": fonds,
            "finding_aid": [(io.BytesIO(p.read_bytes()), p.name) for p in batch.finding_aid],
            "scans": (io.BytesIO(batch.scans.read_bytes()), "scans.zip"),
            **{k: str(v).lower() for k, v in form.items()}}
    return client.post(f"/api/v1/digitisation/{path}", data=data,
                       content_type="multipart/form-data")


def wait_done(client, worker, batch_id: str, timeout: float = 600) -> dict:  # noqa: ANN001
    """Drive the worker (it starts the batch in its thread) until the batch has finished."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        worker.step(time.monotonic())
        view = client.get(f"/api/v1/digitisation/batches/{batch_id}").json
        if view["state"] in ("done", "partial", "cancelled", "failed"):
            if worker.batches.thread is not None:
                worker.batches.thread.join(30)
            return view
        time.sleep(0.3)
    raise AssertionError(f"batch {batch_id} did not finish: {view}")


def flagged(report: dict) -> dict[tuple[str, int, int], set[str]]:
    """(dossier number, document serial, page) -> checks that failed, from a JSON report."""
    out = {}
    for f in report["flagged_pages"]:
        label = f["file_code"].rsplit(".", 1)[1]
        serial = int(f["doc_code"].rsplit(".", 1)[1])
        out[(label, serial, f["page"])] = set(f["checks"])
    return out


def assert_exactly_the_bad_pages(report: dict, batch: Batch) -> None:
    found = flagged(report)
    assert set(found) == set(batch.bad_pages), (found, batch.bad_pages)
    for key, check in batch.bad_pages.items():
        assert check in found[key], (key, found[key])


def assert_conforming(client, env, report: dict, batch: Batch) -> None:  # noqa: ANN001
    import pikepdf

    assert len(report["dossiers"]) == batch.dossiers
    for d in report["dossiers"]:
        assert d["state"] == "done", d
        dossier = client.get(f"/api/v1/dossiers/{d['dossier_id']}").json
        assert dossier["confidence_level"] == "02"
        assert dossier["paper_file_code"] == d["paper_file_code"]
        assert dossier["page_count"] == sum(doc["pages"] for doc in d["documents"])
        assert dossier["sheet_count"] == dossier["page_count"]  # none given: one page a sheet
        assert dossier["doc_total"] == len(d["documents"])
        for doc in d["documents"]:
            shown = client.get(f"/api/v1/documents/{doc['document_id']}").json
            assert shown["confidence_level"] == "02" and shown["page_count"] == doc["pages"]
            archival = shown["digitisation"]["archival_file"]
            assert archival == f"{doc['doc_code']}.pdf"  # TT 05: <file code>.<serial>
            names = {f["name"] for f in shown["files"]}
            assert archival in names and set(shown["digitisation"]["original_scans"]) <= names
            r = client.get(f"/api/v1/documents/{doc['document_id']}/files/{archival}")
            with pikepdf.open(io.BytesIO(r.data)) as pdf:
                assert pdf.open_metadata().pdfa_status.startswith("2")
                assert len(pdf.pages) == doc["pages"]


def test_a_batch_through_the_api_makes_conforming_searchable_dossiers(  # noqa: ANN001
        client, fonds, worker, env, tmp_path) -> None:
    batch = make_batch(tmp_path / "in", dossiers=6, docs_per_dossier=2, pages_per_doc=2)
    r = upload(client, batch)
    assert r.status_code == 202, r.json
    assert r.headers["Location"].endswith(r.json["id"])
    assert r.json["state"] == "queued" and r.json["pages"]["total"] == batch.pages
    view = wait_done(client, worker, r.json["id"])
    assert view["state"] == "done", view
    assert view["pages"]["converted"] == batch.pages and view["cpu_seconds_per_page"] > 0
    report = client.get(f"/api/v1/digitisation/batches/{view['id']}/report").json
    assert_exactly_the_bad_pages(report, batch)
    assert_conforming(client, env, report, batch)
    from repo_server.services.digitisation import batch_dir

    folder = batch_dir(env, view["id"])  # the uploaded scans go once all is filed
    assert not (folder / "scans.zip").exists()
    assert list((folder / "out").glob("*.pdf")) == []
    # the OCR text is searchable; the original scans are not read a second time
    drain(worker)
    (label, serial), number = next(iter(batch.words.items()))
    hits = client.get("/api/v1/search", query_string={"q": number}).json
    assert [h["code"][-10:] for h in hits["items"]] == [f"{label}.{serial:07d}"], hits
    documents = [doc for d in report["dossiers"] for doc in d["documents"]]
    assert client.get("/api/v1/search", query_string={"q": "ủy ban nhân dân"}).json["total"] \
        == len(documents)
    from repo_server.services.texts import read_texts

    texts = read_texts(env, documents[0]["document_id"])
    assert list(texts) == [f"{documents[0]['doc_code']}.pdf"]  # not the original scans
    # the readable reports
    xlsx = client.get(f"/api/v1/digitisation/batches/{view['id']}/report?format=xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(xlsx.data)).worksheets[0]
    assert sheet.max_row - 1 == len(batch.bad_pages)
    pdf = client.get(f"/api/v1/digitisation/batches/{view['id']}/report?format=pdf")
    assert pdf.status_code == 200 and pdf.data[:5] == b"%PDF-"


def test_the_same_batch_from_a_folder_through_the_cli(env, config, fonds, tmp_path) -> None:  # noqa: ANN001
    from repo_server.cli import main

    batch = make_batch(tmp_path / "in", dossiers=3, zip_scans=False, fmt="csv")
    runner = CliRunner(env={"REPO_FSYNC": "false", "REPO_DATABASE_URL": config["DATABASE_URL"]})
    args = ["--instance", config["INSTANCE_PATH"], "digitise"]
    common = [*map(str, batch.finding_aid), "--scans", str(batch.scans),
              "--fonds", fonds["code"]]
    checked = runner.invoke(main, [*args, "check", *common])
    assert checked.exit_code == 0, checked.output
    assert f"{batch.pages} pages" in checked.output
    result = runner.invoke(main, [*args, "start", *common, "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert "done" in result.output and "Report (xlsx)" in result.output
    with env.db.read() as session:
        batch_id = session.scalar(select(DigitisationBatch.id))
    status = runner.invoke(main, [*args, "status", batch_id])
    assert json.loads(status.stdout)["state"] == "done"
    report = json.loads(Path(runner.invoke(main, [*args, "report", batch_id, "--format", "json"])
                             .stdout.strip()).read_text())
    assert_exactly_the_bad_pages(report, batch)


def test_nothing_is_written_when_a_row_is_wrong(client, fonds, tmp_path) -> None:  # noqa: ANN001
    batch = make_batch(tmp_path / "in", dossiers=2, bad=False)
    with zipfile.ZipFile(batch.scans, "a") as z:  # an extra file is only a note
        z.writestr("ghi-chu.txt", "not a scan")
    broken, dropped = _drop_scan(batch, "hop-02/vb-01")
    r = upload(client, broken)
    assert r.status_code == 422, r.json
    problem = next(p for p in r.json["problems"] if dropped in p["message"])
    assert problem["row"] == 4 and problem["column"].startswith("I (Tệp quét)")
    assert client.get("/api/v1/dossiers").json["total"] == 0
    assert client.get("/api/v1/digitisation/batches").json["total"] == 0
    # the clerk chooses to import the valid rows: dossier 01 goes ahead, 02 is listed
    r = upload(client, broken, import_valid_rows=True)
    assert r.status_code == 202, r.json
    assert r.json["dossiers"]["total"] == 1
    assert any(dropped in p["message"] for p in r.json["left_out"])


def _drop_scan(batch: Batch, prefix: str) -> tuple[Batch, str]:
    """The batch without the first scan whose name starts with `prefix`."""
    target = batch.scans.with_name("broken.zip")
    dropped = None
    with zipfile.ZipFile(batch.scans) as src, zipfile.ZipFile(target, "w") as dst:
        for info in src.infolist():
            if dropped is None and info.filename.startswith(prefix):
                dropped = info.filename
                continue
            dst.writestr(info, src.read(info))
    return Batch(batch.finding_aid, target, batch.dossiers, batch.pages), dropped


def test_a_check_only_upload_answers_with_the_problems(client, fonds, tmp_path) -> None:  # noqa: ANN001
    batch = make_batch(tmp_path / "in", dossiers=2, bad=False)
    r = upload(client, batch, path="checks")
    assert r.status_code == 200, r.json
    assert r.json["valid"] is True and r.json["pages"] == batch.pages
    assert client.get("/api/v1/digitisation/batches").json["total"] == 0
