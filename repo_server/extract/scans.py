"""Scans of paper documents: where they come from, how many pages, and their conversion
into a two-layer PDF/A (image plus OCR text) with OCRmyPDF and Tesseract.

    source = ScanSource.open(path_to_folder_or_zip)
    pages = source.page_count("hop-01/hs-05/vb-01.tif")
    result = convert(ConversionJob(...))      # in a worker process: CPU-bound

The conversion never changes the scanned image (no deskew, no recompression): the PDF/A
shows the page as it was scanned, and OCR text lies under it as an invisible layer. What is
wrong with a page (resolution, colour depth, blank, skew, OCR confidence) is measured and
returned, to be judged against the standard by the caller.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import resource
import shutil
import tempfile
import time
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

IMAGE_SUFFIXES = {".tif", ".tiff", ".jpg", ".jpeg", ".png"}
SCAN_SUFFIXES = IMAGE_SUFFIXES | {".pdf"}
PLUGIN = "repo_server.extract.ocr_quality"


class ScanError(Exception):
    """A scan cannot be used; the message says why in plain words."""


def normalise_name(name: str) -> str:
    """How scan names are compared: NFC, forward slashes, no leading './', case-folded."""
    name = unicodedata.normalize("NFC", name.strip().replace("\\", "/"))
    while name.startswith("./"):
        name = name[2:]
    return name.strip("/").casefold()


class ScanSource:
    """The scans of a batch: a folder or a ZIP file, read by the names the finding aid uses
    (case and Unicode form do not matter; `a/b.tif` is the file b.tif in folder a)."""

    def __init__(self, root: Path, names: dict[str, str], archive: zipfile.ZipFile | None):
        self.root, self._names, self._zip = root, names, archive

    @classmethod
    def open(cls, path: str | Path) -> ScanSource:
        root = Path(path)
        if root.is_dir():
            names = {normalise_name(str(p.relative_to(root))): str(p.relative_to(root))
                     for p in root.rglob("*") if p.is_file()}
            return cls(root, names, None)
        try:
            archive = zipfile.ZipFile(root)
        except (OSError, zipfile.BadZipFile) as exc:
            raise ScanError(f"The scans file {root.name} is not a ZIP archive that can be "
                            "opened.") from exc
        names = {}
        for info in archive.infolist():
            if info.is_dir():
                continue
            raw = info.filename
            pure = PurePosixPath(raw)
            if pure.is_absolute() or ".." in pure.parts:
                continue  # never read outside the batch
            names[normalise_name(raw)] = raw
        return cls(root, names, archive)

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def __contains__(self, name: str) -> bool:
        return normalise_name(name) in self._names

    def resolve(self, name: str) -> str:
        """The stored name (as in the folder or ZIP) for a name written in the finding aid."""
        try:
            return self._names[normalise_name(name)]
        except KeyError:
            raise ScanError(f"There is no file {name!r} among the scans.") from None

    def all_names(self) -> list[str]:
        return sorted(self._names.values())

    def read(self, name: str) -> bytes:
        stored = self.resolve(name)
        if self._zip is not None:
            return self._zip.read(stored)
        return (self.root / stored).read_bytes()

    def open_file(self, name: str) -> BinaryIO:
        """A binary stream of one scan (close it after use)."""
        stored = self.resolve(name)
        if self._zip is not None:
            return self._zip.open(stored)
        return open(self.root / stored, "rb")  # noqa: SIM115 - the caller closes it

    def copy_to(self, name: str, dest: Path) -> Path:
        stored = self.resolve(name)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if self._zip is not None:
            with self._zip.open(stored) as src, open(dest, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
        else:
            shutil.copyfile(self.root / stored, dest)
        return dest

    def page_count(self, name: str) -> int:
        """Pages in one scan file; ScanError when it is not a readable PDF or image."""
        suffix = PurePosixPath(name).suffix.lower()
        if suffix not in SCAN_SUFFIXES:
            raise ScanError(f"{name}: scans must be PDF, TIFF, JPEG or PNG files.")
        data = self.read(name)
        return count_pages(data, name)


def count_pages(data: bytes, name: str) -> int:
    """Pages of a PDF, frames of a TIFF, 1 for JPEG and PNG; ScanError if unreadable."""
    if data[:5] == b"%PDF-":
        import pikepdf

        try:
            with pikepdf.open(io.BytesIO(data)) as pdf:
                return len(pdf.pages)
        except pikepdf.PasswordError as exc:
            raise ScanError(f"{name}: the PDF is protected by a password.") from exc
        except pikepdf.PdfError as exc:
            raise ScanError(f"{name}: the PDF is damaged and cannot be read.") from exc
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.format not in {"TIFF", "JPEG", "PNG", "MPO"}:
                raise ScanError(f"{name}: a {img.format} image; scans must be PDF, TIFF, "
                                "JPEG or PNG.")
            return getattr(img, "n_frames", 1)
    except (UnidentifiedImageError, OSError) as exc:
        raise ScanError(f"{name}: this is not a PDF or an image that can be read "
                        "(damaged, or another kind of file).") from exc


# ----------------------------------------------------------------------------- conversion

@dataclass
class ConversionJob:
    """One document: its scan files (in order) become one PDF/A at `output`."""

    key: str
    sources: list[str]  # paths of the scan files, in page order
    output: str  # where the PDF/A goes (written atomically)
    labels: list[str] = field(default_factory=list)  # the scans' names in the finding aid
    languages: str = "vie"
    pdfa: str = "2"
    nice: int = 0


@dataclass
class ConversionResult:
    key: str
    ok: bool
    error: str | None = None
    pages: list[dict[str, Any]] = field(default_factory=list)
    output_sha256: str | None = None
    cpu_seconds: float = 0.0
    seconds: float = 0.0


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def assemble_pdf(sources: list[Path], dest: Path) -> None:
    """The scans as one PDF, images embedded losslessly (img2pdf keeps their resolution)."""
    import img2pdf
    import pikepdf

    parts: list[bytes] = []
    for src in sources:
        data = src.read_bytes()
        if data[:5] == b"%PDF-":
            parts.append(data)
            continue
        try:
            parts.append(img2pdf.convert(data, rotation=img2pdf.Rotation.ifvalid))
        except img2pdf.AlphaChannelError:
            parts.append(img2pdf.convert(_flatten(data), rotation=img2pdf.Rotation.ifvalid))
    if len(parts) == 1:
        dest.write_bytes(parts[0])
        return
    with pikepdf.new() as merged:
        for data in parts:
            with pikepdf.open(io.BytesIO(data)) as part:
                merged.pages.extend(part.pages)
        merged.save(dest)


def _flatten(data: bytes) -> bytes:
    """An image with transparency, on white (img2pdf refuses alpha channels)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        dpi = img.info.get("dpi")
        flat = Image.new("RGB", img.size, "white")
        flat.paste(img, mask=img.convert("RGBA").getchannel("A"))
        out = io.BytesIO()
        flat.save(out, format="PNG", **({"dpi": dpi} if dpi else {}))
        return out.getvalue()


def page_facts(pdf: Path) -> list[dict[str, Any]]:
    """Per page: the lowest image resolution (dpi) and colour depth (bits per pixel)."""
    from ocrmypdf.pdfinfo import PdfInfo

    facts = []
    for page in PdfInfo(pdf).pages:
        images = [im for im in page.images if im.width and im.height]
        dpis = [min(float(im.dpi.x), float(im.dpi.y)) for im in images if im.dpi]
        bits = [int(im.bpc or 0) * int(im.comp or 0) for im in images]
        facts.append({"page": page.pageno + 1,
                      "dpi": round(min(dpis)) if dpis else None,
                      "colour_bits": max(bits) if bits else None,
                      "has_text": bool(page.has_text)})
    return facts


def _ocr(src: Path, out: Path, job: ConversionJob) -> bool:
    """OCR into PDF/A; True when a text layer the scan already had was replaced.

    Existing text is not kept (`--skip-text`): Debian's Ghostscript 10.0 corrupts such files,
    and OCRmyPDF refuses it. A scanned PDF that already has text is OCR'd again instead."""
    import ocrmypdf
    from ocrmypdf.exceptions import PriorOcrFoundError

    options = {"language": job.languages.split("+"), "output_type": f"pdfa-{job.pdfa}",
               "jobs": 1, "use_threads": True, "progress_bar": False, "optimize": 0,
               "plugins": [PLUGIN]}
    try:
        ocrmypdf.ocr(src, out, **options)
        return False
    except PriorOcrFoundError:
        ocrmypdf.ocr(src, out, force_ocr=True, **options)
        return True


def convert(job: ConversionJob) -> ConversionResult:
    """Scans -> two-layer PDF/A with per-page measures. Runs in a worker process (it sets the
    process's environment); never raises: a failure comes back with its reason."""
    started, cpu0 = time.monotonic(), _cpu()
    out = Path(job.output)
    try:
        with tempfile.TemporaryDirectory(prefix="digitise-") as tmp:
            work = Path(tmp)
            assembled = work / "scans.pdf"
            assemble_pdf([Path(s) for s in job.sources], assembled)
            pages = page_facts(assembled)
            labels = job.labels or [Path(s).name for s in job.sources]
            origin = [(label, k) for src, label in zip(job.sources, labels, strict=True)
                      for k in range(1, count_pages(Path(src).read_bytes(), label) + 1)]
            for page, (label, k) in zip(pages, origin, strict=False):
                page["scan"], page["scan_page"] = label, k
            measures = work / "pages"
            measures.mkdir()
            os.environ["REPO_SCAN_QUALITY_DIR"] = str(measures)
            partial = out.with_name(out.name + ".part")
            replaced = _ocr(assembled, partial, job)
            for page in pages:
                page["text_layer_replaced"] = replaced and page.pop("has_text")
                page.pop("has_text", None)
                found = measures / f"page-{page['page']:06d}.json"
                page.update(json.loads(found.read_text()) if found.is_file() else
                            {"words": None, "ocr_confidence": None, "skew_degrees": None,
                             "ink_ratio": None})
            digest = hashlib.sha256(partial.read_bytes()).hexdigest()
            os.replace(partial, out)
    except Exception as exc:  # noqa: BLE001 - reported per document, the batch goes on
        return ConversionResult(job.key, False, _explain(exc), cpu_seconds=_cpu() - cpu0,
                                seconds=time.monotonic() - started)
    return ConversionResult(job.key, True, None, pages, digest, cpu_seconds=_cpu() - cpu0,
                            seconds=time.monotonic() - started)


def _explain(exc: Exception) -> str:
    name = type(exc).__name__
    if name == "MissingDependencyError":
        return ("A program the conversion needs is missing on the server (Tesseract with the "
                f"'vie' language, or Ghostscript): {exc}")
    if name == "EncryptedPdfError":
        return "A scanned PDF is protected by a password; scan it again without one."
    if name == "DigitalSignatureError":
        return "A scanned PDF carries a digital signature; it cannot be converted to PDF/A."
    if name in {"UnidentifiedImageError", "ImageOpenError"}:
        return "A scan is not a readable image."
    text = str(exc).strip().splitlines()
    return f"The conversion failed ({name}{': ' + text[0] if text else ''})."


def init_worker(nice: int) -> None:
    """Process-pool initialiser: lower priority (requests first) and a quiet OCRmyPDF."""
    if nice > 0:
        try:
            os.nice(nice)
        except OSError:  # pragma: no cover - not permitted: run at normal priority
            pass
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    logging.getLogger("ocrmypdf").setLevel(logging.ERROR)

