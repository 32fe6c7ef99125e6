"""The outgoing, incoming and follow-up registers (NĐ 30/2020 PL IV) as views of documents:
every column, cancelled numbers shown, overdue warnings through the deadline job, and the XLSX
and PDF forms read back (columns, text, page count, A4 landscape, font embedded)."""

from __future__ import annotations

import pytest

from repo_server.services.destruction import find_font
from tests.records.conftest import incoming, outgoing, register, user
from tests.records.helpers import flat, pdf_page_sizes, pdf_pages, xlsx_rows, xlsx_sheet

OUTGOING_TITLES = ["Số, ký hiệu văn bản", "Ngày tháng văn bản",
                   "Tên loại và trích yếu nội dung văn bản", "Người ký", "Nơi nhận văn bản",
                   "Đơn vị, người nhận bản lưu", "Số lượng bản", "Ngày chuyển", "Ký nhận",
                   "Ghi chú"]
INCOMING_TITLES = ["Ngày đến", "Số đến", "Tác giả", "Số, ký hiệu", "Ngày tháng",
                   "Tên loại và trích yếu nội dung", "Đơn vị hoặc người nhận", "Ngày chuyển",
                   "Ký nhận", "Ghi chú"]
FOLLOW_UP_TITLES = ["Số đến",
                    "Tên loại, số, ký hiệu, ngày tháng, tác giả và trích yếu nội dung",
                    "Đơn vị hoặc người giải quyết", "Thời hạn giải quyết", "Tiến độ giải quyết",
                    "Số, ký hiệu văn bản trả lời", "Ghi chú"]
needs_font = pytest.mark.skipif(find_font() is None, reason="no Vietnamese TTF font installed")


@pytest.fixture
def registered(client, dossier, clock):  # noqa: ANN001, ANN201
    """Two outgoing (one cancelled, then a third), two incoming with deadlines."""
    out = [client.make_document(dossier["id"], subject=f"Quyết định cấp phép số {i}",
                                signer={"position": "Chủ tịch", "full_name": "Lê Văn Cường"})
           for i in range(3)]
    outgoing(client, out[0]["id"], recipients=[{"organ_name": "Ông Nguyễn Văn An"}],
                     copies=3, file_copy_holder="Văn phòng", delivered_on="2025-07-15",
                     received_by="Nguyễn Văn An")
    second = outgoing(client, out[1]["id"])
    r = client.post(f"/api/v1/registrations/{second['registration']['entry_id']}/cancel",
                    json={"reason": "Lấy nhầm số"})
    assert r.status_code == 200, r.json
    outgoing(client, out[2]["id"], code_notation="UBND-VP")
    inc = [client.make_document(dossier["id"], type_code="22",
                                subject=f"Về việc góp ý dự thảo {i}") for i in range(2)]
    a = incoming(client, inc[0]["id"], code_number="125", code_notation="UBND-VX",
                 issued_date="2025-07-10", organ_name="UBND thành phố Huế",
                 due_date="2025-07-16", assigned_to={"unit": "Phòng VH-XH", "person": "Hoa"})
    b = incoming(client, inc[1]["id"], organ_name="Sở Nội vụ", due_date="2025-08-30")
    return {"outgoing": out, "incoming": [a, b]}


def test_outgoing_register_has_every_column_and_the_cancelled_number(client, registered):
    reg = register(client, "outgoing")
    assert [c["title"] for c in reg["columns"]] == OUTGOING_TITLES
    rows = reg["rows"]
    assert [(r["number"], r["status"]) for r in rows] == [
        (1, "registered"), (2, "cancelled"), (3, "registered")]
    first = rows[0]["cells"]
    assert first == {
        "number_symbol": "01/QĐ-UBND", "date": "2025-07-15",
        "type_subject": "Quyết định: Quyết định cấp phép số 0", "signer": "Chủ tịch Lê Văn Cường",
        "recipients": ["Ông Nguyễn Văn An"], "file_copy_holder": "Văn phòng", "copies": 3,
        "delivered_on": "2025-07-15", "received_sign": "Nguyễn Văn An", "note": None}
    assert rows[1]["cells"]["number_symbol"] == "02" and "Lấy nhầm số" in rows[1]["cells"]["note"]
    assert rows[2]["cells"]["number_symbol"] == "03/UBND-VP"
    assert reg["counts"] == {"registered": 2, "cancelled": 1, "pending": 0, "hidden": 0}


def test_register_is_a_view_of_the_documents(client, registered):
    doc = registered["outgoing"][0]
    current = client.get(f"/api/v1/documents/{doc['id']}").json
    r = client.patch(f"/api/v1/documents/{doc['id']}", json={"subject": "Đã đính chính"},
                     headers={"If-Match": f'"v{current["version"]}"'})
    assert r.status_code == 200
    cells = register(client, "outgoing")["rows"][0]["cells"]
    assert cells["type_subject"] == "Quyết định: Đã đính chính"


def test_incoming_register_columns(client, registered):
    reg = register(client, "incoming")
    assert [c["title"] for c in reg["columns"]] == INCOMING_TITLES
    first = reg["rows"][0]["cells"]
    assert first["arrival_date"] == "2025-07-15" and first["arrival_number"] == "01"
    assert first["author"] == "UBND thành phố Huế" and first["number_symbol"] == "125/UBND-VX"
    assert first["date"] == "2025-07-10" and first["assigned_to"] == "Phòng VH-XH – Hoa"
    assert first["type_subject"] == "Công văn: Về việc góp ý dự thảo 0"


def test_follow_up_register_and_overdue_warnings(client, registered, clock, worker):
    a, b = registered["incoming"]
    clock.set(2025, 7, 20, 2, 0)
    reg = register(client, "follow_up")
    assert [c["title"] for c in reg["columns"]] == FOLLOW_UP_TITLES
    rows = {r["number"]: r for r in reg["rows"]}
    assert rows[1]["overdue"] and "Quá hạn 4 ngày" in rows[1]["cells"]["note"]
    assert rows[1]["cells"]["handler"] == "Phòng VH-XH – Hoa"
    assert "125/UBND-VX" in rows[1]["cells"]["document"]
    assert not rows[2]["overdue"]
    assert [r["number"] for r in register(client, "follow_up", overdue_only=True)["rows"]] == [1]
    worker.run_job("deadline_warnings", "manual")
    warnings = client.get("/api/v1/deadline-warnings", query_string={"kind": "handling"}).json
    assert [(w["document_id"], w["overdue"]) for w in warnings["items"]] == [(a["id"], True)]
    # answered: the reply's number goes into the register, the warning goes away
    reply = client.make_document(a["dossier_id"], subject="Trả lời góp ý")
    reply = outgoing(client, reply["id"], code_notation="UBND-VX")
    r = client.post(f"/api/v1/documents/{a['id']}/handling",
                    json={"reply_document_id": reply["id"], "progress": "Đã trả lời"})
    assert r.status_code == 200, r.json
    assert r.json["handling"]["status"] == "done"
    cells = {r["number"]: r for r in register(client, "follow_up")["rows"]}[1]["cells"]
    assert cells["reply_number"] == "04/UBND-VX" and cells["progress"].startswith("Đã trả lời")
    worker.run_job("deadline_warnings", "manual")
    assert client.get("/api/v1/deadline-warnings",
                      query_string={"kind": "handling"}).json["total"] == 0


def test_later_columns_are_filled_by_a_new_version(client, registered):
    b = registered["incoming"][1]
    r = client.patch(f"/api/v1/documents/{b['id']}/registration",
                     json={"delivered_on": "2025-07-16", "received_by": "Hoa",
                           "due_date": "2025-09-15"})
    assert r.status_code == 200, r.json
    assert r.json["version"] == b["version"] + 1 and r.json["due_date"] == "2025-09-15"
    cells = register(client, "incoming")["rows"][1]["cells"]
    assert (cells["delivered_on"], cells["received_sign"]) == ("2025-07-16", "Hoa")


def test_register_xlsx_reads_back_with_every_column(client, registered):
    data = register(client, "outgoing", fmt="xlsx")
    rows = xlsx_rows(data)
    header = next(i for i, r in enumerate(rows) if r[0] == OUTGOING_TITLES[0])
    assert rows[header] == OUTGOING_TITLES
    body = rows[header + 1:header + 4]
    assert [r[0] for r in body] == ["01/QĐ-UBND", "02", "03/UBND-VP"]
    assert body[0][1] == "15/07/2025" and body[0][3] == "Chủ tịch Lê Văn Cường"
    assert "Lấy nhầm số" in body[1][9]
    ws = xlsx_sheet(data)
    assert ws.page_setup.orientation == "landscape" and int(ws.page_setup.paperSize) == 9
    assert ws.print_title_rows == f"${header + 1}:${header + 1}"
    assert any("SỔ ĐĂNG KÝ VĂN BẢN ĐI" == r[0] for r in rows)


@needs_font
def test_register_pdf_is_a4_landscape_with_vietnamese_text(client, registered):
    data = register(client, "incoming", fmt="pdf")
    sizes = pdf_page_sizes(data)
    assert sizes and all(size == (842, 595) for size in sizes)  # A4 landscape in points
    text = flat(" ".join(pdf_pages(data)))
    assert "SỔ ĐĂNG KÝ VĂN BẢN ĐẾN" in text
    for title in ("Ngày đến", "Số đến", "Tác giả", "Đơn vị hoặc người nhận", "Ký nhận"):
        assert title in text
    assert "UBND thành phố Huế" in text and "125/UBND-VX" in text
    assert b"/FontFile2" in data  # the TrueType font is embedded


@needs_font
def test_long_register_repeats_its_header_on_every_page(client, dossier, clock):
    for i in range(40):
        d = client.make_document(dossier["id"], subject=f"Công văn về việc thứ {i} " * 4)
        outgoing(client, d["id"], code_notation="UBND-VP")
    pages = pdf_pages(register(client, "outgoing", fmt="pdf"))
    assert len(pages) >= 2
    assert all("Số, ký hiệu văn bản" in flat(p) for p in pages)
    assert "40/UBND-VP" in flat(pages[-1])


def test_hidden_documents_keep_their_row_without_details(app, env, client, dossier, clock):
    cleared = user(app, env, "clerk-cleared", ["clerk"], clearance=True)
    secret = cleared.make_document(dossier["id"], access_mode="03", subject="Bí mật quốc phòng")
    outgoing(cleared, secret["id"])
    assert register(cleared, "outgoing")["rows"][0]["document_id"] == secret["id"]
    reader = user(app, env, "clerk-no-clearance", ["clerk"])
    reg = register(reader, "outgoing")
    assert reg["rows"][0]["number"] == 1 and reg["rows"][0]["document_id"] is None
    assert "Bí mật" not in str(reg["rows"]) and reg["counts"]["hidden"] == 1


def test_register_refuses_bad_periods_and_other_fonds(app, env, client, registered):
    r = client.get("/api/v1/registers/outgoing", query_string={
        "fonds_code": "000.00.00.H49", "date_from": "2025-12-31", "date_to": "2025-01-01"})
    assert r.status_code == 422
    outsider = user(app, env, "clerk-h50", ["clerk"], fonds_scope=["000.00.00.H50"])
    r = outsider.get("/api/v1/registers/outgoing", query_string={
        "fonds_code": "000.00.00.H49", "date_from": "2025-01-01", "date_to": "2025-12-31"})
    assert r.status_code == 404
    assert client.get("/api/v1/registers/nope", query_string={
        "fonds_code": "000.00.00.H49", "date_from": "2025-01-01",
        "date_to": "2025-12-31"}).status_code == 404
