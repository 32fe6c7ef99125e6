"""Package import refuses unsafe ZIPs with a clear 422 before writing anything: encrypted
entries, a name that is both a file and a folder, symbolic links, names longer than a file
system holds, and zip bombs (declared sizes, compression ratio, actual sizes), fast."""

from __future__ import annotations

import io
import stat
import struct
import time
import zipfile
import zlib

from tests.services.test_packages import assert_untouched, import_into, other  # noqa: F401

BAGIT = "BagIt-Version: 0.97\nTag-File-Character-Encoding: UTF-8\n"


def _zip(entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("bagit.txt", BAGIT)
        for name, data in entries:
            zf.writestr(name, data)
    return buf.getvalue()


def _problems(r) -> list[str]:  # noqa: ANN001
    assert r.status_code == 422, (r.status_code, r.json)
    assert r.is_json and r.json["message"]
    return r.json["errors"]["json"]["package"]


def _encrypted(name: str) -> bytes:
    data = bytearray(_zip([(name, b"secret")]))
    # Set the "encrypted" flag (bit 0) in the entry's local and central headers, as a
    # password-protected ZIP has it (no library writes ZipCrypto).
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.getinfo(name)
    data[info.header_offset + 6] |= 0x01
    central = bytes(data).rfind(b"PK\x01\x02")  # the last central entry is this one
    data[central + 8] |= 0x01
    return bytes(data)


def test_an_encrypted_entry_is_refused(other):  # noqa: F811
    problems = _problems(import_into(other.client, _encrypted("data/secret.pdf")))
    assert any("data/secret.pdf" in p and "encrypted" in p for p in problems)
    assert_untouched(other)


def test_a_name_that_is_both_a_file_and_a_folder_is_refused(other):  # noqa: F811
    for entries in ([("data/x", b"file"), ("data/x/y", b"under it")],
                    [("data/x/y", b"under it"), ("data/x", b"file")]):
        problems = _problems(import_into(other.client, _zip(entries)))
        assert any("data/x" in p and "both a file and a folder" in p for p in problems)
        assert_untouched(other)


def test_a_symbolic_link_and_a_file_under_it_are_refused(other):  # noqa: F811
    link = zipfile.ZipInfo("data/link")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    problems = _problems(import_into(other.client, _zip([(link, b"/etc"),
                                                         ("data/link/passwd", b"x")])))
    assert any("data/link" in p and "symbolic link" in p for p in problems)
    assert_untouched(other)


def test_a_name_segment_over_255_bytes_is_refused(other):  # noqa: F811
    name = "data/" + "đ" * 128 + ".pdf"  # 256 + 4 bytes in UTF-8
    problems = _problems(import_into(other.client, _zip([(name, b"x")])))
    assert any("longer than 255 bytes" in p for p in problems)
    assert_untouched(other)


def _bomb(declared: int | None = None) -> bytes:
    """A ZIP of about 1 MB whose one entry inflates to 1 GiB of zeros, written by hand (the
    deflate stream is one fully flushed 1 MiB block repeated, so building it takes no time).
    `declared`: the uncompressed size the headers claim (a liar's ZIP), default the truth."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = comp.compress(bytes(1 << 20)) + comp.flush(zlib.Z_FULL_FLUSH)
    stream = block * 1024 + b"\x03\x00"  # then an empty final block
    crc = 0
    zero = bytes(1 << 20)
    for _ in range(1024):
        crc = zlib.crc32(zero, crc)
    size = 1 << 30 if declared is None else declared
    name = b"data/zeros.bin"
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(stream), size,
                        len(name), 0) + name
    bagit = BAGIT.encode()
    bag_local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0, zlib.crc32(bagit),
                            len(bagit), len(bagit), 9, 0) + b"bagit.txt"
    body = bag_local + bagit + local + stream
    offset = len(bag_local) + len(bagit)
    central = (struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, zlib.crc32(bagit),
                           len(bagit), len(bagit), 9, 0, 0, 0, 0, 0, 0) + b"bagit.txt"
               + struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc,
                             len(stream), size, len(name), 0, 0, 0, 0, 0, offset) + name)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 2, 2, len(central), len(body), 0)
    return body + central + end


def test_a_zip_bomb_is_refused_in_well_under_a_second(other):  # noqa: F811
    package = _bomb()
    assert len(package) < 1_100_000
    with zipfile.ZipFile(io.BytesIO(package)) as zf:  # a well-formed ZIP: 1 MB -> 1 GiB
        assert zf.getinfo("data/zeros.bin").file_size == 1 << 30
    t0 = time.perf_counter()
    r = import_into(other.client, package)
    seconds = time.perf_counter() - t0
    problems = _problems(r)
    assert any("zip bomb" in p for p in problems), problems
    assert seconds < 1.0, seconds  # about 0.05 s on a quiet machine: nothing is inflated
    assert_untouched(other)


def test_a_bomb_that_lies_about_its_size_stops_at_the_declared_size(other):  # noqa: F811
    t0 = time.perf_counter()
    problems = _problems(import_into(other.client, _bomb(declared=1 << 20)))
    assert time.perf_counter() - t0 < 2  # inflating and writing 1 GiB takes several seconds
    assert any("data/zeros.bin" in p and "damaged" in p for p in problems), problems
    assert_untouched(other)
