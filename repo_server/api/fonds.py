"""/api/v1/fonds: the archives (phông) of the agencies served by this repository."""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import fields, validate

from ..services import fonds as service
from .blueprint import Blueprint
from .common import actor, env, expected_version, if_match_header, page, with_etag
from .schemas import (
    FondsCreateSchema,
    FondsPageSchema,
    FondsSchema,
    FondsUpdateSchema,
    PageQuerySchema,
    StrictSchema,
)

blp = Blueprint("fonds", __name__, url_prefix="/api/v1/fonds",
                description="Fonds (phông lưu trữ): one per agency, keyed by its OrganId code.")

FONDS_EXAMPLE = {"code": "000.00.00.H49", "name": "Ủy ban nhân dân phường An Cựu",
                 "history": "Thành lập ngày 01/7/2025 trên cơ sở sáp nhập ..."}


@blp.route("")
class FondsCollection(MethodView):
    @blp.arguments(PageQuerySchema, location="query")
    @blp.response(200, FondsPageSchema)
    def get(self, args):
        """List fonds"""
        items, total = service.list_fonds(env(), actor(), page=args["page"], page_size=args["page_size"])
        return page(items, total, args)

    @blp.arguments(FondsCreateSchema, example=FONDS_EXAMPLE)
    @blp.response(201, FondsSchema, headers={"ETag": {"schema": {"type": "string"}}})
    @blp.alt_response(409, description="A fonds with this code exists.")
    def post(self, data):
        """Register a fonds

        The code (OrganId) is fixed forever; name, history and status can change later.
        """
        return with_etag(service.create_fonds(env(), actor(), data), 201)


@blp.route("/<string:code>")
class FondsItem(MethodView):
    @blp.response(200, FondsSchema)
    def get(self, code):
        """Get a fonds"""
        return with_etag(service.get_fonds(env(), code, actor()))

    @blp.arguments(FondsUpdateSchema, example={"status": "closed", "closed_on": "2025-06-30",
                                                "successor_code": "000.00.00.H50"})
    @blp.response(200, FondsSchema)
    @blp.alt_response(412, description="If-Match is stale.")
    @blp.alt_response(428, description="If-Match is missing.")
    @blp.doc(parameters=[if_match_header(True)])
    def patch(self, data, code):
        """Update a fonds (If-Match required)"""
        return with_etag(service.update_fonds(env(), actor(), code, data, expected_version()))


class FondsCloseSchema(StrictSchema):
    closed_on = fields.Date(required=True, metadata={"description": "Last day of operation."})
    decision_ref = fields.String(required=True, validate=validate.Length(min=1, max=300),
                                 metadata={"description": "The decision closing or merging the "
                                                          "agency."})
    successor_code = fields.String(load_default=None, validate=validate.Length(min=1, max=13),
                                   metadata={"description": "Fonds that takes custody."})


@blp.route("/<string:code>/close")
class FondsClose(MethodView):
    @blp.arguments(FondsCloseSchema, example={"closed_on": "2025-06-30",
                                              "decision_ref": "NQ 1656/NQ-UBTVQH15",
                                              "successor_code": "000.00.00.H50"})
    @blp.response(200, FondsSchema)
    @blp.alt_response(409, description="Already closed.")
    @blp.doc(parameters=[if_match_header(False)])
    def post(self, data, code):
        """Close a fonds (agency dissolved or merged) and name its successor

        The fonds takes no new dossiers or documents; its records and codes stay unchanged, and
        users of the successor fonds see them (custody).
        """
        return with_etag(service.close_fonds(env(), actor(), code,
                                             expected_version=expected_version(), **data))
