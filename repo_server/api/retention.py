"""/api/v1/retention-rules: the retention schedule, with CSV import and export."""

from __future__ import annotations

from flask import Response, request
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from ..services import retention as service
from ..services.errors import ValidationFailed
from .blueprint import Blueprint
from .common import actor, env, page
from .schemas import PageQuerySchema, PageSchema, StrictSchema

blp = Blueprint("retention", __name__, url_prefix="/api/v1/retention-rules",
                description="Retention schedule (bảng thời hạn bảo quản). The shipped default is "
                            "a starting point for the agency to check against TT 10/2022.")


class RuleFields(StrictSchema):
    group = fields.String(validate=validate.Length(min=1, max=200))
    title = fields.String(validate=validate.Length(min=1, max=1000))
    years = fields.Integer(allow_none=True, validate=validate.Range(min=2, max=70))
    permanent = fields.Boolean()
    legal_basis = fields.String(allow_none=True, validate=validate.Length(max=500))
    note = fields.String(allow_none=True, validate=validate.Length(max=2000))


class RuleCreateSchema(RuleFields):
    code = fields.String(required=True, validate=validate.Length(min=1, max=20))
    group = fields.String(required=True, validate=validate.Length(min=1, max=200))
    title = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class RuleSchema(RuleCreateSchema):
    updated_at = fields.DateTime()
    updated_by = fields.String()


class RulePageSchema(PageSchema):
    items = fields.List(fields.Nested(RuleSchema))


class RuleQuerySchema(PageQuerySchema):
    group = fields.String(validate=validate.Length(max=200))


class ImportResultSchema(Schema):
    created = fields.Integer()
    updated = fields.Integer()


@blp.route("")
class Rules(MethodView):
    @blp.arguments(RuleQuerySchema, location="query")
    @blp.response(200, RulePageSchema)
    def get(self, args):
        """List the retention rules"""
        items, total = service.list_rules(env(), page=args["page"], page_size=args["page_size"],
                                          group=args.get("group"))
        return page(items, total, args)

    @blp.arguments(RuleCreateSchema, example={"code": "13.05", "group": "Tài liệu chuyên môn",
                                              "title": "Hồ sơ cấp giấy phép xây dựng",
                                              "years": 20, "legal_basis": "TT 10/2022/TT-BNV"})
    @blp.response(201, RuleSchema)
    @blp.alt_response(409, description="The code exists.")
    def post(self, data):
        """Add a rule"""
        return service.create_rule(env(), actor(), data), 201


@blp.route("/export")
class Export(MethodView):
    @blp.response(200, content_type="text/csv",
                  description="CSV: code,group,title,years,permanent,legal_basis,note")
    def get(self):
        """Export the schedule as CSV"""
        return Response(service.export_csv(env()), mimetype="text/csv",
                        headers={"Content-Disposition":
                                 "attachment; filename=retention-schedule.csv"})


@blp.route("/import")
class Import(MethodView):
    @blp.doc(requestBody={"required": True, "content": {"text/csv": {
        "schema": {"type": "string"},
        "example": "code,group,title,years,permanent,legal_basis,note\n"
                   "13.05,Tài liệu chuyên môn,Hồ sơ cấp phép,20,false,TT 10/2022,\n"}}})
    @blp.response(200, ImportResultSchema)
    @blp.alt_response(422, description="A row is wrong; nothing was imported.")
    def post(self):
        """Import rules from CSV (add or replace by code; all or nothing)"""
        try:
            text = request.get_data(cache=False).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValidationFailed({"csv": ["The CSV must be UTF-8."]}) from exc
        return service.import_csv(env(), actor(), text)


@blp.route("/<string:code>")
class Rule(MethodView):
    @blp.response(200, RuleSchema)
    def get(self, code):
        """Get a rule"""
        return service.get_rule(env(), code)

    @blp.arguments(RuleFields, example={"years": 30})
    @blp.response(200, RuleSchema)
    def patch(self, data, code):
        """Change a rule; due dates of the dossiers that use it follow"""
        return service.update_rule(env(), actor(), code, data)

    @blp.response(204)
    @blp.alt_response(409, description="Dossiers use the rule.")
    def delete(self, code):
        """Remove a rule no dossier uses"""
        service.delete_rule(env(), actor(), code)
        return "", 204
