"""The file plan (danh mục hồ sơ): import from XLSX and CSV with row-level errors, numbering of
planned dossiers under their headings, export read back (and imported again), approval by the
head, and the year's dossiers opened from it."""

from __future__ import annotations

import io

import pytest

from tests.records.conftest import FONDS, user
from tests.records.helpers import xlsx_rows

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER = ["Đề mục", "Ký hiệu đề mục", "Số và ký hiệu hồ sơ", "Tên đề mục và tiêu đề hồ sơ",
          "Thời hạn bảo quản", "Đơn vị/người lập hồ sơ", "Ghi chú"]
ROWS = [
    ["I", "TH", "", "TỔNG HỢP", "", "", ""],
    ["", "", "", "Kế hoạch, báo cáo công tác năm", "Vĩnh viễn", "Văn phòng", ""],
    ["", "", "", "Hồ sơ hội nghị sơ kết quý", "5 năm", "Văn phòng", ""],
    ["II", "TC", "", "TỔ CHỨC, CÁN BỘ", "", "", ""],
    ["1", "TD", "", "Tuyển dụng", "", "", ""],
    ["", "", "", "Hồ sơ tuyển dụng công chức năm 2026", "70", "Phòng Nội vụ – Nguyễn An", ""],
    ["", "", "05.TC", "Hồ sơ nâng lương", "20 năm", "Phòng Nội vụ", "ghi chú"],
]


def xlsx(rows: list[list]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    ws = book.active
    ws.append(["DANH MỤC HỒ SƠ NĂM 2026"])  # a title line above the header is fine
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_bytes(rows: list[list], sep: str = ",") -> bytes:
    import csv

    out = io.StringIO()
    csv.writer(out, delimiter=sep).writerows(rows)
    return out.getvalue().encode("utf-8-sig")


@pytest.fixture
def plan(client, fonds, clock) -> dict:  # noqa: ANN001
    r = client.post("/api/v1/file-plans", json={"fonds_code": FONDS, "year": 2025})
    assert r.status_code == 201, r.json
    return r.json


def upload(client, plan_id: str, data: bytes, kind: str = XLSX):  # noqa: ANN001, ANN201
    return client.post(f"/api/v1/file-plans/{plan_id}/import", data=data, content_type=kind)


def test_xlsx_import_builds_headings_and_numbers_dossiers(client, plan):
    r = upload(client, plan["id"], xlsx([HEADER, *ROWS]))
    assert r.status_code == 200, r.json
    items = r.json["items"]
    assert [(i["kind"], i["heading"], i["level"]) for i in items[:2]] == [
        ("heading", "I", 1), ("dossier", None, None)]
    dossiers = [i for i in items if i["kind"] == "dossier"]
    assert [d["file_notation"] for d in dossiers] == ["01.TH", "02.TH", "03.TD", "05.TC"]
    assert [(d["retention"], d["retention_years"]) for d in dossiers] == [
        ("01", None), ("07", 5), ("02", None), ("05", None)]
    sub = next(i for i in items if i["heading"] == "1")
    assert sub["parent_id"] == next(i["id"] for i in items if i["heading"] == "II")
    assert dossiers[2]["parent_id"] == sub["id"] and dossiers[2]["maker"].endswith("Nguyễn An")


def test_numbering_can_restart_under_each_main_heading(client, fonds, clock):
    p = client.post("/api/v1/file-plans", json={"fonds_code": FONDS, "year": 2026,
                                                "numbering": "heading"}).json
    r = upload(client, p["id"], csv_bytes([HEADER, *ROWS[:6]], sep=";"), "text/csv")
    assert r.status_code == 200, r.json
    assert [i["file_notation"] for i in r.json["items"] if i["kind"] == "dossier"] == [
        "01.TH", "02.TH", "01.TD"]


def test_row_level_errors_name_row_column_and_what_to_do(client, plan):
    bad = [HEADER,
           ["I", "TH", "", "TỔNG HỢP", "10 năm", "", ""],  # a heading has no retention
           ["", "", "", "", "Vĩnh viễn", "", ""],  # no title
           ["", "", "", "Hồ sơ A", "mười năm", "", ""],  # unreadable retention
           ["", "", "", "Hồ sơ B", "90", "", ""],  # out of 2–70
           ["IIV", "", "", "Đề mục sai", "", "", ""],  # not a numeral
           ["", "", "01 TH", "Hồ sơ C", "10", "", ""],  # a space in the notation
           ["", "", "", "Hồ sơ D", "", "", ""]]  # no retention at all
    r = upload(client, plan["id"], xlsx(bad))
    assert r.status_code == 422
    rows = r.json["errors"]["json"]["rows"]
    found = {(e["row"], e["column"]) for e in rows}
    assert found == {(3, "Thời hạn bảo quản"), (4, "Tên đề mục và tiêu đề hồ sơ"),
                     (5, "Thời hạn bảo quản"), (6, "Thời hạn bảo quản"), (7, "Đề mục"),
                     (8, "Số và ký hiệu hồ sơ"), (9, "Thời hạn bảo quản")}
    assert "row 3" in r.json["message"] and "nothing was imported" in r.json["message"]
    by_row = {e["row"]: e for e in rows}
    assert "mười năm" in by_row[5]["message"] and by_row[5]["value"] == "mười năm"
    assert "70" in by_row[6]["message"]
    assert client.get(f"/api/v1/file-plans/{plan['id']}").json["items"] == []


def test_unknown_columns_duplicates_and_unreadable_files(client, plan):
    r = upload(client, plan["id"], csv_bytes([[*HEADER[:4], "Cột lạ"], ["", "", "", "A"]]),
               "text/csv")
    assert r.status_code == 422 and r.json["errors"]["json"]["rows"][0]["column"] == "Cột lạ"
    r = upload(client, plan["id"], csv_bytes([HEADER, ["", "", "01", "A", "5", "", ""],
                                              ["", "", "01", "B", "5", "", ""]]), "text/csv")
    assert r.status_code == 422 and "row 2" in r.json["errors"]["json"]["rows"][0]["message"]
    assert upload(client, plan["id"], b"\x00\x01 not a workbook").status_code == 422
    r = upload(client, plan["id"], "Tên,x\n".encode("cp1258", "replace") + b"\xff\xfe",
               "text/csv")
    assert r.status_code == 422
    assert upload(client, plan["id"], b"{}", "application/json").status_code == 422
    r = upload(client, plan["id"], csv_bytes([["Something"], ["x"]]), "text/csv")
    assert r.status_code == 422 and "header" in r.json["message"]


def test_export_reads_back_and_imports_again(client, plan, fonds):
    upload(client, plan["id"], xlsx([HEADER, *ROWS]))
    data = client.get(f"/api/v1/file-plans/{plan['id']}/export",
                      query_string={"format": "xlsx"}).data
    rows = xlsx_rows(data)
    header = next(i for i, row in enumerate(rows) if row[0] == "Đề mục")
    assert rows[header][:6] == HEADER[:6]
    body = rows[header + 1:]
    assert body[0][:4] == ["I", "TH", None, "TỔNG HỢP"]
    assert body[1][2:6] == ["01.TH", "Kế hoạch, báo cáo công tác năm", "Vĩnh viễn", "Văn phòng"]
    assert body[2][4] == "5 năm" and len(body) == len(ROWS)
    csv_data = client.get(f"/api/v1/file-plans/{plan['id']}/export",
                          query_string={"format": "csv"}).data
    assert csv_data.startswith("\ufeff".encode()) and "Hồ sơ nâng lương" in csv_data.decode()
    other = client.post("/api/v1/file-plans", json={"fonds_code": FONDS, "year": 2024}).json
    again = upload(client, other["id"], data)
    assert again.status_code == 200, again.json
    assert [i["file_notation"] for i in again.json["items"]] == [
        i["file_notation"] for i in client.get(f"/api/v1/file-plans/{plan['id']}").json["items"]]
    assert upload(client, other["id"], csv_data, "text/csv").status_code == 200


def test_dossiers_opened_from_the_plan(client, plan, clock):
    upload(client, plan["id"], xlsx([HEADER, *ROWS]))
    r = client.post(f"/api/v1/file-plans/{plan['id']}/open", json={})
    assert r.status_code == 200, r.json
    opened = r.json["opened"]
    assert [o["file_code"] for o in opened] == [f"{FONDS}.2025.{n}" for n in
                                                ("01.TH", "02.TH", "03.TD", "05.TC")]
    dossier = client.get(f"/api/v1/dossiers/{opened[2]['dossier_id']}").json
    assert dossier["title"] == "Hồ sơ tuyển dụng công chức năm 2026"
    assert dossier["retention"] == "02" and dossier["maker"] == "Phòng Nội vụ – Nguyễn An"
    assert dossier["start_date"] == "2025-07-15"
    again = client.post(f"/api/v1/file-plans/{plan['id']}/open", json={}).json
    assert again["opened"] == [] and len(again["already_open"]) == 4
    items = client.get(f"/api/v1/file-plans/{plan['id']}").json["items"]
    assert items[1]["file_code"] == f"{FONDS}.2025.01.TH" and items[1]["dossier_state"] == "open"
    assert upload(client, plan["id"], xlsx([HEADER, *ROWS])).status_code == 409
    r = client.post(f"/api/v1/file-plans/{plan['id']}/items",
                    json={"title": "Hồ sơ phát sinh", "retention": "10"})
    assert r.status_code == 201 and r.json["items"][-1]["file_notation"] == "05.TD"


def test_approval_is_the_heads_and_freezes_replacing(app, env, client, plan):
    upload(client, plan["id"], xlsx([HEADER, *ROWS]))
    clerk = user(app, env, "van-thu", ["clerk"])
    head = user(app, env, "chu-tich", ["head"])
    url = f"/api/v1/file-plans/{plan['id']}"
    assert clerk.post(f"{url}/approve", json={"approval_ref": "QĐ 1"}).status_code == 403
    r = head.post(f"{url}/approve", json={"approval_ref": "QĐ 05/QĐ-UBND"})
    assert r.status_code == 200 and r.json["status"] == "approved"
    assert upload(clerk, plan["id"], xlsx([HEADER, *ROWS])).status_code == 409
    item = r.json["items"][-1]["id"]
    assert clerk.delete(f"{url}/items/{item}").status_code == 409
    assert head.post(f"{url}/import", data=b"", content_type=XLSX).status_code == 403
    assert client.post("/api/v1/file-plans",
                       json={"fonds_code": FONDS, "year": 2025}).status_code == 409
    outsider = user(app, env, "other", ["clerk"], fonds_scope=["000.00.00.H50"])
    assert outsider.get(url).status_code == 404


def test_plans_are_listed_without_their_items(client, plan):
    upload(client, plan["id"], xlsx([HEADER, *ROWS]))
    r = client.get("/api/v1/file-plans", query_string={"fonds_code": FONDS})
    assert r.status_code == 200, r.json
    assert [(p["id"], p["item_count"], p["year"]) for p in r.json["items"]] == [
        (plan["id"], len(ROWS), 2025)]
    assert "items" not in r.json["items"][0]
