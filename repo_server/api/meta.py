"""/api/v1/code-lists and /api/v1/health."""

from __future__ import annotations

from flask.views import MethodView

from ..services.errors import NotFound
from ..services.health import available, health_report
from ..version import __version__
from .blueprint import Blueprint
from .common import env
from .schemas import CodeListSchema, CodeListsSchema, HealthSchema

blp = Blueprint("meta", __name__, url_prefix="/api/v1",
                description="Code lists used to validate input, and service health.")


@blp.route("/code-lists")
class CodeListCollection(MethodView):
    @blp.response(200, CodeListsSchema)
    def get(self):
        """All code lists (retention, access mode, languages, document types, ...)"""
        codes = env().codes
        return {"items": [codes[name].to_dict() for name in codes.names()]}


@blp.route("/code-lists/<string:name>")
class CodeListItem(MethodView):
    @blp.response(200, CodeListSchema)
    def get(self, name):
        """One code list"""
        code_list = env().codes.get(name)
        if code_list is None:
            raise NotFound(f"There is no code list {name!r}; see /api/v1/code-lists.")
        return code_list.to_dict()


@blp.route("/health")
class Health(MethodView):
    @blp.response(200, HealthSchema)
    @blp.alt_response(503, schema=HealthSchema, description="A store is unavailable.")
    def get(self):
        """Health of the database and the storage root (no key needed)

        `status` is `degraded` (HTTP 200) while a stored object fails its fixity check, the
        last backup failed or no backup succeeded for two days: `checks` names what to look
        at. `warnings` lists advice that does not degrade the status (backups on the same disk
        as the records, or turned off). HTTP 503 means the database or the storage root cannot
        be reached."""
        report = health_report(env())
        report["version"] = __version__
        return report, (200 if available(report) else 503)
