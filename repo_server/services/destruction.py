"""The destruction record (biên bản hủy): a permanent record of what was destroyed, why and by
whose decision, stored as its own OCFL object (record.json + record.pdf)."""

from __future__ import annotations

import json
import logging
from typing import Any

from sqlalchemy import select, update

from ..catalog import DisposalReview, Tombstone
from ..storage import ObjectNotFound
from .context import SYSTEM, Actor, Env
from .disposal import get_review, load
from .errors import NotFound
from .records import new_id, object_id
from .tables import find_font  # noqa: F401 - used here and by tests
from .writes import WritePlan, write_object

log = logging.getLogger(__name__)
RECORD_JSON = "record.json"
RECORD_PDF = "record.pdf"
def _record_body(env: Env, review_id: str) -> dict[str, Any]:
    review = get_review(env, review_id)
    with env.db.read() as session:
        tombs = session.scalars(select(Tombstone).where(Tombstone.review_id == review_id)
                                .order_by(Tombstone.file_code)).all()
    destroyed = [{"dossier_id": t.dossier_id, "fonds_code": t.fonds_code,
                  "file_code": t.file_code, "archive_code": t.archive_code, "title": t.title,
                  "start_date": t.start_date.isoformat() if t.start_date else None,
                  "end_date": t.end_date.isoformat() if t.end_date else None,
                  "retention": t.retention, "retention_years": t.retention_years,
                  "documents": t.documents, "destroyed_at": t.destroyed_at.isoformat()}
                 for t in tombs]
    return {
        "type": "destruction_record", "schema_version": 1,
        "title": "Biên bản hủy tài liệu hết giá trị",
        "review": {"id": review["id"], "title": review["title"],
                   "created_at": review["created_at"].isoformat(),
                   "quorum": review["quorum"]},
        "decision": {"approved_by": review["approved_by"], "decision_ref": review["decision_ref"],
                     "approved_at": review["approved_at"].isoformat()
                     if review["approved_at"] else None},
        "council": sorted({o["member"] for i in review["items"] for o in i["opinions"]}),
        "destroyed": destroyed,
        "kept": [{"dossier_id": i["dossier_id"], "file_code": i["file_code"],
                  "retention": i["keep_retention"], "retention_years": i["keep_retention_years"],
                  "reason": i["keep_reason"]} for i in review["items"] if i["outcome"] == "kept"],
        "skipped": [{"dossier_id": i["dossier_id"], "file_code": i["file_code"],
                     "reason": i["outcome_note"]} for i in review["items"]
                    if i["outcome"] == "skipped"],
        "executed_at": env.now().isoformat(),
    }


_LINE = {"new_x": "LMARGIN", "new_y": "NEXT"}


def render_pdf(body: dict[str, Any], font: str) -> bytes:
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.add_font("vn", "", font)
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    pdf.set_font("vn", size=14)
    pdf.multi_cell(0, 8, body["title"].upper(), align="C", **_LINE)
    pdf.set_font("vn", size=10)
    decision = body["decision"]
    lines = [
        f"Đợt xem xét: {body['review']['title']} ({body['review']['id']})",
        f"Quyết định hủy: {decision['decision_ref']} — người phê duyệt: {decision['approved_by']}"
        f" — ngày phê duyệt: {decision['approved_at']}",
        f"Hội đồng xác định giá trị tài liệu: {', '.join(body['council'])}"
        f" (số thành viên đồng ý tối thiểu: {body['review']['quorum']})",
        f"Thời điểm hủy: {body['executed_at']}",
        f"Số hồ sơ đã hủy: {len(body['destroyed'])}; giữ lại: {len(body['kept'])}; "
        f"không hủy do đang bị phong tỏa: {len(body['skipped'])}",
    ]
    for line in lines:
        pdf.multi_cell(0, 6, line, **_LINE)
    pdf.ln(3)
    pdf.set_font("vn", size=9)
    for n, d in enumerate(body["destroyed"], 1):
        years = f" / {d['retention_years']} năm" if d["retention_years"] else ""
        pdf.multi_cell(0, 5, f"{n}. {d['file_code']} — {d['title']} "
                             f"({d['start_date'] or '?'} – {d['end_date'] or '?'}; thời hạn "
                             f"{d['retention']}{years}; {len(d['documents'])} văn bản)", **_LINE)
    for title, items in (("Giữ lại", body["kept"]), ("Không hủy (phong tỏa)", body["skipped"])):
        if items:
            pdf.ln(2)
            pdf.multi_cell(0, 5, f"{title}:", **_LINE)
            for d in items:
                pdf.multi_cell(0, 5, f"- {d['file_code']}: {d.get('reason') or ''}", **_LINE)
    return bytes(pdf.output())


def write_record(env: Env, review_id: str) -> str:
    """Store the destruction record of an executed review as a permanent object."""
    body = _record_body(env, review_id)
    font = find_font(env.config.get("PDF_FONT") or "")
    files: dict[str, bytes] = {}
    body["pdf"] = None
    if not font:
        body["pdf_missing_reason"] = ("No font with Vietnamese letters was found; install "
                                      "fonts-dejavu-core or set PDF_FONT.")
    else:
        try:
            files[RECORD_PDF] = render_pdf(body, font)
            body["pdf"] = RECORD_PDF
        except Exception as exc:  # noqa: BLE001 - the JSON record must be kept regardless
            log.exception("rendering the destruction record PDF failed")
            body["pdf_missing_reason"] = f"The PDF could not be made: {exc}"
    files[RECORD_JSON] = json.dumps(body, ensure_ascii=False, indent=1, sort_keys=True).encode()
    record_id = new_id()

    executed_at = env.now()

    def apply(session, version) -> None:  # noqa: ANN001
        # status, date and record together: whoever reads `executed` finds the record
        review = session.get(DisposalReview, review_id)
        review.status, review.record_id = "executed", record_id
        review.executed_at = review.executed_at or executed_at
        session.execute(update(Tombstone).where(Tombstone.review_id == review_id)
                        .values(record_id=record_id))

    write_object(env, SYSTEM, WritePlan(record_id, "record", files, expected_head=0,
                                        message=f"Destruction record of review {review_id}"),
                 apply=apply, outbox=False)
    return record_id


def read_record(env: Env, review_id: str, viewer: Actor,
                name: str = RECORD_JSON) -> tuple[bytes, str]:
    with env.db.read() as session:
        record_id = load(session, viewer, "disposal.read", review_id).record_id
    if record_id is None:
        raise NotFound("This review has not been carried out yet; its destruction record is "
                       "made when the approved decision is executed.")
    try:
        return env.store.read_bytes(object_id(record_id), name), record_id
    except ObjectNotFound as exc:
        raise NotFound("The destruction record has no PDF (no font was available).") from exc
