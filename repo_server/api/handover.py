"""Hand-over to the agency archive (nộp lưu): dossiers due, keeping one back, batches with
their inventory and hand-over record, confirmed by the giving unit and by the archivist."""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from ..services import handover, handover_docs
from .blueprint import Blueprint
from .common import actor, env, expected_version, if_match_header, page, with_etag
from .registers import FILE_CONTENT, file_response
from .schemas import DossierSchema, PageQuerySchema, PageSchema, StrictSchema

blp = Blueprint("handover", __name__, url_prefix="/api/v1",
                description="Hand-over to the agency archive (nộp lưu, NĐ 30/2020 Art. 30–31): "
                            "closed dossiers due (1 year after the end of the work, 3 months "
                            "for capital construction, only retention ≥ 5 years), keeping back "
                            "with the head's consent, and hand-over batches.")


class DueQuerySchema(StrictSchema):
    fonds_code = fields.String(required=True, validate=validate.Length(min=1, max=13))
    within_days = fields.Integer(validate=validate.Range(min=0, max=36500), metadata={
        "description": "Due within this many days (default HANDOVER_WARNING_DAYS); overdue "
                       "dossiers are always listed."})


class DueSchema(Schema):
    dossier_id = fields.String()
    file_code = fields.String()
    title = fields.String()
    end_date = fields.Date()
    retention = fields.String()
    retention_years = fields.Integer(allow_none=True)
    rule = fields.String(metadata={"description": "Code of the handover_rule list."})
    due_on = fields.Date()
    overdue = fields.Boolean()
    kept_back_until = fields.String(allow_none=True)
    batch_id = fields.String(allow_none=True)


class DueListSchema(Schema):
    items = fields.List(fields.Nested(DueSchema))


class KeepBackSchema(StrictSchema):
    until = fields.Date(required=True, metadata={"description": "At most KEEP_BACK_MAX_YEARS "
                                                                "(2) years ahead."})
    consent_ref = fields.String(required=True, validate=validate.Length(min=1, max=300),
                                metadata={"description": "The head's written consent."})
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class BatchCreateSchema(StrictSchema):
    fonds_code = fields.String(required=True, validate=validate.Length(min=1, max=13))
    title = fields.String(required=True, validate=validate.Length(min=1, max=500))
    giving_unit = fields.String(required=True, validate=validate.Length(min=1, max=300))
    receiving_archive = fields.String(load_default="Lưu trữ cơ quan",
                                      validate=validate.Length(min=1, max=300))
    dossier_ids = fields.List(fields.String(validate=validate.Length(max=36)),
                              load_default=list, validate=validate.Length(max=5000))


class DossierIdsSchema(StrictSchema):
    dossier_ids = fields.List(fields.String(validate=validate.Length(max=36)), required=True,
                              validate=validate.Length(min=1, max=5000))


class ConfirmSchema(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200),
                         metadata={"description": "Full name of the person signing."})
    note = fields.String(validate=validate.Length(max=2000), load_default=None)


class BatchDossierSchema(Schema):
    position = fields.Integer()
    dossier_id = fields.String()
    file_code = fields.String(allow_none=True)
    title = fields.String(allow_none=True)
    start_date = fields.Date(allow_none=True)
    end_date = fields.Date(allow_none=True)
    retention = fields.String(allow_none=True)
    retention_years = fields.Integer(allow_none=True)
    doc_total = fields.Integer(allow_none=True)
    state = fields.String(allow_none=True)
    archive_code = fields.String(allow_none=True)


class BatchSchema(Schema):
    id = fields.String()
    fonds_code = fields.String()
    title = fields.String()
    giving_unit = fields.String()
    receiving_archive = fields.String()
    status = fields.String(metadata={"description": "draft, given, received or cancelled"})
    created_by = fields.String()
    created_at = fields.DateTime()
    given_by = fields.String(allow_none=True)
    given_name = fields.String(allow_none=True)
    given_at = fields.DateTime(allow_none=True)
    given_note = fields.String(allow_none=True)
    received_by = fields.String(allow_none=True)
    received_name = fields.String(allow_none=True)
    received_at = fields.DateTime(allow_none=True)
    received_note = fields.String(allow_none=True)
    record_id = fields.String(allow_none=True)
    dossiers = fields.List(fields.Nested(BatchDossierSchema))


class BatchPageSchema(PageSchema):
    items = fields.List(fields.Nested(BatchSchema))


class BatchQuerySchema(PageQuerySchema):
    fonds_code = fields.String(validate=validate.Length(max=13))
    status = fields.String(validate=validate.OneOf(["draft", "given", "received", "cancelled"]))


class PaperQuerySchema(StrictSchema):
    format = fields.String(load_default="pdf", validate=validate.OneOf(["pdf", "xlsx"]))


@blp.route("/handover/due")
class Due(MethodView):
    @blp.arguments(DueQuerySchema, location="query")
    @blp.response(200, DueListSchema)
    def get(self, args):
        """Closed dossiers due for hand-over to the agency archive"""
        return {"items": handover.list_due(env(), actor(), **args)}


@blp.route("/dossiers/<uuid:dossier_id>/keep-back")
class KeepBack(MethodView):
    @blp.arguments(KeepBackSchema, example={"until": "2027-06-30",
                                            "consent_ref": "Ý kiến Chủ tịch ngày 02/7/2026",
                                            "reason": "Còn dùng để giải quyết khiếu nại"})
    @blp.response(200, DossierSchema)
    @blp.alt_response(409, description="Not closed, in a batch, or stays with its unit.")
    @blp.doc(parameters=[if_match_header(False)])
    def post(self, data, dossier_id):
        """Keep a closed dossier back with its unit (the head's consent, ≤ 2 years)"""
        return with_etag(handover.keep_back(env(), actor(), str(dossier_id),
                                            expected_version=expected_version(), **data))


@blp.route("/handover-batches")
class Batches(MethodView):
    @blp.arguments(BatchQuerySchema, location="query")
    @blp.response(200, BatchPageSchema)
    def get(self, args):
        """List hand-over batches"""
        items, total = handover.list_batches(env(), actor(), fonds_code=args.get("fonds_code"),
                                             status=args.get("status"), page=args["page"],
                                             page_size=args["page_size"])
        return page(items, total, args)

    @blp.arguments(BatchCreateSchema, example={
        "fonds_code": "000.00.00.H49", "title": "Hồ sơ năm 2024 của Văn phòng",
        "giving_unit": "Văn phòng HĐND và UBND", "receiving_archive": "Lưu trữ cơ quan",
        "dossier_ids": ["3f0e…"]})
    @blp.response(201, BatchSchema)
    @blp.alt_response(409, description="A dossier is not closed, is kept less than 5 years, "
                                       "is held, or is in another batch.")
    def post(self, data):
        """Prepare a hand-over batch (draft) with closed dossiers of one fonds"""
        return handover.create_batch(env(), actor(), **data), 201


@blp.route("/handover-batches/<string:batch_id>")
class Batch(MethodView):
    @blp.response(200, BatchSchema)
    def get(self, batch_id):
        """A hand-over batch with its dossiers"""
        return handover.get_batch(env(), actor(), batch_id)


@blp.route("/handover-batches/<string:batch_id>/dossiers")
class BatchDossiers(MethodView):
    @blp.arguments(DossierIdsSchema, example={"dossier_ids": ["9a1c…"]})
    @blp.response(200, BatchSchema)
    def post(self, data, batch_id):
        """Add dossiers to a draft batch"""
        return handover.add_dossiers(env(), actor(), batch_id, data["dossier_ids"])


@blp.route("/handover-batches/<string:batch_id>/dossiers/<uuid:dossier_id>")
class BatchDossier(MethodView):
    @blp.response(200, BatchSchema)
    def delete(self, batch_id, dossier_id):
        """Take a dossier out of a draft batch"""
        return handover.remove_dossier(env(), actor(), batch_id, str(dossier_id))


@blp.route("/handover-batches/<string:batch_id>/cancel")
class BatchCancel(MethodView):
    @blp.response(200, BatchSchema)
    def post(self, batch_id):
        """Cancel a draft batch (its dossiers are free again)"""
        return handover.cancel_batch(env(), actor(), batch_id)


@blp.route("/handover-batches/<string:batch_id>/confirm-giving")
class ConfirmGiving(MethodView):
    @blp.arguments(ConfirmSchema, example={"name": "Trần Thị Bình"})
    @blp.response(200, BatchSchema)
    @blp.alt_response(409, description="Not a draft, empty, or a dossier no longer fits.")
    def post(self, data, batch_id):
        """The giving unit confirms the batch (draft -> given; audited)"""
        return handover.confirm_giving(env(), actor(), batch_id, **data)


@blp.route("/handover-batches/<string:batch_id>/confirm-receiving")
class ConfirmReceiving(MethodView):
    @blp.arguments(ConfirmSchema, example={"name": "Lê Văn Cường",
                                           "note": "Đã kiểm tra đủ hồ sơ theo mục lục"})
    @blp.response(200, BatchSchema)
    @blp.alt_response(409, description="Not given yet, or the same person confirmed giving.")
    def post(self, data, batch_id):
        """The archivist receives the batch: every dossier archived with its archive code"""
        return handover.confirm_receiving(env(), actor(), batch_id, **data)


def _paper(which: str, batch_id: str, fmt: str):  # noqa: ANN202
    data, batch = handover_docs.render(env(), actor(), batch_id, which, fmt)
    name = {"inventory": "muc-luc-ho-so-nop-luu", "record": "bien-ban-giao-nhan"}[which]
    return file_response(data, fmt, f"{name}-{batch_id}")


@blp.route("/handover-batches/<string:batch_id>/inventory")
class Inventory(MethodView):
    @blp.arguments(PaperQuerySchema, location="query")
    @blp.response(200, description="Mục lục hồ sơ, tài liệu nộp lưu (A4 landscape).",
                  content_type="application/pdf")
    @blp.doc(responses={"200": {"description": "Mục lục hồ sơ, tài liệu nộp lưu (PDF on A4 "
                                               "landscape, or XLSX).",
                                "content": FILE_CONTENT}})
    def get(self, args, batch_id):
        """The inventory of the batch (mục lục hồ sơ nộp lưu) as PDF or XLSX"""
        return _paper("inventory", batch_id, args["format"])


@blp.route("/handover-batches/<string:batch_id>/record")
class HandoverRecord(MethodView):
    @blp.arguments(PaperQuerySchema, location="query")
    @blp.response(200, description="Biên bản giao nhận tài liệu (A4).",
                  content_type="application/pdf")
    @blp.doc(responses={"200": {"description": "Biên bản giao nhận tài liệu (PDF on A4, or "
                                               "XLSX).", "content": FILE_CONTENT}})
    def get(self, args, batch_id):
        """The hand-over record (biên bản giao nhận) as PDF or XLSX"""
        return _paper("record", batch_id, args["format"])
