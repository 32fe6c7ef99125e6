"""The authorization matrix: every route × every role × an object in the caller's fonds and
one in another fonds, generated from the app's own route list.

The expected answer of each cell comes from the policy (services/policy.py: which role may
do which action; services/rights.py: what each kind of object needs to be reached), never
from what the server answered before:

- a role without the route's action: 403;
- an action on the whole repository (the retention schedule, jobs, the fixity state) by a
  user with some fonds only: 403;
- an object outside the caller's view: 404, exactly as for an id that does not exist; a
  dossier named in a body (a hold, a review) answers as a dossier that does not exist;
- giving more than the caller has (a wider fonds scope): 403;
- otherwise the rights let the request through: any answer but 401, 403 and 404 (a 409 for
  a closed dossier or a 422 is the rules speaking, not the rights).

Every 2xx answer to these callers (fonds A only, not cleared) is also searched for words of
fonds B and of a secret (03) record of fonds A: none may appear, in any listing, search,
audit export or job report. A route that is not in ROUTES below fails the test.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from repo_server import build_env, create_app
from repo_server.api.security import PUBLIC_ENDPOINTS, ROUTE_ACTIONS
from repo_server.catalog import OutboxEvent
from repo_server.catalog.migrate import upgrade
from repo_server.services import (
    disposal,
    disposal_execution,
    fileplan,
    fixity,
    handover,
    holds,
    lifecycle,
    links,
    registration,
)
from repo_server.services.context import SYSTEM, Actor
from repo_server.services.keys import create_key
from repo_server.services.policy import ROLES, allowed
from repo_server.services.retention import seed_default_schedule
from repo_server.services.rights import approver_roles
from tests.conftest import Client, _reset_database, close_env, make_config

A, B = "000.00.00.A01", "000.00.00.B02"
B_WORD = "PHONGBMARK"      # in every title and subject of fonds B
SECRET_WORD = "MATAMARK"   # in the title of a secret (03) dossier of fonds A


@dataclass
class Req:
    """A request template: `{name}` in the path, query or body is an object of the cell."""

    method: str
    path: str
    kind: str  # what the route touches: none | fonds | dossier | document | hold | review |
    #            user | record | repository | body-dossier | scope
    json: Any = None
    query: dict[str, str] | None = None
    raw: bytes | None = None
    multipart: dict[str, Any] | None = None
    upload: dict[str, Any] | None = None  # a digitisation finding aid and scans
    if_match: bool = False


def _push(fonds: str) -> dict[str, Any]:
    return {"manifest": json.dumps({
        "dossier": {"fonds_code": fonds, "external_ref": f"HS-{uuid.uuid4().hex[:8]}",
                    "title": "Hồ sơ một cửa", "retention": "05"},
        "documents": [{"metadata": {"type_code": "32", "subject": "Đơn"}}]})}


ROUTES: dict[tuple[str, str], Req] = {
    ("meta.CodeListCollection", "GET"): Req("GET", "/api/v1/code-lists", "none"),
    ("meta.CodeListItem", "GET"): Req("GET", "/api/v1/code-lists/retention", "none"),
    ("fonds.FondsCollection", "GET"): Req("GET", "/api/v1/fonds", "none"),
    ("fonds.FondsCollection", "POST"): Req("POST", "/api/v1/fonds", "fonds",
                                           json={"code": "{fonds}", "name": "Phông mới"}),
    ("fonds.FondsItem", "GET"): Req("GET", "/api/v1/fonds/{fonds}", "fonds"),
    ("fonds.FondsItem", "PATCH"): Req("PATCH", "/api/v1/fonds/{fonds}", "fonds",
                                      json={"history": "Lịch sử"}, if_match=True),
    ("fonds.FondsClose", "POST"): Req("POST", "/api/v1/fonds/{fonds}/close", "fonds", json={
        "closed_on": "2025-07-01", "decision_ref": "NQ 1"}, if_match=True),
    ("dossiers.DossierCollection", "GET"): Req("GET", "/api/v1/dossiers", "none"),
    ("dossiers.DossierCollection", "POST"): Req("POST", "/api/v1/dossiers", "fonds", json={
        "fonds_code": "{fonds}", "title": "Hồ sơ mới", "retention": "05"}),
    ("push.DossierPush", "POST"): Req("POST", "/api/v1/dossiers/push", "fonds",
                                      multipart={"fonds": "{fonds}"}),
    ("dossiers.DossierItem", "GET"): Req("GET", "/api/v1/dossiers/{dossier}", "dossier"),
    ("dossiers.DossierItem", "PATCH"): Req("PATCH", "/api/v1/dossiers/{dossier}", "dossier",
                                           json={"description": "Sửa"}, if_match=True),
    ("dossiers.DossierVersions", "GET"): Req("GET", "/api/v1/dossiers/{dossier}/versions",
                                             "dossier"),
    ("dossiers.DossierVersion", "GET"): Req("GET", "/api/v1/dossiers/{dossier}/versions/1",
                                            "dossier"),
    ("documents.DossierDocuments", "GET"): Req("GET", "/api/v1/dossiers/{dossier}/documents",
                                               "dossier"),
    ("documents.DossierDocuments", "POST"): Req(
        "POST", "/api/v1/dossiers/{dossier}/documents", "dossier",
        json={"type_code": "02", "subject": "Quyết định"}),
    ("documents.DocumentItem", "GET"): Req("GET", "/api/v1/documents/{document}", "document"),
    ("documents.DocumentItem", "PATCH"): Req("PATCH", "/api/v1/documents/{document}",
                                             "document", json={"description": "Sửa"},
                                             if_match=True),
    ("documents.DocumentVersions", "GET"): Req("GET", "/api/v1/documents/{document}/versions",
                                               "document"),
    ("documents.DocumentVersion", "GET"): Req("GET", "/api/v1/documents/{document}/versions/1",
                                              "document"),
    ("documents.DocumentFiles", "GET"): Req("GET", "/api/v1/documents/{document}/files",
                                            "document"),
    ("documents.DocumentFiles", "POST"): Req("POST", "/api/v1/documents/{document}/files",
                                             "document", query={"name": "them.txt"},
                                             raw=b"them", if_match=True),
    ("documents.DocumentFile", "GET"): Req("GET", "/api/v1/documents/{document}/files/a.txt",
                                           "document"),
    ("documents.DocumentFile", "PUT"): Req("PUT", "/api/v1/documents/{document}/files/a.txt",
                                           "document", raw=b"moi", if_match=True),
    ("documents.DocumentFile", "DELETE"): Req(
        "DELETE", "/api/v1/documents/{document}/files/{own_file}", "document", if_match=True),
    ("lifecycle.Close", "POST"): Req("POST", "/api/v1/dossiers/{dossier}/close", "dossier",
                                     json={"end_date": "2025-09-30"}),
    ("lifecycle.Archive", "POST"): Req("POST", "/api/v1/dossiers/{dossier}/archive", "dossier",
                                       json={"handed_over_by": "Văn thư"}),
    ("lifecycle.TransferDue", "POST"): Req("POST", "/api/v1/dossiers/{dossier}/transfer-due",
                                           "dossier", json={}),
    ("lifecycle.Transfer", "POST"): Req("POST", "/api/v1/dossiers/{dossier}/transfer",
                                        "dossier", json={"receiving_archive": "LTLS"}),
    ("lifecycle.Warnings", "GET"): Req("GET", "/api/v1/deadline-warnings", "none"),
    ("retention.Rules", "GET"): Req("GET", "/api/v1/retention-rules", "none"),
    ("retention.Rules", "POST"): Req("POST", "/api/v1/retention-rules", "repository", json={
        "code": "X.{fonds}", "group": "Khác", "title": "Quy tắc", "years": 10}),
    ("retention.Rule", "GET"): Req("GET", "/api/v1/retention-rules/{rule}", "none"),
    ("retention.Rule", "PATCH"): Req("PATCH", "/api/v1/retention-rules/{rule}", "repository",
                                     json={"note": "Ghi chú"}),
    ("retention.Rule", "DELETE"): Req("DELETE", "/api/v1/retention-rules/{rule}", "repository"),
    ("retention.Export", "GET"): Req("GET", "/api/v1/retention-rules/export", "none"),
    ("retention.Import", "POST"): Req("POST", "/api/v1/retention-rules/import", "repository",
                                      raw=b"code,group,title\n"),
    ("holds.Holds", "GET"): Req("GET", "/api/v1/holds", "none"),
    ("holds.Holds", "POST"): Req("POST", "/api/v1/holds", "body-dossier", json={
        "reason": "Thanh tra", "authority_ref": "QĐ 9", "dossier_ids": ["{dossier}"]}),
    ("holds.HoldItem", "GET"): Req("GET", "/api/v1/holds/{hold}", "hold"),
    ("holds.HoldDossiers", "POST"): Req("POST", "/api/v1/holds/{hold}/dossiers", "hold",
                                        json={"dossier_ids": ["{dossier}"]}),
    ("holds.HoldDossier", "DELETE"): Req("DELETE", "/api/v1/holds/{hold}/dossiers/{held}",
                                         "hold"),
    ("holds.Release", "POST"): Req("POST", "/api/v1/holds/{hold}/release", "hold",
                                   json={"reason": "Xong"}),
    ("disposal.Reviews", "GET"): Req("GET", "/api/v1/disposal-reviews", "none"),
    ("disposal.Reviews", "POST"): Req("POST", "/api/v1/disposal-reviews", "body-dossier", json={
        "title": "Trùng", "items": [{"dossier_id": "{dossier}", "reason": "duplicate"}]}),
    ("disposal.Review", "GET"): Req("GET", "/api/v1/disposal-reviews/{review}", "review"),
    ("disposal.Opinions", "POST"): Req("POST", "/api/v1/disposal-reviews/{review}/opinions",
                                       "review", json={"opinions": [
                                           {"dossier_id": "{reviewed}", "opinion": "destroy"}]}),
    ("disposal.Approve", "POST"): Req("POST", "/api/v1/disposal-reviews/{review}/approve",
                                      "review", json={"decision_ref": "QĐ 2"}),
    ("disposal.Record", "GET"): Req("GET", "/api/v1/disposal-reviews/{done_review}/record",
                                    "review"),
    ("disposal.RecordPdf", "GET"): Req(
        "GET", "/api/v1/disposal-reviews/{done_review}/record.pdf", "review"),
    ("search.Search", "GET"): Req("GET", "/api/v1/search", "none", query={"q": "hồ sơ"}),
    ("jobs.Jobs", "GET"): Req("GET", "/api/v1/jobs", "none"),
    ("jobs.JobRuns", "GET"): Req("GET", "/api/v1/jobs/retention_sweep/runs", "none"),
    ("jobs.JobRuns", "POST"): Req("POST", "/api/v1/jobs/deadline_warnings/runs", "repository"),
    ("jobs.JobRunItem", "GET"): Req("GET", "/api/v1/jobs/runs/{job_run}", "none"),
    ("users.Users", "GET"): Req("GET", "/api/v1/users", "none"),
    ("users.Users", "POST"): Req("POST", "/api/v1/users", "scope", json={
        "name": "{new_user}", "roles": ["reader"], "fonds_scope": ["{fonds}"]}),
    ("users.UserItem", "GET"): Req("GET", "/api/v1/users/{user}", "user"),
    ("users.UserItem", "PATCH"): Req("PATCH", "/api/v1/users/{user}", "user",
                                     json={"display_name": "Tên"}),
    ("users.UserKeys", "POST"): Req("POST", "/api/v1/users/{user}/keys", "user",
                                    json={"label": "máy"}),
    ("users.UserKey", "DELETE"): Req("DELETE", "/api/v1/users/{user}/keys/{key}", "user"),
    ("users.UserGrants", "POST"): Req("POST", "/api/v1/users/{user}/grants", "user",
                                      json={"dossier_id": "{dossier}"}),
    ("users.UserGrant", "DELETE"): Req("DELETE", "/api/v1/users/{user}/grants/{grant}", "user"),
    ("users.Me", "GET"): Req("GET", "/api/v1/me", "none"),
    ("audit.AuditEvents", "GET"): Req("GET", "/api/v1/audit", "none",
                                      query={"page_size": "200"}),
    ("audit.AuditExport", "GET"): Req("GET", "/api/v1/audit/export", "none"),
    ("audit.AuditVerify", "GET"): Req("GET", "/api/v1/audit/verify", "none"),
    ("packages.Export", "GET"): Req("GET", "/api/v1/packages/export", "fonds",
                                    query={"fonds_code": "{fonds}"}),
    ("packages.Import", "POST"): Req("POST", "/api/v1/packages/import", "none",
                                     raw=b"PK not a package"),
    ("ops.FixitySummary", "GET"): Req("GET", "/api/v1/fixity", "repository"),
    ("ops.FixityRuns", "GET"): Req("GET", "/api/v1/fixity/runs", "repository"),
    ("ops.FixityRunItem", "GET"): Req("GET", "/api/v1/fixity/runs/{fixity_run}", "repository"),
    ("ops.FixityAlerts", "GET"): Req("GET", "/api/v1/fixity/alerts", "repository"),
    ("ops.ParkedItems", "GET"): Req("GET", "/api/v1/outbox/parked", "none"),
    ("ops.ParkedRetryAll", "POST"): Req("POST", "/api/v1/outbox/parked/retry", "none"),
    ("ops.ParkedRetry", "POST"): Req("POST", "/api/v1/outbox/parked/{parked}/retry", "record"),
    ("signatures.Signatures", "GET"): Req("GET", "/api/v1/documents/{signed}/signatures",
                                          "document"),
    ("signatures.SignatureCheck", "POST"): Req(
        "POST", "/api/v1/documents/{signed}/signatures/check", "document"),
    ("signatures.SignatureEvidence", "GET"): Req(
        "GET", "/api/v1/documents/{signed}/signatures/evidence/s.pdf", "document"),
    ("digitisation.Batches", "GET"): Req("GET", "/api/v1/digitisation/batches", "none"),
    ("digitisation.Batches", "POST"): Req("POST", "/api/v1/digitisation/batches", "fonds",
                                          upload={"fonds": "{fonds}"}),
    ("digitisation.Checks", "POST"): Req("POST", "/api/v1/digitisation/checks", "fonds",
                                         upload={"fonds": "{fonds}"}),
    ("digitisation.Batch", "GET"): Req(
        "GET", "/api/v1/digitisation/batches/{digitisation_batch}", "digitisation"),
    ("digitisation.Cancel", "POST"): Req(
        "POST", "/api/v1/digitisation/batches/{digitisation_batch}/cancel", "digitisation"),
    ("digitisation.Resume", "POST"): Req(
        "POST", "/api/v1/digitisation/batches/{digitisation_batch}/resume", "digitisation"),
    ("digitisation.Report", "GET"): Req(
        "GET", "/api/v1/digitisation/batches/{digitisation_batch}/report", "digitisation",
        query={"format": "json"}),
    ("ops.FixityObject", "GET"): Req("GET", "/api/v1/fixity/objects/{dossier}", "record"),
    ("ops.FixityVerify", "POST"): Req("POST", "/api/v1/fixity/objects/{dossier}/verify",
                                      "record"),
    # records office (issue 15)
    ("registers.OutgoingRegistration", "POST"): Req(
        "POST", "/api/v1/documents/{document}/outgoing-registration", "document",
        json={"code_notation": "QĐ-UBND"}),
    ("registers.IncomingRegistration", "POST"): Req(
        "POST", "/api/v1/documents/{document}/incoming-registration", "document",
        json={"organ_name": "Sở Nội vụ"}),
    ("registers.Registration", "PATCH"): Req("PATCH", "/api/v1/documents/{document}/registration",
                                             "document", json={"note": "Ghi chú"}),
    ("registers.Handling", "POST"): Req("POST", "/api/v1/documents/{document}/handling",
                                        "document", json={"progress": "Đang xử lý"}),
    ("registers.Registrations", "GET"): Req("GET", "/api/v1/registrations", "fonds",
                                            query={"fonds_code": "{fonds}"}),
    ("registers.CancelNumber", "POST"): Req("POST", "/api/v1/registrations/{entry}/cancel",
                                            "entry", json={"reason": "Lấy nhầm số"}),
    ("registers.Register", "GET"): Req("GET", "/api/v1/registers/outgoing", "fonds", query={
        "fonds_code": "{fonds}", "date_from": "2000-01-01", "date_to": "2100-12-31"}),
    ("handover.Due", "GET"): Req("GET", "/api/v1/handover/due", "fonds",
                                 query={"fonds_code": "{fonds}", "within_days": "36500"}),
    ("handover.KeepBack", "POST"): Req("POST", "/api/v1/dossiers/{dossier}/keep-back", "dossier",
                                       json={"until": "2030-01-01", "consent_ref": "Ý kiến",
                                             "reason": "Còn dùng"}),
    ("handover.Batches", "GET"): Req("GET", "/api/v1/handover-batches", "none"),
    ("handover.Batches", "POST"): Req("POST", "/api/v1/handover-batches", "fonds", json={
        "fonds_code": "{fonds}", "title": "Đợt", "giving_unit": "Văn phòng",
        "dossier_ids": ["{dossier}"]}),
    ("handover.Batch", "GET"): Req("GET", "/api/v1/handover-batches/{batch}", "batch"),
    ("handover.BatchDossiers", "POST"): Req("POST", "/api/v1/handover-batches/{batch}/dossiers",
                                            "batch", json={"dossier_ids": ["{dossier}"]}),
    ("handover.BatchDossier", "DELETE"): Req(
        "DELETE", "/api/v1/handover-batches/{batch}/dossiers/{batched}", "batch"),
    ("handover.Inventory", "GET"): Req("GET", "/api/v1/handover-batches/{batch}/inventory",
                                       "batch", query={"format": "xlsx"}),
    ("handover.HandoverRecord", "GET"): Req("GET", "/api/v1/handover-batches/{batch}/record",
                                            "batch", query={"format": "xlsx"}),
    ("handover.ConfirmGiving", "POST"): Req(
        "POST", "/api/v1/handover-batches/{batch}/confirm-giving", "batch", json={"name": "A"}),
    ("handover.ConfirmReceiving", "POST"): Req(
        "POST", "/api/v1/handover-batches/{batch}/confirm-receiving", "batch",
        json={"name": "B"}),
    ("handover.BatchCancel", "POST"): Req("POST", "/api/v1/handover-batches/{batch}/cancel",
                                          "batch"),
    ("fileplans.Plans", "GET"): Req("GET", "/api/v1/file-plans", "none"),
    ("fileplans.Plans", "POST"): Req("POST", "/api/v1/file-plans", "fonds",
                                     json={"fonds_code": "{fonds}", "year": 2030}),
    ("fileplans.Plan", "GET"): Req("GET", "/api/v1/file-plans/{plan}", "plan"),
    ("fileplans.PlanItems", "POST"): Req("POST", "/api/v1/file-plans/{plan}/items", "plan",
                                         json={"title": "Hồ sơ", "retention": "10"}),
    ("fileplans.PlanItem", "DELETE"): Req("DELETE", "/api/v1/file-plans/{plan}/items/{plan_item}",
                                          "plan"),
    ("fileplans.PlanImport", "POST"): Req("POST", "/api/v1/file-plans/{plan}/import", "plan",
                                          raw="Tên đề mục và tiêu đề hồ sơ\nHồ sơ\n".encode()),
    ("fileplans.PlanExport", "GET"): Req("GET", "/api/v1/file-plans/{plan}/export", "plan"),
    ("fileplans.PlanApprove", "POST"): Req("POST", "/api/v1/file-plans/{plan}/approve", "plan",
                                           json={"approval_ref": "QĐ 5"}),
    ("fileplans.PlanOpen", "POST"): Req("POST", "/api/v1/file-plans/{plan}/open", "plan",
                                        json={}),
    ("filing.Links", "GET"): Req("GET", "/api/v1/dossiers/{dossier}/links", "dossier"),
    ("filing.Links", "POST"): Req("POST", "/api/v1/dossiers/{dossier}/links", "dossier",
                                  json={"document_id": "{document}"}),
    ("filing.Link", "DELETE"): Req("DELETE", "/api/v1/dossiers/{link_dossier}/links/{linked_doc}",
                                   "dossier"),
    ("filing.ExportPdf", "GET"): Req("GET", "/api/v1/dossiers/{dossier}/export.pdf", "dossier"),
    ("filing.ExportXml", "GET"): Req("GET", "/api/v1/dossiers/{dossier}/export.xml", "dossier"),
}


def test_every_route_is_in_the_matrix(app):
    """A new route without a line here (and an action in the route table) fails."""
    routes = {(rule.endpoint, m) for rule in app.url_map.iter_rules()
              if rule.endpoint not in PUBLIC_ENDPOINTS
              for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert sorted(routes - set(ROUTES)) == []
    assert sorted(set(ROUTES) - routes) == []
    assert sorted(r for r in routes if r not in ROUTE_ACTIONS) == []


# ---------------------------------------------------------------- the world of the matrix

@dataclass
class World:
    app: Any
    env: Any
    objects: dict[str, dict[str, str]] = field(default_factory=dict)  # "in"/"out" -> names
    callers: dict[str, Client] = field(default_factory=dict)
    own: dict[str, dict[str, str]] = field(default_factory=dict)  # role -> its own A objects


_DIGITISATION: dict[str, bytes] = {}


def _digitisation_upload(fonds: str) -> dict[str, Any]:
    """A one-page finding aid and its scans (made once), as an upload form."""
    import io
    import tempfile

    from tests.services.digitisation_data import make_batch

    if not _DIGITISATION:
        batch = make_batch(Path(tempfile.mkdtemp()), dossiers=1, docs_per_dossier=1,
                           pages_per_doc=1, bad=False)
        _DIGITISATION.update(aid=batch.finding_aid[0].read_bytes(),
                             scans=batch.scans.read_bytes())
    return {"fonds_code": fonds, "finding_aid": (io.BytesIO(_DIGITISATION["aid"]), "a.xlsx"),
            "scans": (io.BytesIO(_DIGITISATION["scans"]), "scans.zip")}


def _batch(env, fonds: str, folder: Path) -> str:  # noqa: ANN001
    """A queued digitisation batch of the fonds (never run here)."""
    from repo_server.services.digitisation import create_batch
    from tests.services.digitisation_data import make_batch

    made = make_batch(folder, dossiers=1, docs_per_dossier=1, pages_per_doc=1, bad=False)
    return create_batch(env, SYSTEM, fonds, [(p, p.name) for p in made.finding_aid],
                        made.scans, keep_files=False)["id"]


def _dossier(admin: Client, fonds: str, title: str, **kw: Any) -> dict:  # noqa: ANN401
    return admin.make_dossier(fonds, title=title, start_date="2025-01-10", **kw)


def _fonds_objects(world: World, admin: Client, fonds: str, word: str) -> dict[str, str]:
    env = world.env
    d = _dossier(admin, fonds, f"Hồ sơ đất đai {word}")
    doc = admin.make_document(d["id"], files={"a.txt": f"đất đai {word}".encode()},
                              subject=f"Quyết định {word}")
    held = _dossier(admin, fonds, f"Hồ sơ thanh tra {word}")
    hold = holds.create_hold(env, SYSTEM, f"Thanh tra {word}", f"QĐ {word}", [held["id"]])
    reviewed = _dossier(admin, fonds, f"Hồ sơ trùng {word}", retention="06")
    gone = _dossier(admin, fonds, f"Hồ sơ hủy {word}", retention="06")
    gone_doc = admin.make_document(gone["id"], files={"g.txt": b"g"}, subject=f"Hủy {word}")
    for x in (reviewed, gone):
        lifecycle.close_dossier(env, SYSTEM, x["id"], end_date=None, note=None,
                                expected_version=None)
    review = disposal.propose_review(env, SYSTEM, f"Trùng {word}", [
        {"dossier_id": x["id"], "reason": "duplicate"} for x in (reviewed, gone)])
    members = [Actor(name=f"m{i}-{fonds}", roles=("appraiser",), scope=(fonds,))
               for i in range(3)]
    for m in members:
        disposal.record_opinions(env, m, review["id"], [
            {"dossier_id": gone["id"], "opinion": "destroy"},
            {"dossier_id": reviewed["id"], "opinion": "keep", "retention": "05",
             "reason": "Còn giá trị"}])
    disposal.approve_review(env, Actor(name=f"head-{fonds}", roles=("head",)), review["id"],
                            "QĐ 1")
    disposal_execution.execute_approved(env)
    open_review = disposal.propose_review(env, SYSTEM, f"Mở {word}", [
        {"dossier_id": reviewed["id"], "reason": "duplicate"}])
    user = admin.post("/api/v1/users", json={"name": f"user-{fonds}", "roles": ["reader"],
                                             "fonds_scope": [fonds]}).json
    key = admin.post(f"/api/v1/users/{user['id']}/keys", json={}).json
    grant = admin.post(f"/api/v1/users/{user['id']}/grants",
                       json={"dossier_id": d["id"]}).json["grants"][0]
    from tests.extract.signing import SigningCA, plain_pdf, sign_pdf

    signed = admin.make_document(d["id"], files={"s.pdf": sign_pdf(plain_pdf(),
                                                                   SigningCA.create())},
                                 subject=f"Ký số {word}")
    import tempfile

    batch = _batch(env, fonds, Path(tempfile.mkdtemp()))
    registered = admin.make_document(d["id"], subject=f"Công văn {word}")
    entry = registration.register_outgoing(env, SYSTEM, registered["id"],
                                           {"code_notation": "UBND-VP"})["registration"]
    plan = fileplan.create_plan(env, SYSTEM, fonds_code=fonds, year=2025)
    records = _records_objects(world, admin, fonds, plan["id"], word)
    return {**records, "entry": str(entry["entry_id"]), "plan": plan["id"],
            "fonds": fonds, "dossier": d["id"], "document": doc["id"], "hold": hold["id"],
            "signed": signed["id"], "digitisation_batch": batch,
            "held": held["id"], "review": open_review["id"], "done_review": review["id"],
            "reviewed": reviewed["id"], "user": user["id"], "key": key["id"],
            "grant": str(grant["id"]), "gone": gone["id"], "gone_doc": gone_doc["id"]}


def _records_objects(world: World, admin: Client, fonds: str, plan_id: str,
                     word: str) -> dict[str, str]:
    """What the records-office routes of one role use up: a plan item, a hand-over batch
    with a closed dossier, a document filed in a second dossier."""
    env = world.env
    item = fileplan.add_item(env, SYSTEM, plan_id, {"title": f"Hồ sơ kế hoạch {word}",
                                                    "retention": "10"})["items"][-1]
    closed = _dossier(admin, fonds, f"Hồ sơ nộp lưu {word}", retention="04")
    lifecycle.close_dossier(env, SYSTEM, closed["id"], end_date=None, note=None,
                            expected_version=None)
    batch = handover.create_batch(env, SYSTEM, fonds_code=fonds, title=f"Đợt {word}",
                                  giving_unit="Văn phòng", receiving_archive="Lưu trữ",
                                  dossier_ids=[closed["id"]])
    home, other = (_dossier(admin, fonds, f"Hồ sơ {n} {word}") for n in ("gốc", "liên quan"))
    linked = admin.make_document(home["id"], subject=f"Văn bản dùng chung {word}")
    links.link_document(env, SYSTEM, other["id"], linked["id"])
    return {"plan_item": str(item["id"]), "batch": batch["id"], "batched": closed["id"],
            "link_dossier": other["id"], "linked_doc": linked["id"]}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:  # noqa: ANN001
    instance: Path = tmp_path_factory.mktemp("matrix") / "instance"
    instance.mkdir(parents=True)
    config = make_config(instance, MAX_UPLOAD_BYTES=2 * 1024 * 1024)
    _reset_database(config["DATABASE_URL"])
    upgrade(config["DATABASE_URL"])
    env = build_env(config)
    seed_default_schedule(env)
    app = create_app(config, env=env)
    admin = Client(app, create_key(env, "root", ["admin"], conditional=True, clearance=True)[1])
    w = World(app, env)
    admin.make_fonds(A, "UBND xã A")
    admin.make_fonds(B, f"UBND xã B {B_WORD}")
    w.objects["in"] = _fonds_objects(w, admin, A, "A")
    w.objects["out"] = _fonds_objects(w, admin, B, B_WORD)
    secret = _dossier(admin, A, f"Hồ sơ mật {SECRET_WORD}", access_mode="03")
    admin.make_document(secret["id"], subject=f"Văn bản mật {SECRET_WORD}")
    admin.get(f"/api/v1/search?q={SECRET_WORD}")  # another user's query, in the audit trail
    fixity.run_fixity(env, "manual", limit=None)
    run = admin.post("/api/v1/jobs/retention_sweep/runs").json
    fixity_run = fixity.list_runs(env, page=1, page_size=1)[0][0]["id"]
    with env.db.write() as session:  # an index item the worker gave up on, in each fonds
        for objects in w.objects.values():
            item = session.scalar(select(OutboxEvent).where(
                OutboxEvent.object_id == objects["document"]).order_by(OutboxEvent.id.desc()))
            item.parked_at, item.error = env.now(), "Test: parked"
            objects["parked"] = str(item.id)
    for objects in w.objects.values():
        objects.update(rule=next(r["code"] for r in admin.get(
            "/api/v1/retention-rules?page_size=5").json["items"]),
            job_run=str(run["id"]), fixity_run=str(fixity_run))
    doc = w.objects["in"]["document"]
    for role in ROLES:
        w.callers[role] = Client(app, create_key(env, f"{role}-of-A", [role],
                                                 fonds_scope=[A])[1])
        # what one role's allowed changes use up (a removed file, a released hold) is its own
        held = _dossier(admin, A, f"Hồ sơ giữ {role}")
        hold = holds.create_hold(env, SYSTEM, "Thanh tra", f"QĐ {role}", [held["id"]])
        version = admin.get(f"/api/v1/documents/{doc}").json["version"]
        assert admin.post(f"/api/v1/documents/{doc}/files", query_string={"name": f"{role}.txt"},
                          data=b"x", content_type="text/plain",
                          headers={"If-Match": f'"v{version}"'}).status_code == 201
        plan = w.objects["in"]["plan"]
        w.own[role] = {"hold": hold["id"], "held": held["id"], "own_file": f"{role}.txt",
                       **_records_objects(w, admin, A, plan, role)}
    yield w
    close_env(env)


def _fill(value: Any, names: dict[str, str]) -> Any:  # noqa: ANN401
    if isinstance(value, str):
        return value.format(**names)
    if isinstance(value, dict):
        return {k: _fill(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, names) for v in value]
    return value


def send(client: Client, req: Req, names: dict[str, str]):  # noqa: ANN201
    kw: dict[str, Any] = {"headers": {"If-Match": '"v1"'} if req.if_match else {}}
    if req.query:
        kw["query_string"] = _fill(req.query, names)
    if req.json is not None:
        kw["json"] = _fill(req.json, names)
    if req.raw is not None:
        kw["data"] = req.raw
        kw["content_type"] = "text/plain"
    if req.multipart is not None:
        kw["data"] = _push(_fill(req.multipart, names)["fonds"])
        kw["content_type"] = "multipart/form-data"
    if req.upload is not None:
        kw["data"] = _digitisation_upload(_fill(req.upload, names)["fonds"])
        kw["content_type"] = "multipart/form-data"
    return client._call(req.method, _fill(req.path, names), **kw)


def expected(role: str, env, req: Req, action: str, variant: str) -> str:  # noqa: ANN001
    """What the policy says this cell must answer: 403, 404, "same-as-missing" or "through"."""
    actor = Actor(name="x", roles=(role,), scope=(A,))
    if not allowed(actor, action):
        return "403"
    if action == "disposal.approve" and not approver_roles(env) & {role}:
        return "403"
    if req.kind == "repository":
        return "403"
    if variant == "in" or req.kind == "none":
        return "through"
    if req.kind == "scope":
        return "403"
    if req.kind == "body-dossier":
        return "same-as-missing"
    return "404"


def _leaks(response) -> list[str]:  # noqa: ANN001
    body = response.get_data()
    return [w for w in (B_WORD, SECRET_WORD) if w.encode() in body]


@pytest.mark.parametrize("role", ROLES)
def test_authorization_matrix(world: World, role: str):
    client = world.callers[role]
    wrong = []
    for (endpoint, method), req in ROUTES.items():
        action = ROUTE_ACTIONS[(endpoint, method)]
        for variant in ("in", "out"):
            names = {**world.objects[variant], "new_user": f"new-{role}-{variant}",
                     "own_file": "a.txt", **(world.own[role] if variant == "in" else {})}
            want = expected(role, world.env, req, action, variant)
            r = send(client, req, names)
            got = str(r.status_code)
            if want == "through":
                ok = r.status_code not in (401, 403, 404)
            elif want == "same-as-missing":
                missing = {**names, "dossier": str(uuid.uuid4())}
                twin = send(client, req, missing)
                ok = r.status_code == twin.status_code and r.status_code not in (401, 200, 201)
                want = f"same as a missing id ({twin.status_code})"
            else:
                ok = got == want
            if ok and 200 <= r.status_code < 300 and _leaks(r):
                ok, got = False, f"{got} showing {_leaks(r)}"
            if not ok:
                wrong.append(f"{role} {method} {endpoint} [{variant}]: want {want}, got {got} "
                             f"{(r.get_json(silent=True) or {}).get('message', '')[:90]}")
    assert wrong == [], "\n".join(wrong)


def test_a_destroyed_document_answers_410_in_scope_and_404_outside(world: World):
    reader = world.callers["reader"]
    for variant, status in (("in", 410), ("out", 404)):
        names = world.objects[variant]
        for path in (f"/api/v1/documents/{names['gone_doc']}",
                     f"/api/v1/documents/{names['gone_doc']}/files/g.txt",
                     f"/api/v1/documents/{names['gone_doc']}/versions",
                     f"/api/v1/dossiers/{names['gone']}"):
            r = reader.get(path)
            assert r.status_code == status, (path, r.json)
            if status == 410:
                assert r.json["review_id"] == names["done_review"]
                assert r.json["record_id"] and r.json["destroyed_at"]
            else:
                assert "review_id" not in r.json and B_WORD not in r.get_data(as_text=True)
