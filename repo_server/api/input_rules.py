"""The input rules, in one place: which text the API accepts and how it keeps it.

Every piece of text a client sends (JSON bodies, the text fields of a multipart form, query
parameters) passes here. Refused: lone surrogates (JSON escapes such as "\\ud800" that encode no
character and cannot be written as UTF-8), control characters other than tab and line breaks
(NUL and the like), bytes that are not UTF-8. Kept: text in Unicode NFC, the composed form, so
that "Hồ sơ" sent decomposed (NFD, as some Mac and PDF tools do) and composed is one string for
filters, sorting and uniqueness. File bytes are never touched.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from marshmallow import ValidationError

from .security import error

_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

SURROGATE_MESSAGE = ("Text may not contain lone surrogates (such as the JSON escape \\ud800, "
                     "half of a character); send the whole character.")
CONTROL_MESSAGE = ("Text may not contain control characters (such as NUL); remove them and "
                   "send it again.")
BLANK_MESSAGE = "Write something other than spaces."
NOT_UTF8_MESSAGE = "This text is not valid UTF-8; send it encoded as UTF-8."


def text_problem(value: str) -> str | None:
    """Why this text is refused, or None when it is acceptable."""
    if _SURROGATE.search(value):
        return SURROGATE_MESSAGE
    if _CONTROL.search(value):
        return CONTROL_MESSAGE
    return None


def _printable(key: Any) -> str:
    """A key that is safe to name in an error (a bad key is shown escaped)."""
    text = str(key)
    return text.encode("ascii", "backslashreplace").decode() if text_problem(text) else text


def first_problem(value: Any, path: str = "") -> tuple[str, str] | None:
    """(dotted field path, message) of the first text that breaks the rules, keys included."""
    if isinstance(value, str):
        problem = text_problem(value)
        return (path or "_schema", problem) if problem else None
    if isinstance(value, Mapping):
        items = value.items()
    elif isinstance(value, list | tuple):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        here = f"{path}.{_printable(key)}" if path else _printable(key)
        if isinstance(key, str) and text_problem(key):
            return here, text_problem(key) or ""
        found = first_problem(item, here)
        if found:
            return found
    return None


def refuse_bad_text(data: Any) -> None:
    """Raise a ValidationError naming the first field whose text breaks the rules."""
    found = first_problem(data)
    if found:
        raise ValidationError(found[1], found[0])


def nfc(value: Any) -> Any:
    """The same data with every text in NFC (dicts and lists are copied, other values kept)."""
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, dict):
        return {nfc(k): nfc(v) for k, v in value.items()}
    if isinstance(value, list):
        return [nfc(v) for v in value]
    return value


def not_blank(value: str) -> None:
    """A marshmallow validator: a title or a name of only spaces says nothing."""
    if isinstance(value, str) and not value.strip():
        raise ValidationError(BLANK_MESSAGE)


def query_problems(query_string: bytes) -> dict[str, list[str]]:
    """Parameters of a raw query string whose text breaks the rules (bytes, percent escapes)."""
    try:
        raw = query_string.decode("ascii")
    except UnicodeDecodeError:
        return {"_query": [NOT_UTF8_MESSAGE + " (Percent-encode the query string.)"]}
    errors: dict[str, list[str]] = {}
    for name, value in parse_qsl(raw, keep_blank_values=True, encoding="latin-1"):
        name_b, value_b = name.encode("latin-1"), value.encode("latin-1")
        try:
            name, value = name_b.decode("utf-8"), value_b.decode("utf-8")
        except UnicodeDecodeError:
            errors[_printable(name_b.decode("utf-8", "backslashreplace"))] = [NOT_UTF8_MESSAGE]
            continue
        problem = text_problem(name) or text_problem(value)
        if problem:
            errors[_printable(name)] = [problem]
    return errors


def form_problems(form: Mapping[str, Any], filenames: list[tuple[str, str]]
                  ) -> dict[str, list[str]]:
    """Text fields and file names of a parsed multipart form that break the rules.

    Werkzeug decodes form fields with errors="replace", so bytes that were not UTF-8 arrive as
    U+FFFD: in a form field, that character is taken for what it nearly always is, damage.
    """
    errors: dict[str, list[str]] = {}
    for name in form:
        for value in form.getlist(name) if hasattr(form, "getlist") else [form[name]]:
            problem = ("\ufffd" in value and NOT_UTF8_MESSAGE) or text_problem(value)
            if problem:
                errors[_printable(name)] = [problem]
    for part, filename in filenames:
        problem = ("\ufffd" in filename and NOT_UTF8_MESSAGE) or text_problem(filename)
        if problem:
            errors[_printable(part)] = [f"File name: {problem}"]
    return errors


def init_input_rules(app) -> None:  # noqa: ANN001
    """Check the query string and the text fields of a multipart form of every API request
    (JSON bodies and parsed queries are checked by the schemas, api/schemas.py StrictSchema)."""
    from flask import request

    @app.before_request
    def _check_text_outside_schemas():  # noqa: ANN202
        if not request.path.startswith("/api/"):
            return None
        errors: dict[str, dict[str, list[str]]] = {}
        if request.query_string:
            found = query_problems(request.query_string)
            if found:
                errors["query"] = found
        if request.mimetype == "multipart/form-data" and request.method in ("POST", "PUT"):
            try:
                filenames = [(part, f.filename or "") for part in request.files
                             for f in request.files.getlist(part)]
                found = form_problems(request.form, filenames)
            except UnicodeDecodeError:  # a part header that is not UTF-8
                found = {"_form": [NOT_UTF8_MESSAGE]}
            if found:
                errors["form"] = found
        if not errors:
            return None
        unreadable = any(NOT_UTF8_MESSAGE in m for where in errors.values()
                         for messages in where.values() for m in messages)
        return error(400 if unreadable else 422,
                     "Please correct the text of the fields listed in 'errors'.", errors)


# ---------------------------------------------------------------- the rules in the OpenAPI

TEXT_PATTERN = "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f]*$"
TEXT_RULE = ("Text everywhere (JSON bodies, form fields, query parameters) must be UTF-8 without "
             "control characters other than tab and line breaks, and without lone surrogates "
             "(\\ud800–\\udfff); it is stored in Unicode NFC.")


def _resolve(schema: Any, schemas: dict[str, Any]) -> dict[str, Any]:
    ref = (schema or {}).get("$ref", "")
    return schemas.get(ref.rsplit("/", 1)[-1], {}) if ref else (schema or {})


def document_in_spec(spec: dict[str, Any]) -> None:
    """Write the text rule into the OpenAPI description: a `pattern` on every free-text string
    of a request (body, form field, query or header parameter) and a sentence in the schemas."""
    schemas = spec.get("components", {}).get("schemas", {})
    seen: set[str] = set()

    def visit(schema: Any) -> None:
        if not isinstance(schema, dict):
            return
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            name = ref.rsplit("/", 1)[1]
            if name not in seen and name in schemas:
                seen.add(name)
                visit(schemas[name])
            return
        any_of = schema.get("anyOf") or []
        if len(any_of) == 2 and {"type": "object", "nullable": True} in any_of:
            # apispec writes a nullable nested object as "any object, or this one": say
            # "this one, or null" (unknown fields are refused there too)
            ref = next(s for s in any_of if s != {"type": "object", "nullable": True})
            del schema["anyOf"]
            schema.update({"allOf": [ref], "nullable": True})
        if (schema.get("type") == "string" and not schema.get("format")
                and "enum" not in schema and "pattern" not in schema):
            schema["pattern"] = TEXT_PATTERN
        for key in ("properties", "patternProperties"):
            for sub in (schema.get(key) or {}).values():
                visit(sub)
        for key in ("items", "additionalProperties", "not"):
            visit(schema.get(key))
        for key in ("allOf", "anyOf", "oneOf"):
            for sub in schema.get(key) or []:
                visit(sub)

    for operations in spec.get("paths", {}).values():
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete") or not isinstance(
                    operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                if parameter.get("in") in ("query", "header"):
                    visit(parameter.get("schema"))
            body = operation.get("requestBody") or {}
            for media_type, media in body.get("content", {}).items():
                visit(media.get("schema"))
                if media_type == "application/json" and len(body["content"]) == 1:
                    # an empty JSON body is read as {}: required only if a field is
                    body["required"] = bool(_resolve(media.get("schema"), schemas).get("required"))
    for name in seen:
        schema = schemas[name]
        schema["description"] = (schema.get("description", "") + "\n\n" + TEXT_RULE).strip()
