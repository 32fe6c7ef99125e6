"""Hand-over to the agency archive (NĐ 30/2020 Art. 30–31): due dates by rule (1 year, XDCB 3
months, only retention ≥ 5 years), keeping back with the head's consent (≤ 2 years, due
again then), batches confirmed by the giving unit and by another person in the archive (both
audited), archive codes, and the inventory and hand-over record read back."""

from __future__ import annotations

import pytest

from repo_server.services.destruction import find_font
from tests.records.conftest import FONDS, user
from tests.records.helpers import flat, pdf_page_sizes, pdf_pages, xlsx_rows

needs_font = pytest.mark.skipif(find_font() is None, reason="no Vietnamese TTF font installed")


def closed(client, end_date: str = "2025-03-31", retention: str = "04", **fields) -> dict:  # noqa: ANN001, ANN003
    d = client.make_dossier(retention=retention, start_date=end_date[:4] + "-01-05", **fields)
    client.make_document(d["id"], subject="Báo cáo tổng kết")
    r = client.post(f"/api/v1/dossiers/{d['id']}/close", json={"end_date": end_date})
    assert r.status_code == 200, r.json
    return r.json


def due(client, **query) -> list[dict]:  # noqa: ANN001, ANN003
    r = client.get("/api/v1/handover/due", query_string={"fonds_code": FONDS, **query})
    assert r.status_code == 200, r.json
    return r.json["items"]


@pytest.fixture
def staff(app, env):  # noqa: ANN001, ANN201
    return {"clerk": user(app, env, "van-thu", ["clerk"]),
            "archivist": user(app, env, "luu-tru", ["archivist"]),
            "head": user(app, env, "chu-tich", ["head"])}


def test_due_dates_follow_the_rules_as_data(client, fonds, clock):
    plain = closed(client, end_date="2025-03-31")
    xdcb = closed(client, end_date="2025-03-31", retention_rule="06.01", retention=None)
    named = closed(client, end_date="2025-03-31", handover_rule="xdcb")
    short = closed(client, retention="07", retention_years=3)  # stays with its unit
    clock.set(2026, 3, 1, 2, 0)
    items = {i["dossier_id"]: i for i in due(client, within_days=3650)}
    assert items[plain["id"]]["due_on"] == "2026-03-31" and items[plain["id"]]["rule"] == "default"
    assert items[xdcb["id"]]["due_on"] == "2025-06-30" and items[xdcb["id"]]["rule"] == "xdcb"
    assert items[xdcb["id"]]["overdue"] and not items[plain["id"]]["overdue"]
    assert items[named["id"]]["rule"] == "xdcb"
    assert short["id"] not in items
    # the default window (HANDOVER_WARNING_DAYS = 30) shows only what is due soon
    assert {i["dossier_id"] for i in due(client)} == {xdcb["id"], named["id"], plain["id"]}
    clock.set(2026, 2, 1, 2, 0)
    assert {i["dossier_id"] for i in due(client)} == {xdcb["id"], named["id"]}


def test_keep_back_needs_the_head_and_two_years_at_most(client, fonds, clock, staff):
    d = closed(client, end_date="2024-06-30")
    clock.set(2025, 7, 15, 2, 0)
    body = {"until": "2026-12-31", "consent_ref": "Ý kiến Chủ tịch 15/7/2025",
            "reason": "Còn giải quyết khiếu nại"}
    assert staff["clerk"].post(f"/api/v1/dossiers/{d['id']}/keep-back",
                               json=body).status_code == 403
    r = staff["head"].post(f"/api/v1/dossiers/{d['id']}/keep-back",
                           json={**body, "until": "2027-07-16"})
    assert r.status_code == 422 and "2027-07-15" in r.json["errors"]["json"]["until"][0]
    r = staff["head"].post(f"/api/v1/dossiers/{d['id']}/keep-back", json=body)
    assert r.status_code == 200, r.json
    assert r.json["keep_back"]["until"] == "2026-12-31" and r.json["keep_back"]["by"] == "chu-tich"
    assert r.json["version"] == d["version"] + 1
    item = due(client, within_days=3650)[0]
    assert item["due_on"] == "2026-12-31" and item["kept_back_until"] == "2026-12-31"
    assert due(client) == []  # no longer overdue today
    clock.set(2026, 12, 10, 2, 0)  # comes back due then
    assert [i["dossier_id"] for i in due(client)] == [d["id"]]


def test_handover_warnings_use_the_same_rules(client, fonds, clock, worker):
    xdcb = closed(client, end_date="2025-03-31", retention_rule="06.01", retention=None)
    closed(client, end_date="2025-03-31")
    clock.set(2025, 6, 15, 2, 0)
    worker.run_job("deadline_warnings", "manual")
    items = client.get("/api/v1/deadline-warnings", query_string={"kind": "handover"}).json
    assert [(i["dossier_id"], i["due_on"]) for i in items["items"]] == [(xdcb["id"],
                                                                         "2025-06-30")]


def test_batch_from_draft_to_received_with_archive_codes(client, fonds, clock, staff, env):
    a, b = closed(client), closed(client, retention="01")
    clerk, archivist = staff["clerk"], staff["archivist"]
    r = clerk.post("/api/v1/handover-batches", json={
        "fonds_code": FONDS, "title": "Hồ sơ năm 2025 của Văn phòng",
        "giving_unit": "Văn phòng UBND", "dossier_ids": [a["id"], b["id"]]})
    assert r.status_code == 201, r.json
    batch = r.json
    assert batch["status"] == "draft" and [d["file_code"] for d in batch["dossiers"]] == [
        a["file_code"], b["file_code"]]
    url = f"/api/v1/handover-batches/{batch['id']}"
    assert archivist.post(f"{url}/confirm-receiving", json={"name": "Lê"}).status_code == 409
    assert archivist.post(f"{url}/confirm-giving", json={"name": "Lê"}).status_code == 403
    r = clerk.post(f"{url}/confirm-giving", json={"name": "Trần Thị Bình"})
    assert r.status_code == 200 and r.json["status"] == "given"
    assert clerk.post(f"{url}/confirm-receiving", json={"name": "x"}).status_code == 403
    admin_same = client  # the admin confirming both sides is refused too
    r2 = admin_same.post("/api/v1/handover-batches", json={
        "fonds_code": FONDS, "title": "x", "giving_unit": "y", "dossier_ids": [a["id"]]})
    assert r2.status_code == 409  # already in a batch
    r = archivist.post(f"{url}/confirm-receiving", json={"name": "Lê Văn Cường"})
    assert r.status_code == 200, r.json
    assert r.json["status"] == "received"
    codes = [d["archive_code"] for d in r.json["dossiers"]]
    assert all(c and c.startswith(f"{FONDS}.LT.2025.") for c in codes)
    dossier = client.get(f"/api/v1/dossiers/{a['id']}").json
    assert dossier["state"] == "archived" and dossier["archive_code"] == codes[0]
    assert dossier["handover"]["received_by"] == "Lê Văn Cường"
    assert dossier["handover"]["handed_over_by"] == "Trần Thị Bình"
    events = client.get("/api/v1/audit", query_string={"target": batch["id"]}).json["items"]
    actions = {(e["action"], e["actor"]) for e in events}
    assert ("handover.give", "van-thu") in actions and ("handover.receive", "luu-tru") in actions
    assert due(client, within_days=3650) == []


def test_the_giver_cannot_also_receive(client, fonds, clock):
    d = closed(client)
    r = client.post("/api/v1/handover-batches", json={
        "fonds_code": FONDS, "title": "x", "giving_unit": "y", "dossier_ids": [d["id"]]})
    url = f"/api/v1/handover-batches/{r.json['id']}"
    assert client.post(f"{url}/confirm-giving", json={"name": "A"}).status_code == 200
    r = client.post(f"{url}/confirm-receiving", json={"name": "A"})
    assert r.status_code == 409 and "two different people" in r.json["message"]


def test_batch_refuses_what_does_not_go_to_the_archive(client, fonds, clock, staff):
    open_one = client.make_dossier()
    short = closed(client, retention="07", retention_years=3)
    for dossier_id in (open_one["id"], short["id"]):
        r = staff["clerk"].post("/api/v1/handover-batches", json={
            "fonds_code": FONDS, "title": "x", "giving_unit": "y", "dossier_ids": [dossier_id]})
        assert r.status_code == 409, r.json
    assert staff["clerk"].get("/api/v1/handover-batches").json["total"] == 0  # nothing half-made


def test_a_held_dossier_stops_receiving_and_a_retry_finishes(client, fonds, clock, staff):
    a, b = closed(client), closed(client)
    clerk, archivist = staff["clerk"], staff["archivist"]
    batch = clerk.post("/api/v1/handover-batches", json={
        "fonds_code": FONDS, "title": "x", "giving_unit": "y",
        "dossier_ids": [a["id"], b["id"]]}).json
    url = f"/api/v1/handover-batches/{batch['id']}"
    clerk.post(f"{url}/confirm-giving", json={"name": "A"})
    hold = client.post("/api/v1/holds", json={"reason": "Thanh tra", "authority_ref": "QĐ 1",
                                              "dossier_ids": [b["id"]]}).json
    r = archivist.post(f"{url}/confirm-receiving", json={"name": "B"})
    assert r.status_code == 423
    state = client.get(url).json
    assert state["status"] == "given" and state["dossiers"][0]["archive_code"]
    client.post(f"/api/v1/holds/{hold['id']}/release", json={"reason": "Xong"})
    r = archivist.post(f"{url}/confirm-receiving", json={"name": "B"})
    assert r.status_code == 200 and all(d["archive_code"] for d in r.json["dossiers"])


def test_draft_batch_edits_and_cancel_free_the_dossiers(client, fonds, clock, staff):
    a, b = closed(client), closed(client)
    clerk = staff["clerk"]
    batch = clerk.post("/api/v1/handover-batches", json={
        "fonds_code": FONDS, "title": "x", "giving_unit": "y", "dossier_ids": [a["id"]]}).json
    url = f"/api/v1/handover-batches/{batch['id']}"
    r = clerk.post(f"{url}/dossiers", json={"dossier_ids": [b["id"]]})
    assert [d["dossier_id"] for d in r.json["dossiers"]] == [a["id"], b["id"]]
    r = clerk.delete(f"{url}/dossiers/{a['id']}")
    assert [d["dossier_id"] for d in r.json["dossiers"]] == [b["id"]]
    assert clerk.post(f"{url}/cancel").json["status"] == "cancelled"
    again = clerk.post("/api/v1/handover-batches", json={
        "fonds_code": FONDS, "title": "x", "giving_unit": "y", "dossier_ids": [b["id"]]})
    assert again.status_code == 201


@needs_font
def test_inventory_and_record_read_back(client, fonds, clock, staff):
    a, b = closed(client), closed(client, retention="01")
    clerk, archivist = staff["clerk"], staff["archivist"]
    batch = clerk.post("/api/v1/handover-batches", json={
        "fonds_code": FONDS, "title": "Hồ sơ năm 2025 của Văn phòng",
        "giving_unit": "Văn phòng UBND", "dossier_ids": [a["id"], b["id"]]}).json
    url = f"/api/v1/handover-batches/{batch['id']}"
    clerk.post(f"{url}/confirm-giving", json={"name": "Trần Thị Bình"})
    archivist.post(f"{url}/confirm-receiving", json={"name": "Lê Văn Cường"})
    r = clerk.get(f"{url}/inventory", query_string={"format": "pdf"})
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert set(pdf_page_sizes(r.data)) == {(842, 595)}
    text = flat(" ".join(pdf_pages(r.data)))
    assert "MỤC LỤC HỒ SƠ, TÀI LIỆU NỘP LƯU" in text
    assert a["file_code"] in text and "Vĩnh viễn" in text and "30 năm" in text
    rows = xlsx_rows(clerk.get(f"{url}/inventory", query_string={"format": "xlsx"}).data)
    header = next(i for i, row in enumerate(rows) if row[0] == "STT")
    assert rows[header][:4] == ["STT", "Số, ký hiệu hồ sơ", "Tiêu đề hồ sơ", "Thời gian tài liệu"]
    body = rows[header + 1:header + 3]
    assert [row[1] for row in body] == [a["file_code"], b["file_code"]]
    assert all(row[6] and row[6].startswith(FONDS) for row in body)  # archive codes
    record = clerk.get(f"{url}/record", query_string={"format": "pdf"})
    pages = pdf_pages(record.data)
    assert len(pages) == 1 and pdf_page_sizes(record.data) == [(595, 842)]  # A4 portrait
    text = flat(pages[0])
    for words in ("BIÊN BẢN", "Về việc giao nhận tài liệu", "BÊN GIAO: Văn phòng UBND",
                  "Trần Thị Bình", "Lê Văn Cường", "2 hồ sơ", "ĐẠI DIỆN BÊN NHẬN",
                  "Bên giao và bên nhận đã xác nhận"):
        assert words in text, words
    rows = xlsx_rows(clerk.get(f"{url}/record", query_string={"format": "xlsx"}).data)
    assert any(row[0] and "BÊN NHẬN: Lưu trữ cơ quan" in row[0] for row in rows)
