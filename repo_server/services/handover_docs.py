"""The papers of a hand-over batch: the inventory (mục lục hồ sơ, tài liệu nộp lưu) and the
hand-over record (biên bản giao nhận tài liệu), NĐ 30/2020 Art. 31, as PDF and XLSX."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ..catalog import Fonds
from .context import Actor, Env
from .handover import get_batch
from .rights import require
from .tables import Column, Sheet, cell_text, to_pdf, to_xlsx

INVENTORY_COLUMNS = [
    Column("position", "STT", 8), Column("file_code", "Số, ký hiệu hồ sơ", 40),
    Column("title", "Tiêu đề hồ sơ", 80), Column("dates", "Thời gian tài liệu", 32),
    Column("retention", "Thời hạn bảo quản", 22), Column("doc_total", "Số lượng văn bản", 16),
    Column("archive_code", "Mã lưu trữ", 40), Column("note", "Ghi chú", 24),
]
NATIONAL = ["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc"]


def _retention(env: Env, code: str | None, years: int | None) -> str:
    entry = env.codes["retention"].get(code) if code else None
    if entry is None:
        return ""
    if entry.extra.get("permanent"):
        return entry.name_vi
    return f"{years or entry.extra.get('years')} năm"


def _organ(env: Env, fonds_code: str) -> str:
    with env.db.read() as session:
        fonds = session.scalar(select(Fonds).where(Fonds.code == fonds_code))
        return fonds.name if fonds else fonds_code


def _span(batch: dict[str, Any]) -> str:
    starts = [d["start_date"] for d in batch["dossiers"] if d["start_date"]]
    ends = [d["end_date"] for d in batch["dossiers"] if d["end_date"]]
    if not starts and not ends:
        return ""
    return f"{cell_text(min(starts or ends))} – {cell_text(max(ends or starts))}"


def inventory_sheet(env: Env, batch: dict[str, Any]) -> Sheet:
    rows = [[str(d["position"]), d["file_code"] or "", d["title"] or "",
             " – ".join(cell_text(v) for v in (d["start_date"], d["end_date"]) if v),
             _retention(env, d["retention"], d["retention_years"]), str(d["doc_total"] or 0),
             d["archive_code"] or "", ""] for d in batch["dossiers"]]
    total_docs = sum(d["doc_total"] or 0 for d in batch["dossiers"])
    return Sheet(
        title="MỤC LỤC HỒ SƠ, TÀI LIỆU NỘP LƯU",
        heading=[_organ(env, batch["fonds_code"]).upper(), batch["giving_unit"]],
        above=[f"Đợt nộp lưu: {batch['title']}", f"Nộp vào: {batch['receiving_archive']}",
               f"Thời gian tài liệu: {_span(batch)}"],
        columns=INVENTORY_COLUMNS, rows=rows,
        below=[f"Mục lục này gồm {len(rows)} hồ sơ, {total_docs} văn bản điện tử."],
        signatures=[("NGƯỜI LẬP", batch["given_name"] or "")], name="Muc luc ho so")


def record_sheet(env: Env, batch: dict[str, Any]) -> Sheet:
    """The biên bản: who gave, who received, what, when; both confirmations, and signatures."""
    organ = _organ(env, batch["fonds_code"])
    when = batch["received_at"] or batch["given_at"]
    day = when.astimezone(env.tz).date() if when else None
    total_docs = sum(d["doc_total"] or 0 for d in batch["dossiers"])
    status = {"draft": "Dự thảo: bên giao chưa xác nhận.",
              "given": "Bên giao đã xác nhận; bên nhận chưa xác nhận.",
              "received": "Bên giao và bên nhận đã xác nhận.",
              "cancelled": "Đợt nộp lưu đã hủy."}[batch["status"]]
    lines = [
        "Căn cứ Nghị định số 30/2020/NĐ-CP ngày 05 tháng 3 năm 2020 của Chính phủ về công tác "
        "văn thư;",
        (f"Hôm nay, ngày {day.day:02d} tháng {day.month:02d} năm {day.year}, tại {organ}, "
         if day else f"Hôm nay, ngày ... tháng ... năm ..., tại {organ}, ") + "chúng tôi gồm:",
        f"BÊN GIAO: {batch['giving_unit']}, đại diện là Ông/Bà: {batch['given_name'] or '...'}",
        f"BÊN NHẬN: {batch['receiving_archive']}, đại diện là Ông/Bà: "
        f"{batch['received_name'] or '...'}",
        "Thống nhất lập biên bản giao nhận tài liệu với những nội dung như sau:",
        f"1. Tên khối tài liệu giao nộp: {batch['title']}",
        f"2. Thời gian của tài liệu: {_span(batch)}",
        f"3. Số lượng tài liệu: {len(batch['dossiers'])} hồ sơ, {total_docs} văn bản điện tử",
        "4. Tình trạng tài liệu giao nộp: hồ sơ điện tử, nguyên vẹn (lưu trong kho OCFL, "
        "mỗi tệp có mã SHA-512)",
        "5. Mục lục hồ sơ, tài liệu nộp lưu kèm theo.",
        "Biên bản này được lập thành hai bản; bên giao giữ một bản, bên nhận giữ một bản.",
        f"Tình trạng xác nhận: {status}",
    ]
    if batch["given_at"]:
        lines.append(f"Bên giao xác nhận: {batch['given_name']} (tài khoản {batch['given_by']})"
                     f" lúc {cell_text(batch['given_at'].astimezone(env.tz))}")
    if batch["received_at"]:
        lines.append(f"Bên nhận xác nhận: {batch['received_name']} (tài khoản "
                     f"{batch['received_by']}) lúc "
                     f"{cell_text(batch['received_at'].astimezone(env.tz))}")
    return Sheet(title="BIÊN BẢN\nVề việc giao nhận tài liệu", heading=NATIONAL, above=lines,
                 signatures=[("ĐẠI DIỆN BÊN GIAO", batch["given_name"] or ""),
                             ("ĐẠI DIỆN BÊN NHẬN", batch["received_name"] or "")],
                 portrait=True, name="Bien ban giao nhan")


def render(env: Env, viewer: Actor, batch_id: str, which: str, fmt: str) -> tuple[bytes, dict]:
    """`which`: inventory | record; `fmt`: pdf | xlsx. Returns the bytes and the batch."""
    require(viewer, "handover.read")
    batch = get_batch(env, viewer, batch_id)
    sheet = inventory_sheet(env, batch) if which == "inventory" else record_sheet(env, batch)
    if fmt == "xlsx":
        return to_xlsx([sheet]), batch
    return to_pdf([sheet], env.config.get("PDF_FONT") or ""), batch
