"""A document filed in several dossiers (links, no copies), and a dossier exported as one PDF
and as TT 05 XML."""

from __future__ import annotations

from flask import Response
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from ..services import dossier_export, links
from .blueprint import Blueprint
from .common import actor, env, expected_version, if_match_header, with_etag
from .schemas import DocumentSchema, StrictSchema

blp = Blueprint("filing", __name__, url_prefix="/api/v1/dossiers",
                description="Filing a document in further dossiers without copying it "
                            "(NĐ 30/2020 PL VI), and a dossier as PDF + XML.")


class LinkSchema(StrictSchema):
    document_id = fields.String(required=True, validate=validate.Length(min=1, max=36))
    note = fields.String(validate=validate.Length(max=500), load_default=None)


class LinkedDocumentSchema(DocumentSchema):
    home_file_code = fields.String(metadata={"description": "The dossier the document lives "
                                                           "in (its retention and access)."})


class LinksSchema(Schema):
    dossier_id = fields.String()
    version = fields.Integer(metadata={"description": "The dossier's version (ETag)."})
    items = fields.List(fields.Nested(LinkedDocumentSchema))


@blp.route("/<uuid:dossier_id>/links")
class Links(MethodView):
    @blp.response(200, LinksSchema)
    def get(self, dossier_id):
        """Documents of other dossiers filed in this one (those you may see where they live)"""
        return with_etag(links.list_links(env(), actor(), str(dossier_id)))

    @blp.arguments(LinkSchema, example={"document_id": "7d1e…",
                                        "note": "Văn bản đến liên quan"})
    @blp.response(201, LinksSchema)
    @blp.alt_response(409, description="Not open, other fonds, already filed here.")
    @blp.doc(parameters=[if_match_header(False)])
    def post(self, data, dossier_id):
        """File an existing document in this dossier too (a new dossier version, no copy)"""
        return with_etag(links.link_document(env(), actor(), str(dossier_id),
                                             data["document_id"], note=data["note"],
                                             expected_version=expected_version()), 201)


@blp.route("/<uuid:dossier_id>/links/<uuid:document_id>")
class Link(MethodView):
    @blp.response(200, LinksSchema)
    @blp.doc(parameters=[if_match_header(False)])
    def delete(self, dossier_id, document_id):
        """Take a linked document out of this dossier (it stays in its own)"""
        return with_etag(links.unlink_document(env(), actor(), str(dossier_id),
                                               str(document_id),
                                               expected_version=expected_version()))


@blp.route("/<uuid:dossier_id>/export.pdf")
class ExportPdf(MethodView):
    @blp.response(200, description="Cover page, table of contents, then every document in "
                                   "chronological order (PDF pages merged; other files as a "
                                   "page with their name and SHA-256).",
                  content_type="application/pdf")
    @blp.alt_response(503, description="No Vietnamese font is installed on the server.")
    def get(self, dossier_id):
        """The dossier as one PDF"""
        data = dossier_export.dossier_pdf(env(), actor(), str(dossier_id))
        return Response(data, mimetype="application/pdf", headers={
            "Content-Disposition": f'attachment; filename="ho-so-{dossier_id}.pdf"'})


@blp.route("/<uuid:dossier_id>/export.xml")
class ExportXml(MethodView):
    @blp.response(200, description="TT 05/2025 file metadata with its documents' metadata.",
                  content_type="application/xml")
    def get(self, dossier_id):
        """The dossier as TT 05 XML (file and document elements, chronological)"""
        data = dossier_export.dossier_xml(env(), actor(), str(dossier_id))
        return Response(data, mimetype="application/xml", headers={
            "Content-Disposition": f'attachment; filename="ho-so-{dossier_id}.xml"'})
