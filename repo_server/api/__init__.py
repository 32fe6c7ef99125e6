"""The HTTP layer: flask-smorest blueprints, authentication, one JSON error format, the docs."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, jsonify, request, send_from_directory
from flask.json.provider import DefaultJSONProvider
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from ..services.errors import ServiceError, StorageError
from . import (
    audit,
    digitisation,
    disposal,
    documents,
    dossiers,
    fileplans,
    filing,
    fonds,
    handover,
    holds,
    jobs,
    lifecycle,
    meta,
    packages,
    push,
    registers,
    retention,
    search,
    signatures,
    users,
)
from .blueprint import Blueprint, BoundedIntConverter, bounded_int_schema
from .body_limits import init_body_limits
from .idempotency import init_idempotency
from .input_rules import document_in_spec, init_input_rules
from .ops import init_ops
from .schemas import DocumentCreateSchema
from .security import error as _error
from .security import init_security

log = logging.getLogger(__name__)

API_DESCRIPTION = """\
repo-server keeps the electronic dossiers (hồ sơ) and documents (văn bản) of Vietnamese public
agencies in versioned OCFL storage.

* Authenticate with `Authorization: Bearer <key>` (keys: `repo-server create-key`).
* Errors are JSON: `{"code", "status", "message", "errors"}`; `errors` names each bad field.
* Updates need `If-Match` with the record's ETag (412 when stale, 428 when missing).
* Listings take `page` and `page_size` (≤ 200) and report `total`.
"""


def _swagger_ui_dir() -> Path | None:
    try:
        import swagger_ui_bundle
    except ImportError:
        return None
    return Path(swagger_ui_bundle.swagger_ui_path)


def init_api(app: Flask) -> Api:
    app.config.update(
        API_TITLE="repo-server",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL="/api/v1/docs/static/",
        API_SPEC_OPTIONS={
            "info": {"description": API_DESCRIPTION},
            "components": {"securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearer": []}],
        },
    )
    app.json = SafeJSONProvider(app)
    app.url_map.converters["int"] = BoundedIntConverter  # before any route is added
    api = Api(app)
    api.register_converter(BoundedIntConverter, bounded_int_schema)
    api.spec.components.schema("DocumentCreate", schema=DocumentCreateSchema)
    for blp in (fonds.blp, push.blp, dossiers.blp, documents.blp, lifecycle.blp, retention.blp,
                holds.blp, disposal.blp, search.blp, jobs.blp, users.blp, audit.blp, meta.blp,
                packages.blp, registers.blp, handover.blp,
                fileplans.blp, filing.blp, signatures.blp, digitisation.blp):
        # our Blueprint: a body that is not JSON where JSON is expected is a 415
        assert isinstance(blp, Blueprint), f"{blp.name}: use api.blueprint.Blueprint"
        api.register_blueprint(blp)
    init_ops(app, api)  # readiness, metrics, fixity, parked items (docs/operations.md)
    _public_paths_in_spec(api)
    _error_schema_in_spec(api)
    # the agency code is checked against this instance's FONDS_CODE_PATTERN: say which
    api.spec.components.schemas["FondsCreate"]["properties"]["code"]["pattern"] = (
        app.config["REPO"]["FONDS_CODE_PATTERN"])
    document_in_spec({"paths": api.spec._paths,
                      "components": {"schemas": api.spec.components.schemas}})
    _register_docs_assets(app)
    init_body_limits(app)  # first: a body too large is refused before anything reads it
    init_security(app)
    init_idempotency(app)  # after security: it needs the caller
    init_input_rules(app)  # after idempotency: a replay answers as the first time did
    _register_errors(app)
    return api


IDEMPOTENCY_PARAMETER = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "schema": {"type": "string", "maxLength": 200},
    "description": "Any unique string (e.g. a UUID). A retry with the same key and the same "
                   "request returns the first answer and creates nothing; the same key with a "
                   "different request is a 422. Keys are remembered for 24 hours.",
}


def _public_paths_in_spec(api: Api) -> None:
    health = api.spec._paths.get("/api/v1/health", {})
    for operation in health.values():
        operation["security"] = []
    for operations in api.spec._paths.values():
        if "post" in operations:
            operations["post"].setdefault("parameters", []).append(IDEMPOTENCY_PARAMETER)


def _error_schema_in_spec(api: Api) -> None:
    """Errors carry code, status, message, errors, and may name what they are about."""
    schema = api.spec.components.schemas["Error"]
    schema["properties"].update({
        "request_id": {"type": "string", "description": "Quote it to the administrator: the "
                                                        "log holds the details (500)."},
        "action": {"type": "string", "nullable": True,
                   "description": "The action the caller's role does not allow (403)."},
    })
    schema["additionalProperties"] = True
    schema["description"] = ("The one error shape of the API. Besides code, status, message "
                             "and errors, an error may name the records it is about (e.g. "
                             "existing_id, review_id, hold_id).")


def _register_docs_assets(app: Flask) -> None:
    folder = _swagger_ui_dir()

    @app.get("/api/v1/docs/static/<path:filename>")
    def swagger_ui_static(filename):  # noqa: ANN001, ANN202
        if folder is None:
            return jsonify(code=404, status="Not Found",
                           message="Interactive docs are not installed."), 404
        return send_from_directory(folder, filename)


def _register_errors(app: Flask) -> None:
    @app.errorhandler(ServiceError)
    def _service_error(exc: ServiceError):  # noqa: ANN202
        errors = {"json": exc.errors} if exc.errors and exc.status == 422 else exc.errors
        return _error(exc.status, exc.message, errors, **exc.details)

    @app.errorhandler(StorageError)
    def _storage_error(exc: StorageError):  # noqa: ANN202
        log.exception("storage error")
        return _error(503, "The storage is not available right now; nothing was changed. "
                           "Try again, and tell the administrator if it persists.")

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):  # noqa: ANN202
        data = getattr(exc, "data", None) or {}
        errors = data.get("errors") or data.get("messages")
        message = data.get("message") or (
            "Please correct the fields listed in 'errors'." if errors else _plain(exc))
        response = _error(exc.code or 500, message, errors)
        for name, value in exc.get_headers():
            if name.lower() != "content-type":  # Allow (405), WWW-Authenticate, Retry-After
                response.headers[name] = value
        return response

    @app.errorhandler(RecursionError)
    def _too_deep(exc: RecursionError):  # noqa: ANN202
        return _error(400, "The JSON is nested too deeply to be read.")

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):  # noqa: ANN202
        from flask import g

        log.exception("unexpected error on %s %s", request.method, request.path)
        request_id = getattr(g, "request_id", None)
        return _error(500, "Something went wrong on the server. The administrator can find "
                           f"the details in the log under request id {request_id}.",
                      request_id=request_id)


def _plain(exc: HTTPException) -> str:
    messages = {
        413: "The request is larger than the upload limit.",
        404: "There is nothing at this address.",
        405: "This address does not accept this method.",
        415: "This content type is not accepted here.",
    }
    return messages.get(exc.code or 0, exc.description or exc.name)


class SafeJSONProvider(DefaultJSONProvider):
    """Reads JSON bodies; too deeply nested JSON is a 400, not a crash."""

    ensure_ascii = False
    sort_keys = False

    def loads(self, s, **kwargs):  # noqa: ANN001, ANN003, ANN201
        try:
            return super().loads(s, **kwargs)
        except RecursionError as exc:
            raise ValueError("The JSON is nested too deeply.") from exc
