"""/api/v1/dossiers/push: a whole case in one request, all or nothing, with a receipt."""

from __future__ import annotations

import json

from flask import request
from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields, validate

from ..services import uploads
from ..services.errors import ValidationFailed
from ..services.push import PushedDocument, push_dossier
from .blueprint import Blueprint
from .common import actor, env, uploaded_files
from .schemas import DocumentCreateSchema, DossierCreateSchema, StrictSchema

blp = Blueprint("push", __name__, url_prefix="/api/v1/dossiers",
                description="For one-stop-shop desk systems: push a whole case at once.")


class ManifestFileSchema(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=255))
    sha256 = fields.String(load_default=None, validate=validate.Regexp(r"^[0-9a-fA-F]{64}$"),
                           metadata={"description": "Checked before anything is stored."})


class ManifestDocumentSchema(StrictSchema):
    metadata = fields.Nested(DocumentCreateSchema, required=True)
    files = fields.List(fields.Nested(ManifestFileSchema), load_default=list,
                        validate=validate.Length(max=500))


class ManifestSchema(StrictSchema):
    dossier = fields.Nested(DossierCreateSchema, required=True)
    add_to_existing = fields.Boolean(load_default=False, metadata={
        "description": "If the case (external_ref) was received before and its dossier is "
                       "still open, add these documents to it instead of refusing (409)."})
    documents = fields.List(fields.Nested(ManifestDocumentSchema), required=True,
                            validate=validate.Length(max=2000))


class ReceiptFileSchema(Schema):
    name = fields.String()
    sha256 = fields.String()
    size = fields.Integer()


class ReceiptDocumentSchema(Schema):
    id = fields.String()
    doc_code = fields.String()
    files = fields.List(fields.Nested(ReceiptFileSchema))


class ReceiptSchema(Schema):
    dossier_id = fields.String()
    fonds_code = fields.String()
    file_code = fields.String()
    external_ref = fields.String()
    archive_code = fields.String(allow_none=True)
    received_at = fields.String()
    documents = fields.List(fields.Nested(ReceiptDocumentSchema))
    receipt_sha256 = fields.String(metadata={
        "description": "SHA-256 (hex) of the receipt's canonical JSON: the receipt without this "
                       "field, keys sorted at every level, no whitespace (separators `,` and "
                       "`:`), non-ASCII characters written as themselves (no `\\u` escapes), "
                       "encoded in UTF-8 — Python: `json.dumps(body, ensure_ascii=False, "
                       "sort_keys=True, separators=(\",\", \":\")).encode()`. Also kept in the "
                       "audit trail.",
        "example": "7f2d76deabafd4598c134cb533da58239b7cd3bf0b505f1517c753be07ce79fd"})


PUSH_BODY = {"required": True, "content": {"multipart/form-data": {
    "schema": {"type": "object", "required": ["manifest"], "properties": {
        "manifest": {"type": "string", "description": "JSON: {\"dossier\": {…}, \"documents\": "
                     "[{\"metadata\": {…}, \"files\": [{\"name\", \"sha256\"}]}]}; every "
                     "file named here comes as a `file` part with that file name."},
        "file": {"type": "array", "items": {"type": "string", "format": "binary"}}}},
    "encoding": {"manifest": {"contentType": "application/json"}}}}}
_MANIFEST = ManifestSchema()


def _manifest() -> dict:
    if request.mimetype != "multipart/form-data":
        raise ValidationFailed({"manifest": ["Send multipart/form-data with a 'manifest' part "
                                             "and the files as 'file' parts."]})
    raw = request.form.get("manifest")
    if raw is None:
        raise ValidationFailed({"manifest": ["The 'manifest' part is missing."]})
    try:
        return _MANIFEST.load(json.loads(raw))
    except ValueError as exc:
        messages = exc.messages if isinstance(exc, ValidationError) else [str(exc)]
        raise ValidationFailed({"manifest": messages}) from exc


@blp.route("/push")
class DossierPush(MethodView):
    @blp.doc(requestBody=PUSH_BODY)
    @blp.response(201, ReceiptSchema)
    @blp.alt_response(409, description="The case was already received (existing_id names it), "
                                       "or the fonds is closed.")
    @blp.alt_response(422, description="Bad manifest, missing or extra file, digest mismatch.")
    def post(self):
        """Push a whole dossier with its documents and files (all or nothing)

        Answers with a receipt: ids, codes, every file's SHA-256 and size, time of receipt.
        Send an Idempotency-Key so that a retry after a dropped connection is safe.
        """
        manifest = _manifest()
        files = uploaded_files()
        by_name = {f.name: f for f in files}
        errors: dict[str, list[str]] = {}
        if len(by_name) != len(files):
            errors["file"] = ["Two file parts have the same file name."]
        documents, wanted = [], set()
        for i, doc in enumerate(manifest["documents"]):
            mine = []
            for entry in doc["files"]:
                part = by_name.get(entry["name"])
                if part is None or entry["name"] in wanted:
                    errors.setdefault(f"documents.{i}.files", []).append(
                        f"{entry['name']}: no such file part (or named twice).")
                    continue
                wanted.add(entry["name"])
                if entry.get("sha256"):
                    part.expected_sha256 = entry["sha256"].lower()
                mine.append(part)
            documents.append(PushedDocument(data=doc["metadata"], files=mine))
        extra = sorted(set(by_name) - wanted)
        if extra:
            errors["file"] = [f"{name}: not named in the manifest." for name in extra]
        if errors:
            for f in files:
                uploads.discard(env(), f.staged)
            raise ValidationFailed(errors)
        return push_dossier(env(), actor(), manifest["dossier"], documents,
                            add_to_existing=manifest["add_to_existing"]), 201
