"""How large a request body may be, decided once, from Content-Length, before reading it.

One rule for every way the server runs: the application refuses a body whose declared length
is over the limit before it reads a byte (gunicorn passes the body on as it arrives), and
`repo-server serve` (waitress, which reads a whole body before it calls the application)
applies the same limits while it reads the headers. Both answer with the API's JSON error.
A body sent without Content-Length (chunked) is counted as it is read: the upload staging and
Flask's MAX_CONTENT_LENGTH stop it at the same limits.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from .security import error

MiB = 1024 * 1024
FORM_OVERHEAD = MiB  # room for the metadata part and the part headers of a multipart upload


def body_limit(config: dict[str, Any], mimetype: str) -> tuple[int, str]:
    """(bytes allowed, what the limit is called) for a request body of this media type."""
    if mimetype == "application/json" or mimetype.endswith("+json"):
        return config["MAX_JSON_BYTES"], "a JSON body (MAX_JSON_BYTES)"
    if mimetype == "multipart/form-data":
        return config["MAX_UPLOAD_BYTES"] + FORM_OVERHEAD, "an upload (MAX_UPLOAD_BYTES)"
    return config["MAX_UPLOAD_BYTES"], "an upload (MAX_UPLOAD_BYTES)"


def largest_body(config: dict[str, Any]) -> int:
    """The largest body any request may have (Flask's MAX_CONTENT_LENGTH)."""
    return max(config["MAX_JSON_BYTES"], config["MAX_UPLOAD_BYTES"] + FORM_OVERHEAD)


def too_large_message(length: int, limit: int, what: str) -> str:
    return (f"The request body ({_size(length)}) is larger than the limit of {_size(limit)} for "
            f"{what}; nothing was stored. Send a smaller file, or ask the administrator.")


def _size(n: int) -> str:
    return f"{n / MiB:.1f} MiB" if n >= MiB else f"{n / 1024:.0f} KiB" if n >= 1024 else f"{n} B"


def error_body(status: int, message: str) -> bytes:
    """The API's error shape, for answers made outside Flask (the web server's own)."""
    return json.dumps({"code": status, "status": HTTPStatus(status).phrase, "message": message},
                      ensure_ascii=False).encode()


def refuse_oversized_body(config: dict[str, Any], mimetype: str,
                          content_length: int | None) -> tuple[int, str] | None:
    """(413, message) when the declared length is over the limit, else None."""
    if content_length is None:
        return None
    limit, what = body_limit(config, mimetype)
    if content_length > limit:
        return 413, too_large_message(content_length, limit, what)
    return None


def _mimetype(headers: dict[str, str]) -> str:
    return headers.get("CONTENT_TYPE", "").split(";")[0].strip().lower()


def waitress_channel(config: dict[str, Any]):  # noqa: ANN201
    """A waitress channel class that applies `body_limit` when the headers are in and answers
    every error of the web server itself (413, 400, 431 ...) as the API's JSON error."""
    from waitress.channel import HTTPChannel
    from waitress.parser import HTTPRequestParser
    from waitress.task import ErrorTask
    from waitress.utilities import RequestEntityTooLarge

    class LimitedParser(HTTPRequestParser):
        def received(self, data):  # noqa: ANN001, ANN202
            consumed = super().received(data)
            if self.headers_finished and not self.error and not self._limit_checked:
                self._limit_checked = True
                refused = refuse_oversized_body(config, _mimetype(self.headers),
                                                self.content_length or None)
                if refused:
                    self.error = RequestEntityTooLarge(refused[1])
                    self.completed = True
            return consumed

        _limit_checked = False

    class JsonErrorTask(ErrorTask):
        def execute(self):  # noqa: ANN202
            e = self.request.error
            if e.code == 413 and not e.body.startswith("The request body"):  # waitress' own
                received = self.request.content_length or self.request.body_bytes_received
                refused = refuse_oversized_body(config, _mimetype(self.request.headers),
                                                received)
                message = refused[1] if refused else too_large_message(
                    received, largest_body(config), "any request")
            else:
                message = e.body if e.code == 413 else f"{e.reason}: {e.body}."
            body = error_body(e.code, message)
            self.status = f"{e.code} {e.reason}"
            self.response_headers.append(("Content-Type", "application/json"))
            self.set_close_on_finish()
            self.content_length = len(body)
            self.write(body)

    class RepoChannel(HTTPChannel):
        parser_class = LimitedParser
        error_task_class = JsonErrorTask

    return RepoChannel


def init_body_limits(app) -> None:  # noqa: ANN001
    """Refuse an oversized body from its Content-Length, first of all (before sign-in: the
    answer says nothing about the records and costs nothing to give)."""
    from flask import request

    config = app.config["REPO"]
    app.config["MAX_CONTENT_LENGTH"] = largest_body(config)

    @app.before_request
    def _refuse_oversized_body():  # noqa: ANN202
        refused = refuse_oversized_body(config, request.mimetype or "", request.content_length)
        if refused:
            response = error(*refused)
            response.headers["Connection"] = "close"  # the unread body must not be taken
            return response                            # for the next request
        return None
