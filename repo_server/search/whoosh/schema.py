"""The index schema and what a record puts in each field."""

from __future__ import annotations

from collections import Counter

from whoosh import fields

from ..analysis import (
    FIELD_SEPARATOR,
    NumberField,
    VietField,
    canonical,
    fold,
    number_parts,
    text_terms,
)
from ..backend import FILTERS, IndexRecord

TEXT_FIELDS = ("tx", "tf", "bx", "bf")
PAIR_FIELDS = frozenset({"bx", "bf"})
KEYWORD_FIELDS = ("kind", *(f.name for f in FILTERS), "year")
TITLE_WEIGHT = 2  # the title is indexed this many times: a title match weighs more


SCHEMA_VERSION = 2  # raise when the analysis changes: an index of another version is rebuilt
# the subject alone (exact, folded; syllables, bigrams): for ranking, not scored
TITLE_FIELDS = ("sx", "sf", "sbx", "sbf")


def make_schema() -> fields.Schema:
    return fields.Schema(
        id=fields.ID(stored=True, unique=True),
        dossier_id=fields.ID(stored=True),
        day=fields.ID(),  # yyyymmdd, for date ranges and date sorting
        **{name: fields.ID(stored=name == "kind") for name in KEYWORD_FIELDS},
        tx=VietField(folded=False),
        tf=VietField(folded=True),
        bx=VietField(folded=False, pairs=True),
        bf=VietField(folded=True, pairs=True),
        sx=VietField(folded=False, scorable=False),
        sf=VietField(folded=True, scorable=False),
        sbx=VietField(folded=False, pairs=True, scorable=False),
        sbf=VietField(folded=True, pairs=True, scorable=False),
        nx=NumberField(folded=False),
        nf=NumberField(folded=True),
        kx=NumberField(folded=False),  # the record's codes ("code:")
        kf=NumberField(folded=True),
        fx=VietField(folded=False, scorable=False),  # its file names ("file:")
        ff=VietField(folded=True, scorable=False),
        src=fields.STORED(),  # compressed original text, for snippets
        # no data: its name tells check() which version of the analysis built the index
        **{f"v{SCHEMA_VERSION}": fields.STORED()},
    )


def record_text(r: IndexRecord) -> str:
    # FIELD_SEPARATOR ends a phrase: no bigram joins the end of one field to the start of the
    # next (nor two values of fields_text, one per line)
    sep = f" {FIELD_SEPARATOR} "
    return sep.join([*([r.title] * TITLE_WEIGHT), r.number or "",
                     r.fields_text.replace("\n", sep), r.body])


def record_title_terms(r: IndexRecord) -> dict[str, Counter]:
    t = r.title
    return {"sx": Counter(text_terms(t, False, False)), "sf": Counter(text_terms(t, True, False)),
            "sbx": Counter(text_terms(t, False, True)), "sbf": Counter(text_terms(t, True, True))}


def record_files(r: IndexRecord) -> dict[str, Counter]:
    names = " ".join(r.files)
    return {"fx": Counter(text_terms(names, False, False)),
            "ff": Counter(text_terms(names, True, False))}


def record_codes(r: IndexRecord) -> tuple[list[str], list[str]]:
    codes = canonical(" ".join(r.codes))
    return number_parts(codes), number_parts(fold(codes))


def record_stored(r: IndexRecord) -> dict:
    # whoosh compresses each document's stored fields (zlib): src is kept as plain text
    src = (r.title, r.number or "", r.fields_text, r.body)
    return {"id": r.id, "kind": r.kind, "dossier_id": r.dossier_id, "src": src}


def record_keywords(r: IndexRecord) -> dict[str, str]:
    return {
        "id": r.id,
        "dossier_id": r.dossier_id,
        "kind": r.kind,
        **{f.name: getattr(r, f.name) or "" for f in FILTERS},
        "year": str(r.date.year) if r.date else "",
        "day": r.date.strftime("%Y%m%d") if r.date else "",
    }


def record_numbers(r: IndexRecord) -> tuple[list[str], list[str]]:
    number = canonical(r.number or "")
    return number_parts(number), number_parts(fold(number))
