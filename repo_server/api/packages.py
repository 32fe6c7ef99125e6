"""/api/v1/packages: dossiers or a whole fonds as a BagIt package (ZIP), and its import."""

from __future__ import annotations

import io

from flask import Response, request, stream_with_context
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from ..services import packages as service
from ..services import uploads
from .blueprint import Blueprint
from .common import actor, env
from .schemas import StrictSchema

blp = Blueprint("packages", __name__, url_prefix="/api/v1/packages",
                description="Transfer packages (TT 05/2025): BagIt bags with SHA-256 and SHA-512 "
                            "manifests, the OCFL objects with every version, TT 05 XML metadata "
                            "and the audit history, zipped.")


class ExportQuerySchema(StrictSchema):
    fonds_code = fields.String(validate=validate.Length(min=1, max=13), metadata={
        "description": "Export this whole fonds (the dossiers you may see)."})
    dossier_id = fields.List(fields.String(validate=validate.Length(min=1, max=36)),
                             validate=validate.Length(min=1, max=service.MAX_DOSSIER_IDS),
                             metadata={"description": "Or these dossiers (repeat the parameter)."})


class CountsSchema(Schema):
    fonds = fields.Integer()
    dossier = fields.Integer()
    document = fields.Integer()


class ImportReportSchema(Schema):
    package = fields.String(allow_none=True, metadata={"description": "External-Identifier."})
    source_organization = fields.String(allow_none=True)
    bagging_date = fields.String(allow_none=True)
    objects = fields.Nested(CountsSchema, metadata={"description": "Records in the package."})
    imported = fields.Nested(CountsSchema, metadata={"description": "New here."})
    updated = fields.Nested(CountsSchema, metadata={"description": "Newer versions added."})
    skipped = fields.Nested(CountsSchema, metadata={"description": "Already here, unchanged."})
    catalog_repaired = fields.Integer()
    history_events = fields.Integer(metadata={"description": "Audit events of the source "
                                                             "appended to this audit trail."})
    bytes = fields.Integer()
    seconds = fields.Float()
    notes = fields.List(fields.String())
    problems = fields.List(fields.String())
    conflicts = fields.List(fields.String())


@blp.route("/export")
class Export(MethodView):
    @blp.arguments(ExportQuerySchema, location="query")
    @blp.response(200, content_type="application/zip",
                  description="The package, streamed as it is built (BagIt bag in a ZIP).")
    @blp.alt_response(404, description="The fonds or a dossier is not in your view.")
    def get(self, args):
        """Export dossiers or a fonds as a BagIt package

        Give `fonds_code` for a whole fonds, or one or more `dossier_id`. Only dossiers and
        documents you may see are in the package. Validate it with any BagIt tool, e.g.
        `bagit.py --validate <unzipped folder>`.
        """
        selection = service.prepare_export(env(), actor(), fonds_code=args.get("fonds_code"),
                                           dossier_ids=args.get("dossier_id"))
        export = service.PackageExport(env(), actor(), selection)
        return Response(stream_with_context(export.stream()), mimetype="application/zip",
                        headers={"Content-Disposition":
                                 f'attachment; filename="{selection.filename}"',
                                 "X-Package-Id": export.stats["package"],
                                 "Cache-Control": "no-store"})


def _body():  # noqa: ANN202
    """The raw body; werkzeug's own way when it was read already (an Idempotency-Key's
    fingerprint reads small bodies before the view runs)."""
    cached = getattr(request, "_cached_data", None)
    return io.BytesIO(cached) if cached is not None else request.stream


@blp.route("/import")
class Import(MethodView):
    @blp.doc(requestBody={"required": True, "description": "A package made by an export "
                          "(the ZIP as the raw body).",
                          "content": {"application/zip": {"schema": {"type": "string",
                                                                     "format": "binary"}}}})
    @blp.response(200, ImportReportSchema)
    @blp.alt_response(409, description="Records clash with records here; nothing imported.")
    @blp.alt_response(422, description="Damaged, changed or incomplete package (the report "
                                       "names each file); nothing imported.")
    def post(self):
        """Import a package

        Every checksum is verified before anything is written; records keep their ids, codes,
        versions, dates and history. Records already here with the same history are skipped,
        so importing a package twice is harmless.
        """
        limit = env().config["MAX_UPLOAD_BYTES"]
        staged = uploads.stage_upload(
            env(), _body(), limit, f"The package is larger than {limit // (1024 * 1024)} MiB; "
            "import it with `repo-server import` instead.")
        try:
            return service.import_package(env(), actor(), staged.path)
        finally:
            uploads.discard(env(), staged)
