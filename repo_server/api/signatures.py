"""/api/v1/documents/{id}/signatures: PDF signatures as validated at ingest; re-check them."""

from __future__ import annotations

import io

from flask import send_file
from flask.views import MethodView
from marshmallow import Schema, fields

from ..services import signature_checks as service
from .blueprint import Blueprint
from .common import actor, env
from .schemas import DownloadQuerySchema, SignatureSchema

blp = Blueprint("signatures", __name__, url_prefix="/api/v1/documents",
                description="Digital signatures of a document's PDF files (pyHanko, offline, "
                            "against the agency's trust roots).")


class DocumentSignaturesSchema(Schema):
    document_id = fields.String()
    version = fields.Integer(metadata={"description": "The document's version now (after a "
                                                      "re-check that changed the outcome, the "
                                                      "new one)."})
    changed = fields.Boolean(metadata={"description": "Re-check only: the outcome differs from "
                                                      "what was recorded (a version was made)."})
    signatures = fields.List(fields.Nested(SignatureSchema))


EXAMPLE = {"document_id": "6f1c…", "version": 1, "signatures": [{
    "file": "quyet-dinh-15.pdf", "field": "Signature1", "signer": "Nguyễn Văn An",
    "signing_time": "2025-07-20T08:15:00+07:00", "intact": True,
    "changed_after_signing": False, "trusted": True, "revocation": "not_checked",
    "verdict": "valid",
    "reason": "The signature is valid and the document was not changed after signing.",
    "evidence": "signatures/quyet-dinh-15.pdf.json"}]}


@blp.route("/<uuid:document_id>/signatures")
class Signatures(MethodView):
    @blp.response(200, DocumentSignaturesSchema, example=EXAMPLE)
    def get(self, document_id):
        """The signatures of the document's files, as recorded"""
        return service.signatures_of(env(), actor(), str(document_id))


@blp.route("/<uuid:document_id>/signatures/check")
class SignatureCheck(MethodView):
    @blp.response(200, DocumentSignaturesSchema, example={**EXAMPLE, "changed": False})
    @blp.alt_response(423, description="The dossier is under a legal hold.")
    def post(self, document_id):
        """Check the signatures again now (e.g. after a root CA was added)

        Uses the trust roots configured now. When the outcome differs from what is recorded,
        a new version records it with fresh evidence (`changed: true`); the evidence from the
        time of receipt stays in the version that received the file.
        """
        return service.recheck(env(), actor(), str(document_id))


@blp.route("/<uuid:document_id>/signatures/evidence/<path:name>")
class SignatureEvidence(MethodView):
    @blp.arguments(DownloadQuerySchema, location="query")
    @blp.response(200, description="The evidence JSON: the validation report, every "
                                   "certificate (signature, DSS, path, trust roots) and the "
                                   "revocation data that were available, as base64 DER.",
                  content_type="application/json")
    def get(self, args, document_id, name):
        """Download the signature evidence kept for one file"""
        data = service.evidence_of(env(), actor(), str(document_id), name, args.get("version"))
        return send_file(io.BytesIO(data), mimetype="application/json", as_attachment=True,
                         download_name=f"{name}.signatures.json")
