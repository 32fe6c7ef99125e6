"""HTML with the standard library's parser: visible text only, entities decoded."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from ._common import UNSUPPORTED, ExtractFailure
from .text import decode_bytes

MAX_HTML_BYTES = 64 * 1024 * 1024

_SKIP = {"script", "style", "noscript", "template", "svg", "math", "object", "iframe"}
_BLOCK = {
    "address", "article", "aside", "blockquote", "body", "caption", "dd", "details", "dialog",
    "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3",
    "h4", "h5", "h6", "header", "hr", "html", "legend", "li", "main", "nav", "ol", "p", "pre",
    "section", "summary", "table", "tbody", "tfoot", "thead", "title", "tr", "ul",
}  # fmt: skip
_CELL = {"td", "th"}
_WS = re.compile(r"[ \t\r\n\f]+")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_:.\-]+)""", re.I)


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0
        self.pre = 0
        self.title: list[str] = []
        self.in_title = False

    def handle_starttag(self, tag, attrs):
        if tag == "title":
            self.in_title = True
        if tag in _SKIP:
            self.skip += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in _BLOCK:
            self.parts.append("\n\n" if tag in ("p", "h1", "h2", "h3", "h4", "h5", "h6") else "\n")
            if tag == "pre":
                self.pre += 1
        elif tag in _CELL:
            self.parts.append("\t")

    def handle_startendtag(self, tag, attrs):
        if tag in ("br", "hr"):
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag == "title":
            self.in_title = False
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in _BLOCK:
            self.parts.append("\n\n" if tag in ("p", "h1", "h2", "h3", "h4", "h5", "h6") else "\n")
            if tag == "pre":
                self.pre = max(0, self.pre - 1)

    def handle_data(self, data):
        if self.in_title:
            self.title.append(data)
            return
        if self.skip:
            return
        self.parts.append(data if self.pre else _WS.sub(" ", data))


def html_to_text(markup: str) -> str:
    parser = _TextParser()
    parser.feed(markup)
    parser.close()
    body = "".join(parser.parts)
    title = _WS.sub(" ", "".join(parser.title)).strip()
    if title and title not in body[: len(title) * 4 + 200]:
        body = title + "\n\n" + body
    return body


def extract_html(path: Path) -> str:
    size = path.stat().st_size
    if size > MAX_HTML_BYTES:
        raise ExtractFailure(UNSUPPORTED, "The web page file is too large to index.")
    data = path.read_bytes()
    declared = None
    match = _META_CHARSET.search(data[:4096])
    if match:
        declared = match.group(1).decode("ascii", errors="replace")
    text, _encoding = decode_bytes(data, declared=declared)
    return html_to_text(text)
