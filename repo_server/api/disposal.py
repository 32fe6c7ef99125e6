"""/api/v1/disposal-reviews: Xem xét hủy — listing, council opinions, approval, the record."""

from __future__ import annotations

from flask import Response
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from ..services import destruction
from ..services import disposal as service
from .blueprint import Blueprint
from .common import actor, env, page
from .schemas import PageQuerySchema, PageSchema, StrictSchema

blp = Blueprint("disposal", __name__, url_prefix="/api/v1/disposal-reviews",
                description="Disposal reviews: the daily retention sweep lists expired dossiers; "
                            "council members give opinions; the head approves; the worker "
                            "destroys and writes the destruction record (biên bản hủy).")


class ProposeItemSchema(StrictSchema):
    dossier_id = fields.String(required=True, validate=validate.Length(max=36))
    reason = fields.String(required=True, validate=validate.OneOf(["expired", "duplicate"]))


class ProposeSchema(StrictSchema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=500))
    items = fields.List(fields.Nested(ProposeItemSchema), required=True,
                        validate=validate.Length(min=1, max=10000))


class OpinionSchema(StrictSchema):
    dossier_id = fields.String(required=True, validate=validate.Length(max=36))
    opinion = fields.String(required=True, validate=validate.OneOf(["destroy", "keep"]))
    retention = fields.String(load_default=None, validate=validate.Length(max=2),
                              metadata={"description": "New retention code, to keep."})
    retention_years = fields.Integer(load_default=None, validate=validate.Range(min=2, max=70))
    reason = fields.String(load_default=None, validate=validate.Length(max=2000))


class OpinionsSchema(StrictSchema):
    opinions = fields.List(fields.Nested(OpinionSchema), required=True,
                           validate=validate.Length(min=1, max=10000))


class ApproveSchema(StrictSchema):
    decision_ref = fields.String(required=True, validate=validate.Length(min=1, max=300),
                                 metadata={"description": "Number of the head's decision."})


class OpinionOutSchema(Schema):
    member = fields.String()
    opinion = fields.String()
    retention = fields.String(allow_none=True)
    retention_years = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True)
    at = fields.DateTime()


class ItemSchema(Schema):
    dossier_id = fields.String()
    file_code = fields.String(allow_none=True)
    title = fields.String(allow_none=True)
    reason = fields.String()
    outcome = fields.String(allow_none=True, metadata={
        "description": "destroy/keep once approved; destroyed/kept/skipped once carried out."})
    outcome_note = fields.String(allow_none=True)
    keep_retention = fields.String(allow_none=True)
    keep_retention_years = fields.Integer(allow_none=True)
    keep_reason = fields.String(allow_none=True)
    opinions = fields.List(fields.Nested(OpinionOutSchema))


class ReviewSchema(Schema):
    id = fields.String()
    fonds_code = fields.String(allow_none=True)
    title = fields.String()
    status = fields.String(metadata={"description": "open, approved or executed"})
    created_by = fields.String()
    created_at = fields.DateTime()
    quorum = fields.Integer()
    approved_by = fields.String(allow_none=True)
    approved_at = fields.DateTime(allow_none=True)
    decision_ref = fields.String(allow_none=True)
    executed_at = fields.DateTime(allow_none=True)
    record_id = fields.String(allow_none=True)
    items = fields.List(fields.Nested(ItemSchema))


class ReviewSummarySchema(Schema):
    id = fields.String()
    fonds_code = fields.String(allow_none=True)
    title = fields.String()
    status = fields.String()
    created_by = fields.String()
    created_at = fields.DateTime()
    approved_at = fields.DateTime(allow_none=True)
    executed_at = fields.DateTime(allow_none=True)
    item_count = fields.Integer()


class ReviewPageSchema(PageSchema):
    items = fields.List(fields.Nested(ReviewSummarySchema))


class ReviewQuerySchema(PageQuerySchema):
    status = fields.String(validate=validate.OneOf(["open", "approved", "executed"]))


@blp.route("")
class Reviews(MethodView):
    @blp.arguments(ReviewQuerySchema, location="query")
    @blp.response(200, ReviewPageSchema)
    def get(self, args):
        """List disposal reviews"""
        items, total = service.list_reviews(env(), actor(), status=args.get("status"), page=args["page"],
                                            page_size=args["page_size"])
        return page(items, total, args)

    @blp.arguments(ProposeSchema, example={"title": "Hủy hồ sơ trùng", "items": [
        {"dossier_id": "3f0e…", "reason": "duplicate"}]})
    @blp.response(201, ReviewSchema)
    @blp.alt_response(423, description="A dossier is under a legal hold; `holds` names them.")
    def post(self, data):
        """Propose a review by hand (expired or duplicate dossiers)"""
        return service.propose_review(env(), actor(), data["title"], data["items"]), 201


@blp.route("/<string:review_id>")
class Review(MethodView):
    @blp.response(200, ReviewSchema)
    def get(self, review_id):
        """A review with its items and every member's opinion"""
        return service.get_review(env(), review_id, actor())


@blp.route("/<string:review_id>/opinions")
class Opinions(MethodView):
    @blp.arguments(OpinionsSchema, example={"opinions": [
        {"dossier_id": "3f0e…", "opinion": "destroy"},
        {"dossier_id": "9a1c…", "opinion": "keep", "retention": "05",
         "reason": "Còn giá trị tra cứu"}]})
    @blp.response(200, ReviewSchema)
    @blp.alt_response(409, description="The review is no longer open.")
    def post(self, data, review_id):
        """Record the caller's opinions as a council member (replaces earlier ones)"""
        return service.record_opinions(env(), actor(), review_id, data["opinions"])


@blp.route("/<string:review_id>/approve")
class Approve(MethodView):
    @blp.arguments(ApproveSchema, example={"decision_ref": "QĐ 12/QĐ-UBND ngày 10/01/2027"})
    @blp.response(200, ReviewSchema)
    @blp.alt_response(403, description="Only the head of the agency approves.")
    @blp.alt_response(409, description="An item lacks a quorum, or the review is not open.")
    def post(self, data, review_id):
        """Approve (head of the agency); the worker then carries the decision out"""
        return service.approve_review(env(), actor(), review_id, data["decision_ref"])


@blp.route("/<string:review_id>/record")
class Record(MethodView):
    @blp.response(200, content_type="application/json",
                  description="The destruction record (biên bản hủy) as stored.")
    def get(self, review_id):
        """The destruction record (JSON)"""
        data, _ = destruction.read_record(env(), review_id, actor())
        return Response(data, mimetype="application/json")


@blp.route("/<string:review_id>/record.pdf")
class RecordPdf(MethodView):
    @blp.response(200, content_type="application/pdf", description="The record as PDF.")
    def get(self, review_id):
        """The destruction record (PDF)"""
        data, record_id = destruction.read_record(env(), review_id, actor(), destruction.RECORD_PDF)
        return Response(data, mimetype="application/pdf", headers={
            "Content-Disposition": f"attachment; filename=bien-ban-huy-{review_id}.pdf"})
