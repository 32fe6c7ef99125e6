"""/api/v1/digitisation/batches: upload a finding aid and its scans, then poll the batch."""

from __future__ import annotations

from flask import request, send_file
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from ..services import digitisation as service
from ..services.errors import ValidationFailed
from .blueprint import Blueprint
from .common import actor, env, page
from .schemas import PageQuerySchema, PageSchema, StrictSchema

blp = Blueprint("digitisation", __name__, url_prefix="/api/v1/digitisation",
                description="Digitisation batches: paper dossiers scanned, converted to "
                            "two-layer PDF/A (OCR), checked against the standard and filed.")


class DigitisationProblemSchema(Schema):
    sheet = fields.String(metadata={"description": "File, and sheet of a workbook."})
    row = fields.Integer(allow_none=True, metadata={"description": "Row as Excel numbers it."})
    column = fields.String(allow_none=True, metadata={"description": "Column letter and "
                                                                     "header."})
    value = fields.String(allow_none=True)
    message = fields.String(metadata={"description": "What is wrong, in plain words."})


class DigitisationCountSchema(Schema):
    total = fields.Integer()
    done = fields.Integer()
    failed = fields.Integer()
    pending = fields.Integer()
    converted = fields.Integer()


class DigitisationBatchSchema(Schema):
    id = fields.String()
    fonds_code = fields.String()
    state = fields.String(metadata={"description": "queued, running, done, partial (some "
                                                   "dossiers failed), cancelled or failed."})
    cancel_requested = fields.Boolean()
    created_by = fields.String()
    created_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    dossiers = fields.Nested(DigitisationCountSchema)
    documents = fields.Nested(DigitisationCountSchema)
    pages = fields.Nested(DigitisationCountSchema)
    pages_per_minute = fields.Float(allow_none=True)
    eta = fields.DateTime(allow_none=True, metadata={"description": "When the run should end, "
                                                                    "at its speed so far."})
    cpu_seconds = fields.Float()
    cpu_seconds_per_page = fields.Float(allow_none=True)
    import_valid_rows = fields.Boolean()
    left_out = fields.List(fields.Nested(DigitisationProblemSchema), metadata={
        "description": "Problems of the rows left out (with import_valid_rows)."})
    notes = fields.List(fields.String())
    error = fields.String(allow_none=True)


class DigitisationBatchPageSchema(PageSchema):
    items = fields.List(fields.Nested(DigitisationBatchSchema))


class DigitisationCheckSchema(Schema):
    valid = fields.Boolean()
    dossiers = fields.Integer()
    valid_dossiers = fields.Integer()
    documents = fields.Integer()
    pages = fields.Integer()
    problems = fields.List(fields.Nested(DigitisationProblemSchema))
    notes = fields.List(fields.String())


class DigitisationReportQuerySchema(StrictSchema):
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "xlsx", "pdf"]))


UPLOAD_BODY = {"required": True, "content": {"multipart/form-data": {
    "schema": {"type": "object", "required": ["fonds_code", "finding_aid", "scans"],
               "properties": {
                   "fonds_code": {"type": "string", "example": "000.00.00.H49"},
                   "finding_aid": {"type": "array", "items": {"type": "string",
                                                              "format": "binary"},
                                   "description": "One XLSX workbook (dossier list and "
                                                  "document list sheets), or two CSV files."},
                   "scans": {"type": "string", "format": "binary",
                             "description": "A ZIP of the scans (PDF, TIFF, JPEG, PNG) named "
                                            "in the document list."},
                   "import_valid_rows": {"type": "boolean", "default": False,
                                         "description": "Leave out dossiers with problems "
                                                        "and import the others."}}}}}}
BATCH_EXAMPLE = {"id": "8f0e…", "fonds_code": "000.00.00.H49", "state": "running",
                 "dossiers": {"total": 50, "done": 12, "failed": 0, "pending": 38},
                 "documents": {"total": 100, "done": 24, "converted": 2, "failed": 0,
                               "pending": 74},
                 "pages": {"total": 500, "converted": 130, "failed": 0},
                 "pages_per_minute": 41.5, "eta": "2025-08-01T09:42:10+00:00"}


def _flag(name: str) -> bool:
    raw = (request.form.get(name) or request.args.get(name) or "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ValidationFailed({name: ["Send true or false."]})


def _receive() -> tuple[str, list, object, object]:
    """The form's fonds code and the uploads, spooled into an incoming folder."""
    fonds_code, aid_parts, scans_part = _parts()
    limit = env().config["MAX_UPLOAD_BYTES"]
    folder = None
    try:
        aid = []
        for part in aid_parts:
            path = service.receive_upload(env(), folder, part.stream,
                                          part.filename or "finding-aid.xlsx", limit)
            folder = path.parent
            aid.append((path, part.filename or path.name))
        scans = service.receive_upload(env(), folder, scans_part.stream, "scans.zip", limit)
    except BaseException:
        if folder is not None:
            service.discard_upload(folder)
        raise
    return fonds_code, aid, scans, folder


def _parts() -> tuple[str, list, object]:
    if request.mimetype != "multipart/form-data":
        raise ValidationFailed({"finding_aid": ["Send multipart/form-data with the parts "
                                                "fonds_code, finding_aid and scans."]})
    fonds_code = (request.form.get("fonds_code") or "").strip()
    errors = {}
    if not fonds_code:
        errors["fonds_code"] = ["Name the fonds the dossiers are filed in."]
    aid_parts = request.files.getlist("finding_aid")
    scans = request.files.getlist("scans")
    if not aid_parts:
        errors["finding_aid"] = ["Send the finding aid: one XLSX, or two CSV files."]
    elif len(aid_parts) > 2:
        errors["finding_aid"] = ["Send one XLSX or two CSV files, not more."]
    if len(scans) != 1:
        errors["scans"] = ["Send the scans as one ZIP file in a part named 'scans'."]
    unexpected = [k for k in request.files if k not in ("finding_aid", "scans")]
    for k in unexpected:
        errors[k] = ["Unknown part; send finding_aid and scans."]
    if errors:
        raise ValidationFailed(errors)
    return fonds_code, aid_parts, scans[0]


@blp.route("/batches")
class Batches(MethodView):
    @blp.arguments(PageQuerySchema, location="query")
    @blp.response(200, DigitisationBatchPageSchema)
    def get(self, args):
        """List digitisation batches (newest first)"""
        items, total = service.list_batches(env(), actor(), page=args["page"],
                                            page_size=args["page_size"])
        return page(items, total, args)

    @blp.doc(requestBody=UPLOAD_BODY)
    @blp.response(202, DigitisationBatchSchema, example=BATCH_EXAMPLE,
                  headers={"Location": {"schema": {"type": "string"}}})
    @blp.alt_response(413, description="An upload is larger than MAX_UPLOAD_BYTES.")
    @blp.alt_response(422, description="Problems in the finding aid or the scans (each with "
                                       "sheet, row, column and message); nothing was written.")
    def post(self):
        """Start a batch: upload the finding aid and a ZIP of the scans

        Everything is checked first (every row, every column, every scan named and readable);
        with a problem nothing is written (422 listing them all), unless `import_valid_rows`
        is true: then the dossiers without problems go ahead and the others are listed in
        `left_out`. The conversion runs in the worker, not in this request: poll
        `GET /digitisation/batches/{id}`.
        """
        fonds_code, aid, scans, folder = _receive()
        try:
            batch = service.create_batch(env(), actor(), fonds_code, aid, scans,
                                         import_valid_rows=_flag("import_valid_rows"))
        finally:
            service.discard_upload(folder)
        return batch, 202, {"Location": f"/api/v1/digitisation/batches/{batch['id']}"}


@blp.route("/checks")
class Checks(MethodView):
    @blp.doc(requestBody=UPLOAD_BODY)
    @blp.response(200, DigitisationCheckSchema, example={
        "valid": False, "dossiers": 50, "valid_dossiers": 49, "documents": 100, "pages": 490,
        "problems": [{"sheet": "muc-luc.xlsx: Mục lục văn bản", "row": 14,
                      "column": "I (Tệp quét)", "value": "hop-07/vb-02.tif",
                      "message": "The scan 'hop-07/vb-02.tif' is not among the scans sent "
                                 "(check the name and the folder)."}], "notes": []})
    @blp.alt_response(413, description="An upload is larger than MAX_UPLOAD_BYTES.")
    def post(self):
        """Check a finding aid and its scans without starting anything

        The same checks as a batch start; nothing is written. `valid` says whether a batch
        would start; `problems` lists every row and column to correct.
        """
        fonds_code, aid, scans, folder = _receive()
        try:
            found, unused, _ = service.check_batch(env(), actor(), fonds_code, aid, scans)
        finally:
            service.discard_upload(folder)
        return service.check_report(found, unused)


@blp.route("/batches/<uuid:batch_id>")
class Batch(MethodView):
    @blp.response(200, DigitisationBatchSchema, example=BATCH_EXAMPLE)
    def get(self, batch_id):
        """A batch's state: counts of dossiers, documents and pages, speed and ETA"""
        return service.get_batch(env(), actor(), str(batch_id))


@blp.route("/batches/<uuid:batch_id>/cancel")
class Cancel(MethodView):
    @blp.response(200, DigitisationBatchSchema)
    @blp.alt_response(409, description="The batch is already finished.")
    def post(self, batch_id):
        """Cancel a batch: conversions in progress stop; dossiers already filed stay"""
        return service.cancel_batch(env(), actor(), str(batch_id))


@blp.route("/batches/<uuid:batch_id>/resume")
class Resume(MethodView):
    @blp.response(202, DigitisationBatchSchema)
    @blp.alt_response(409, description="The batch is running, or done.")
    def post(self, batch_id):
        """Run a batch again: what is filed is skipped, what failed is retried"""
        return service.resume_batch(env(), actor(), str(batch_id))


@blp.route("/batches/<uuid:batch_id>/report")
class Report(MethodView):
    @blp.arguments(DigitisationReportQuerySchema, location="query")
    @blp.response(200, description="The report: JSON (every page's measures), XLSX (pages "
                                   "below the standard, documents, rows left out) or PDF.",
                  content_type="application/octet-stream")
    def get(self, args, batch_id):
        """The batch report: exactly which pages are below the standard, and why"""
        fmt = args["format"]
        path = service.report_path(env(), actor(), str(batch_id), fmt)
        media = {"json": "application/json", "pdf": "application/pdf",
                 "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
        return send_file(path, mimetype=media[fmt], as_attachment=fmt != "json",
                         download_name=f"digitisation-{batch_id}.{fmt}", max_age=0)
