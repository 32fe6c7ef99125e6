"""/api/v1/.../documents: documents (văn bản), their files and their versions."""

from __future__ import annotations

import json

from flask import request, send_file
from flask.views import MethodView
from marshmallow import ValidationError

from ..services import documents as service
from ..services import uploads
from ..services.errors import ValidationFailed
from .blueprint import Blueprint
from .common import (
    actor,
    attachment,
    env,
    expected_version,
    if_match_header,
    ignore_unusable_range,
    page,
    uploaded_files,
    with_etag,
)
from .schemas import (
    AsOfQuerySchema,
    DocumentCreateSchema,
    DocumentListQuerySchema,
    DocumentPageSchema,
    DocumentSchema,
    DocumentUpdateSchema,
    DownloadQuerySchema,
    FileListSchema,
    UploadQuerySchema,
    VersionListSchema,
)

blp = Blueprint("documents", __name__, url_prefix="/api/v1",
                description="Documents (văn bản) in dossiers, their files and versions.")

DOCUMENT_EXAMPLE = {
    "type_code": "02",
    "code_number": "15",
    "code_notation": "QĐ-UBND",
    "issued_date": "2025-07-20",
    "organ_name": "Ủy ban nhân dân phường An Cựu",
    "subject": "Quyết định về việc cấp giấy phép xây dựng nhà ở riêng lẻ",
    "signer": {"position": "Chủ tịch", "full_name": "Lê Văn Cường"},
    "direction": "outgoing",
    "page_count": 2,
}

_FILE_PART = {"type": "array", "items": {"type": "string", "format": "binary"},
              "description": "File parts, each named 'file', with its file name; a part may "
                             "carry Content-Digest (sha-256) or X-Checksum-SHA256."}
CREATE_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/DocumentCreate"},
                             "example": DOCUMENT_EXAMPLE},
        "multipart/form-data": {
            "schema": {"type": "object", "required": ["metadata"], "properties": {
                "metadata": {"type": "string",
                             "description": "The document's metadata as a JSON text "
                                            "(DocumentCreate)."},
                "file": _FILE_PART}},
            "encoding": {"metadata": {"contentType": "application/json"}}},
    },
}
FILES_BODY = {
    "required": True,
    "description": "multipart/form-data with 'file' parts, or the raw bytes of one file with "
                   "its Content-Type and a name (?name= or Content-Disposition).",
    "content": {
        "multipart/form-data": {"schema": {"type": "object", "properties": {"file": _FILE_PART}}},
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        "application/pdf": {"schema": {"type": "string", "format": "binary"}},
    },
}
DIGEST_HEADERS = [
    {"name": "Content-Digest", "in": "header", "required": False,
     "schema": {"type": "string"}, "example": "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
     "description": "RFC 9530 digest of a raw body; checked (422 on mismatch)."},
    {"name": "X-Checksum-SHA256", "in": "header", "required": False,
     "schema": {"type": "string"}, "description": "SHA-256 of a raw body in hex; checked."},
]


_CREATE_SCHEMA = DocumentCreateSchema()  # building a schema is costly; loading is reentrant


def _load_create_metadata() -> dict:
    if request.mimetype == "multipart/form-data":
        raw = request.form.get("metadata")
        if raw is None:
            raise ValidationFailed({"metadata": ["Send the document's metadata as a JSON text in "
                                                 "a form field named 'metadata'."]})
        try:
            payload = json.loads(raw)
        except ValueError as exc:
            raise ValidationFailed({"metadata": [f"This is not valid JSON: {exc}."]}) from exc
    else:
        payload = request.get_json(silent=True)
        if payload is None:
            raise ValidationFailed({"json": ["Send the document's metadata as a JSON object "
                                             "(Content-Type: application/json), or as multipart "
                                             "form data with its files."]})
    try:
        return _CREATE_SCHEMA.load(payload)
    except ValidationError as exc:
        raise ValidationFailed(exc.messages_dict if isinstance(exc.messages, dict)
                               else {"metadata": exc.messages}) from exc


@blp.route("/dossiers/<uuid:dossier_id>/documents")
class DossierDocuments(MethodView):
    @blp.arguments(DocumentListQuerySchema, location="query")
    @blp.response(200, DocumentPageSchema)
    def get(self, args, dossier_id):
        """List the documents of a dossier (now, or as they were at `as_of`)"""
        items, total = service.list_documents(env(), str(dossier_id), actor(), page=args["page"],
                                              page_size=args["page_size"],
                                              as_of=args.get("as_of"))
        return page(items, total, args)

    @blp.doc(requestBody=CREATE_BODY)
    @blp.response(201, DocumentSchema, headers={"ETag": {"schema": {"type": "string"}}})
    @blp.alt_response(409, description="The dossier is not open.")
    @blp.alt_response(413, description="A file is larger than the upload limit.")
    @blp.alt_response(422, description="Invalid metadata, file name, or digest mismatch.")
    def post(self, dossier_id):
        """Add a document, with its files in the same request

        JSON for metadata only, or multipart/form-data with a `metadata` JSON part and `file`
        parts: the document and its files become version 1 together.
        """
        data = _load_create_metadata()
        files = uploaded_files() if request.mimetype == "multipart/form-data" else []
        return with_etag(service.create_document(env(), actor(), str(dossier_id), data, files),
                         201)


@blp.route("/documents/<uuid:document_id>")
class DocumentItem(MethodView):
    @blp.arguments(AsOfQuerySchema, location="query")
    @blp.response(200, DocumentSchema)
    @blp.alt_response(410, description="Destroyed after an approved disposal review: the "
                      "answer names `review_id`, `record_id` (the destruction record) and "
                      "`destroyed_at`. Users of other fonds get 404.")
    def get(self, args, document_id):
        """Get a document (now, or as it was at `as_of`)"""
        return with_etag(service.get_document(env(), str(document_id), actor(), as_of=args.get("as_of")))

    @blp.arguments(DocumentUpdateSchema, example={"subject": "Quyết định về việc cấp giấy phép "
                                                             "xây dựng (đính chính)"})
    @blp.response(200, DocumentSchema)
    @blp.alt_response(412, description="If-Match names an older version.")
    @blp.alt_response(428, description="If-Match is missing.")
    @blp.doc(parameters=[if_match_header(True)])
    def patch(self, data, document_id):
        """Correct a document's metadata (If-Match required)"""
        return with_etag(service.update_document(env(), actor(), str(document_id), data,
                                                 expected_version()))


@blp.route("/documents/<uuid:document_id>/versions")
class DocumentVersions(MethodView):
    @blp.response(200, VersionListSchema)
    def get(self, document_id):
        """List a document's versions"""
        return {"items": service.list_versions(env(), str(document_id), actor())}


@blp.route("/documents/<uuid:document_id>/versions/<int:number>")
class DocumentVersion(MethodView):
    @blp.response(200, DocumentSchema)
    def get(self, document_id, number):
        """Get a document's metadata and file list as in one version"""
        return service.version_view(env(), str(document_id), number, actor())


@blp.route("/documents/<uuid:document_id>/files")
class DocumentFiles(MethodView):
    @blp.response(200, FileListSchema)
    def get(self, document_id):
        """List the files of a document's current version"""
        return {"items": service.get_document(env(), str(document_id), actor())["files"]}

    @blp.arguments(UploadQuerySchema, location="query")
    @blp.doc(requestBody=FILES_BODY, parameters=[*DIGEST_HEADERS, if_match_header(False)])
    @blp.response(201, DocumentSchema)
    @blp.alt_response(409, description="A file with this name exists (use PUT to replace).")
    @blp.alt_response(413, description="The file is larger than the upload limit.")
    @blp.alt_response(422, description="Bad file name, or the digest does not match.")
    def post(self, args, document_id):
        """Attach files to a document (a new version)

        Streamed: multipart `file` parts, or the raw body with `?name=`.
        """
        files = uploaded_files()
        return with_etag(service.add_files(env(), actor(), str(document_id), files,
                                           expected_version()), 201)


@blp.route("/documents/<uuid:document_id>/files/<path:name>")
class DocumentFile(MethodView):
    @blp.arguments(DownloadQuerySchema, location="query")
    @blp.response(200, description="The file's bytes (Range and conditional GET supported; "
                                   "ETag is the SHA-256). A whole-file answer is checked "
                                   "against the recorded digest as it streams: if the stored "
                                   "bytes changed on disk the transfer stops before its last "
                                   "byte (fewer bytes than Content-Length) and the object is "
                                   "reported damaged in /health and /fixity.",
                  content_type="application/octet-stream")
    @blp.alt_response(206, description="Partial content for a Range request.")
    @blp.alt_response(304, description="Not modified (If-None-Match).")
    @blp.alt_response(410, description="Destroyed after an approved disposal review: the "
                      "answer names `review_id`, `record_id` (the destruction record) and "
                      "`destroyed_at`. Users of other fonds get 404.")
    def get(self, args, document_id, name):
        """Download a file, now or as in an earlier version"""
        ignore_unusable_range()
        download = service.download(env(), str(document_id), name, actor(), args.get("version"))
        try:
            response = send_file(download.file, mimetype=download.media_type,
                                 as_attachment=True, download_name=name, etag=download.sha256,
                                 last_modified=download.modified, conditional=False,
                                 max_age=0 if args.get("version") is None else 31536000)
            response.content_length = download.size
            response = response.make_conditional(request.environ, accept_ranges=True,
                                                 complete_length=download.size)
        except BaseException:
            download.file.close()
            raise
        if response.status_code == 200 and request.method == "GET":
            # The whole file: checked against its digest as it streams, the last chunk held
            # back until the digest is known (a damaged file is a broken transfer, never a
            # complete wrong copy). Ranges are served as they are (see decision 0014).
            response.response = download.verified()
        response.headers["Content-Disposition"] = attachment(name)
        response.headers["X-Checksum-SHA256"] = download.sha256
        return response

    @blp.doc(requestBody=FILES_BODY, parameters=[*DIGEST_HEADERS, if_match_header(True)])
    @blp.response(200, DocumentSchema)
    @blp.alt_response(412, description="If-Match names an older version.")
    @blp.alt_response(428, description="If-Match is missing.")
    def put(self, document_id, name):
        """Replace a file (If-Match required); the old bytes stay in the old version"""
        files = uploaded_files()
        if len(files) != 1:
            for f in files:
                uploads.discard(env(), f.staged)
            raise ValidationFailed({"file": ["Send exactly one file to replace it."]})
        return with_etag(service.replace_file(env(), actor(), str(document_id), name, files[0],
                                              expected_version()))

    @blp.response(200, DocumentSchema)
    @blp.alt_response(412, description="If-Match names an older version.")
    @blp.alt_response(428, description="If-Match is missing.")
    @blp.doc(parameters=[if_match_header(True)])
    def delete(self, document_id, name):
        """Remove a file from the current version (If-Match required)

        Earlier versions keep the file; nothing is destroyed outside an approved disposal.
        """
        return with_etag(service.remove_file(env(), actor(), str(document_id), name,
                                             expected_version()))
