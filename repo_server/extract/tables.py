"""Spreadsheets as plain rows: XLSX sheets (openpyxl) and CSV files (any usual encoding).

    for sheet in read_table(path): sheet.name, sheet.rows  # [(row number, [cells])]

Cells keep their type (str, int, float, date, datetime, None); row numbers are the ones a
clerk sees in Excel (1-based), so error messages can point at them.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_ROWS = 200_000


class TableError(Exception):
    """The file is not a spreadsheet that can be read; the message says why."""


@dataclass
class Sheet:
    name: str
    rows: list[tuple[int, list[Any]]] = field(default_factory=list)


def read_table(path: str | Path, name: str | None = None) -> list[Sheet]:
    """The sheets of an XLSX workbook, or the one sheet of a CSV file."""
    path = Path(path)
    head = path.read_bytes()[:4]
    label = name or path.name
    if head == b"PK\x03\x04":
        return _read_xlsx(path, label)
    if head[:4] == b"\xd0\xcf\x11\xe0":
        raise TableError(f"{label} is an old Excel file (.xls); save it as .xlsx (Excel "
                         "Workbook) or CSV and send it again.")
    return [_read_csv(path, label)]


def _read_xlsx(path: Path, label: str) -> list[Sheet]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds
        raise TableError(f"{label} cannot be opened as an Excel workbook (.xlsx): it is "
                         "damaged or another kind of file.") from exc
    try:
        sheets = []
        for ws in book.worksheets:
            sheet = Sheet(ws.title)
            for number, values in enumerate(ws.iter_rows(values_only=True), 1):
                if number > MAX_ROWS:
                    raise TableError(f"{label}, sheet {ws.title}: more than {MAX_ROWS:,} rows; "
                                     "split the finding aid into several batches.")
                cells = [unicodedata.normalize("NFC", v.strip()) if isinstance(v, str) else v
                         for v in values]
                if any(c not in (None, "") for c in cells):
                    sheet.rows.append((number, cells))
            sheets.append(sheet)
        return sheets
    finally:
        book.close()


def _decode(data: bytes, label: str) -> str:
    """The text in NFC (cp1258 writes tone marks as separate combining characters)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return unicodedata.normalize("NFC", data.decode("utf-16"))
    try:
        return unicodedata.normalize("NFC", data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        pass
    try:  # Excel's "CSV" on a Vietnamese Windows: the ANSI code page
        return unicodedata.normalize("NFC", data.decode("cp1258"))
    except UnicodeDecodeError as exc:
        raise TableError(f"{label}: the text encoding is not recognised; save the file as "
                         "'CSV UTF-8' and send it again.") from exc


def _read_csv(path: Path, label: str) -> Sheet:
    text = _decode(path.read_bytes(), label)
    try:
        dialect = csv.Sniffer().sniff(text[:8192], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    sheet = Sheet(label)
    try:
        for number, values in enumerate(csv.reader(io.StringIO(text), dialect), 1):
            if number > MAX_ROWS:
                raise TableError(f"{label}: more than {MAX_ROWS:,} rows; split the finding "
                                 "aid into several batches.")
            cells = [v.strip() for v in values]
            if any(cells):
                sheet.rows.append((number, cells))
    except csv.Error as exc:  # e.g. a line break inside an unquoted cell, a NUL byte
        raise TableError(f"{label} cannot be read as CSV ({exc}); it may be another kind of "
                         "file. Save it from Excel as 'CSV UTF-8' or send the .xlsx.") from exc
    return sheet


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA (as Excel names columns)."""
    out = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        out = chr(65 + rest) + out
    return out
