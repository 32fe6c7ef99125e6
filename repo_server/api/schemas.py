"""Marshmallow schemas: the shape of every request and response (and so the OpenAPI spec).

Field names follow DOMAIN.md section A. Code-list values are checked by the services against
the loaded code lists (which an agency may override), so here they are plain strings.
"""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, pre_load, validate

from .input_rules import nfc, not_blank, refuse_bad_text

NOT_BLANK = validate.Length(min=1)


class VersionedFields(Schema):
    """What every versioned record's answer carries besides its own fields."""

    version = fields.Integer(metadata={"description": "Current version (the ETag is \"v<n>\")."})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    version_created = fields.DateTime(metadata={"description": "When viewing one version."})
    version_user = fields.String()
    version_message = fields.String()


class StrictSchema(Schema):
    """Every request body and query: unknown fields are an error (422), so a typo never
    silently drops data; text breaking the input rules (control characters, lone surrogates)
    is refused before it reaches a database, and text is kept in NFC (api/input_rules.py)."""

    class Meta:
        ordered = True

    @pre_load
    def _refuse_bad_text(self, data: Any, **_kw: Any) -> Any:
        refuse_bad_text(data)
        if isinstance(data, dict):  # a JSON body: its types are meant (a query's are text)
            refuse_wrong_json_types(self, data)
        return data

    @post_load
    def _compose_text(self, data: Any, **_kw: Any) -> Any:
        return nfc(data)


def refuse_wrong_json_types(schema: Schema, data: dict[str, Any]) -> None:
    """JSON has booleans and numbers: "true", "1" or 1 for a boolean, "5" for a number, are
    refused (marshmallow would read them), so the OpenAPI types are the rule."""
    errors: dict[str, list[str]] = {}
    for name, field in schema.load_fields.items():
        value = data.get(field.data_key or name)
        if value is None:
            continue
        if isinstance(field, fields.Boolean) and not isinstance(value, bool):
            errors[field.data_key or name] = ["Send true or false (JSON booleans)."]
        elif isinstance(field, fields.Number) and (isinstance(value, bool | str)):
            errors[field.data_key or name] = ["Send a number (not text)."]
    if errors:
        raise ValidationError(errors)


def text(max_len: int, required: bool = False, **kw) -> fields.String:
    """A title, subject or name: never empty nor only spaces, when given."""
    return fields.String(required=required,
                         validate=[validate.Length(min=1, max=max_len), not_blank], **kw)


def code(description: str, **kw) -> fields.String:
    return fields.String(validate=validate.Length(min=1, max=20),
                         metadata={"description": description}, **kw)


# ---------------------------------------------------------------- common

class PageSchema(Schema):
    """One page of a listing; subclasses add `items`."""

    total = fields.Integer(metadata={"description": "Number of items on all pages."})
    page = fields.Integer()
    page_size = fields.Integer()


class PageQuerySchema(StrictSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    page_size = fields.Integer(load_default=20, validate=validate.Range(min=1, max=200))


class VersionSummarySchema(Schema):
    version = fields.Integer()
    created = fields.DateTime()
    user = fields.String()
    message = fields.String()


class VersionListSchema(Schema):
    items = fields.List(fields.Nested(VersionSummarySchema))


class AsOfQuerySchema(StrictSchema):
    as_of = fields.AwareDateTime(
        default_timezone=None,
        metadata={"description": "Show the record as it was at this moment (ISO 8601 with "
                                 "time zone, e.g. 2025-07-01T09:00:00+07:00)."})


# ---------------------------------------------------------------- fonds

class FondsBase(StrictSchema):
    name = text(300, metadata={"description": "Name of the agency (tên phông)."})
    status = fields.String(validate=validate.OneOf(["open", "closed"]))
    closed_on = fields.Date(allow_none=True)
    successor_code = fields.String(validate=validate.Length(max=13), allow_none=True)
    history = fields.String(validate=validate.Length(max=10000), allow_none=True)
    description = fields.String(validate=validate.Length(max=2000), allow_none=True)


class FondsCreateSchema(FondsBase):
    code = fields.String(required=True, validate=validate.Length(min=1, max=13),
                         metadata={"description": "OrganId of the agency, e.g. 000.00.00.G09."})
    name = text(300, required=True)


class FondsUpdateSchema(FondsBase):
    pass


class FondsSchema(FondsCreateSchema):
    class Meta:
        unknown = EXCLUDE

    id = fields.String()
    closing_decision = fields.String(allow_none=True)
    version = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class FondsPageSchema(PageSchema):
    items = fields.List(fields.Nested(FondsSchema))


# ---------------------------------------------------------------- dossier

class SignerSchema(StrictSchema):
    position = fields.String(validate=validate.Length(max=100), load_default=None)
    full_name = fields.String(validate=validate.Length(max=50), load_default=None)


class RecipientSchema(StrictSchema):
    organ_id = fields.String(validate=validate.Length(max=13), load_default=None)
    organ_name = fields.String(validate=validate.Length(min=1, max=200), required=True)


class ArchivalFields(StrictSchema):
    """Elements shared by dossiers and documents (TT 05/2025)."""

    retention = code("Retention code 01–07 (01 permanent, 02 70 years, … 07 other).")
    retention_years = fields.Integer(validate=validate.Range(min=2, max=70), allow_none=True,
                                     metadata={"description": "Years, with retention 07."})
    access_mode = code("Access mode: 01 public, 02 conditional use, 03 secret.")
    languages = fields.List(code("Language code 01–11."), validate=validate.Length(min=1, max=11))
    keywords = fields.List(fields.String(validate=validate.Length(min=1, max=100)),
                           validate=validate.Length(max=50))
    page_count = fields.Integer(validate=validate.Range(min=0, max=100000), allow_none=True)
    info_sign = fields.String(validate=validate.Length(max=30), allow_none=True)
    physical_state = code("Physical state: 01 good, 02 normal, 03 damaged.", allow_none=True)
    confidence_level = code("01 born digital, 02 digitised, 03 mixed.", allow_none=True)
    paper_file_code = fields.String(validate=validate.Length(max=100), allow_none=True)
    backup_copy = fields.Boolean(allow_none=True)
    backup_status = code("Backup: 01 done, 02 not yet.", allow_none=True)
    description = fields.String(validate=validate.Length(max=2000), allow_none=True)


class DossierFields(ArchivalFields):
    title = text(1000)
    retention_rule = fields.String(validate=validate.Length(min=1, max=20), allow_none=True,
                                   metadata={"description": "Code of a rule of the retention "
                                                            "schedule; sets `retention`."})
    start_date = fields.Date(allow_none=True)
    end_date = fields.Date(allow_none=True)
    sheet_count = fields.Integer(validate=validate.Range(min=0, max=1000000), allow_none=True)
    maker = fields.String(validate=validate.Length(max=200), allow_none=True)
    external_ref = fields.String(validate=validate.Length(min=1, max=100), allow_none=True,
                                 metadata={"description": "Case number in the sending "
                                                          "one-stop-shop system (unique per fonds)."})
    handover_rule = code("Hand-over deadline rule (code list handover_rule): xdcb for capital "
                         "construction files (3 months); default 1 year after the end.",
                         allow_none=True)


class DossierCreateSchema(DossierFields):
    fonds_code = fields.String(required=True, validate=validate.Length(min=1, max=13))
    title = text(1000, required=True)
    retention = code("Retention code 01–07 (or give `retention_rule`).")
    file_notation = fields.String(validate=validate.Length(min=1, max=20),
                                  metadata={"description": "File number and symbol in the "
                                                           "filing plan, e.g. 01.TH; assigned "
                                                           "when omitted."})
    file_code = fields.String(validate=validate.Length(min=1, max=100),
                              metadata={"description": "Complete file code, for records made "
                                                       "elsewhere; normally assigned."})


class DossierUpdateSchema(DossierFields):
    """Send only the fields to change; null clears an optional field."""


class DossierSchema(DossierCreateSchema, VersionedFields):
    class Meta:
        unknown = EXCLUDE

    id = fields.String()
    file_code = fields.String()
    state = fields.String()
    doc_total = fields.Integer()
    archive_code = fields.String(allow_none=True)
    retention_due_on = fields.Date(allow_none=True, metadata={
        "description": "First day the dossier may be reviewed for disposal (none if permanent "
                       "or not closed)."})
    closed = fields.Dict(metadata={"description": "Who closed it, when, note."})
    handover = fields.Dict(metadata={"description": "Hand-over to the agency archive."})
    transfer_due = fields.Dict()
    transfer = fields.Dict(metadata={"description": "Transfer to the historical archive."})
    appraisals = fields.List(fields.Dict(), metadata={"description": "Disposal reviews that "
                                                                     "kept it."})
    keep_back = fields.Dict(metadata={"description": "Kept back by the unit with the head's "
                                                     "consent; due for hand-over on `until`."})


class DossierPageSchema(PageSchema):
    items = fields.List(fields.Nested(DossierSchema))


class DossierListQuerySchema(PageQuerySchema):
    fonds_code = fields.String(validate=validate.Length(max=13))
    year = fields.Integer(validate=validate.Range(min=1900, max=2200))
    state = fields.String(validate=validate.OneOf(
        ["open", "closed", "archived", "disposal_review", "destroyed", "transfer_due",
         "transferred"]))
    q = fields.String(validate=validate.Length(max=200),
                      metadata={"description": "Text contained in the title."})
    external_ref = fields.String(validate=validate.Length(max=100))
    include_predecessors = fields.Boolean(load_default=False, metadata={
        "description": "With fonds_code: also the fonds merged into it (closed predecessors)."})
    sort = fields.String(load_default="-created_at", validate=validate.OneOf(
        [f"{p}{f}" for f in ("created_at", "title", "file_code", "start_date", "end_date", "year")
         for p in ("", "-")]), metadata={"description": "Field to sort by; '-' for descending."})


# ---------------------------------------------------------------- document

class DocumentFields(ArchivalFields):
    type_code = code("Document type 01–32 (TT 05/2025).")
    code_number = fields.String(validate=validate.Length(min=1, max=11), allow_none=True)
    code_notation = fields.String(validate=validate.Length(min=1, max=30), allow_none=True)
    issued_date = fields.Date(allow_none=True)
    organ_name = fields.String(validate=validate.Length(max=200), allow_none=True)
    subject = text(500)
    signer = fields.Nested(SignerSchema, allow_none=True)
    direction = code("incoming, outgoing or internal.", allow_none=True)
    arrival_number = fields.Integer(validate=validate.Range(min=1, max=9_999_999_999),
                                    allow_none=True)
    arrival_date = fields.Date(allow_none=True)
    recipients = fields.List(fields.Nested(RecipientSchema), validate=validate.Length(max=200))
    due_date = fields.Date(allow_none=True)
    secrecy = code("Độ mật: mat, toi_mat, tuyet_mat.", allow_none=True)
    urgency = code("Độ khẩn: khan, thuong_khan, hoa_toc.", allow_none=True)
    autograph = fields.String(validate=validate.Length(max=2000), allow_none=True)
    has_process_history = fields.Boolean(allow_none=True)
    sheet_count = fields.Integer(validate=validate.Range(min=0, max=1000000), allow_none=True,
                                 metadata={"description": "Paper sheets (digitised documents)."})


class DocumentCreateSchema(DocumentFields):
    type_code = code("Document type 01–32 (TT 05/2025).", required=True)
    subject = text(500, required=True)


class DocumentUpdateSchema(DocumentFields):
    """Send only the fields to change; null clears an optional field."""


class FileSchema(Schema):
    name = fields.String()
    media_type = fields.String()
    size = fields.Integer()
    sha256 = fields.String()
    version = fields.Integer(metadata={"description": "Version in which these bytes were stored."})


class SignatureSchema(Schema):
    """One PDF signature as validated when the file was received (or last re-checked)."""

    file = fields.String(metadata={"description": "The document's file that carries it."})
    field = fields.String(allow_none=True, metadata={"description": "Signature field name."})
    signer = fields.String(allow_none=True, metadata={"description": "Common name of the "
                                                                     "signer's certificate."})
    signer_certificate = fields.Dict(metadata={"description": "subject, issuer, serial, "
                                                              "validity, SHA-256."})
    signing_time = fields.String(allow_none=True, metadata={
        "description": "Time the signer's software claims (not proven without a timestamp)."})
    timestamp = fields.Dict(allow_none=True, metadata={"description": "A trusted timestamp, "
                                                                      "if the signature has one."})
    intact = fields.Boolean(metadata={"description": "The signed bytes match the signature."})
    cryptographically_valid = fields.Boolean()
    changed_after_signing = fields.Boolean(metadata={
        "description": "Bytes were added after the signature (see modification_level)."})
    coverage = fields.String(allow_none=True)
    modification_level = fields.String(allow_none=True, metadata={
        "description": "none, lta_updates, form_filling, annotations or other (not allowed)."})
    trusted = fields.Boolean(metadata={"description": "The chain ends in a configured trust "
                                                     "root."})
    chain = fields.List(fields.String(), metadata={"description": "Root first."})
    trust_root = fields.String(allow_none=True, metadata={"description": "SHA-256 of the root."})
    revocation = fields.String(metadata={"description": "checked, not_checked (no revocation "
                                                        "data available offline) or revoked."})
    revocation_data = fields.Dict()
    verdict = fields.String(metadata={"description": "valid, invalid or indeterminate."})
    reason = fields.String(metadata={"description": "The verdict in plain words."})
    reported = fields.Dict(metadata={"description": "Name, Reason, Location as the signer "
                                                    "wrote them."})
    evidence = fields.String(metadata={"description": "Evidence file in the version: the full "
                                                      "report, certificates, revocation data."})
    checked_at = fields.String()


class DocumentSchema(DocumentCreateSchema, VersionedFields):
    class Meta:
        unknown = EXCLUDE

    id = fields.String()
    dossier_id = fields.String()
    fonds_code = fields.String()
    doc_code = fields.String()
    serial = fields.Integer()
    text_status = fields.String()
    files = fields.List(fields.Nested(FileSchema))
    signatures = fields.List(fields.Nested(SignatureSchema), metadata={
        "description": "Signatures found in the PDF files, validated at ingest; a signature "
                       "that does not verify is reported here, not refused."})
    digitisation = fields.Dict(metadata={
        "description": "For a digitised document: its batch, the archival PDF/A, the original "
                       "scans, and the pages below the standard (see the batch report)."})
    warnings = fields.List(fields.String())
    registration = fields.Dict(metadata={"description": "Set by registering the document in "
                                                        "the records office: book, year, "
                                                        "number, date, handler, receipt."})
    registration_history = fields.List(fields.Dict(), metadata={
        "description": "Numbers this document had and that were cancelled, with the reason."})
    handling = fields.Dict(metadata={"description": "Follow-up of an incoming document: "
                                                    "status, progress, reply."})


class DocumentPageSchema(PageSchema):
    items = fields.List(fields.Nested(DocumentSchema))


class DocumentListQuerySchema(PageQuerySchema, AsOfQuerySchema):
    pass


class FileListSchema(Schema):
    items = fields.List(fields.Nested(FileSchema))


class UploadQuerySchema(StrictSchema):
    name = fields.String(validate=validate.Length(min=1, max=255),
                         metadata={"description": "File name, for a raw-body upload."})


class DownloadQuerySchema(StrictSchema):
    version = fields.Integer(validate=validate.Range(min=1),
                             metadata={"description": "Download the file as in this version."})


class MultipartDocumentSchema(Schema):
    """Multipart form for creating a document with its files in one request."""

    metadata = fields.String(required=True, metadata={
        "description": "The document's metadata as JSON (same fields as the JSON body)."})
    file = fields.Raw(metadata={"type": "string", "format": "binary",
                                "description": "One or more file parts."})


class MultipartFilesSchema(Schema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary",
                                               "description": "One or more file parts."})


# ---------------------------------------------------------------- code lists, health

class CodeEntrySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    code = fields.String()
    name_vi = fields.String()
    name_en = fields.String(allow_none=True)
    extra = fields.Dict()


class CodeListSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    name = fields.String()
    title_vi = fields.String()
    title_en = fields.String(allow_none=True)
    source = fields.String(allow_none=True)
    confidence = fields.String(allow_none=True)
    entries = fields.List(fields.Dict())


class CodeListsSchema(Schema):
    items = fields.List(fields.Nested(CodeListSchema))


class HealthSchema(Schema):
    status = fields.String(metadata={"description": "ok, or degraded (serving, but look at "
                                                    "`checks`)", "example": "ok"})
    version = fields.String(metadata={"example": "0.1.0"})
    checks = fields.Dict(metadata={
        "description": "database, storage, fixity, backup: `ok`, `failed: ...` (makes the "
                       "status degraded) or `warning: ...` (advice that stays until it is "
                       "followed; the status stays ok)",
        "example": {"database": "ok", "storage": "ok", "fixity": "ok",
                    "backup": "warning: backups go to /srv/repo/backups, on the same disk as "
                              "the records: ..."}})
    warnings = fields.List(fields.String(), metadata={
        "description": "The `warning: ...` checks in plain words, for a monitoring tool or a "
                       "person to act on (empty when there is nothing to do).",
        "example": ["backup: backups go to /srv/repo/backups, on the same disk as the records: "
                    "a broken disk takes both; set BACKUP_DIR to a folder on another disk "
                    "(a USB disk or a network share)"]})
