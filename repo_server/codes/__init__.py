"""Code lists of the standards (TT 05/2025, NĐ 30/2020) and the default retention schedule.

This module is the only place in the code base that knows code values. The lists are data:
one JSON file per list in this package, each replaceable by an agency through an override
directory (``<override_dir>/<name>.json``) without a code change. The default retention
schedule is ``retention_schedule.csv`` in this package.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

__all__ = [
    "CodeEntry",
    "CodeList",
    "CodeListError",
    "CodeLists",
    "load_code_lists",
    "load_retention_schedule",
]

CONFIDENCE_TAGS = ("V", "S", "B")
_LIST_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_CORE_ENTRY_KEYS = ("code", "name_vi", "name_en")
_MAX_SHOWN = 12
SCHEDULE_COLUMNS = ("code", "group", "title", "years", "permanent", "legal_basis", "note")
MIN_RETENTION_YEARS = 2
MAX_RETENTION_YEARS = 70


class CodeListError(ValueError):
    """A code list or the retention schedule is malformed (the message names file and problem)."""


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


@dataclass(frozen=True)
class CodeEntry:
    """One code of a list: code, Vietnamese and English names, and any further attributes."""

    code: str
    name_vi: str
    name_en: str | None
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def to_dict(self) -> dict[str, Any]:
        """The entry as a JSON-ready dict (core fields first, then the extra attributes)."""
        return {"code": self.code, "name_vi": self.name_vi, "name_en": self.name_en} | _thaw(
            self.extra
        )


class CodeList:
    """An immutable code list with its metadata and entries in their published order."""

    __slots__ = ("name", "title_vi", "title_en", "source", "confidence", "entries", "_index")

    def __init__(
        self,
        name: str,
        title_vi: str,
        title_en: str | None,
        source: str,
        confidence: str,
        entries: Iterable[CodeEntry],
    ) -> None:
        self.name = name
        self.title_vi = title_vi
        self.title_en = title_en
        self.source = source
        self.confidence = confidence
        self.entries: tuple[CodeEntry, ...] = tuple(entries)
        index: dict[str, CodeEntry] = {}
        for entry in self.entries:
            if entry.code in index:
                raise CodeListError(f"code list {name!r}: code {entry.code!r} appears twice")
            index[entry.code] = entry
        self._index = MappingProxyType(index)

    def get(self, code: Any) -> CodeEntry | None:
        """The entry for ``code``, or None if the code is not in the list."""
        if not isinstance(code, str):
            return None
        return self._index.get(code)

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and code in self._index

    def __iter__(self) -> Iterator[CodeEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def codes(self) -> list[str]:
        """All codes in published order."""
        return [e.code for e in self.entries]

    def to_dict(self) -> dict[str, Any]:
        """The list as a JSON-ready dict, in the shape of the JSON files (as served by the API)."""
        return {
            "name": self.name,
            "title_vi": self.title_vi,
            "title_en": self.title_en,
            "source": self.source,
            "confidence": self.confidence,
            "entries": [e.to_dict() for e in self.entries],
        }

    def __repr__(self) -> str:
        return f"CodeList({self.name!r}, {len(self.entries)} entries)"


class CodeLists:
    """All code lists by name, with validation helpers for the rest of the code base."""

    def __init__(self, lists: Mapping[str, CodeList]) -> None:
        self._lists = MappingProxyType(dict(lists))

    def names(self) -> list[str]:
        """Names of all loaded lists, sorted."""
        return sorted(self._lists)

    def __getitem__(self, name: str) -> CodeList:
        try:
            return self._lists[name]
        except KeyError:
            raise KeyError(
                f"no code list named {name!r}; known lists: {', '.join(self.names())}"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._lists

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def get(self, name: str) -> CodeList | None:
        """The list called ``name``, or None."""
        return self._lists.get(name)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """All lists as JSON-ready dicts keyed by name."""
        return {name: self._lists[name].to_dict() for name in self.names()}

    def is_valid(self, name: str, code: Any) -> bool:
        """True if ``code`` is a code of list ``name`` (KeyError if there is no such list)."""
        return code in self[name]

    def describe_invalid(self, name: str, code: Any) -> str:
        """A short plain-words message for a clerk: what is wrong and which codes are allowed."""
        lst = self.get(name)
        label = name.replace("_", " ")
        if lst is None:
            return f"{label!r} is not a known code list; known lists: {', '.join(self.names())}"
        shown = [f"{e.code} ({e.name_vi})" for e in lst.entries[:_MAX_SHOWN]]
        choices = ", ".join(shown) + (", …" if len(lst.entries) > _MAX_SHOWN else "")
        if code is None or (isinstance(code, str) and not code.strip()):
            head = f"no {label} code was given"
        else:
            head = f"{str(code)!r} is not a {label} code"
            hint = _near_code(lst, code)
            if hint is not None:
                head += f" (did you mean {hint!r}?)"
        return f"{head}; use one of: {choices}"

    def retention_years(self, code: str, explicit_years: int | None = None) -> int | None:
        """Years of retention for a retention code; None means permanent.

        The code "other" (07) needs ``explicit_years`` within its bounds (2–70). For the other
        codes ``explicit_years`` may be omitted; if given it must equal the code's own value.
        Raises ValueError with a plain-words message otherwise.
        """
        entry = self["retention"].get(code)
        if entry is None:
            raise ValueError(self.describe_invalid("retention", code))
        ex = entry.extra
        if explicit_years is not None and (
            isinstance(explicit_years, bool) or not isinstance(explicit_years, int)
        ):
            raise ValueError(
                f"retention years must be a whole number of years, not {explicit_years!r}"
            )
        if ex.get("permanent"):
            if explicit_years is not None:
                raise ValueError(
                    f"retention {entry.code} ({entry.name_vi}) is permanent; "
                    f"do not give a number of years (got {explicit_years})"
                )
            return None
        if ex.get("requires_years"):
            lo = ex.get("min_years", MIN_RETENTION_YEARS)
            hi = ex.get("max_years", MAX_RETENTION_YEARS)
            if explicit_years is None:
                raise ValueError(
                    f"retention {entry.code} ({entry.name_vi}) needs the number of years "
                    f"({lo} to {hi})"
                )
            if not lo <= explicit_years <= hi:
                raise ValueError(
                    f"retention {entry.code} ({entry.name_vi}): {explicit_years} years is out of "
                    f"range; give a whole number of years from {lo} to {hi}"
                )
            return explicit_years
        years = ex.get("years")
        if explicit_years is not None and explicit_years != years:
            raise ValueError(
                f"retention {entry.code} ({entry.name_vi}) means {years} years, but "
                f"{explicit_years} years was given; leave the years out, or use "
                f"{self._other_retention_hint()}"
            )
        return years

    def _other_retention_hint(self) -> str:
        for e in self["retention"].entries:
            if e.extra.get("requires_years"):
                return f"code {e.code} ({e.name_vi}) with the number of years"
        return "the code with the matching number of years"

    def abbreviation(self, type_code: str) -> str | None:
        """NĐ 30 abbreviation of a document type code (None for types without one).

        Raises ValueError if ``type_code`` is not a document type code.
        """
        entry = self["document_type"].get(type_code)
        if entry is None:
            raise ValueError(self.describe_invalid("document_type", type_code))
        return entry.extra.get("abbreviation")


def _near_code(lst: CodeList, code: Any) -> str | None:
    """A likely intended code: '8' or 8 -> '08'; case-insensitive match ('sy' -> 'SY')."""
    text = str(code).strip()
    if text in lst and text != code:
        return text
    if text.isdigit():
        for cand in (text.zfill(2), text.lstrip("0").zfill(2)):
            if cand in lst and cand != code:
                return cand
    folded = {c.casefold(): c for c in lst.codes()}
    cand = folded.get(text.casefold())
    if cand is not None and cand != code:
        return cand
    return None


# --------------------------------------------------------------------------- loading lists


def _require_str(obj: Mapping[str, Any], key: str, where: str, *, optional: bool = False) -> None:
    value = obj.get(key)
    if value is None and optional:
        return
    if not isinstance(value, str) or not value.strip():
        raise CodeListError(f"{where}: {key!r} must be a non-empty text")


def _check_retention_entry(entry: Mapping[str, Any], where: str) -> None:
    permanent = entry.get("permanent")
    if not isinstance(permanent, bool):
        raise CodeListError(f"{where}: retention entries need 'permanent': true or false")
    years = entry.get("years")
    if permanent:
        if years is not None:
            raise CodeListError(f"{where}: a permanent retention entry must have 'years': null")
        return
    if entry.get("requires_years"):
        lo = entry.get("min_years", MIN_RETENTION_YEARS)
        hi = entry.get("max_years", MAX_RETENTION_YEARS)
        if not all(isinstance(x, int) and not isinstance(x, bool) for x in (lo, hi)) or not (
            MIN_RETENTION_YEARS <= lo <= hi <= MAX_RETENTION_YEARS
        ):
            raise CodeListError(
                f"{where}: 'min_years'/'max_years' must be whole numbers with "
                f"{MIN_RETENTION_YEARS} <= min_years <= max_years <= {MAX_RETENTION_YEARS}"
            )
        return
    if (
        not isinstance(years, int)
        or isinstance(years, bool)
        or not MIN_RETENTION_YEARS <= years <= MAX_RETENTION_YEARS
    ):
        raise CodeListError(
            f"{where}: a time-limited retention entry needs 'years' from {MIN_RETENTION_YEARS} "
            f"to {MAX_RETENTION_YEARS} (or 'requires_years': true)"
        )


def _parse_list(text: str, source: str, expected_name: str) -> CodeList:
    """Parse and validate one list; ``source`` names the file in error messages."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CodeListError(f"{source}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise CodeListError(f"{source}: the file must hold one JSON object")
    _require_str(data, "name", source)
    name = data["name"]
    if name != expected_name:
        raise CodeListError(
            f"{source}: 'name' is {name!r} but the file is named {expected_name}.json; "
            "they must match"
        )
    _require_str(data, "title_vi", source)
    _require_str(data, "title_en", source, optional=True)
    _require_str(data, "source", source)
    if data.get("confidence") not in CONFIDENCE_TAGS:
        raise CodeListError(f"{source}: 'confidence' must be one of {', '.join(CONFIDENCE_TAGS)}")
    raw_entries = data.get("entries")
    if not isinstance(raw_entries, list) or not raw_entries:
        raise CodeListError(f"{source}: 'entries' must be a non-empty list")
    entries: list[CodeEntry] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_entries, start=1):
        where = f"{source}: entry {i}"
        if not isinstance(raw, dict):
            raise CodeListError(f"{where}: must be a JSON object")
        code = raw.get("code")
        if not isinstance(code, str) or not code.strip() or code != code.strip():
            raise CodeListError(
                f"{where}: 'code' must be a non-empty text without spaces, e.g. \"01\" "
                f"(got {code!r})"
            )
        where = f"{source}: entry {i} (code {code!r})"
        if code in seen:
            raise CodeListError(f"{where}: duplicate code; codes must be unique within a list")
        seen.add(code)
        _require_str(raw, "name_vi", where)
        _require_str(raw, "name_en", where, optional=True)
        if name == "retention":
            _check_retention_entry(raw, where)
        if "abbreviation" in raw and raw["abbreviation"] is not None:
            _require_str(raw, "abbreviation", where)
        if "level" in raw and (not isinstance(raw["level"], int) or isinstance(raw["level"], bool)):
            raise CodeListError(f"{where}: 'level' must be a whole number")
        extra = {k: v for k, v in raw.items() if k not in _CORE_ENTRY_KEYS}
        entries.append(
            CodeEntry(
                code=code, name_vi=raw["name_vi"], name_en=raw.get("name_en"), extra=_freeze(extra)
            )
        )
    return CodeList(
        name=name,
        title_vi=data["title_vi"],
        title_en=data.get("title_en"),
        source=data["source"],
        confidence=data["confidence"],
        entries=entries,
    )


@lru_cache(maxsize=1)
def _packaged_lists() -> Mapping[str, CodeList]:
    lists: dict[str, CodeList] = {}
    pkg = resources.files(__name__)
    for item in sorted(pkg.iterdir(), key=lambda t: t.name):
        if not item.name.endswith(".json") or item.name.startswith("."):
            continue
        stem = item.name[: -len(".json")]
        lists[stem] = _parse_list(
            item.read_text(encoding="utf-8"), f"packaged code list {item.name}", stem
        )
    return MappingProxyType(lists)


def load_code_lists(override_dir: str | Path | None = None) -> CodeLists:
    """Load the packaged code lists, then apply an agency's override directory if it exists.

    Each ``<name>.json`` in ``override_dir`` replaces the packaged list of the same name or
    adds a new list. A broken file raises CodeListError naming the file and the problem.
    A directory that does not exist is ignored.
    """
    lists = dict(_packaged_lists())
    if override_dir is not None:
        base = Path(override_dir)
        if base.exists():
            if not base.is_dir():
                raise CodeListError(f"code-list override path {base} is not a directory")
            for path in sorted(base.glob("*.json")):
                if path.name.startswith("."):
                    continue
                stem = path.stem
                if not _LIST_NAME_RE.match(stem):
                    raise CodeListError(
                        f"{path}: file name must be the list name in lower case letters, digits "
                        "and '_' (e.g. retention.json)"
                    )
                try:
                    text = path.read_text(encoding="utf-8-sig")
                except (OSError, UnicodeDecodeError) as exc:
                    raise CodeListError(f"{path}: cannot read the file ({exc})") from None
                lists[stem] = _parse_list(text, str(path), stem)
    return CodeLists(lists)


# ------------------------------------------------------------------- retention schedule

_TRUE = {"true", "1", "yes", "x", "có", "co"}
_FALSE = {"false", "0", "no", "", "không", "khong"}


def load_retention_schedule(
    path: str | Path | None = None, *, text: str | None = None, source: str | None = None
) -> list[dict[str, Any]]:
    """Parse a retention schedule CSV (the packaged default when ``path`` is None).

    Columns: code, group, title, years, permanent, legal_basis, note. Returns one dict per row
    with ``years`` as int or None and ``permanent`` as bool. Bad rows raise CodeListError with
    the file and line number.
    """
    if text is not None:
        source = source or "uploaded CSV"
    elif path is None:
        source = "packaged retention_schedule.csv"
        text = resources.files(__name__).joinpath("retention_schedule.csv").read_text("utf-8")
    else:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CodeListError(f"{source}: cannot read the file ({exc})") from None
    text = text.removeprefix("\ufeff")  # tolerate a byte-order mark written by spreadsheets
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in SCHEDULE_COLUMNS if c not in header]
    if missing:
        raise CodeListError(
            f"{source}: header is missing column(s) {', '.join(missing)}; "
            f"expected {','.join(SCHEDULE_COLUMNS)}"
        )
    reader.fieldnames = header
    rows: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for raw in reader:
        line = reader.line_num
        where = f"{source}: row at line {line}"
        if None in raw:
            raise CodeListError(f"{where}: more values than columns")
        values = {k: (raw.get(k) or "").strip() for k in SCHEDULE_COLUMNS}
        if not any(values.values()):
            continue
        code = values["code"]
        if not code:
            raise CodeListError(f"{where}: 'code' is empty")
        if code in seen:
            raise CodeListError(f"{where}: code {code!r} already used at line {seen[code]}")
        seen[code] = line
        if not values["title"]:
            raise CodeListError(f"{where} (code {code}): 'title' is empty")
        flag = values["permanent"].casefold()
        if flag in _TRUE:
            permanent = True
        elif flag in _FALSE:
            permanent = False
        else:
            raise CodeListError(
                f"{where} (code {code}): 'permanent' must be true or false, not {values['permanent']!r}"
            )
        years: int | None = None
        if values["years"]:
            try:
                years = int(values["years"])
            except ValueError:
                raise CodeListError(
                    f"{where} (code {code}): 'years' must be a whole number, "
                    f"not {values['years']!r}"
                ) from None
            if not MIN_RETENTION_YEARS <= years <= MAX_RETENTION_YEARS:
                raise CodeListError(
                    f"{where} (code {code}): {years} years is out of range; the law allows "
                    f"{MIN_RETENTION_YEARS} to {MAX_RETENTION_YEARS} years"
                )
            if permanent:
                raise CodeListError(
                    f"{where} (code {code}): a permanent row must leave 'years' empty"
                )
        rows.append(
            {
                "code": code,
                "group": values["group"],
                "title": values["title"],
                "years": years,
                "permanent": permanent,
                "legal_basis": values["legal_basis"],
                "note": values["note"],
            }
        )
    return rows
