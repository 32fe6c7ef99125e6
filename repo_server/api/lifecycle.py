"""Lifecycle transitions of a dossier, and the deadline warnings."""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from ..services import deadlines, lifecycle
from .blueprint import Blueprint
from .common import actor, env, expected_version, if_match_header, page, with_etag
from .schemas import DossierSchema, PageQuerySchema, PageSchema, StrictSchema

blp = Blueprint("lifecycle", __name__, url_prefix="/api/v1",
                description="Dossier lifecycle: close, hand over to the agency archive, transfer "
                            "to the historical archive; deadline warnings. Invalid transitions "
                            "are 409 naming the current and allowed states; held dossiers 423.")

NOTE = fields.String(validate=validate.Length(max=2000), load_default=None)


class CloseSchema(StrictSchema):
    end_date = fields.Date(load_default=None, metadata={
        "description": "Date the work ended; default: the dossier's end date, else today."})
    note = NOTE


class ArchiveSchema(StrictSchema):
    handed_over_by = fields.String(required=True, validate=validate.Length(min=1, max=200))
    received_by = fields.String(load_default=None, validate=validate.Length(max=200),
                                metadata={"description": "Default: the caller."})
    handed_over_on = fields.Date(load_default=None)
    note = NOTE


class TransferDueSchema(StrictSchema):
    note = NOTE


class TransferSchema(StrictSchema):
    receiving_archive = fields.String(required=True, validate=validate.Length(min=1, max=300))
    reference = fields.String(load_default=None, validate=validate.Length(max=300))
    transferred_on = fields.Date(load_default=None)


class WarningQuerySchema(PageQuerySchema):
    kind = fields.String(validate=validate.OneOf(["handover", "transfer", "handling"]),
                         metadata={"description": "handling: registered incoming documents "
                                                  "near or past their handling deadline."})


class WarningSchema(Schema):
    kind = fields.String()
    dossier_id = fields.String()
    file_code = fields.String()
    title = fields.String()
    fonds_code = fields.String()
    state = fields.String()
    due_on = fields.Date()
    overdue = fields.Boolean()
    computed_at = fields.DateTime()
    document_id = fields.String(allow_none=True, metadata={"description": "kind handling"})
    doc_code = fields.String(allow_none=True)


class WarningPageSchema(PageSchema):
    items = fields.List(fields.Nested(WarningSchema))


TRANSITION_ERRORS = ((409, "Not allowed from the current state (the message names the "
                           "allowed next states)."),
                     (423, "The dossier is under a legal hold."),
                     (412, "If-Match (optional here) names an older version."))


def _errors(func):  # noqa: ANN001, ANN202
    for status, text in TRANSITION_ERRORS:
        func = blp.alt_response(status, description=text)(func)
    return func


@blp.route("/dossiers/<uuid:dossier_id>/close")
class Close(MethodView):
    @blp.arguments(CloseSchema, example={"end_date": "2025-09-30", "note": "Đã giải quyết xong"})
    @blp.response(200, DossierSchema)
    @_errors
    @blp.doc(parameters=[if_match_header(False)])
    def post(self, data, dossier_id):
        """Close a dossier (open -> closed)

        Sets the end date and fixes the retention as the longest of the dossier's and its
        documents' retentions; the retention clock starts from the end date's year.
        """
        return with_etag(lifecycle.close_dossier(env(), actor(), str(dossier_id),
                                                 expected_version=expected_version(), **data))


@blp.route("/dossiers/<uuid:dossier_id>/archive")
class Archive(MethodView):
    @blp.arguments(ArchiveSchema, example={"handed_over_by": "Trần Thị Bình (văn thư)",
                                           "received_by": "Lê Văn Cường (lưu trữ)"})
    @blp.response(200, DossierSchema)
    @_errors
    @blp.doc(parameters=[if_match_header(False)])
    def post(self, data, dossier_id):
        """Hand a closed dossier over to the agency archive (closed -> archived)

        Records who handed over, who received and when, and assigns the archive code.
        """
        return with_etag(lifecycle.archive_dossier(env(), actor(), str(dossier_id),
                                                   expected_version=expected_version(), **data))


@blp.route("/dossiers/<uuid:dossier_id>/transfer-due")
class TransferDue(MethodView):
    @blp.arguments(TransferDueSchema)
    @blp.response(200, DossierSchema)
    @_errors
    @blp.doc(parameters=[if_match_header(False)])
    def post(self, data, dossier_id):
        """Select a permanent dossier for the historical archive (archived -> transfer_due)"""
        return with_etag(lifecycle.mark_transfer_due(env(), actor(), str(dossier_id),
                                                     expected_version=expected_version(), **data))


@blp.route("/dossiers/<uuid:dossier_id>/transfer")
class Transfer(MethodView):
    @blp.arguments(TransferSchema, example={"receiving_archive": "Lưu trữ lịch sử tỉnh",
                                            "reference": "BB-12/2030"})
    @blp.response(200, DossierSchema)
    @_errors
    @blp.doc(parameters=[if_match_header(False)])
    def post(self, data, dossier_id):
        """Record the transfer to the historical archive (transfer_due -> transferred)"""
        return with_etag(lifecycle.transfer_dossier(env(), actor(), str(dossier_id),
                                                    expected_version=expected_version(), **data))


@blp.route("/deadline-warnings")
class Warnings(MethodView):
    @blp.arguments(WarningQuerySchema, location="query")
    @blp.response(200, WarningPageSchema)
    def get(self, args):
        """Dossiers due for hand-over or transfer (computed daily by the worker)"""
        items, total = deadlines.list_warnings(env(), actor(), kind=args.get("kind"), page=args["page"],
                                               page_size=args["page_size"])
        return page(items, total, args)
