"""Outgoing numbers and incoming numbers (NĐ 30/2020 Art. 15, 22): consecutive per fonds, book
and Vietnamese calendar year, in the document's metadata (a new OCFL version), cancelled with a
reason and never reused, and the rights around them."""

from __future__ import annotations

import pytest

from tests.records.conftest import FONDS, incoming, outgoing, register, user


def docs(client, dossier_id: str, n: int, **fields) -> list[dict]:  # noqa: ANN001, ANN003
    return [client.make_document(dossier_id, subject=f"Văn bản {i}", **fields) for i in range(n)]


def test_outgoing_numbers_run_from_01_and_go_into_a_new_version(client, dossier, clock):
    first, second = docs(client, dossier["id"], 2)
    a = outgoing(client, first["id"], copies=3, file_copy_holder="Văn phòng")
    b = outgoing(client, second["id"], code_notation="UBND-VP")
    assert (a["code_number"], b["code_number"]) == ("01", "02")
    assert a["registration"]["registered_on"] == "2025-07-15"
    assert a["registration"]["book"] == "general" and a["registration"]["year"] == 2025
    assert a["issued_date"] == "2025-07-15"  # the registration date by default
    assert a["organ_name"] == "UBND phường An Cựu"  # the fonds' name by default
    assert a["version"] == 2
    versions = client.get(f"/api/v1/documents/{first['id']}/versions").json["items"]
    assert versions[-1]["message"].startswith("Register outgoing document")
    v2 = client.get(f"/api/v1/documents/{first['id']}/versions/2").json
    assert v2["code_number"] == "01" and v2["registration"]["number"] == 1


def test_separate_series_per_book_type_and_fonds(client, dossier, clock):
    plain, secret, law1, law2, decision, council = docs(client, dossier["id"], 6)
    client.make_fonds("000.00.00.H50", "UBND phường Vĩnh Ninh")
    other = client.make_document(client.make_dossier(fonds_code="000.00.00.H50")["id"])
    client.patch(f"/api/v1/documents/{secret['id']}", json={"secrecy": "mat"},
                 headers={"If-Match": '"v1"'})
    assert outgoing(client, plain["id"])["code_number"] == "01"
    r = outgoing(client, secret["id"])
    assert (r["code_number"], r["registration"]["book"]) == ("01", "secret")
    # legal normative documents: one series per type
    assert outgoing(client, law1["id"], number_book="vbqppl")["code_number"] == "01"
    r = outgoing(client, law2["id"], number_book="vbqppl")
    assert (r["code_number"], r["registration"]["series"]) == ("02", "vbqppl:02")
    client.patch(f"/api/v1/documents/{decision['id']}", json={"type_code": "01"},
                 headers={"If-Match": '"v1"'})
    assert outgoing(client, decision["id"], number_book="vbqppl")["code_number"] == "01"
    assert outgoing(client, council["id"], number_book="advisory")["code_number"] == "01"
    assert outgoing(client, other["id"])["code_number"] == "01"  # another organ
    r = outgoing(client, client.make_document(dossier["id"])["id"], 422, number_book="nope")
    assert "general" in r["errors"]["json"]["number_book"][0]


def test_number_books_are_data_an_agency_can_override(client, dossier, clock, env, tmp_path):
    import json

    from repo_server.codes import load_code_lists

    overrides = tmp_path / "codes"
    overrides.mkdir()
    lists = json.loads(json.dumps(env.codes["number_book"].to_dict()))
    lists["entries"].append({"code": "hd_thi_dua", "name_vi": "Hội đồng Thi đua – Khen thưởng",
                             "direction": "outgoing"})
    (overrides / "number_book.json").write_text(json.dumps(lists, ensure_ascii=False))
    env.codes = load_code_lists(overrides)
    d = client.make_document(dossier["id"])
    r = outgoing(client, d["id"], number_book="hd_thi_dua", code_notation="HĐTĐKT")
    assert (r["code_number"], r["registration"]["book"]) == ("01", "hd_thi_dua")


def test_year_rollover_starts_again_at_01_in_vietnam_time(client, dossier, clock):
    a, b, c = docs(client, dossier["id"], 3)
    clock.set(2025, 12, 31, 16, 59)  # 23:59 on 31 December in Hanoi
    assert outgoing(client, a["id"])["code_number"] == "01"
    assert incoming(client, c["id"], organ_name="Sở Nội vụ")["arrival_number"] == 1
    clock.set(2025, 12, 31, 17, 0)  # 00:00 on 1 January 2026 in Hanoi
    r = outgoing(client, b["id"])
    assert (r["code_number"], r["registration"]["year"]) == ("01", 2026)
    assert r["registration"]["registered_on"] == "2026-01-01"
    log = client.get("/api/v1/registrations", query_string={"fonds_code": FONDS}).json["items"]
    assert [(e["year"], e["series"], e["number"]) for e in log] == [
        (2025, "general", 1), (2025, "incoming", 1), (2026, "general", 1)]


def test_cancelled_number_is_never_reused_and_the_register_says_why(client, dossier, clock):
    a, b = docs(client, dossier["id"], 2)
    first = outgoing(client, a["id"])
    entry_id = first["registration"]["entry_id"]
    r = client.post(f"/api/v1/registrations/{entry_id}/cancel",
                    json={"reason": "Lấy nhầm số cho văn bản chưa ký"})
    assert r.status_code == 200, r.json
    assert r.json["status"] == "cancelled" and r.json["cancel_reason"].startswith("Lấy nhầm")
    doc = client.get(f"/api/v1/documents/{a['id']}").json
    assert "code_number" not in doc and "registration" not in doc
    assert doc["registration_history"][0]["number"] == 1
    assert outgoing(client, b["id"])["code_number"] == "02"  # 01 is not given again
    assert outgoing(client, a["id"])["code_number"] == "03"  # registered again: a new number
    rows = register(client, "outgoing")["rows"]
    assert [(r["number"], r["status"]) for r in rows] == [
        (1, "cancelled"), (2, "registered"), (3, "registered")]
    assert "Lấy nhầm số" in rows[0]["cells"]["note"] and rows[0]["cells"]["number_symbol"] == "01"
    again = client.post(f"/api/v1/registrations/{entry_id}/cancel", json={"reason": "x"})
    assert again.status_code == 409
    assert client.post(f"/api/v1/registrations/{entry_id}/cancel",
                       json={"reason": ""}).status_code == 422


def test_a_failed_write_cancels_its_number_with_the_reason(client, dossier, clock, env,
                                                           monkeypatch):
    a, b = docs(client, dossier["id"], 2)

    def broken(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise OSError("disk full")

    with monkeypatch.context() as m:
        m.setattr(env.store, "write_version", broken)
        r = client.post(f"/api/v1/documents/{a['id']}/outgoing-registration",
                        json={"code_notation": "QĐ-UBND"})
        assert r.status_code >= 500
    assert outgoing(client, b["id"])["code_number"] == "02"
    rows = register(client, "outgoing")["rows"]
    assert rows[0]["status"] == "cancelled" and "not given" in rows[0]["cells"]["note"]
    assert client.get(f"/api/v1/documents/{a['id']}").json["version"] == 1


def test_a_version_written_meanwhile_does_not_fail_a_registration_without_if_match(
        client, dossier, clock, env, monkeypatch):
    """The worker may store a document's extracted text between the clerk's upload and the
    registration: without If-Match the clerk asked for no particular version, so the number
    goes onto the new head (found by the README walkthrough under load: 412)."""
    a, = docs(client, dossier["id"], 1)
    read_json = env.store.read_json
    raced = []

    def read_then_someone_writes(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        out = read_json(*args, **kwargs)
        if not raced:
            raced.append(True)
            r = client.patch(f"/api/v1/documents/{a['id']}", json={"subject": "Quyết định (đính chính)"},
                             headers={"If-Match": '"v1"'})
            assert r.status_code == 200, r.json
        return out

    monkeypatch.setattr(env.store, "read_json", read_then_someone_writes)
    got = outgoing(client, a["id"])
    assert raced and got["code_number"] == "01" and got["version"] == 3
    assert got["subject"] == "Quyết định (đính chính)"  # the change made meanwhile is kept
    rows = register(client, "outgoing")["rows"]
    assert [row["status"] for row in rows] == ["registered"]


def test_registered_number_changes_only_through_cancelling(client, dossier, clock):
    a = client.make_document(dossier["id"])
    r = outgoing(client, a["id"])
    patch = client.patch(f"/api/v1/documents/{a['id']}", json={"code_number": "7"},
                         headers={"If-Match": f'"v{r["version"]}"'})
    assert patch.status_code == 409 and "cancel" in patch.json["message"]
    ok = client.patch(f"/api/v1/documents/{a['id']}", json={"subject": "Sửa trích yếu"},
                      headers={"If-Match": f'"v{r["version"]}"'})
    assert ok.status_code == 200 and ok.json["code_number"] == "01"
    assert outgoing(client, a["id"], 409)["entry_id"] == r["registration"]["entry_id"]


def test_duplicate_number_symbol_issuer_is_warned(client, dossier, clock):
    client.make_document(dossier["id"], code_number="01", code_notation="QĐ-UBND",
                         organ_name="UBND phường An Cựu", direction="outgoing")
    a = client.make_document(dossier["id"])
    r = outgoing(client, a["id"])
    assert r["code_number"] == "01"
    assert any("01/QĐ-UBND" in w for w in r["warnings"])


def test_outgoing_needs_a_symbol_and_refused_requests_take_no_number(client, dossier, clock):
    a = client.make_document(dossier["id"])
    r = client.post(f"/api/v1/documents/{a['id']}/outgoing-registration", json={})
    assert r.status_code == 422 and "code_notation" in r.json["errors"]["json"]
    assert incoming(client, a["id"], 422, arrival_date="2025-08-01")["errors"]
    assert client.get("/api/v1/registrations",
                      query_string={"fonds_code": FONDS}).json["total"] == 0


def test_incoming_registration_fills_the_standard_fields(client, dossier, clock):
    a, b = docs(client, dossier["id"], 2, type_code="22")
    r = incoming(client, a["id"], code_number="125", code_notation="UBND-VX",
                 issued_date="2025-07-10", organ_name="UBND thành phố Huế",
                 due_date="2025-07-30", assigned_to={"unit": "Phòng VH-XH", "person": "Hoa"})
    assert r["arrival_number"] == 1 and r["arrival_date"] == "2025-07-15"
    assert r["direction"] == "incoming" and r["due_date"] == "2025-07-30"
    assert r["registration"]["assigned_to"] == {"unit": "Phòng VH-XH", "person": "Hoa"}
    assert incoming(client, b["id"], arrival_date="2025-07-14")["arrival_number"] == 2
    assert outgoing(client, a["id"], 409)["message"].startswith("Document")  # it is incoming
    bad = incoming(client, client.make_document(dossier["id"])["id"], 422,
                   due_date="2025-07-01")
    assert "due_date" in bad["errors"]["json"]


@pytest.mark.parametrize("role", ["reader", "archivist", "integration"])
def test_only_the_records_clerk_registers(app, env, client, dossier, clock, role):
    a = client.make_document(dossier["id"])
    other = user(app, env, f"u-{role}", [role])
    r = other.post(f"/api/v1/documents/{a['id']}/outgoing-registration",
                   json={"code_notation": "QĐ-UBND"})
    assert r.status_code == 403


def test_service_checks_rights_and_scope_itself(app, env, client, dossier, clock):
    from repo_server.services.context import Actor
    from repo_server.services.errors import Forbidden, NotFound
    from repo_server.services.registration import register_outgoing

    a = client.make_document(dossier["id"])
    with pytest.raises(Forbidden):
        register_outgoing(env, Actor("r", roles=("reader",)), a["id"], {"code_notation": "X"})
    with pytest.raises(NotFound):
        register_outgoing(env, Actor("c", roles=("clerk",), scope=("000.00.00.H50",)), a["id"],
                          {"code_notation": "X"})
    clerk = user(app, env, "clerk-h50", ["clerk"], fonds_scope=["000.00.00.H50"])
    assert clerk.get("/api/v1/registrations",
                     query_string={"fonds_code": FONDS}).status_code == 404


def test_an_interrupted_registration_is_settled_and_explained(client, dossier, clock, env):
    from sqlalchemy import update

    from repo_server.catalog import RegisterEntry
    from repo_server.services import numbering
    from repo_server.services.context import Actor

    a, b = docs(client, dossier["id"], 2)
    done = outgoing(client, a["id"])
    with env.db.write() as session:  # a crash after the version was written
        session.execute(update(RegisterEntry).values(status="pending"))
        # a crash before anything was written: a number taken, no version
        numbering.claim(session, env, Actor("clerk-test"), fonds_code=dossier["fonds_code"],
                        direction="outgoing", book="general", series="general",
                        document_id=b["id"])
    assert [r["status"] for r in register(client, "outgoing")["rows"]] == ["pending", "pending"]
    clock.set(2025, 7, 15, 2, 5)
    rows = register(client, "outgoing")["rows"]
    assert [(r["number"], r["status"]) for r in rows] == [(1, "registered"), (2, "cancelled")]
    assert "interrupted" in rows[1]["cells"]["note"]
    assert rows[0]["document_id"] == done["id"]
    assert outgoing(client, b["id"])["code_number"] == "03"


def test_a_lost_number_log_comes_back_from_the_documents(client, dossier, clock, env):
    from sqlalchemy import delete

    from repo_server.catalog import Counter, RegisterEntry
    from repo_server.services.rebuild import rebuild_catalog

    a, b, c = docs(client, dossier["id"], 3)
    first = outgoing(client, a["id"])
    outgoing(client, b["id"])
    client.post(f"/api/v1/registrations/{first['registration']['entry_id']}/cancel",
                json={"reason": "Nhầm"})
    incoming(client, c["id"], organ_name="Sở Nội vụ")
    before = [(r["number"], r["status"], r["cells"]["note"]) for r in
              register(client, "outgoing")["rows"]]
    with env.db.write() as session:  # the catalog's operational state is gone
        session.execute(delete(RegisterEntry))
        session.execute(delete(Counter))
    rebuild_catalog(env)
    after = [(r["number"], r["status"], r["cells"]["note"]) for r in
             register(client, "outgoing")["rows"]]
    assert [a[:2] for a in after] == [b[:2] for b in before] == [(1, "cancelled"),
                                                                 (2, "registered")]
    assert "Nhầm" in after[0][2]
    assert outgoing(client, a["id"])["code_number"] == "03"
    assert register(client, "incoming")["rows"][0]["number"] == 1


def test_a_closed_fonds_issues_no_more_numbers(client, dossier, clock):
    a = client.make_document(dossier["id"])
    client.make_fonds("000.00.00.H50", "UBND phường mới")
    r = client.post(f"/api/v1/fonds/{FONDS}/close", json={
        "closed_on": "2025-07-14", "decision_ref": "NQ 1656/NQ-UBTVQH15",
        "successor_code": "000.00.00.H50"})
    assert r.status_code == 200, r.json
    r = outgoing(client, a["id"], 409)
    assert "closed" in r["message"] and "successor" in r["message"]
    assert client.get("/api/v1/registrations",
                      query_string={"fonds_code": FONDS}).json["total"] == 0
