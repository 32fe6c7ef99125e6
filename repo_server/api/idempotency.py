"""The Idempotency-Key header on every POST (see services/idempotency.py)."""

from __future__ import annotations

import hashlib

from flask import Flask, Response, g, request

from ..services import idempotency
from .security import error

HEADER = "Idempotency-Key"


def fingerprint(limit: int) -> str:
    """What makes two requests "the same": method, path, query, and the body.

    Bodies up to `limit` bytes are hashed (a multipart boundary, which clients pick anew for
    each attempt, does not count); a larger upload is identified by its length and its
    Content-Digest, so send one with large uploads.
    """
    h = hashlib.sha256()
    h.update(f"{request.method} {request.path}?{request.query_string.decode()}\n".encode())
    h.update(f"{request.mimetype}\n".encode())
    length = request.content_length
    if length is not None and length <= limit:
        body = request.get_data(cache=True)
        boundary = request.mimetype_params.get("boundary")
        if boundary:
            body = body.replace(boundary.encode(), b"")
        h.update(body)
    else:
        h.update(f"{length}\n{request.headers.get('Content-Digest', '')}\n"
                 f"{request.headers.get('X-Checksum-SHA256', '')}".encode())
    return h.hexdigest()


def init_idempotency(app: Flask) -> None:
    config = app.config["REPO"]

    @app.before_request
    def _replay_or_claim():  # noqa: ANN202
        key = request.headers.get(HEADER)
        if request.method != "POST" or not key or getattr(g, "actor", None) is None:
            return None
        if len(key) > 200:
            return error(422, f"{HEADER} is longer than 200 characters.")
        env = app.extensions["repo_server"]
        outcome = idempotency.begin(env, g.actor.name, key, request.method, request.path,
                                    fingerprint(config["IDEMPOTENCY_MAX_HASH_BYTES"]))
        if isinstance(outcome, int):
            g.idempotency_claim = outcome
            return None
        response = Response(outcome.body, status=outcome.status, mimetype="application/json")
        for name, value in outcome.headers.items():
            response.headers[name] = value
        response.headers["Idempotent-Replayed"] = "true"
        return response

    @app.after_request
    def _remember(response):  # noqa: ANN001, ANN202
        claim = g.pop("idempotency_claim", None)
        if claim is None:
            return response
        body = response.get_data(as_text=True) if not response.is_streamed else None
        headers = {k: response.headers[k] for k in ("ETag", "Location") if k in response.headers}
        idempotency.finish(app.extensions["repo_server"], claim, response.status_code, body,
                           headers)
        return response
