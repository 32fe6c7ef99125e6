"""Rights on the object touched (services/rights.py): the defects found from outside, each
as a scenario through the API (issue 12, §1)."""

from __future__ import annotations

import json

import pytest

from repo_server.services.keys import create_key
from tests.conftest import Client, drain

B = "000.00.00.H50"


def user(app, env, name, roles, **kw) -> Client:  # noqa: ANN001, ANN003
    return Client(app, create_key(env, name, roles, **kw)[1])


@pytest.fixture
def two_fonds(client, fonds):  # noqa: ANN001, ANN201
    client.make_fonds(B, "UBND xã Phú Mỹ")
    return client.make_dossier(title="Hồ sơ An Cựu"), client.make_dossier(B, title="Hồ sơ Phú Mỹ")


def test_an_archivist_cannot_read_release_shrink_or_extend_another_fonds_hold(
        client, app, env, two_fonds):
    mine, theirs = two_fonds
    hold = client.post("/api/v1/holds", json={"reason": "Thanh tra xã Phú Mỹ",
                                              "authority_ref": "QĐ 45/QĐ-TTr",
                                              "dossier_ids": [theirs["id"]]}).json
    archivist = user(app, env, "luu-tru-h49", ["archivist"], fonds_scope=["000.00.00.H49"])
    url = f"/api/v1/holds/{hold['id']}"
    assert archivist.get(url).status_code == 404
    assert archivist.post(f"{url}/release", json={"reason": "x"}).status_code == 404
    assert archivist.delete(f"{url}/dossiers/{theirs['id']}").status_code == 404
    assert archivist.post(f"{url}/dossiers", json={"dossier_ids": [mine["id"]]}
                          ).status_code == 404
    listed = archivist.get("/api/v1/holds").json
    assert listed["total"] == 0 and "Phú Mỹ" not in json.dumps(listed)
    # the other fonds' dossier is still held: an edit there is refused with 423
    r = client.patch(f"/api/v1/dossiers/{theirs['id']}", json={"title": "Sửa"},
                     headers={"If-Match": '"v1"'})
    assert r.status_code == 423 and hold["id"] in r.json["holds"]
    # a hold that covers both fonds is out of reach too (not every dossier is in scope)
    both = client.post("/api/v1/holds", json={"reason": "Cả hai", "authority_ref": "QĐ 46",
                                              "dossier_ids": [mine["id"], theirs["id"]]}).json
    assert archivist.post(f"/api/v1/holds/{both['id']}/release",
                          json={"reason": "x"}).status_code == 404
    # their own hold works as before
    own = archivist.post("/api/v1/holds", json={"reason": "Khiếu nại", "authority_ref": "KN 1",
                                                "dossier_ids": [mine["id"]]})
    assert own.status_code == 201
    assert archivist.get(f"/api/v1/holds/{own.json['id']}").status_code == 200
    assert archivist.get("/api/v1/holds").json["total"] == 1
    r = archivist.post(f"/api/v1/holds/{own.json['id']}/release", json={"reason": "Xong"})
    assert r.status_code == 200 and not r.json["active"]


def test_a_hold_created_empty_belongs_to_its_creator_until_it_covers_a_dossier(
        client, app, env, two_fonds):
    mine, _ = two_fonds
    archivist = user(app, env, "lt", ["archivist"], fonds_scope=["000.00.00.H49"])
    other = user(app, env, "lt-b", ["archivist"], fonds_scope=[B])
    empty = archivist.post("/api/v1/holds", json={"reason": "Sắp có", "authority_ref": "QĐ 1",
                                                  "dossier_ids": []}).json
    assert other.get(f"/api/v1/holds/{empty['id']}").status_code == 404
    assert archivist.post(f"/api/v1/holds/{empty['id']}/dossiers",
                          json={"dossier_ids": [mine["id"]]}).status_code == 200


def test_a_fonds_admin_cannot_widen_its_own_or_anyone_s_rights(client, app, env, two_fonds):
    local = client.post("/api/v1/users", json={"name": "admin-h49", "roles": ["admin"],
                                               "fonds_scope": ["000.00.00.H49"]}).json
    key = client.post(f"/api/v1/users/{local['id']}/keys", json={}).json["secret"]
    admin = Client(app, key)
    r = admin.patch(f"/api/v1/users/{local['id']}", json={"fonds_scope": ["*"]})
    assert r.status_code == 403 and "wider" in r.json["message"]
    r = admin.patch(f"/api/v1/users/{local['id']}", json={"fonds_scope": [B]})
    assert r.status_code == 403
    r = admin.patch(f"/api/v1/users/{local['id']}", json={"clearance": True})
    assert r.status_code == 403 and "clearance" in r.json["message"]
    r = admin.post("/api/v1/users", json={"name": "spy", "roles": ["reader"],
                                          "fonds_scope": [B]})
    assert r.status_code == 403
    r = admin.post("/api/v1/users", json={"name": "all", "roles": ["reader"],
                                          "fonds_scope": ["*"]})
    assert r.status_code == 403
    r = admin.post("/api/v1/users", json={"name": "mine", "roles": ["reader"]})
    assert r.status_code == 201 and r.json["fonds_scope"] == ["000.00.00.H49"]  # its own
    # users of other fonds, and the city's administrators, are out of its sight
    assert {u["name"] for u in admin.get("/api/v1/users").json["items"]} == {"admin-h49",
                                                                             "mine"}
    root = next(u for u in client.get("/api/v1/users").json["items"] if u["name"] == "clerk-test")
    assert admin.get(f"/api/v1/users/{root['id']}").status_code == 404
    assert admin.patch(f"/api/v1/users/{root['id']}", json={"active": False}).status_code == 404
    # within its fonds it manages as before, and grants only dossiers it can see
    clerk = admin.post("/api/v1/users", json={"name": "vt", "roles": ["clerk"],
                                              "fonds_scope": ["000.00.00.H49"]})
    assert clerk.status_code == 201
    _, theirs = two_fonds
    r = admin.post(f"/api/v1/users/{clerk.json['id']}/grants", json={"dossier_id": theirs["id"]})
    assert r.status_code == 422


def test_the_last_admin_of_every_fonds_cannot_be_demoted_disabled_or_revoked(client, app, env):
    me = next(u for u in client.get("/api/v1/users").json["items"] if u["name"] == "clerk-test")
    url = f"/api/v1/users/{me['id']}"
    for change in ({"roles": ["clerk"]}, {"active": False}, {"fonds_scope": ["000.00.00.H49"]}):
        r = client.patch(url, json=change)
        assert r.status_code == 409, (change, r.json)
    r = client.delete(f"{url}/keys/{me['keys'][0]['id']}")
    assert r.status_code == 409
    assert client.get("/api/v1/me").json["roles"] == ["admin"]
    # with a second one, the first may step down
    second = client.post("/api/v1/users", json={"name": "admin-2", "roles": ["admin"]}).json
    client.post(f"/api/v1/users/{second['id']}/keys", json={})
    assert client.patch(url, json={"roles": ["clerk", "admin"]}).status_code == 200
    assert client.patch(url, json={"roles": ["clerk"]}).status_code == 200


def test_an_auditor_of_one_fonds_sees_its_events_without_secret_words(
        client, app, env, two_fonds, worker):
    mine, theirs = two_fonds
    client.make_document(theirs["id"], subject="Công văn của Phú Mỹ")
    officer = user(app, env, "can-bo-mat", ["clerk"], clearance=True)
    secret = officer.make_dossier(title="Hồ sơ mật TUYETMAT", access_mode="03")
    officer.make_document(secret["id"], subject="Văn bản TUYETMAT")
    drain(worker)
    searcher = user(app, env, "nguoi-tra-cuu", ["reader"], fonds_scope=["000.00.00.H49"])
    searcher.get("/api/v1/search", query_string={"q": "TIMKIEMRIENG"})
    auditor = user(app, env, "kiem-toan", ["auditor"], fonds_scope=["000.00.00.H49"])
    text = auditor.get("/api/v1/audit/export").get_data(as_text=True)
    events = [json.loads(line) for line in text.splitlines()]
    targets = {e["target"] for e in events}
    assert mine["id"] in targets and secret["id"] in targets      # its fonds, secret included
    assert theirs["id"] not in targets and "Phú Mỹ" not in text   # nothing of the other fonds
    assert "TUYETMAT" not in text and "TIMKIEMRIENG" not in text  # words it is not cleared for
    masked = [e for e in events if e["target"] == secret["id"] and e.get("masked")]
    assert masked and masked[0]["details"]["message"] == "[masked]"
    page = auditor.get("/api/v1/audit", query_string={"page_size": 200}).json
    assert page["total"] == len(events) or page["total"] >= len(events) - 2  # its own reads
    assert "TUYETMAT" not in json.dumps(page) and "Phú Mỹ" not in json.dumps(page)
    # a cleared auditor of every fonds reads everything
    chief = user(app, env, "thanh-tra", ["auditor"], clearance=True)
    full = chief.get("/api/v1/audit/export").get_data(as_text=True)
    assert "TUYETMAT" in full and "Phú Mỹ" in full and "TIMKIEMRIENG" in full


def test_fixity_of_another_fonds_object_is_out_of_reach(client, app, env, two_fonds):
    from repo_server.services.fixity import run_fixity

    mine, theirs = two_fonds
    run_fixity(env, "manual")
    archivist = user(app, env, "lt", ["archivist"], fonds_scope=["000.00.00.H49"])
    assert archivist.get(f"/api/v1/fixity/objects/{theirs['id']}").status_code == 404
    assert archivist.post(f"/api/v1/fixity/objects/{theirs['id']}/verify").status_code == 404
    assert archivist.get(f"/api/v1/fixity/objects/{mine['id']}").status_code == 200
    assert archivist.post(f"/api/v1/fixity/objects/{mine['id']}/verify").status_code == 200
    assert archivist.get("/api/v1/fixity").status_code == 403  # the whole storage's state


def test_deadline_warnings_do_not_show_secret_titles_to_the_uncleared(client, app, env, fonds,
                                                                      worker):
    officer = user(app, env, "can-bo-mat", ["clerk"], clearance=True)
    secret = officer.make_dossier(title="Hồ sơ mật TUYETMAT", access_mode="03",
                                  start_date="2024-01-01")
    officer.post(f"/api/v1/dossiers/{secret['id']}/close", json={"end_date": "2024-02-01"})
    worker.run_job("deadline_warnings", "manual")
    assert "TUYETMAT" in json.dumps(officer.get("/api/v1/deadline-warnings").json)
    clerk = user(app, env, "vt", ["clerk"])
    listed = clerk.get("/api/v1/deadline-warnings").json
    assert listed["total"] == 0 and "TUYETMAT" not in json.dumps(listed)


def test_a_council_member_not_cleared_sees_a_secret_dossier_s_code_not_its_title(
        client, app, env, fonds):
    from repo_server.services import disposal, lifecycle
    from repo_server.services.context import SYSTEM

    officer = user(app, env, "can-bo-mat", ["clerk"], clearance=True)
    secret = officer.make_dossier(title="Hồ sơ mật TUYETMAT", access_mode="03", retention="06")
    lifecycle.close_dossier(env, SYSTEM, secret["id"], end_date=None, note=None,
                            expected_version=None)
    review = disposal.propose_review(env, SYSTEM, "Trùng", [
        {"dossier_id": secret["id"], "reason": "duplicate"}])
    member = user(app, env, "hoi-dong", ["appraiser"])
    shown = member.get(f"/api/v1/disposal-reviews/{review['id']}").json
    assert shown["items"][0]["file_code"] == secret["file_code"]
    assert shown["items"][0]["title"] is None and "TUYETMAT" not in json.dumps(shown)
    cleared = user(app, env, "hoi-dong-mat", ["appraiser"], clearance=True)
    assert cleared.get(f"/api/v1/disposal-reviews/{review['id']}").json["items"][0][
        "title"] == "Hồ sơ mật TUYETMAT"
