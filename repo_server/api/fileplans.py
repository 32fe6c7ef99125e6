"""The file plan (danh mục hồ sơ): headings and planned dossiers of a fonds for a year,
imported and exported as XLSX or CSV, approved by the head, dossiers opened from it."""

from __future__ import annotations

from flask import request
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from ..services import fileplan
from ..services.errors import ValidationFailed
from .blueprint import Blueprint
from .common import actor, env
from .registers import MEDIA, file_response
from .schemas import StrictSchema

blp = Blueprint("fileplans", __name__, url_prefix="/api/v1/file-plans",
                description="File plans (danh mục hồ sơ, NĐ 30/2020 Art. 28): headings (I, II "
                            "…; 1, 2 …) and planned dossiers with number and symbol, title, "
                            "retention and maker; XLSX/CSV import with row-level errors; "
                            "dossiers opened from the plan.")


class PlanCreateSchema(StrictSchema):
    fonds_code = fields.String(required=True, validate=validate.Length(min=1, max=13))
    year = fields.Integer(required=True, validate=validate.Range(min=1900, max=2200))
    title = fields.String(validate=validate.Length(min=1, max=500))
    numbering = fields.String(load_default="plan", validate=validate.OneOf(["plan", "heading"]),
                              metadata={"description": "Dossier serials run across the plan "
                                                       "(plan) or again under each Roman "
                                                       "heading (heading)."})


class PlanItemInSchema(StrictSchema):
    heading = fields.String(validate=validate.Length(max=10), metadata={
        "description": "For a heading: I, II … (main) or 1, 2 … (sub-heading); leave out for "
                       "a planned dossier."})
    abbreviation = fields.String(validate=validate.Length(max=20),
                                 metadata={"description": "Heading abbreviation, e.g. TH."})
    file_notation = fields.String(validate=validate.Length(max=20), metadata={
        "description": "Số và ký hiệu hồ sơ, e.g. 01.TH; assigned when left out."})
    title = fields.String(required=True, validate=validate.Length(min=1, max=1000))
    retention = fields.String(validate=validate.Length(max=20), metadata={
        "description": "Vĩnh viễn, or a number of years (10, 10 năm)."})
    retention_rule = fields.String(validate=validate.Length(max=20))
    handover_rule = fields.String(validate=validate.Length(max=20))
    maker = fields.String(validate=validate.Length(max=200),
                          metadata={"description": "Đơn vị/người lập hồ sơ."})
    note = fields.String(validate=validate.Length(max=2000))


class PlanItemSchema(Schema):
    id = fields.Integer()
    position = fields.Integer()
    kind = fields.String(metadata={"description": "heading or dossier"})
    heading = fields.String(allow_none=True)
    level = fields.Integer(allow_none=True)
    abbreviation = fields.String(allow_none=True)
    parent_id = fields.Integer(allow_none=True)
    file_notation = fields.String(allow_none=True)
    title = fields.String()
    retention = fields.String(allow_none=True)
    retention_years = fields.Integer(allow_none=True)
    retention_rule = fields.String(allow_none=True)
    handover_rule = fields.String(allow_none=True)
    maker = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    dossier_id = fields.String(allow_none=True)
    file_code = fields.String(allow_none=True)
    dossier_state = fields.String(allow_none=True)


class PlanSchema(Schema):
    id = fields.String()
    fonds_code = fields.String()
    year = fields.Integer()
    title = fields.String()
    numbering = fields.String()
    status = fields.String(metadata={"description": "draft or approved"})
    approved_by = fields.String(allow_none=True)
    approved_at = fields.DateTime(allow_none=True)
    approval_ref = fields.String(allow_none=True)
    created_by = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    item_count = fields.Integer()
    items = fields.List(fields.Nested(PlanItemSchema))


class PlanSummarySchema(PlanSchema):
    class Meta:
        exclude = ("items",)


class PlanListSchema(Schema):
    items = fields.List(fields.Nested(PlanSummarySchema))


class PlanQuerySchema(StrictSchema):
    fonds_code = fields.String(validate=validate.Length(max=13))
    year = fields.Integer(validate=validate.Range(min=1900, max=2200))


class PlanApproveSchema(StrictSchema):
    approval_ref = fields.String(required=True, validate=validate.Length(min=1, max=300),
                                 metadata={"description": "The head's approving decision."})


class OpenSchema(StrictSchema):
    item_ids = fields.List(fields.Integer(), validate=validate.Length(max=5000), metadata={
        "description": "Planned dossiers to open; default: every one not yet opened."})
    start_date = fields.Date(metadata={"description": "Default: today (in the plan's year) "
                                                      "or 1 January of the plan's year."})


class OpenedSchema(Schema):
    opened = fields.List(fields.Dict())
    already_open = fields.List(fields.Dict())


class PlanExportQuerySchema(StrictSchema):
    format = fields.String(load_default="xlsx", validate=validate.OneOf(["xlsx", "csv"]))


IMPORT_BODY = {
    "required": True,
    "description": "The plan as XLSX (first sheet) or CSV (UTF-8; comma, semicolon or tab). "
                   "One header row names the columns: Đề mục, Ký hiệu đề mục, Số và ký hiệu "
                   "hồ sơ, Tên đề mục và tiêu đề hồ sơ, Thời hạn bảo quản, Đơn vị/người lập "
                   "hồ sơ, Mã bảng thời hạn, Quy tắc nộp lưu, Ghi chú (or their English keys). "
                   "A 422 lists every problem as {row, column, value, message}.",
    "content": {MEDIA["xlsx"]: {"schema": {"type": "string", "format": "binary"}},
                "text/csv": {"schema": {"type": "string", "format": "binary"},
                             "example": "Đề mục,Ký hiệu đề mục,Số và ký hiệu hồ sơ,Tên đề mục "
                                        "và tiêu đề hồ sơ,Thời hạn bảo quản,Đơn vị/người lập "
                                        "hồ sơ\nI,TH,,TỔNG HỢP,,\n,,,Kế hoạch công tác năm,"
                                        "Vĩnh viễn,Văn phòng\n"}},
}


@blp.route("")
class Plans(MethodView):
    @blp.arguments(PlanQuerySchema, location="query")
    @blp.response(200, PlanListSchema)
    def get(self, args):
        """List file plans (without their items)"""
        return {"items": fileplan.list_plans(env(), actor(), **args)}

    @blp.arguments(PlanCreateSchema, example={"fonds_code": "000.00.00.H49", "year": 2026})
    @blp.response(201, PlanSchema)
    @blp.alt_response(409, description="The fonds already has a plan for that year.")
    def post(self, data):
        """Start the file plan of a fonds for a year (draft)"""
        return fileplan.create_plan(env(), actor(), **data), 201


@blp.route("/<string:plan_id>")
class Plan(MethodView):
    @blp.response(200, PlanSchema)
    def get(self, plan_id):
        """A file plan with its headings and planned dossiers"""
        return fileplan.get_plan(env(), actor(), plan_id)


@blp.route("/<string:plan_id>/items")
class PlanItems(MethodView):
    @blp.arguments(PlanItemInSchema, example={"title": "Hồ sơ hội nghị tổng kết năm",
                                          "retention": "Vĩnh viễn", "maker": "Văn phòng"})
    @blp.response(201, PlanSchema)
    def post(self, data, plan_id):
        """Append a heading or a planned dossier"""
        return fileplan.add_item(env(), actor(), plan_id, data), 201


@blp.route("/<string:plan_id>/items/<int:item_id>")
class PlanItem(MethodView):
    @blp.response(200, PlanSchema)
    @blp.alt_response(409, description="The plan is approved, or a dossier was opened from it.")
    def delete(self, plan_id, item_id):
        """Remove an item from a draft plan"""
        return fileplan.delete_item(env(), actor(), plan_id, item_id)


@blp.route("/<string:plan_id>/import")
class PlanImport(MethodView):
    @blp.doc(requestBody=IMPORT_BODY)
    @blp.response(200, PlanSchema)
    @blp.alt_response(409, description="The plan is approved or dossiers were opened from it.")
    @blp.alt_response(422, description="Row-level errors: errors.json.rows lists "
                                       "{row, column, value, message}; nothing was imported.")
    def post(self, plan_id):
        """Replace a draft plan's items with an XLSX or CSV sheet (all or nothing)"""
        kind = request.mimetype
        if kind == MEDIA["xlsx"]:
            fmt = "xlsx"
        elif kind in ("text/csv", "text/plain", "application/csv"):
            fmt = "csv"
        else:
            raise ValidationFailed({"Content-Type": [
                f"Send the sheet as {MEDIA['xlsx']} or text/csv, not {kind or 'nothing'}."]})
        return fileplan.import_plan(env(), actor(), plan_id, request.get_data(), fmt)


@blp.route("/<string:plan_id>/export")
class PlanExport(MethodView):
    @blp.arguments(PlanExportQuerySchema, location="query")
    @blp.response(200, description="The plan as XLSX or CSV (importable again).",
                  content_type=MEDIA["xlsx"])
    def get(self, args, plan_id):
        """Export the plan as XLSX or CSV"""
        data = fileplan.export_plan(env(), actor(), plan_id, args["format"])
        return file_response(data, args["format"], f"danh-muc-ho-so-{plan_id}")


@blp.route("/<string:plan_id>/approve")
class PlanApprove(MethodView):
    @blp.arguments(PlanApproveSchema, example={"approval_ref": "QĐ 05/QĐ-UBND ngày 02/01/2026"})
    @blp.response(200, PlanSchema)
    def post(self, data, plan_id):
        """Approve the plan (the head of the agency)"""
        return fileplan.approve_plan(env(), actor(), plan_id, data["approval_ref"])


@blp.route("/<string:plan_id>/open")
class PlanOpen(MethodView):
    @blp.arguments(OpenSchema, example={})
    @blp.response(200, OpenedSchema)
    def post(self, data, plan_id):
        """Open the planned dossiers (file code <fonds>.<year>.<number and symbol>)"""
        return fileplan.open_dossiers(env(), actor(), plan_id, **data)
