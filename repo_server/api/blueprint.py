"""The API's blueprint: flask-smorest's, whose body parser says when a body is not JSON.

webargs reads a body sent with another content type (a form, plain text) as no body at all,
so the client heard "fonds_code: Missing data for required field" about a field it did send.
A body where JSON is expected is now a 415 that asks for JSON.
"""

from __future__ import annotations

from typing import Any

import flask_smorest
from flask_smorest import abort
from webargs.flaskparser import FlaskParser, is_json_request

NOT_JSON_MESSAGE = ("Send this body as JSON, with the header Content-Type: application/json "
                    "(it came as {mimetype}).")


class JSONBodyParser(FlaskParser):
    def load_json(self, req: Any, schema: Any) -> Any:  # noqa: ANN401 - webargs' signature
        has_body = bool(req.content_length) or (
            "chunked" in req.headers.get("Transfer-Encoding", "").lower())
        if has_body and not is_json_request(req):
            abort(415, message=NOT_JSON_MESSAGE.format(mimetype=req.mimetype or "no type"))
        return super().load_json(req, schema)


class Blueprint(flask_smorest.Blueprint):
    """Every blueprint of the API (init_api refuses any other)."""

    ARGUMENTS_PARSER = JSONBodyParser()
