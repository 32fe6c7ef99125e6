"""/api/v1/dossiers: dossiers (hồ sơ), their metadata and their versions."""

from __future__ import annotations

from flask.views import MethodView

from ..services import dossiers as service
from .blueprint import Blueprint
from .common import actor, env, expected_version, if_match_header, page, with_etag
from .schemas import (
    AsOfQuerySchema,
    DossierCreateSchema,
    DossierListQuerySchema,
    DossierPageSchema,
    DossierSchema,
    DossierUpdateSchema,
    VersionListSchema,
)

blp = Blueprint("dossiers", __name__, url_prefix="/api/v1/dossiers",
                description="Dossiers (hồ sơ): create, list, correct, and read any version.")

DOSSIER_EXAMPLE = {
    "fonds_code": "000.00.00.H49",
    "title": "Hồ sơ cấp giấy phép xây dựng nhà ở riêng lẻ của ông Nguyễn Văn An",
    "retention": "05",
    "access_mode": "01",
    "languages": ["01"],
    "start_date": "2025-07-15",
    "keywords": ["giấy phép xây dựng"],
    "maker": "Trần Thị Bình",
    "external_ref": "000.00.00.H49-250715-0012",
}


@blp.route("")
class DossierCollection(MethodView):
    @blp.arguments(DossierListQuerySchema, location="query")
    @blp.response(200, DossierPageSchema)
    def get(self, args):
        """List dossiers

        Filter by fonds, year, state, case number or text in the title; sort; paginate.
        """
        filters = {k: args.get(k) for k in ("fonds_code", "year", "state", "q", "external_ref",
                                            "include_predecessors")}
        items, total = service.list_dossiers(env(), actor(), **filters, sort=args["sort"],
                                             page=args["page"], page_size=args["page_size"])
        return page(items, total, args)

    @blp.arguments(DossierCreateSchema, example=DOSSIER_EXAMPLE)
    @blp.response(201, DossierSchema, headers={"ETag": {"schema": {"type": "string"}}})
    @blp.alt_response(404, description="The fonds does not exist.")
    @blp.alt_response(409, description="File code or case number already used; fonds closed.")
    def post(self, data):
        """Create a dossier

        The file code is `<fonds code>.<year>.<file number>`, assigned unless `file_notation`
        or `file_code` is given. The ETag of the response is needed to update it later.
        """
        return with_etag(service.create_dossier(env(), actor(), data), 201)


@blp.route("/<uuid:dossier_id>")
class DossierItem(MethodView):
    @blp.arguments(AsOfQuerySchema, location="query")
    @blp.response(200, DossierSchema)
    def get(self, args, dossier_id):
        """Get a dossier (now, or as it was at `as_of`)"""
        body = service.get_dossier(env(), str(dossier_id), actor(), as_of=args.get("as_of"))
        return with_etag(body)

    @blp.arguments(DossierUpdateSchema, example={"title": "Hồ sơ cấp giấy phép xây dựng (bổ sung)",
                                                 "end_date": "2025-09-30"})
    @blp.response(200, DossierSchema)
    @blp.alt_response(412, description="If-Match names an older version.")
    @blp.alt_response(428, description="If-Match is missing.")
    @blp.doc(parameters=[if_match_header(True)])
    def patch(self, data, dossier_id):
        """Correct a dossier's metadata (If-Match required)

        Creates a new version; earlier versions stay readable.
        """
        return with_etag(service.update_dossier(env(), actor(), str(dossier_id), data,
                                                expected_version()))


@blp.route("/<uuid:dossier_id>/versions")
class DossierVersions(MethodView):
    @blp.response(200, VersionListSchema)
    def get(self, dossier_id):
        """List a dossier's versions (who, when, what changed)"""
        return {"items": service.list_versions(env(), str(dossier_id), actor())}


@blp.route("/<uuid:dossier_id>/versions/<int:number>")
class DossierVersion(MethodView):
    @blp.response(200, DossierSchema)
    def get(self, dossier_id, number):
        """Get a dossier's metadata as in one version"""
        return service.version_view(env(), str(dossier_id), number, actor())
