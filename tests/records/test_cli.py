"""`repo-server records …`: what an archivist runs at the console — import the file plan
(problems listed by row), print a register, list what is due, export a dossier."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from repo_server.cli import main
from repo_server.services.destruction import find_font
from tests.records.conftest import FONDS, outgoing
from tests.records.helpers import pdf_pages, xlsx_rows


@pytest.fixture
def cli(config):  # noqa: ANN001, ANN201
    runner = CliRunner(env={"REPO_FSYNC": "false", "REPO_DATABASE_URL": config["DATABASE_URL"],
                            "REPO_LOG_LEVEL": "WARNING"})

    def run(*args: str):  # noqa: ANN202
        return runner.invoke(main, ["--instance", config["INSTANCE_PATH"], "records", *args])

    return run


def test_plan_import_reports_rows_and_export_writes_the_sheet(cli, client, fonds, tmp_path):
    bad = tmp_path / "plan.csv"
    bad.write_text("Đề mục,Tên đề mục và tiêu đề hồ sơ,Thời hạn bảo quản\n"
                   "I,TỔNG HỢP,\n,Kế hoạch năm,mãi mãi\n", encoding="utf-8")
    result = cli("plan-import", "--fonds", FONDS, "--year", "2025", str(bad))
    assert result.exit_code == 1
    assert "row 3, Thời hạn bảo quản" in result.output and "mãi mãi" in result.output
    bad.write_text("Đề mục,Tên đề mục và tiêu đề hồ sơ,Thời hạn bảo quản\n"
                   "I,TỔNG HỢP,\n,Kế hoạch năm,Vĩnh viễn\n", encoding="utf-8")
    result = cli("plan-import", "--fonds", FONDS, "--year", "2025", str(bad))
    assert result.exit_code == 0, result.output
    assert "1 planned dossiers" in result.output
    out = tmp_path / "plan.xlsx"
    assert cli("plan-export", "--fonds", FONDS, "--year", "2025", "-o", str(out)).exit_code == 0
    assert any(row[3] == "Kế hoạch năm" for row in xlsx_rows(out.read_bytes()))


def test_register_due_list_and_dossier_export(cli, client, dossier, clock, tmp_path):
    doc = client.make_document(dossier["id"], subject="Quyết định cấp phép")
    outgoing(client, doc["id"])
    out = tmp_path / "so-di.xlsx"
    result = cli("register", "outgoing", "--fonds", FONDS, "--from", "2025-01-01", "--to",
                 "2025-12-31", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert any(row[0] == "01/QĐ-UBND" for row in xlsx_rows(out.read_bytes()))
    assert cli("register", "outgoing", "--fonds", FONDS, "--from", "2025-01-01", "--to",
               "2025-12-31", "-o", str(tmp_path / "x.doc")).exit_code == 2
    result = cli("due", "--fonds", FONDS)
    assert result.exit_code == 0 and "0 dossier(s) due" in result.output
    xml = tmp_path / "ho-so.xml"
    assert cli("export-dossier", dossier["id"], "-o", str(xml)).exit_code == 0
    assert dossier["file_code"].encode() in xml.read_bytes()
    if find_font():
        pdf = tmp_path / "ho-so.pdf"
        assert cli("export-dossier", dossier["id"], "-o", str(pdf)).exit_code == 0
        assert "Quyết định cấp phép" in " ".join(pdf_pages(pdf.read_bytes()))
    missing = cli("export-dossier", "00000000-0000-0000-0000-000000000000", "-o", str(xml))
    assert missing.exit_code == 1 and "no dossier" in missing.output
