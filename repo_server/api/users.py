"""/api/v1/users: people and systems, their roles, fonds scope, clearances, keys and grants."""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from ..services import users as service
from ..services.policy import ROLES
from .blueprint import Blueprint
from .common import actor, env, page
from .schemas import PageQuerySchema, PageSchema, StrictSchema

blp = Blueprint("users", __name__, url_prefix="/api/v1",
                description="Users and API keys (administrators). Keys are shown once and "
                            "stored only as a hash.")

ROLE_FIELD = fields.String(validate=validate.OneOf(ROLES))
SCOPE = fields.List(fields.String(validate=validate.Length(min=1, max=13)),
                    validate=validate.Length(min=1, max=500),
                    metadata={"description": "Fonds codes the user may see; [\"*\"] for all."})


class UserFields(StrictSchema):
    display_name = fields.String(validate=validate.Length(max=300), allow_none=True)
    roles = fields.List(ROLE_FIELD, validate=validate.Length(min=1, max=10))
    fonds_scope = SCOPE
    conditional_access = fields.Boolean(metadata={"description": "May use every conditional-"
                                                                 "access (02) record in scope."})
    clearance = fields.Boolean(metadata={"description": "Cleared for secret (03) records."})
    active = fields.Boolean()


class UserCreateSchema(UserFields):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    roles = fields.List(ROLE_FIELD, required=True, validate=validate.Length(min=1, max=10))


class KeySchema(Schema):
    id = fields.String()
    prefix = fields.String()
    label = fields.String(allow_none=True)
    created_at = fields.DateTime()
    expires_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)


class GrantSchema(Schema):
    id = fields.Integer()
    dossier_id = fields.String()
    granted_by = fields.String()
    granted_at = fields.DateTime()
    expires_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)


class UserSchema(UserCreateSchema):
    id = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    keys = fields.List(fields.Nested(KeySchema))
    grants = fields.List(fields.Nested(GrantSchema))


class UserPageSchema(PageSchema):
    items = fields.List(fields.Nested(UserSchema))


class KeyCreateSchema(StrictSchema):
    label = fields.String(load_default=None, validate=validate.Length(max=200))
    expires_at = fields.AwareDateTime(load_default=None)


class NewKeySchema(Schema):
    id = fields.String()
    secret = fields.String(metadata={"description": "Shown only in this answer."})
    user_id = fields.String()
    label = fields.String(allow_none=True)
    expires_at = fields.DateTime(allow_none=True)


class GrantCreateSchema(StrictSchema):
    dossier_id = fields.String(required=True, validate=validate.Length(min=1, max=36))
    expires_at = fields.AwareDateTime(load_default=None)


class MeSchema(Schema):
    name = fields.String()
    roles = fields.List(fields.String())
    fonds_scope = fields.List(fields.String(), allow_none=True)
    conditional_access = fields.Boolean()
    clearance = fields.Boolean()


@blp.route("/users")
class Users(MethodView):
    @blp.arguments(PageQuerySchema, location="query")
    @blp.response(200, UserPageSchema)
    def get(self, args):
        """List users"""
        items, total = service.list_users(env(), actor(), page=args["page"],
                                          page_size=args["page_size"])
        return page(items, total, args)

    @blp.arguments(UserCreateSchema, example={"name": "motcua-ancuu", "roles": ["integration"],
                                              "fonds_scope": ["000.00.00.H49"]})
    @blp.response(201, UserSchema)
    @blp.alt_response(403, description="It would give more than you have (a wider fonds "
                      "scope, conditional access or clearance you lack).")
    def post(self, data):
        """Create a user"""
        return service.create_user(env(), actor(), data), 201


@blp.route("/users/<string:user_id>")
class UserItem(MethodView):
    @blp.response(200, UserSchema)
    def get(self, user_id):
        """Get a user with keys (no secrets) and grants"""
        return service.get_user(env(), user_id, actor())

    @blp.arguments(UserFields, example={"roles": ["clerk"], "active": True})
    @blp.response(200, UserSchema)
    @blp.alt_response(403, description="It would give more than you have.")
    @blp.alt_response(404, description="No such user, or one whose fonds scope reaches beyond "
                      "yours.")
    @blp.alt_response(409, description="It would leave no active administrator of every fonds "
                      "with a valid key.")
    def patch(self, data, user_id):
        """Change a user's roles, scope, clearances or status"""
        return service.update_user(env(), actor(), user_id, data)


@blp.route("/users/<string:user_id>/keys")
class UserKeys(MethodView):
    @blp.arguments(KeyCreateSchema, example={"label": "Máy chủ một cửa",
                                             "expires_at": "2027-12-31T00:00:00+07:00"})
    @blp.response(201, NewKeySchema)
    def post(self, data, user_id):
        """Issue a key (the secret is shown once)"""
        return service.create_user_key(env(), actor(), user_id, **data), 201


@blp.route("/users/<string:user_id>/keys/<string:key_id>")
class UserKey(MethodView):
    @blp.response(200, UserSchema)
    @blp.alt_response(409, description="It is the last valid key of the last administrator of "
                      "every fonds.")
    def delete(self, user_id, key_id):
        """Revoke a key"""
        return service.revoke_key(env(), actor(), user_id, key_id)


@blp.route("/users/<string:user_id>/grants")
class UserGrants(MethodView):
    @blp.arguments(GrantCreateSchema)
    @blp.response(201, UserSchema)
    def post(self, data, user_id):
        """Open one conditional-access (02) dossier to the user"""
        return service.grant(env(), actor(), user_id, data["dossier_id"], data["expires_at"]), 201


@blp.route("/users/<string:user_id>/grants/<int:grant_id>")
class UserGrant(MethodView):
    @blp.response(200, UserSchema)
    def delete(self, user_id, grant_id):
        """Revoke a grant"""
        return service.revoke_grant(env(), actor(), user_id, grant_id)


@blp.route("/me")
class Me(MethodView):
    @blp.response(200, MeSchema)
    def get(self):
        """Who the key belongs to and what it may see"""
        a = actor()
        return {"name": a.name, "roles": list(a.roles),
                "fonds_scope": list(a.scope) if a.scope is not None else None,
                "conditional_access": a.conditional, "clearance": a.clearance}
