"""The whole records cycle through the API: create, close, hand over, wait out retention (a
controllable clock), sweep, review, approve, destroy, read the destruction record; and every
refusal (wrong state, hold, missing quorum, direct delete)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from repo_server.services.destruction import find_font
from repo_server.services.keys import create_key
from tests.conftest import Client, drain

PDF = "Biên bản bàn giao mật mã 7391 của phường An Cựu".encode() * 20
SECRET_WORD = "mật mã 7391"


class Clock:
    def __init__(self, when: datetime) -> None:
        self.when = when

    def __call__(self) -> datetime:
        return self.when

    def set(self, *args: int) -> None:
        self.when = datetime(*args, tzinfo=UTC)


@pytest.fixture
def clock(env):  # noqa: ANN001, ANN201
    c = Clock(datetime(2025, 7, 15, 2, 0, tzinfo=UTC))
    env.clock = c
    return c


def run(worker, job: str) -> dict:  # noqa: ANN001
    return worker.run_job(job, "manual")


@pytest.fixture
def council(app, env):  # noqa: ANN001, ANN201
    members = [Client(app, create_key(env, f"member{i}", ["appraiser"])[1]) for i in range(3)]
    head = Client(app, create_key(env, "chairman", ["head"])[1])
    return members, head


def make_closed_dossier(client, retention="06", **kw) -> dict:  # noqa: ANN001, ANN003
    d = client.make_dossier(retention=retention, start_date="2025-01-10", **kw)
    client.make_document(d["id"], files={"bb.txt": PDF}, subject="Biên bản bàn giao")
    r = client.post(f"/api/v1/dossiers/{d['id']}/close", json={"end_date": "2025-06-30"})
    assert r.status_code == 200, r.json
    return r.json


def test_close_fixes_the_longest_retention_and_due_date(client, fonds, clock):
    d = client.make_dossier(retention="06", start_date="2025-01-10")
    client.make_document(d["id"], retention="04")  # one document is kept 30 years
    r = client.post(f"/api/v1/dossiers/{d['id']}/close", json={"end_date": "2025-06-30"})
    assert r.status_code == 200
    body = r.json
    assert body["state"] == "closed" and body["retention"] == "04"
    assert body["retention_due_on"] == "2056-01-01"  # 2025 + 30 + 1
    assert body["closed"]["by"] == "clerk-test"
    # closed dossiers are read-only except through transitions
    r = client.patch(f"/api/v1/dossiers/{d['id']}", json={"title": "x"},
                     headers={"If-Match": f'"v{body["version"]}"'})
    assert r.status_code == 409 and "open" in r.json["message"]
    assert client.post(f"/api/v1/dossiers/{d['id']}/documents",
                       json={"type_code": "02", "subject": "x"}).status_code == 409


def test_invalid_transition_names_state_and_allowed(client, dossier):
    r = client.post(f"/api/v1/dossiers/{dossier['id']}/archive", json={"handed_over_by": "A"})
    assert r.status_code == 409
    assert r.json["state"] == "open" and r.json["allowed"] == ["closed"]
    assert "open" in r.json["message"] and "closed" in r.json["message"]


def test_hand_over_assigns_archive_code(client, fonds, clock):
    d = make_closed_dossier(client)
    r = client.post(f"/api/v1/dossiers/{d['id']}/archive",
                    json={"handed_over_by": "Trần Thị Bình", "received_by": "Lê Văn Cường",
                          "handed_over_on": "2025-08-01"})
    assert r.status_code == 200, r.json
    assert r.json["state"] == "archived"
    assert r.json["archive_code"] == "000.00.00.H49.LT.2025.000001"
    assert r.json["handover"]["received_by"] == "Lê Văn Cường"
    short = make_closed_dossier(client, retention="07", retention_years=3)
    r = client.post(f"/api/v1/dossiers/{short['id']}/archive", json={"handed_over_by": "A"})
    assert r.status_code == 409 and "5 years" in r.json["message"]


def test_permanent_dossier_goes_to_the_historical_archive(client, fonds, clock):
    d = make_closed_dossier(client, retention="01")
    client.post(f"/api/v1/dossiers/{d['id']}/archive", json={"handed_over_by": "A",
                                                            "handed_over_on": "2025-08-01"})
    r = client.post(f"/api/v1/dossiers/{d['id']}/transfer",
                    json={"receiving_archive": "Lưu trữ lịch sử tỉnh"})
    assert r.status_code == 409 and r.json["allowed"] == ["disposal_review", "transfer_due"]
    assert client.post(f"/api/v1/dossiers/{d['id']}/transfer-due", json={}).status_code == 200
    r = client.post(f"/api/v1/dossiers/{d['id']}/transfer",
                    json={"receiving_archive": "Lưu trữ lịch sử tỉnh", "reference": "BB 1/2030"})
    assert r.status_code == 200 and r.json["state"] == "transferred"
    versions = client.get(f"/api/v1/dossiers/{d['id']}/versions").json["items"]
    assert [v["message"].split(" ")[0] for v in versions[-4:]] == ["Close", "Hand", "Selected",
                                                                   "Transferred"]


def test_deadline_warnings(client, fonds, clock, worker):
    d = make_closed_dossier(client)  # end 2025-06-30: hand over by 2026-06-30
    p = make_closed_dossier(client, retention="01")
    client.post(f"/api/v1/dossiers/{p['id']}/archive", json={"handed_over_by": "A",
                                                            "handed_over_on": "2025-08-01"})
    run(worker, "deadline_warnings")
    assert client.get("/api/v1/deadline-warnings").json["total"] == 0
    clock.set(2026, 6, 10)
    run(worker, "deadline_warnings")
    warnings = client.get("/api/v1/deadline-warnings", query_string={"kind": "handover"}).json
    assert [w["dossier_id"] for w in warnings["items"]] == [d["id"]]
    assert warnings["items"][0]["due_on"] == "2026-06-30"
    clock.set(2030, 3, 1)
    run(worker, "deadline_warnings")
    transfer = client.get("/api/v1/deadline-warnings", query_string={"kind": "transfer"}).json
    assert [w["dossier_id"] for w in transfer["items"]] == [p["id"]]
    assert transfer["items"][0]["due_on"] == "2030-12-31"


def test_retention_rules_crud_csv_and_due_dates_follow(client, fonds, clock):
    rules = client.get("/api/v1/retention-rules").json
    assert rules["total"] >= 25  # the shipped default schedule
    assert "check it" in rules["items"][0]["note"]
    r = client.post("/api/v1/retention-rules", json={"code": "13.99", "group": "Chuyên môn",
                                                     "title": "Hồ sơ cấp phép", "years": 10})
    assert r.status_code == 201
    d = client.make_dossier(retention=None, retention_rule="13.99", start_date="2025-01-01")
    assert d["retention"] == "06"
    client.post(f"/api/v1/dossiers/{d['id']}/close", json={"end_date": "2025-06-30"})
    assert client.get(f"/api/v1/dossiers/{d['id']}").json["retention_due_on"] == "2036-01-01"
    r = client.patch("/api/v1/retention-rules/13.99", json={"years": 20})
    assert r.status_code == 200
    after = client.get(f"/api/v1/dossiers/{d['id']}").json
    assert after["retention"] == "05" and after["retention_due_on"] == "2046-01-01"
    assert client.delete("/api/v1/retention-rules/13.99").status_code == 409
    csv = client.get("/api/v1/retention-rules/export").data.decode()
    assert csv.startswith("code,group,title,years,permanent,legal_basis,note")
    assert "13.99" in csv
    r = client.post("/api/v1/retention-rules/import", content_type="text/csv",
                    data="code,group,title,years,permanent,legal_basis,note\n"
                         "13.99,Chuyên môn,Hồ sơ cấp phép,30,false,,\n")
    assert r.status_code == 200 and r.json == {"created": 0, "updated": 1}
    assert client.get(f"/api/v1/dossiers/{d['id']}").json["retention_due_on"] == "2056-01-01"
    bad = client.post("/api/v1/retention-rules/import", content_type="text/csv",
                      data="code,group,title,years,permanent,legal_basis,note\nX,g,t,99,false,,\n")
    assert bad.status_code == 422
    r = client.post("/api/v1/dossiers", json={"fonds_code": "000.00.00.H49", "title": "x",
                                              "retention_rule": "nope"})
    assert r.status_code == 422 and "retention_rule" in r.json["errors"]["json"]


def test_hold_refuses_every_change_with_423(client, fonds, clock):
    d = client.make_dossier()
    doc = client.make_document(d["id"], files={"a.pdf": PDF})
    r = client.post("/api/v1/holds", json={"reason": "Thanh tra", "authority_ref": "QĐ 45/TTr",
                                           "dossier_ids": [d["id"]]})
    assert r.status_code == 201
    hold = r.json
    refusals = [
        client.patch(f"/api/v1/dossiers/{d['id']}", json={"title": "x"},
                     headers={"If-Match": '"v1"'}),
        client.post(f"/api/v1/dossiers/{d['id']}/documents", json={"type_code": "02",
                                                                   "subject": "x"}),
        client.patch(f"/api/v1/documents/{doc['id']}", json={"subject": "x"},
                     headers={"If-Match": '"v1"'}),
        client.delete(f"/api/v1/documents/{doc['id']}/files/a.pdf", headers={"If-Match": '"v1"'}),
        client.post(f"/api/v1/dossiers/{d['id']}/close", json={}),
    ]
    for r in refusals:
        assert r.status_code == 423, r.json
        assert "QĐ 45/TTr" in r.json["message"]
    r = client.post(f"/api/v1/holds/{hold['id']}/release", json={"reason": "Đã kết luận"})
    assert r.status_code == 200 and r.json["active"] is False
    assert client.post(f"/api/v1/dossiers/{d['id']}/close", json={}).status_code == 200
    kept = client.get(f"/api/v1/holds/{hold['id']}").json
    assert kept["released_by"] == "clerk-test" and kept["dossiers"][0]["dossier_id"] == d["id"]


def test_full_disposal_cycle(client, fonds, clock, worker, council, env):
    members, head = council
    due = make_closed_dossier(client)            # 10 years, due 2036-01-01
    keep = make_closed_dossier(client)
    held = make_closed_dossier(client)
    permanent = make_closed_dossier(client, retention="01")
    later = client.make_dossier(retention="06", start_date="2025-01-01")
    client.post(f"/api/v1/dossiers/{later['id']}/close", json={"end_date": "2030-05-01"})
    for d in (due, keep, held, permanent):
        r = client.post(f"/api/v1/dossiers/{d['id']}/archive", json={"handed_over_by": "A"})
        assert r.status_code == 200
    drain(worker)
    assert client.get("/api/v1/search", query_string={"q": SECRET_WORD}).json["total"] == 4
    # A day before the due date nothing is listed
    clock.set(2035, 12, 31, 16, 59)   # 23:59 in Hà Nội
    assert run(worker, "retention_sweep")["listed"] == 0
    clock.set(2036, 1, 1, 1, 0)
    hold = client.post("/api/v1/holds", json={"reason": "Khiếu nại", "authority_ref": "KN 7",
                                              "dossier_ids": [held["id"]]}).json
    counts = run(worker, "retention_sweep")
    assert counts["listed"] == 2 and counts["held"] == 1
    assert run(worker, "retention_sweep")["listed"] == 0   # never listed twice
    review = client.get("/api/v1/disposal-reviews").json["items"][0]
    assert review["item_count"] == 2
    rid = review["id"]
    assert client.get(f"/api/v1/dossiers/{due['id']}").json["state"] == "disposal_review"
    # opinions: destroy `due`, keep `keep`; two members only: no quorum yet
    for m in members[:2]:
        r = m.post(f"/api/v1/disposal-reviews/{rid}/opinions", json={"opinions": [
            {"dossier_id": due["id"], "opinion": "destroy"},
            {"dossier_id": keep["id"], "opinion": "keep", "retention": "05",
             "reason": "Còn giá trị tra cứu"}]})
        assert r.status_code == 200, r.json
    r = head.post(f"/api/v1/disposal-reviews/{rid}/approve", json={"decision_ref": "QĐ 1"})
    assert r.status_code == 409 and len(r.json["missing_quorum"]) == 2
    r = members[0].post(f"/api/v1/disposal-reviews/{rid}/approve", json={"decision_ref": "QĐ 1"})
    assert r.status_code == 403
    members[2].post(f"/api/v1/disposal-reviews/{rid}/opinions", json={"opinions": [
        {"dossier_id": due["id"], "opinion": "destroy"},
        {"dossier_id": keep["id"], "opinion": "keep", "retention": "05", "reason": "Tra cứu"}]})
    # a hold placed after approval stops the destruction of that dossier
    r = head.post(f"/api/v1/disposal-reviews/{rid}/approve", json={"decision_ref": "QĐ 1/QĐ-UBND"})
    assert r.status_code == 200 and r.json["status"] == "approved"
    late_hold = client.post("/api/v1/holds", json={"reason": "Tòa án", "authority_ref": "TA 9",
                                                   "dossier_ids": []}).json
    assert late_hold["active"]
    drain(worker)   # runs the execution job requested by the approval
    review = client.get(f"/api/v1/disposal-reviews/{rid}").json
    outcomes = {i["dossier_id"]: i["outcome"] for i in review["items"]}
    assert outcomes == {due["id"]: "destroyed", keep["id"]: "kept"}
    assert review["status"] == "executed"
    # destroyed: 410 with a pointer to the record; no byte left in storage or index
    r = client.get(f"/api/v1/dossiers/{due['id']}")
    assert r.status_code == 410 and r.json["review_id"] == rid
    needle = SECRET_WORD.encode()
    leftovers = [p for p in env.store.root.rglob("*") if p.is_file() and needle in p.read_bytes()]
    assert len(leftovers) == 3  # the other three dossiers (text and file share content)
    drain(worker)
    hits = client.get("/api/v1/search", query_string={"q": SECRET_WORD}).json
    assert hits["total"] == 3 and due["id"] not in {h["dossier_id"] for h in hits["items"]}
    # kept: back to archived with the new retention and the reason in its history
    kept = client.get(f"/api/v1/dossiers/{keep['id']}").json
    assert kept["state"] == "archived" and kept["retention"] == "05"
    assert kept["appraisals"][0]["reason"] in {"Còn giá trị tra cứu", "Tra cứu"}
    # the destruction record, JSON and PDF
    record = client.get(f"/api/v1/disposal-reviews/{rid}/record").json
    assert [d["file_code"] for d in record["destroyed"]] == [due["file_code"]]
    assert record["decision"]["decision_ref"] == "QĐ 1/QĐ-UBND"
    assert record["council"] == ["member0", "member1", "member2"]
    pdf = client.get(f"/api/v1/disposal-reviews/{rid}/record.pdf")
    if find_font(""):  # fonts-dejavu-core (installed by .ci/run)
        assert record["pdf"] == "record.pdf", record.get("pdf_missing_reason")
        assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
        text = extract_text_from_pdf(pdf.data)
        assert due["file_code"] in text and "QĐ 1/QĐ-UBND" in text
    _ = hold


def test_hold_added_after_approval_skips_the_dossier(client, fonds, clock, worker, council):
    members, head = council
    d = make_closed_dossier(client)
    client.post(f"/api/v1/dossiers/{d['id']}/archive", json={"handed_over_by": "A"})
    clock.set(2036, 1, 2)
    run(worker, "retention_sweep")
    rid = client.get("/api/v1/disposal-reviews").json["items"][0]["id"]
    for m in members:
        m.post(f"/api/v1/disposal-reviews/{rid}/opinions",
               json={"opinions": [{"dossier_id": d["id"], "opinion": "destroy"}]})
    assert head.post(f"/api/v1/disposal-reviews/{rid}/approve",
                     json={"decision_ref": "QĐ 2"}).status_code == 200
    client.post("/api/v1/holds", json={"reason": "Tòa án", "authority_ref": "TA 9",
                                       "dossier_ids": [d["id"]]})
    drain(worker)
    review = client.get(f"/api/v1/disposal-reviews/{rid}").json
    assert review["items"][0]["outcome"] == "skipped"
    assert "TA 9" in review["items"][0]["outcome_note"]
    assert client.get(f"/api/v1/dossiers/{d['id']}").json["state"] == "archived"
    record = client.get(f"/api/v1/disposal-reviews/{rid}/record").json
    assert record["destroyed"] == [] and record["skipped"][0]["dossier_id"] == d["id"]


def test_manual_review_refuses_permanent_and_held(client, fonds, clock):
    p = make_closed_dossier(client, retention="01")
    r = client.post("/api/v1/disposal-reviews", json={"title": "Trùng", "items": [
        {"dossier_id": p["id"], "reason": "duplicate"}]})
    assert r.status_code == 422 and "permanent" in r.json["errors"]["json"]["items"][0]
    o = client.make_dossier()
    r = client.post("/api/v1/disposal-reviews", json={"title": "Trùng", "items": [
        {"dossier_id": o["id"], "reason": "duplicate"}]})
    assert r.status_code == 422 and "open" in r.json["errors"]["json"]["items"][0]


def extract_text_from_pdf(data: bytes) -> str:
    import pypdfium2

    pdf = pypdfium2.PdfDocument(data)
    return "\n".join(page.get_textpage().get_text_range() for page in pdf)
