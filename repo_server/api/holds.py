"""/api/v1/holds: legal holds (freeze) on dossiers."""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from ..services import holds as service
from .blueprint import Blueprint
from .common import actor, env, page
from .schemas import PageQuerySchema, PageSchema, StrictSchema

blp = Blueprint("holds", __name__, url_prefix="/api/v1/holds",
                description="Legal holds: a held dossier refuses every change, transition and "
                            "disposal (423). Holds are kept forever.")


class HoldCreateSchema(StrictSchema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    authority_ref = fields.String(required=True, validate=validate.Length(min=1, max=300),
                                  metadata={"description": "Decision or letter ordering it."})
    dossier_ids = fields.List(fields.String(validate=validate.Length(max=36)), load_default=list,
                              validate=validate.Length(max=10000))


class HoldDossiersSchema(StrictSchema):
    dossier_ids = fields.List(fields.String(validate=validate.Length(max=36)), required=True,
                              validate=validate.Length(min=1, max=10000))


class ReleaseSchema(StrictSchema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class HoldItemSchema(Schema):
    dossier_id = fields.String()
    added_by = fields.String()
    added_at = fields.DateTime()
    removed_by = fields.String(allow_none=True)
    removed_at = fields.DateTime(allow_none=True)


class HoldSchema(Schema):
    id = fields.String()
    reason = fields.String()
    authority_ref = fields.String()
    created_by = fields.String()
    created_at = fields.DateTime()
    released_by = fields.String(allow_none=True)
    released_at = fields.DateTime(allow_none=True)
    release_reason = fields.String(allow_none=True)
    active = fields.Boolean()
    dossiers = fields.List(fields.Nested(HoldItemSchema))


class HoldPageSchema(PageSchema):
    items = fields.List(fields.Nested(HoldSchema))


class HoldQuerySchema(PageQuerySchema):
    active = fields.Boolean()


@blp.route("")
class Holds(MethodView):
    @blp.arguments(HoldQuerySchema, location="query")
    @blp.response(200, HoldPageSchema)
    def get(self, args):
        """List holds"""
        items, total = service.list_holds(env(), actor(), active=args.get("active"), page=args["page"],
                                          page_size=args["page_size"])
        return page(items, total, args)

    @blp.arguments(HoldCreateSchema, example={"reason": "Thanh tra việc cấp phép xây dựng",
                                              "authority_ref": "QĐ 45/QĐ-TTr ngày 02/3/2026",
                                              "dossier_ids": []})
    @blp.response(201, HoldSchema)
    def post(self, data):
        """Place a hold"""
        return service.create_hold(env(), actor(), data["reason"], data["authority_ref"],
                                   data["dossier_ids"]), 201


@blp.route("/<string:hold_id>")
class HoldItem(MethodView):
    @blp.response(200, HoldSchema)
    def get(self, hold_id):
        """Get a hold with its dossiers (past and present)"""
        return service.get_hold(env(), hold_id, actor())


@blp.route("/<string:hold_id>/dossiers")
class HoldDossiers(MethodView):
    @blp.arguments(HoldDossiersSchema)
    @blp.response(200, HoldSchema)
    def post(self, data, hold_id):
        """Add dossiers to a hold"""
        return service.add_dossiers(env(), actor(), hold_id, data["dossier_ids"])


@blp.route("/<string:hold_id>/dossiers/<string:dossier_id>")
class HoldDossier(MethodView):
    @blp.response(200, HoldSchema)
    def delete(self, hold_id, dossier_id):
        """Take a dossier out of a hold (recorded, not erased)"""
        return service.remove_dossier(env(), actor(), hold_id, dossier_id)


@blp.route("/<string:hold_id>/release")
class Release(MethodView):
    @blp.arguments(ReleaseSchema)
    @blp.response(200, HoldSchema)
    def post(self, data, hold_id):
        """Release a hold"""
        return service.release_hold(env(), actor(), hold_id, data["reason"])
