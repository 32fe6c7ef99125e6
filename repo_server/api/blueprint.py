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
from werkzeug.routing import IntegerConverter

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


# The catalog's integer ids are 32-bit columns on PostgreSQL: a larger number in a path names
# nothing (404 like any unknown id) and never reaches the database, where it was a 500
# ("integer out of range", found by schemathesis on the PostgreSQL leg).
ID_MAX = 2**31 - 1


class BoundedIntConverter(IntegerConverter):
    """`<int:...>` of every route: 0 .. ID_MAX."""

    def __init__(self, map: Any, fixed_digits: int = 0, min: int | None = None,  # noqa: A002
                 max: int | None = None, signed: bool = False) -> None:  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=min,
                         max=ID_MAX if max is None else max, signed=signed)


def bounded_int_schema(converter: BoundedIntConverter) -> dict[str, Any]:
    return {"type": "integer", "minimum": converter.min or 0, "maximum": converter.max}
