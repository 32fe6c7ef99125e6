"""/api/v1/search: Vietnamese full-text search over documents and dossiers."""

from __future__ import annotations

from datetime import date

from flask import Response, current_app
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from ..services import search as service
from ..services.search import FILTERS
from .blueprint import Blueprint
from .common import actor, env
from .schemas import StrictSchema

blp = Blueprint("search", __name__, url_prefix="/api/v1",
                description="Full-text search, with or without Vietnamese diacritics.")

SEARCH_DESCRIPTION = """Search documents (or dossiers) by words and metadata.

`q` syntax:
- words: every word must match (AND), anywhere in the subject, the document number, the other
  metadata or the text, in any order (`on dinh` also finds "ông Ổn … quyết định"). Words typed
  next to each other rank higher where they stand next to each other; they never filter.
- `"a phrase"`: syllables next to each other, in order (quotes are the only way to ask for
  adjacency). Punctuation inside a phrase or a field (dashes, commas, slashes, colons,
  brackets) does not break it: `"tài chính kế hoạch"` finds "Phòng Tài chính – Kế hoạch", and
  so does the phrase pasted with its dash; a sentence end (`. ; ! ?`) does break it.
- `-word`, `-"phrase"`, `-file:docx`: exclude.
- `OR` joins the run of words before it and the run after it (a run ends at a sentence end, a
  phrase, a number or another OR): `quyết định OR công văn. 2024`.
- document numbers are found whole or by parts (`15/QĐ-UBND`, `QĐ-UBND`, `15`).
- field prefixes: `number:15/QĐ-UBND` (the document number only), `code:X97` (the record's own
  codes: doc_code, file_code, archive_code, paper_file_code, info_sign, external_ref; whole or
  by parts), `file:pdf` or `file:"tờ trình"` (its file names). Plain words do not match codes
  or file names.

Without `exact`, diacritics and case are ignored (`uy ban` finds `Ủy ban`, `Uỷ ban` and
`ỦY BAN`); with `exact=true`, `bàn` matches neither `bán` nor `bản`. Ranking: words matched
with the diacritics as typed first; then the phrase in the subject, every word in the subject,
the phrase in the text, the words scattered; then BM25; on equal scores the more recent.
An empty `q` with filters lists by date. Results are limited to the caller's fonds scope and
access modes (every reading role may search, `integration` included).
"""

def _filter_field(f) -> fields.Field:  # noqa: ANN001 - a search.backend.Filter
    check = validate.OneOf(f.choices) if f.choices else validate.Length(max=f.max_length)
    return fields.List(fields.String(validate=check), metadata={"description": f.description})


# the filters come from the one list in search/backend.py (FILTERS)
SearchQuerySchema = StrictSchema.from_dict({
    "q": fields.String(load_default="", validate=validate.Length(max=500), metadata={
        "description": "Words, \"phrases\", -exclusions, OR, number:/code:/file: prefixes "
                       "(see the operation's description). Examples: `ke hoach dau tu`, "
                       "`\"Tài chính – Kế hoạch\"`, `15/QĐ-UBND`, `code:X97 file:pdf -file:docx`.",
        "example": '"Tài chính – Kế hoạch" file:pdf'}),
    "exact": fields.Boolean(load_default=False),
    "kind": fields.String(load_default="document",
                          validate=validate.OneOf(["document", "dossier"])),
    **{f.name: _filter_field(f) for f in FILTERS},
    "include_predecessors": fields.Boolean(load_default=False, metadata={
        "description": "Also search the fonds merged into the given fonds_code(s)."}),
    "dossier_id": fields.UUID(),
    "date_from": fields.Date(),
    "date_to": fields.Date(),
    "sort": fields.String(load_default="relevance",
                          validate=validate.OneOf(["relevance", "date_desc", "date_asc"])),
    "page": fields.Integer(load_default=1, validate=validate.Range(min=1, max=500)),
    "page_size": fields.Integer(load_default=20, validate=validate.Range(min=1, max=100)),
    "facets": fields.Boolean(load_default=True),
    "snippets": fields.Boolean(load_default=True),
}, name="SearchQuerySchema")


class SearchHitSchema(Schema):
    id = fields.String()
    kind = fields.String()
    dossier_id = fields.String()
    score = fields.Float(allow_none=True)
    highlights = fields.Dict(keys=fields.String(), values=fields.String(),
                             metadata={"description": "Field -> snippet; matched words are in "
                                                      "<mark>…</mark>, the rest is HTML-escaped."})
    title = fields.String()
    number = fields.String(allow_none=True)
    code = fields.String(metadata={"description": "doc_code or file_code."})
    date = fields.Date(allow_none=True)
    fonds_code = fields.String()
    type_code = fields.String(allow_none=True)
    state = fields.String(allow_none=True)


class SearchResultSchema(Schema):
    items = fields.List(fields.Nested(SearchHitSchema))
    total = fields.Integer()
    total_is_estimate = fields.Boolean(metadata={
        "description": "True when the total and the facet counts are estimates, not counts: "
                       "the PostgreSQL search backend counts up to SEARCH_PG_EXACT_LIMIT "
                       "matches (2,000) and estimates above (decision 0022); whoosh always "
                       "counts.", "example": False})
    page = fields.Integer()
    page_size = fields.Integer()
    facets = fields.Dict(keys=fields.String(), values=fields.Dict(keys=fields.String(),
                                                                  values=fields.Integer()))


@blp.route("/search")
class Search(MethodView):
    @blp.arguments(SearchQuerySchema, location="query")
    @blp.response(200, SearchResultSchema)
    @blp.alt_response(400, description="The query cannot be read (e.g. an unclosed quote).")
    @blp.alt_response(503, description="The search index is being rebuilt.")
    @blp.doc(description=SEARCH_DESCRIPTION)
    def get(self, args):
        """Search documents and dossiers"""
        return answer(service.search(env(), reader(), args, actor()))


def answer(result: dict) -> Response:
    """The result as SearchResultSchema describes it, written directly: the result holds only
    strings, numbers, dicts and dates, and a marshmallow dump cost more per item than the
    search itself (tests/api/test_search_api.py checks both give the same JSON)."""
    items = [{k: v.isoformat() if isinstance(v, date) else v for k, v in item.items()}
             for item in result["items"]]
    return current_app.json.response({**result, "items": items})


def reader():  # noqa: ANN201
    """This process's read-only view of the index, opened once and refreshed per search."""
    backend = current_app.extensions.get("repo_search")
    if backend is None or backend.check() is not None:
        # first use, or the index was missing or rebuilt since: open it afresh
        if backend is not None:
            backend.close()
        backend = service.open_reader(env())
        current_app.extensions["repo_search"] = backend
    return backend
