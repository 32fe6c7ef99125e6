"""Records office: registering documents (numbers, số đến), the number log with cancelled
numbers, and the outgoing, incoming and follow-up registers as JSON, XLSX and PDF."""

from __future__ import annotations

from flask import Response
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from ..services import numbering, registers, registration
from .blueprint import Blueprint
from .common import actor, env, expected_version, if_match_header, page, with_etag
from .schemas import DocumentSchema, PageQuerySchema, PageSchema, RecipientSchema, StrictSchema

blp = Blueprint("registers", __name__, url_prefix="/api/v1",
                description="Records office (văn thư, NĐ 30/2020): outgoing numbers and "
                            "incoming numbers per fonds, book and year; the number log with "
                            "cancelled numbers; the outgoing, incoming and follow-up registers.")

MEDIA = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         "pdf": "application/pdf", "csv": "text/csv; charset=utf-8"}


def file_response(data: bytes, fmt: str, filename: str) -> Response:
    return Response(data, mimetype=MEDIA[fmt].split(";")[0], headers={
        "Content-Disposition": f'attachment; filename="{filename}.{fmt}"',
        **({"Content-Type": MEDIA[fmt]} if fmt == "csv" else {})})


FILE_CONTENT = {MEDIA["xlsx"]: {"schema": {"type": "string", "format": "binary"}},
                "application/pdf": {"schema": {"type": "string", "format": "binary"}}}
FORMAT_PARAM = fields.String(load_default="json", validate=validate.OneOf(["json", "xlsx", "pdf"]),
                             metadata={"description": "json (default), xlsx or pdf (A4 "
                                                      "landscape, Vietnamese font embedded)."})
NOTE = fields.String(validate=validate.Length(max=2000), allow_none=True)
BOOK = fields.String(validate=validate.Length(min=1, max=40), metadata={
    "description": "Book of the number_book code list; default: secret documents in the "
                   "secret book, others in the general (or incoming) book."})


class AssigneeSchema(StrictSchema):
    unit = fields.String(validate=validate.Length(max=300), load_default=None)
    person = fields.String(validate=validate.Length(max=200), load_default=None)


class LaterColumns(StrictSchema):
    delivered_on = fields.Date(allow_none=True, metadata={"description": "Ngày chuyển."})
    received_by = fields.String(validate=validate.Length(max=200), allow_none=True,
                                metadata={"description": "Ký nhận: who acknowledged receipt."})
    assigned_to = fields.Nested(AssigneeSchema, allow_none=True,
                                metadata={"description": "Đơn vị/người nhận (handler)."})
    copies = fields.Integer(validate=validate.Range(min=1, max=999), allow_none=True,
                            metadata={"description": "Số lượng bản (IssuedAmount)."})
    file_copy_holder = fields.String(validate=validate.Length(max=300), allow_none=True,
                                     metadata={"description": "Đơn vị, người nhận bản lưu."})
    note = NOTE


class OutgoingSchema(LaterColumns):
    number_book = BOOK
    code_notation = fields.String(validate=validate.Length(min=1, max=30), metadata={
        "description": "Symbol (ký hiệu), e.g. QĐ-UBND; default: the document's."})
    issued_date = fields.Date(metadata={"description": "Default: the registration date."})
    organ_name = fields.String(validate=validate.Length(max=200),
                               metadata={"description": "Issuer; default: the fonds' name."})
    recipients = fields.List(fields.Nested(RecipientSchema), validate=validate.Length(max=200))


class IncomingSchema(LaterColumns):
    number_book = BOOK
    arrival_date = fields.Date(metadata={"description": "Ngày đến; default: today."})
    code_number = fields.String(validate=validate.Length(min=1, max=11),
                                metadata={"description": "The sender's number."})
    code_notation = fields.String(validate=validate.Length(min=1, max=30),
                                  metadata={"description": "The sender's symbol."})
    issued_date = fields.Date(metadata={"description": "The sender's date."})
    organ_name = fields.String(validate=validate.Length(max=200),
                               metadata={"description": "The sender (tác giả)."})
    due_date = fields.Date(metadata={"description": "Thời hạn giải quyết."})
    urgency = fields.String(validate=validate.Length(max=20))
    secrecy = fields.String(validate=validate.Length(max=20))


class RegistrationUpdateSchema(LaterColumns):
    due_date = fields.Date(allow_none=True, metadata={"description": "Incoming only."})


class HandlingSchema(StrictSchema):
    status = fields.String(validate=validate.OneOf(registration.HANDLING_STATES), metadata={
        "description": "Default: done when a reply is given, else in_progress."})
    progress = fields.String(validate=validate.Length(max=1000))
    reply_document_id = fields.String(validate=validate.Length(max=36), metadata={
        "description": "The registered outgoing document that answers it."})
    reply_number = fields.String(validate=validate.Length(max=60),
                                 metadata={"description": "Or the reply's number as text."})
    done_on = fields.Date()
    note = fields.String(validate=validate.Length(max=2000))


class EntrySchema(Schema):
    id = fields.Integer()
    fonds_code = fields.String()
    direction = fields.String()
    book = fields.String()
    series = fields.String()
    year = fields.Integer()
    number = fields.Integer()
    number_text = fields.String(metadata={"description": "As printed: 01, 02, …"})
    document_id = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "pending, registered or cancelled"})
    registered_on = fields.Date()
    registered_at = fields.DateTime()
    registered_by = fields.String()
    cancelled_at = fields.DateTime(allow_none=True)
    cancelled_by = fields.String(allow_none=True)
    cancel_reason = fields.String(allow_none=True)


class EntryPageSchema(PageSchema):
    items = fields.List(fields.Nested(EntrySchema))


class EntryQuerySchema(PageQuerySchema):
    fonds_code = fields.String(required=True, validate=validate.Length(min=1, max=13))
    year = fields.Integer(validate=validate.Range(min=1900, max=2200))
    direction = fields.String(validate=validate.OneOf(numbering.DIRECTIONS))
    book = fields.String(validate=validate.Length(max=40))
    status = fields.String(validate=validate.OneOf(["pending", "registered", "cancelled"]))


class CancelSchema(StrictSchema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class RegisterQuerySchema(StrictSchema):
    fonds_code = fields.String(required=True, validate=validate.Length(min=1, max=13))
    date_from = fields.Date(required=True, metadata={"description": "First registration day."})
    date_to = fields.Date(required=True, metadata={"description": "Last registration day."})
    book = fields.String(validate=validate.Length(max=40))
    overdue_only = fields.Boolean(load_default=False,
                                  metadata={"description": "Follow-up register: overdue only."})
    format = FORMAT_PARAM


class RegisterRowSchema(Schema):
    entry_id = fields.Integer()
    status = fields.String()
    book = fields.String()
    series = fields.String()
    year = fields.Integer()
    number = fields.Integer()
    registered_on = fields.Date()
    document_id = fields.String(allow_none=True)
    overdue = fields.Boolean()
    cells = fields.Dict(metadata={"description": "One value per column key."})


class RegisterSchema(Schema):
    register = fields.String()
    title = fields.String()
    fonds_code = fields.String()
    organ_name = fields.String()
    date_from = fields.Date()
    date_to = fields.Date()
    book = fields.String(allow_none=True)
    columns = fields.List(fields.Dict())
    rows = fields.List(fields.Nested(RegisterRowSchema))
    counts = fields.Dict()
    generated_at = fields.DateTime()


REG_ERRORS = ((409, "Already registered, wrong direction, or the dossier is not open."),
              (412, "The document changed meanwhile (or If-Match names an older version)."),
              (422, "A field is wrong (the message names it)."))


def _errors(func):  # noqa: ANN001, ANN202
    for status, text in REG_ERRORS:
        func = blp.alt_response(status, description=text)(func)
    return func


@blp.route("/documents/<uuid:document_id>/outgoing-registration")
class OutgoingRegistration(MethodView):
    @blp.arguments(OutgoingSchema, example={
        "code_notation": "QĐ-UBND", "recipients": [{"organ_name": "Ông Nguyễn Văn An"}],
        "copies": 3, "file_copy_holder": "Văn phòng UBND"})
    @blp.response(200, DocumentSchema)
    @_errors
    @blp.doc(parameters=[if_match_header(False)])
    def post(self, data, document_id):
        """Number an outgoing document (next number of its book in this year)

        The number (01 on 1 January, Vietnam time), the registration date and the book go into
        the document's metadata as a new version. `warnings` names any document already
        registered with the same number, symbol and issuer.
        """
        return with_etag(registration.register_outgoing(env(), actor(), str(document_id), data,
                                                        expected_version()))


@blp.route("/documents/<uuid:document_id>/incoming-registration")
class IncomingRegistration(MethodView):
    @blp.arguments(IncomingSchema, example={
        "code_number": "125", "code_notation": "UBND-VX", "issued_date": "2025-07-18",
        "organ_name": "UBND thành phố Huế", "due_date": "2025-07-30",
        "assigned_to": {"unit": "Phòng Văn hóa – Xã hội", "person": "Nguyễn Thị Hoa"}})
    @blp.response(200, DocumentSchema)
    @_errors
    @blp.doc(parameters=[if_match_header(False)])
    def post(self, data, document_id):
        """Register an incoming document (số đến, ngày đến, handler, deadline)"""
        return with_etag(registration.register_incoming(env(), actor(), str(document_id), data,
                                                        expected_version()))


@blp.route("/documents/<uuid:document_id>/registration")
class Registration(MethodView):
    @blp.arguments(RegistrationUpdateSchema, example={"delivered_on": "2025-07-21",
                                                      "received_by": "Nguyễn Thị Hoa"})
    @blp.response(200, DocumentSchema)
    @_errors
    @blp.doc(parameters=[if_match_header(False)])
    def patch(self, data, document_id):
        """Fill the later register columns (date passed on, receipt, handler, copies, note)"""
        return with_etag(registration.update_registration(env(), actor(), str(document_id),
                                                          data, expected_version()))


@blp.route("/documents/<uuid:document_id>/handling")
class Handling(MethodView):
    @blp.arguments(HandlingSchema, example={"status": "done", "reply_number": "45/UBND-VX"})
    @blp.response(200, DocumentSchema)
    @_errors
    @blp.doc(parameters=[if_match_header(False)])
    def post(self, data, document_id):
        """Record the handling progress of an incoming document (follow-up register)"""
        return with_etag(registration.record_handling(env(), actor(), str(document_id), data,
                                                      expected_version()))


@blp.route("/registrations")
class Registrations(MethodView):
    @blp.arguments(EntryQuerySchema, location="query")
    @blp.response(200, EntryPageSchema)
    def get(self, args):
        """The number log of a fonds: every number given, pending or cancelled"""
        items, total = numbering.list_entries(
            env(), actor(), fonds_code=args["fonds_code"], year=args.get("year"),
            direction=args.get("direction"), book=args.get("book"),
            status=args.get("status"), page=args["page"], page_size=args["page_size"])
        return page(items, total, args)


@blp.route("/registrations/<int:entry_id>/cancel")
class CancelNumber(MethodView):
    @blp.arguments(CancelSchema, example={"reason": "Lấy nhầm số cho văn bản chưa ký"})
    @blp.response(200, EntrySchema)
    @blp.alt_response(409, description="Already cancelled, or the document's dossier is closed.")
    def post(self, data, entry_id):
        """Cancel a number taken by mistake (never reused; the register shows it and why)"""
        return registration.cancel_number(env(), actor(), entry_id, data["reason"])


@blp.route("/registers/<string:kind>")
class Register(MethodView):
    @blp.arguments(RegisterQuerySchema, location="query")
    @blp.response(200, RegisterSchema)
    @blp.doc(responses={"200": {
        "description": "The register: JSON rows (format=json), or the printable XLSX or PDF.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Register"}},
                    **FILE_CONTENT}}})
    @blp.alt_response(503, description="PDF asked for, but no Vietnamese font is installed.")
    def get(self, args, kind):
        """A register for a period: kind = outgoing, incoming or follow_up (every NĐ 30 column)"""
        fmt = args.pop("format")
        register = registers.build_register(env(), actor(), kind, **args)
        if fmt == "json":
            return register
        name = f"so-{kind.replace('_', '-')}-{args['fonds_code']}-{args['date_from']}"
        return file_response(registers.render(env(), register, fmt), fmt, name)
