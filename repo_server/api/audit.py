"""/api/v1/audit: the tamper-evident audit trail (auditors)."""

from __future__ import annotations

from flask import Response, stream_with_context
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from ..services import audit as service
from ..services import rights
from .blueprint import Blueprint
from .common import actor, env, page
from .schemas import PageQuerySchema, PageSchema, StrictSchema

blp = Blueprint("audit", __name__, url_prefix="/api/v1/audit",
                description="Every change, read, search, refusal and job run, hash-chained so "
                            "that any edit, deletion or reordering is detected.")


class FilterSchema(StrictSchema):
    target = fields.String(validate=validate.Length(max=300))
    actor = fields.String(validate=validate.Length(max=200))
    action = fields.String(validate=validate.Length(max=60))
    outcome = fields.String(validate=validate.OneOf(["ok", "denied", "error"]))
    request_id = fields.String(validate=validate.Length(max=64))
    since = fields.AwareDateTime()
    until = fields.AwareDateTime()


class EventQuerySchema(PageQuerySchema, FilterSchema):
    pass


class EventSchema(Schema):
    seq = fields.Integer()
    at = fields.DateTime()
    actor = fields.String()
    action = fields.String()
    target = fields.String(allow_none=True)
    outcome = fields.String()
    client_addr = fields.String(allow_none=True)
    request_id = fields.String(allow_none=True)
    details = fields.Dict()
    hash = fields.String()
    masked = fields.List(fields.String(), metadata={
        "description": "Fields of `details` masked for this reader (the words of a secret "
                       "record, another user's search query); absent when nothing was "
                       "masked."})


class EventPageSchema(PageSchema):
    items = fields.List(fields.Nested(EventSchema))


class VerifySchema(Schema):
    ok = fields.Boolean()
    checked = fields.Integer()
    first_broken_seq = fields.Integer(allow_none=True)
    problem = fields.String(allow_none=True)


@blp.route("")
class AuditEvents(MethodView):
    @blp.arguments(EventQuerySchema, location="query")
    @blp.response(200, EventPageSchema)
    def get(self, args):
        """Query events by target, actor, action, outcome and time (newest first)"""
        filters = {k: v for k, v in args.items() if k not in ("page", "page_size")}
        items, total = service.query(env(), filters, page=args["page"],
                                     page_size=args["page_size"], reader=actor())
        return page(items, total, args)


@blp.route("/export")
class AuditExport(MethodView):
    @blp.arguments(FilterSchema, location="query")
    @blp.response(200, content_type="application/x-ndjson",
                  description="JSON lines, oldest first, with prev_hash and hash.")
    def get(self, args):
        """Export events as JSON lines"""
        # the generator checks the reader's right at its first step: check it now, before
        # the 200 and its headers are sent
        rights.require(actor(), "audit.read")
        lines = service.export_lines(env(), args, actor())
        return Response(stream_with_context(lines), mimetype="application/x-ndjson",
                        headers={"Content-Disposition": "attachment; filename=audit.jsonl"})


@blp.route("/verify")
class AuditVerify(MethodView):
    @blp.response(200, VerifySchema)
    def get(self):
        """Check the whole chain; names the first broken link"""
        return service.verify(env())
