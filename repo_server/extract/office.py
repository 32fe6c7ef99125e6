"""Word-processing documents: DOCX (python-docx) and ODT (odfpy).

Both walk the document tree in reading order: paragraphs and headings become lines,
table rows become one line with a tab between cells, content controls, text boxes,
lists, sections, notes, headers and footers are included; deleted tracked changes
and comments are not.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from ._common import FAILED, UNSUPPORTED, ExtractFailure

MAX_UNZIPPED_BYTES = 512 * 1024 * 1024  # guard against zip bombs


def check_zip(path: Path, kind: str) -> None:
    """Fail in plain words when the container is damaged or suspiciously large."""
    try:
        with zipfile.ZipFile(path) as zf:
            total = sum(info.file_size for info in zf.infolist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise ExtractFailure(
            FAILED, f"The {kind} file is damaged (incomplete or not a real {kind} file)."
        ) from exc
    if total > MAX_UNZIPPED_BYTES:
        raise ExtractFailure(
            UNSUPPORTED,
            f"The {kind} file unpacks to more than {MAX_UNZIPPED_BYTES // 2**20} MB; "
            "it was not read.",
        )


# --- DOCX -------------------------------------------------------------------------------

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
_W_SKIP = {_W + n for n in ("del", "moveFrom", "sectPr", "pPr", "rPr", "tblPr", "tcPr", "trPr")}
_W_SKIP.add(_W + "commentReference")


def _docx_blocks(el, out: list[str]) -> None:
    """Append the text lines of block-level content (body, cell, header, text box...)."""
    for child in el:
        tag = child.tag
        if not isinstance(tag, str) or tag in _W_SKIP:
            continue
        if tag == _W + "p":
            extra: list[str] = []
            out.append(_docx_inline(child, extra))
            out.extend(extra)
        elif tag == _W + "tbl":
            _docx_table(child, out)
        elif tag == _MC + "AlternateContent":
            choice = child.find(_MC + "Choice")
            if choice is not None:
                _docx_blocks(choice, out)
        else:  # sdt, sdtContent, customXml, ins, moveTo, footnote, endnote, hdr, ftr...
            _docx_blocks(child, out)


def _docx_children(el, wanted: str):
    """Direct children named `wanted`, looking through content controls and custom XML."""
    for child in el:
        if child.tag == wanted:
            yield child
        elif child.tag in (_W + "sdt", _W + "sdtContent", _W + "customXml"):
            yield from _docx_children(child, wanted)


def _docx_table(tbl, out: list[str]) -> None:
    for tr in _docx_children(tbl, _W + "tr"):
        cells = []
        for tc in _docx_children(tr, _W + "tc"):
            lines: list[str] = []
            _docx_blocks(tc, lines)
            cells.append(" ".join(s.strip() for s in lines if s.strip()))
        while cells and not cells[-1]:
            cells.pop()
        if any(cells):
            out.append("\t".join(cells))
    out.append("")


def _docx_inline(el, boxes: list[str]) -> str:
    """Text of a paragraph; text boxes found inside go to `boxes` as separate lines."""
    parts: list[str] = []
    for child in el:
        tag = child.tag
        if not isinstance(tag, str) or tag in _W_SKIP:
            continue
        if tag == _W + "t":
            parts.append(child.text or "")
        elif tag == _W + "tab" or tag == _W + "ptab":
            parts.append("\t")
        elif tag in (_W + "br", _W + "cr"):
            parts.append("\n")
        elif tag == _W + "noBreakHyphen":
            parts.append("-")
        elif tag == _W + "txbxContent":
            _docx_blocks(child, boxes)
        elif tag == _MC + "AlternateContent":
            choice = child.find(_MC + "Choice")
            if choice is not None:
                parts.append(_docx_inline(choice, boxes))
        else:  # r, hyperlink, ins, smartTag, fldSimple, sdt, drawing, ...
            parts.append(_docx_inline(child, boxes))
    return "".join(parts)


def extract_docx(path: Path) -> str:
    check_zip(path, "Word (DOCX)")
    import docx
    from docx.opc.constants import RELATIONSHIP_TYPE as RT
    from docx.opc.exceptions import OpcError
    from docx.oxml.parser import parse_xml

    try:
        document = docx.Document(str(path))
    except (OpcError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise ExtractFailure(
            FAILED,
            "The Word (DOCX) file is damaged or is not a real Word document, so it cannot be read.",
        ) from exc

    def part_lines(reltypes: tuple[str, ...]) -> list[str]:
        lines: list[str] = []
        seen: set[str] = set()
        rels = [
            r for r in document.part.rels.values() if r.reltype in reltypes and not r.is_external
        ]
        for rel in sorted(rels, key=lambda r: str(r.target_part.partname)):
            part = rel.target_part
            element = getattr(part, "element", None)
            if element is None:
                element = parse_xml(part.blob)
            block: list[str] = []
            _docx_blocks(element, block)
            key = "\n".join(block).strip()
            if key and key not in seen:  # the same header is often repeated per section
                seen.add(key)
                lines.extend(block)
                lines.append("")
        return lines

    body: list[str] = []
    _docx_blocks(document.element.body, body)
    return "\n".join(
        part_lines((RT.HEADER,))
        + body
        + [""]
        + part_lines((RT.FOOTNOTES, RT.ENDNOTES))
        + part_lines((RT.FOOTER,))
    )


# --- ODT --------------------------------------------------------------------------------

_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
_DRAW = "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0"
_STYLE = "urn:oasis:names:tc:opendocument:xmlns:style:1.0"

_ODT_SKIP = {
    (_OFFICE, "annotation"),
    (_OFFICE, "annotation-end"),
    (_TEXT, "tracked-changes"),  # holds deleted text
    (_TEXT, "note-citation"),
    (_TEXT, "sequence-decls"),
    (_TEXT, "variable-decls"),
    (_TABLE, "covered-table-cell"),
    (_TABLE, "table-columns"),
    (_TABLE, "table-column"),
}


def _odt_blocks(el, out: list[str]) -> None:
    for child in el.childNodes:
        if child.nodeType != child.ELEMENT_NODE or child.qname in _ODT_SKIP:
            continue
        name = child.qname
        if name in ((_TEXT, "p"), (_TEXT, "h")):
            extra: list[str] = []
            out.append(_odt_inline(child, extra))
            out.extend(extra)
        elif name == (_TABLE, "table"):
            _odt_table(child, out)
        else:  # list, list-item, section, frame, text-box, header, footer, index-body...
            _odt_blocks(child, out)


def _odt_table(table, out: list[str]) -> None:
    def rows(el):
        for child in el.childNodes:
            if child.nodeType != child.ELEMENT_NODE:
                continue
            if child.qname == (_TABLE, "table-row"):
                yield child
            elif child.qname[0] == _TABLE and child.qname[1] in (
                "table-header-rows",
                "table-rows",
                "table-row-group",
            ):
                yield from rows(child)

    for row in rows(table):
        cells = []
        for cell in row.childNodes:
            if cell.nodeType != cell.ELEMENT_NODE or cell.qname != (_TABLE, "table-cell"):
                continue
            lines: list[str] = []
            _odt_blocks(cell, lines)
            cells.append(" ".join(s.strip() for s in lines if s.strip()))
        while cells and not cells[-1]:
            cells.pop()
        if any(cells):
            out.append("\t".join(cells))
    out.append("")


def _odt_inline(el, boxes: list[str]) -> str:
    parts: list[str] = []
    for child in el.childNodes:
        if child.nodeType == child.TEXT_NODE:
            parts.append(child.data)
            continue
        if child.nodeType != child.ELEMENT_NODE or child.qname in _ODT_SKIP:
            continue
        name = child.qname
        if name == (_TEXT, "s"):
            count = child.getAttrNS(_TEXT, "c")
            parts.append(" " * (int(count) if count and count.isdigit() else 1))
        elif name == (_TEXT, "tab"):
            parts.append("\t")
        elif name == (_TEXT, "line-break"):
            parts.append("\n")
        elif name == (_TEXT, "note-body") or name[0] == _DRAW:
            _odt_blocks(child, boxes)  # footnotes, text boxes: own lines after the paragraph
        else:  # span, a, note, bookmark, field values...
            parts.append(_odt_inline(child, boxes))
    return "".join(parts)


def extract_odt(path: Path) -> str:
    check_zip(path, "OpenDocument (ODT)")
    from odf.opendocument import load

    try:
        document = load(str(path))
    except Exception as exc:  # odfpy raises many kinds (KeyError, XML errors...)
        raise ExtractFailure(
            FAILED,
            "The OpenDocument (ODT) file is damaged, password-protected or not a real "
            "text document, so it cannot be read.",
        ) from exc
    body: list[str] = []
    _odt_blocks(document.text, body)
    headers: list[str] = []
    footers: list[str] = []
    seen: set[str] = set()
    for el in document.masterstyles.childNodes:  # style:master-page
        for child in getattr(el, "childNodes", []):
            if child.nodeType != child.ELEMENT_NODE or child.qname[0] != _STYLE:
                continue
            target = headers if child.qname[1].startswith("header") else footers
            if child.qname[1].startswith(("header", "footer")):
                block: list[str] = []
                _odt_blocks(child, block)
                key = "\n".join(block).strip()
                if key and key not in seen:
                    seen.add(key)
                    target.extend(block + [""])
    return "\n".join(headers + body + [""] + footers)
