"""HTTP helpers shared by the blueprints: the service env, the caller, ETags, pages, uploads."""

from __future__ import annotations

import base64
import binascii
import io
import re
import unicodedata
from typing import Any
from urllib.parse import quote

from flask import current_app, g, request
from flask_smorest import abort
from werkzeug.datastructures import FileStorage

from ..services import uploads
from ..services.context import Actor, Env
from ..services.documents import IncomingFile
from ..services.errors import PreconditionFailed, ValidationFailed

_ETAG = re.compile(r'^(?:W/)?"?v(\d{1,18})"?$')  # 18 digits: a version fits any integer column
_IF_MATCH_SHOWN = 40  # characters of a bad If-Match repeated in the answer


def env() -> Env:
    return current_app.extensions["repo_server"]


def actor() -> Actor:
    return g.actor


IF_MATCH_PATTERN = r'^(W/)?"v[0-9]{1,18}"$'


def if_match_header(required: bool) -> dict[str, Any]:
    """The If-Match header of an operation, for its OpenAPI description."""
    when = ("Required: without it the answer is 428." if required else
            "Optional: when sent, the change is made only if the record is still at that "
            "version.")
    return {"name": "If-Match", "in": "header", "required": required,
            "schema": {"type": "string", "pattern": IF_MATCH_PATTERN},
            "example": '"v3"',
            "description": "The ETag of the record as you last read it (e.g. \"v3\"). " + when
                           + " A value that does not name the current version (an older one, or "
                             "one that is not an ETag of this service) is refused with 412 "
                             "(RFC 9110, 13.1.1)."}


def etag_for(version: int) -> str:
    return f'"v{version}"'


def expected_version() -> int | None:
    """The version named by If-Match; None when the header is absent."""
    raw = request.headers.get("If-Match")
    if raw is None:
        return None
    if not raw.strip():
        raise PreconditionFailed("If-Match is empty; send the ETag header you received with "
                                 "the record (e.g. \"v3\"), or leave If-Match out.")
    match = _ETAG.match(raw.strip())
    if not match:
        shown = raw if len(raw) <= _IF_MATCH_SHOWN else raw[:_IF_MATCH_SHOWN] + "…"
        raise PreconditionFailed(
            f"If-Match {shown!r} is not an ETag of this service; send the ETag header you "
            "received with the record (e.g. \"v3\").")
    return int(match.group(1))


def ignore_unusable_range() -> None:
    """Drop a Range header that is invalid or asks for several ranges: RFC 9110 (14.2) lets a
    server ignore it and answer 200 with the whole file, which every client understands. A
    single well-formed range beyond the end of the file still gets 416."""
    from werkzeug.http import parse_range_header

    header = request.environ.get("HTTP_RANGE")
    if header is None:
        return
    parsed = parse_range_header(header)
    if parsed is None or parsed.units != "bytes" or len(parsed.ranges) != 1:
        del request.environ["HTTP_RANGE"]


def with_etag(body: dict[str, Any], status: int = 200) -> tuple[dict[str, Any], int, dict]:
    return body, status, {"ETag": etag_for(body["version"])}


def page(items: list[Any], total: int, args: dict[str, Any]) -> dict[str, Any]:
    return {"items": items, "total": total, "page": args["page"], "page_size": args["page_size"]}


def _digest_from_headers(headers) -> str | None:  # noqa: ANN001
    """A client-sent SHA-256: RFC 9530 `Content-Digest: sha-256=:b64:` or `X-Checksum-SHA256`."""
    hex_value = headers.get("X-Checksum-SHA256")
    if hex_value:
        value = hex_value.strip().lower()
        if not re.fullmatch(r"[0-9a-f]{64}", value):
            raise ValidationFailed({"X-Checksum-SHA256": [
                "Send the SHA-256 as 64 hexadecimal characters."]})
        return value
    header = headers.get("Content-Digest")
    if not header:
        return None
    for item in header.split(","):
        algo, _, value = item.strip().partition("=")
        if algo.strip().lower() == "sha-256":
            try:
                return base64.b64decode(value.strip().strip(":"), validate=True).hex()
            except (binascii.Error, ValueError) as exc:
                raise ValidationFailed({"Content-Digest": [
                    "The sha-256 value must be base64 between colons, e.g. sha-256=:…=:."]}) from exc
    return None


def _stage(stream, max_bytes: int):  # noqa: ANN001, ANN202
    return uploads.stage_upload(env(), stream, max_bytes)


def uploaded_files() -> list[IncomingFile]:
    """Files of this request: multipart `file` parts, or the raw body (streamed, not buffered)."""
    limit = env().config["MAX_UPLOAD_BYTES"]
    files: list[IncomingFile] = []
    try:
        if request.mimetype == "multipart/form-data":
            parts: list[FileStorage] = request.files.getlist("file")
            unexpected = [k for k in request.files if k != "file"]
            if unexpected:
                raise ValidationFailed({k: ["Send files in parts named 'file'."]
                                        for k in unexpected})
            # Every digest header is checked before any byte is staged: a refusal leaves
            # nothing behind in the storage's staging folder.
            digests = [_digest_from_headers(part.headers) for part in parts]
            for part, digest in zip(parts, digests, strict=True):
                staged = _stage(part.stream, limit)
                files.append(IncomingFile(name=part.filename or "", staged=staged,
                                          media_type=part.mimetype or "application/octet-stream",
                                          expected_sha256=digest))
            return files
        name = request.args.get("name") or _disposition_name()
        cached = getattr(request, "_cached_data", None)  # read already (Idempotency-Key)
        digest = _digest_from_headers(request.headers)
        staged = _stage(io.BytesIO(cached) if cached is not None else request.stream, limit)
        files.append(IncomingFile(name=name or "", staged=staged,
                                  media_type=request.mimetype or "application/octet-stream",
                                  expected_sha256=digest))
        return files
    except BaseException:
        for f in files:
            uploads.discard(env(), f.staged)
        raise


def _disposition_name() -> str | None:
    header = request.headers.get("Content-Disposition")
    if not header:
        return None
    from werkzeug.http import parse_options_header

    _, options = parse_options_header(header)
    return options.get("filename")


def attachment(name: str) -> str:
    """A Content-Disposition for a download named `name`: the name itself in `filename*`
    (RFC 6266, UTF-8) and, for old clients, an ASCII `filename` in which Vietnamese letters
    lose only their marks ("Quyết định" -> "Quyet dinh"; NFKD alone drops "đ", which has
    no decomposition)."""
    plain = unicodedata.normalize("NFKD", name.replace("đ", "d").replace("Đ", "D"))
    plain = plain.encode("ascii", "ignore").decode("ascii").replace("\\", "_").replace('"', "_")
    header = f'attachment; filename="{plain}"'
    if plain != name:
        header += f"; filename*=UTF-8''{quote(name, safe='')}"
    return header


def abort_validation(errors: dict[str, Any], location: str = "json") -> None:
    abort(422, message="Please correct the fields listed in 'errors'.", errors={location: errors})
