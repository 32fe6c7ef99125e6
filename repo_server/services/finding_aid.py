"""A finding aid for digitisation: the dossier list (mục lục hồ sơ) and the document list
(mục lục văn bản), read from XLSX or CSV and checked row by row.

The columns are this module's two tables (DOSSIER_COLUMNS, DOCUMENT_COLUMNS); README
"Digitisation" documents them. A header matches with or without diacritics, case or
punctuation, in Vietnamese or as the API field name. Every problem names the sheet, the row
(as Excel numbers it), the column (letter and header) and what is wrong, in plain words.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from ..codes import CodeLists
from ..extract.tables import Sheet, TableError, column_letter, read_table
from ..search.analysis import fold
from .metadata import check_document, check_dossier

DOSSIERS, DOCUMENTS = "dossiers", "documents"


@dataclass(frozen=True)
class Column:
    key: str
    headers: tuple[str, ...]  # accepted headers; the first is the one shown in messages
    kind: str = "text"  # text | int | date | period | code | codes | words | retention |
    #                     doc_number | sheets | scans
    required: bool = False
    max_len: int | None = None
    code_list: str | None = None
    help: str = ""

    @property
    def title(self) -> str:
        return self.headers[0]


_LABEL = ("Số và ký hiệu hồ sơ", "Số ký hiệu hồ sơ", "Hồ sơ số", "Số hồ sơ", "file_notation")
DOSSIER_COLUMNS: tuple[Column, ...] = (
    Column("label", _LABEL, required=True, max_len=20,
           help="The dossier's number and symbol in the catalogue (e.g. 05 or 05.TH); with the "
                "fonds and the year of its start date it makes the file code."),
    Column("file_code", ("Mã hồ sơ", "file_code"), max_len=100,
           help="A complete file code, for dossiers that already have one."),
    Column("paper_file_code", ("Mã hồ sơ giấy", "Mã lưu trữ hồ sơ giấy", "paper_file_code"),
           required=True, max_len=100,
           help="The paper original: archive.store/shelf/box.paper file number (TT 05/2025)."),
    Column("title", ("Tiêu đề hồ sơ", "Tiêu đề", "Tên hồ sơ", "title"), required=True,
           max_len=1000),
    Column("period", ("Thời gian", "Thời gian tài liệu", "Thời gian bắt đầu - kết thúc"),
           kind="period", help="01/1998 - 12/1999, 1998 - 1999, or two full dates."),
    Column("start_date", ("Ngày bắt đầu", "Thời gian bắt đầu", "start_date"), kind="date"),
    Column("end_date", ("Ngày kết thúc", "Thời gian kết thúc", "end_date"), kind="date"),
    Column("retention", ("Thời hạn bảo quản", "Thời hạn lưu trữ", "retention"),
           kind="retention", required=True,
           help="A code 01–07, 'Vĩnh viễn', or a number of years ('10 năm')."),
    Column("access_mode", ("Chế độ sử dụng", "Mức độ tiếp cận", "access_mode"), kind="code",
           code_list="access_mode"),
    Column("languages", ("Ngôn ngữ", "languages"), kind="codes", code_list="language"),
    Column("sheet_count", ("Số tờ", "Số lượng tờ", "sheet_count"), kind="int"),
    Column("physical_state", ("Tình trạng vật lý", "Tình trạng", "physical_state"),
           kind="code", code_list="physical_state"),
    Column("keywords", ("Từ khóa", "keywords"), kind="words"),
    Column("maker", ("Người lập hồ sơ", "maker"), max_len=200),
    Column("info_sign", ("Ký hiệu thông tin", "info_sign"), max_len=30),
    Column("description", ("Ghi chú", "Chú giải", "Mô tả", "description"), max_len=2000),
    Column("fonds_code", ("Mã phông", "Phông", "fonds_code"), max_len=13,
           help="Only when the finding aid covers several fonds; else the batch's fonds."),
)
DOCUMENT_COLUMNS: tuple[Column, ...] = (
    Column("label", _LABEL, required=True, max_len=20,
           help="The number of the dossier the document belongs to, as in the dossier list."),
    Column("order", ("Số thứ tự", "STT", "TT", "order"), kind="int",
           help="Order of the document in its dossier (else the order of the rows)."),
    Column("type_code", ("Tên loại văn bản", "Loại văn bản", "Tên loại", "type_code"),
           kind="code", code_list="document_type", required=True,
           help="A code 01–32 or its name (Quyết định, Công văn, Bản đồ, …)."),
    Column("doc_number", ("Số, ký hiệu văn bản", "Số và ký hiệu văn bản", "Số ký hiệu"),
           kind="doc_number", help="e.g. 15/QĐ-UBND (number and notation together)."),
    Column("code_number", ("Số văn bản", "code_number"), max_len=11),
    Column("code_notation", ("Ký hiệu văn bản", "Ký hiệu", "code_notation"), max_len=30),
    Column("issued_date", ("Ngày tháng văn bản", "Ngày văn bản", "Ngày ban hành",
                           "issued_date"), kind="date"),
    Column("organ_name", ("Tác giả văn bản", "Tác giả", "Cơ quan ban hành", "organ_name"),
           max_len=200),
    Column("subject", ("Trích yếu nội dung", "Trích yếu", "subject"), required=True,
           max_len=500),
    Column("signer_name", ("Người ký", "signer"), max_len=50),
    Column("signer_position", ("Chức vụ người ký", "Chức vụ", "signer_position"), max_len=100),
    Column("page_count", ("Số trang", "page_count"), kind="int",
           help="Checked against the pages of the scans, when given."),
    Column("sheet_count", ("Số tờ", "sheet_count"), kind="int"),
    Column("sheets", ("Tờ số",), kind="sheets", help="Sheet numbers, e.g. 01-05."),
    Column("scans", ("Tệp quét", "Tệp tin", "Tên tệp", "scans"), kind="scans", required=True,
           help="The scan files, in page order, separated by ';' or new lines; paths are "
                "relative to the scans folder or ZIP."),
    Column("retention", ("Thời hạn bảo quản", "retention"), kind="retention"),
    Column("access_mode", ("Chế độ sử dụng", "Mức độ tiếp cận", "access_mode"), kind="code",
           code_list="access_mode"),
    Column("languages", ("Ngôn ngữ", "languages"), kind="codes", code_list="language"),
    Column("physical_state", ("Tình trạng vật lý", "physical_state"), kind="code",
           code_list="physical_state"),
    Column("autograph", ("Bút tích", "autograph"), max_len=2000),
    Column("keywords", ("Từ khóa", "keywords"), kind="words"),
    Column("info_sign", ("Ký hiệu thông tin", "info_sign"), max_len=30),
    Column("description", ("Ghi chú", "description"), max_len=2000),
)
COLUMNS = {DOSSIERS: DOSSIER_COLUMNS, DOCUMENTS: DOCUMENT_COLUMNS}
LIST_NAMES = {DOSSIERS: "dossier list (mục lục hồ sơ)",
              DOCUMENTS: "document list (mục lục văn bản)"}


@dataclass
class Problem:
    """Something a clerk must correct: where it is and what is wrong."""

    sheet: str
    row: int | None
    column: str | None
    message: str
    value: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"sheet": self.sheet, "row": self.row, "column": self.column,
                "value": self.value, "message": self.message}


@dataclass
class DocumentRow:
    sheet: str
    row: int
    label: str
    data: dict[str, Any]
    scans: list[str]
    columns: dict[str, str] = field(default_factory=dict)  # key -> "C (header)"
    order: int | None = None
    declared_pages: int | None = None
    pages: int = 0
    problems: list[Problem] = field(default_factory=list)


@dataclass
class DossierRow:
    sheet: str
    row: int
    label: str
    data: dict[str, Any]
    columns: dict[str, str] = field(default_factory=dict)  # key -> "C (header)"
    documents: list[DocumentRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.problems and all(not d.problems for d in self.documents)


@dataclass
class FindingAid:
    dossiers: list[DossierRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # file and sheet level
    loose: list[Problem] = field(default_factory=list)  # rows that belong to no dossier
    notes: list[str] = field(default_factory=list)

    def all_problems(self) -> list[Problem]:
        out = list(self.problems) + list(self.loose)
        for d in self.dossiers:
            out += d.problems
            for doc in d.documents:
                out += doc.problems
        return sorted(out, key=lambda p: (p.sheet, p.row or 0, p.column or ""))

    @property
    def blocking(self) -> bool:
        """Problems outside any dossier (a missing column, an unreadable file)."""
        return bool(self.problems)

    def valid_dossiers(self) -> list[DossierRow]:
        return [d for d in self.dossiers if d.valid]


# ----------------------------------------------------------------------------- cells

def _norm(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "", fold(str(text)).lower())


class CellError(ValueError):
    pass


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat()
    return str(value).strip()


_DATE_FORMATS = ("%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y-%m-%d")


def parse_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise CellError(f"{text!r} is not a date; write it as dd/mm/yyyy (e.g. 15/07/2025).")


def _period_end(text: str, end: bool) -> date:
    text = text.strip()
    if re.fullmatch(r"\d{4}", text):
        year = int(text)
        return date(year, 12, 31) if end else date(year, 1, 1)
    match = re.fullmatch(r"(\d{1,2})[/.-](\d{4})", text)
    if match:
        month, year = int(match.group(1)), int(match.group(2))
        if not 1 <= month <= 12:
            raise CellError(f"{text!r}: there is no month {month}.")
        return date(year, month, calendar.monthrange(year, month)[1] if end else 1)
    return parse_date(text)


def parse_period(value: Any) -> tuple[date, date]:
    text = _text(value)
    parts = [p for p in re.split(r"\s*(?:–|—|-|đến)\s*(?=\d)", text) if p]
    if len(parts) == 1:
        parts = [parts[0], parts[0]]
    if len(parts) != 2:
        raise CellError(f"{text!r} is not a period; write it as 01/1998 - 12/1999, "
                        "1998 - 1999 or 15/01/1998 - 20/12/1999.")
    return _period_end(parts[0], False), _period_end(parts[1], True)


def parse_int(value: Any, low: int = 0, high: int = 1_000_000) -> int:
    if isinstance(value, bool):
        raise CellError("Write a whole number.")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    else:
        text = _text(value)
        if not re.fullmatch(r"\d+", text):
            raise CellError(f"{text!r} is not a whole number.")
        number = int(text)
    if not low <= number <= high:
        raise CellError(f"{number} is out of range ({low} to {high}).")
    return number


def parse_code(codes: CodeLists, list_name: str, value: Any) -> str:
    """A code, or the Vietnamese or English name of one (any case, with or without marks)."""
    text = _text(value)
    lst = codes[list_name]
    if text in lst:
        return text
    if text.isdigit() and text.zfill(2) in lst:
        return text.zfill(2)
    wanted = _norm(text)
    for entry in lst:
        if wanted in {_norm(entry.name_vi), _norm(entry.name_en or "")}:
            return entry.code
    raise CellError(codes.describe_invalid(list_name, text) + ".")


def parse_retention(codes: CodeLists, value: Any) -> tuple[str, int | None]:
    """A retention code; 'Vĩnh viễn'; or a number of years (a standard one, else 07 + years)."""
    text = _text(value)
    lst = codes["retention"]
    if text in lst:
        return text, None
    try:
        return parse_code(codes, "retention", text), None
    except CellError:
        pass
    folded = _norm(text)
    for entry in lst:
        if entry.extra.get("permanent") and folded in {"vinhvien", "permanent"}:
            return entry.code, None
    match = re.fullmatch(r"(\d{1,3})\s*(nam|years?)?", fold(text).lower().strip())
    if match:
        years = int(match.group(1))
        for entry in lst:
            if entry.extra.get("years") == years:
                return entry.code, None
        for entry in lst:
            if entry.extra.get("requires_years"):
                return entry.code, years
    raise CellError(f"{text!r} is not a retention period; write a code 01–07, 'Vĩnh viễn' "
                    "or a number of years such as '10 năm'.")


def split_list(value: Any) -> list[str]:
    return [p.strip() for p in re.split(r"[;\n\r]+", _text(value)) if p.strip()]


def parse_sheets(value: Any) -> int:
    text = _text(value)
    match = re.fullmatch(r"(\d+)\s*(?:-|–|đến)\s*(\d+)", text)
    if match:
        first, last = int(match.group(1)), int(match.group(2))
        if last < first:
            raise CellError(f"{text!r}: the last sheet is before the first.")
        return last - first + 1
    if text.isdigit():
        return 1
    raise CellError(f"{text!r} is not a sheet range; write it as 01-05.")


# ----------------------------------------------------------------------------- sheets

def _find_header(sheet: Sheet, columns: tuple[Column, ...]) -> tuple[int, dict[int, Column]]:
    """The row (index into sheet.rows) with the most known headers among the first 15."""
    aliases = {_norm(h): c for c in columns for h in c.headers}
    best: tuple[int, dict[int, Column]] = (-1, {})
    for i, (_, cells) in enumerate(sheet.rows[:15]):
        found = {j: aliases[_norm(c)] for j, c in enumerate(cells)
                 if c not in (None, "") and _norm(c) in aliases}
        if len(found) > len(best[1]):
            best = (i, found)
    return best


def classify(sheet: Sheet) -> str | None:
    """Which list a sheet (or CSV) is, by its headers: the documents have a subject or
    scans column, the dossiers a title."""
    _, doc_cols = _find_header(sheet, DOCUMENT_COLUMNS)
    _, dos_cols = _find_header(sheet, DOSSIER_COLUMNS)
    doc_keys = {c.key for c in doc_cols.values()}
    dos_keys = {c.key for c in dos_cols.values()}
    if doc_keys & {"subject", "scans"}:
        return DOCUMENTS
    if "title" in dos_keys:
        return DOSSIERS
    return None


def _rows(sheet: Sheet, kind: str, problems: list[Problem]
          ) -> tuple[list[tuple[int, dict]], dict[str, str]]:
    """(row number, {column key: (cell, header shown)}) for every data row of a list, and
    the header shown for each column found ("C (Tiêu đề hồ sơ)")."""
    columns = COLUMNS[kind]
    index, found = _find_header(sheet, columns)
    keys = {c.key for c in found.values()}
    for col in columns:
        if col.required and col.key not in keys:
            problems.append(Problem(sheet.name, sheet.rows[index][0] if index >= 0 else None,
                                    None, f"The {LIST_NAMES[kind]} has no column "
                                          f"'{col.title}'; add it (see the README for the "
                                          "columns)."))
    seen: dict[str, int] = {}
    for j, col in found.items():
        if col.key in seen:
            problems.append(Problem(sheet.name, sheet.rows[index][0], column_letter(j),
                                    f"Column '{col.title}' appears twice (also in column "
                                    f"{column_letter(seen[col.key])}); keep one."))
        seen[col.key] = j
    header_cells = sheet.rows[index][1] if index >= 0 else []
    shown = {col.key: f"{column_letter(j)} ({header_cells[j]})" for j, col in found.items()}
    out = []
    for number, cells in sheet.rows[index + 1:]:
        values = {}
        for j, col in found.items():
            cell = cells[j] if j < len(cells) else None
            if cell not in (None, ""):
                values[col.key] = (cell, f"{column_letter(j)} ({header_cells[j]})")
        if values:
            out.append((number, values))
    return out, shown


def _convert(codes: CodeLists, sheet: str, number: int, values: dict, kind: str,
             shown: dict[str, str]) -> tuple[dict[str, Any], list[Problem]]:
    """Typed metadata of one row, and its problems (one per bad cell)."""
    data: dict[str, Any] = {}
    problems: list[Problem] = []
    where: dict[str, str] = {}
    for col in COLUMNS[kind]:
        if col.key not in values:
            if col.required and col.key in shown:  # a missing column is reported once
                problems.append(Problem(sheet, number, shown[col.key],
                                        f"'{col.title}' is empty; fill it in."))
            continue
        cell, header = values[col.key]
        where[col.key] = header
        try:
            _store(codes, col, cell, data)
        except CellError as exc:
            problems.append(Problem(sheet, number, header, str(exc), _text(cell)))
    check = check_dossier if kind == DOSSIERS else check_document
    meta = {k: v for k, v in data.items() if not k.startswith("_")}
    field_columns = {"retention_years": "retention", "start_date": "period",
                     "end_date": "period", "signer": "signer_name"}
    for fld, messages in check(codes, meta).items():
        if fld == "paper_file_code":
            continue  # the batch sets confidence level 02 and checks this column itself
        key = fld if fld in where else field_columns.get(fld, fld)
        header = where.get(key) or where.get(fld) or fld
        for message in messages:
            problems.append(Problem(sheet, number, header, message[:1].upper() + message[1:]))
    return data, problems


def _store(codes: CodeLists, col: Column, cell: Any, data: dict[str, Any]) -> None:
    kind = col.kind
    if kind == "text":
        text = _text(cell)
        if col.max_len and len(text) > col.max_len:
            raise CellError(f"Too long: {len(text)} characters, at most {col.max_len}.")
        data[col.key] = text
    elif kind == "int":
        data[col.key] = parse_int(cell)
    elif kind == "date":
        data[col.key] = parse_date(cell)
    elif kind == "period":
        start, end = parse_period(cell)
        data["start_date"], data["end_date"] = start, end
    elif kind == "code":
        data[col.key] = parse_code(codes, col.code_list, cell)
    elif kind == "codes":
        parts = [p for p in re.split(r"[,;\n]+", _text(cell)) if p.strip()]
        data[col.key] = [parse_code(codes, col.code_list, p.strip()) for p in parts]
    elif kind == "words":
        words = [p.strip() for p in re.split(r"[,;\n]+", _text(cell)) if p.strip()]
        if any(len(w) > 100 for w in words) or len(words) > 50:
            raise CellError("At most 50 keywords of at most 100 characters each.")
        data[col.key] = words
    elif kind == "retention":
        code, years = parse_retention(codes, cell)
        data["retention"] = code
        if years is not None:
            data["retention_years"] = years
    elif kind == "doc_number":
        text = _text(cell)
        number, _, notation = text.partition("/")
        if not number.strip() or len(number.strip()) > 11 or len(notation.strip()) > 30:
            raise CellError(f"{text!r} is not a number and notation such as 15/QĐ-UBND.")
        data["code_number"] = number.strip()
        if notation.strip():
            data["code_notation"] = notation.strip()
    elif kind == "sheets":
        data["sheet_count"] = parse_sheets(cell)
    elif kind == "scans":
        names = split_list(cell)
        if not names:
            raise CellError("Name at least one scan file.")
        data["_scans"] = names


def read_finding_aid(codes: CodeLists, files: list[tuple[Path, str]]) -> FindingAid:
    """Read and check the finding aid: one XLSX (two sheets) or two CSV files, given as
    (path, the name the clerk knows the file by)."""
    aid = FindingAid()
    lists: dict[str, list[Sheet]] = {DOSSIERS: [], DOCUMENTS: []}
    for path, name in files:
        try:
            sheets = read_table(path, name)
        except TableError as exc:
            aid.problems.append(Problem(name, None, None, str(exc)))
            continue
        for sheet in sheets:
            kind = classify(sheet)
            if kind is None:
                if sheet.rows:
                    aid.notes.append(f"Sheet {sheet.name!r} is neither a dossier list nor a "
                                     "document list; it was not read.")
                continue
            if len(files) > 1 or len(sheets) > 1:
                sheet.name = sheet.name if sheet.name == name else f"{name}: {sheet.name}"
            lists[kind].append(sheet)
    for kind in (DOSSIERS, DOCUMENTS):
        if not lists[kind] and not aid.problems:
            aid.problems.append(Problem(files[0][1] if files else "finding aid", None, None,
                                        f"No {LIST_NAMES[kind]} was found: the finding aid "
                                        "needs a sheet (or CSV file) with its columns."))
    by_label: dict[str, DossierRow] = {}
    for sheet in lists[DOSSIERS]:
        rows, shown = _rows(sheet, DOSSIERS, aid.problems)
        for number, values in rows:
            data, problems = _convert(codes, sheet.name, number, values, DOSSIERS, shown)
            label = str(data.get("label") or "")
            row = DossierRow(sheet.name, number, label, data, problems=problems,
                             columns={k: v[1] for k, v in values.items()})
            if label and label in by_label:
                first = by_label[label]
                row.problems.append(Problem(sheet.name, number, values["label"][1],
                                            f"Dossier number {label!r} is also on row "
                                            f"{first.row}; each dossier needs its own number.",
                                            label))
            elif label:
                by_label[label] = row
            aid.dossiers.append(row)
    papers: dict[str, int] = {}
    for d in aid.dossiers:
        code = d.data.get("paper_file_code")
        if code and code in papers:
            d.problems.append(Problem(d.sheet, d.row, d.columns.get("paper_file_code"),
                                      f"Paper file code {code!r} is also on row "
                                      f"{papers[code]}.", code))
        elif code:
            papers[code] = d.row
    for sheet in lists[DOCUMENTS]:
        rows, shown = _rows(sheet, DOCUMENTS, aid.problems)
        for number, values in rows:
            data, problems = _convert(codes, sheet.name, number, values, DOCUMENTS, shown)
            label = str(data.pop("label", "") or "")
            doc = DocumentRow(sheet.name, number, label, data, data.pop("_scans", []),
                              columns={k: v[1] for k, v in values.items()},
                              order=data.pop("order", None),
                              declared_pages=data.pop("page_count", None), problems=problems)
            for part in ("signer_name", "signer_position"):
                if part in data:
                    data.setdefault("signer", {})[part.removeprefix("signer_").replace(
                        "name", "full_name")] = data.pop(part)
            owner = by_label.get(label)
            if owner is None:
                if label:
                    aid.loose.append(Problem(sheet.name, number, values["label"][1],
                                                f"There is no dossier {label!r} in the "
                                                "dossier list.", label))
                continue
            owner.documents.append(doc)
    for d in aid.dossiers:
        d.documents.sort(key=lambda doc: (doc.order is None, doc.order or 0, doc.row))
        if not d.documents and not d.problems and d.label:
            d.problems.append(Problem(d.sheet, d.row, None,
                                      f"Dossier {d.label!r} has no documents in the document "
                                      "list; a digitised dossier needs its scans."))
    return aid
