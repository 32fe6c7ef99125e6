"""Production mode (gunicorn + `repo-server worker`), kill -9 in the middle of an upload:
the restarted worker removes the staged file at once, not after RECOVERY_FALLBACK_SECONDS
(issue 12 §2; decision 0016)."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlparse

import pytest
import requests

from tests.ops.stack import database_url, loadtest

FONDS = "000.00.00.H49"


def _staged(stack) -> list:  # noqa: ANN001
    tmp = stack.instance / "storage.tmp"
    return [p for p in tmp.rglob("*") if p.is_file() and "locks" not in p.parts] \
        if tmp.exists() else []


@pytest.mark.slow(20)
def test_a_kill_during_an_upload_leaves_nothing_after_the_restart(tmp_path):
    lt = loadtest()
    stack = lt.Stack(tmp_path, mode="production", web_workers=1, database_url=database_url())
    key = stack.init()
    try:
        stack.start()
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {key}"
        assert s.post(f"{stack.base}/fonds", json={"code": FONDS, "name": "UBND"}).ok
        dossier = s.post(f"{stack.base}/dossiers", json={
            "fonds_code": FONDS, "title": "Hồ sơ", "retention": "05"}).json()
        doc = s.post(f"{stack.base}/dossiers/{dossier['id']}/documents",
                     json={"type_code": "02", "subject": "Công văn"}).json()
        # A client streams a large file slowly; the server stages what it has received.
        url = urlparse(stack.base)
        conn = socket.create_connection((url.hostname, url.port))
        conn.sendall((f"PUT {url.path}/documents/{doc['id']}/files/lon.bin HTTP/1.1\r\n"
                      f"Host: {url.hostname}\r\nAuthorization: Bearer {key}\r\n"
                      'If-Match: "v1"\r\nContent-Type: application/octet-stream\r\n'
                      "Content-Length: 50000000\r\n\r\n").encode())
        deadline = time.monotonic() + 30
        while not _staged(stack) and time.monotonic() < deadline:
            conn.sendall(b"x" * 65536)
            time.sleep(0.05)
        assert _staged(stack), "the upload was not being staged"
        stack.kill()
        conn.close()
        assert _staged(stack), "the killed server left its staged file"
        started = time.monotonic()
        stack.start()
        while _staged(stack) and time.monotonic() - started < 60:
            time.sleep(0.2)
        waited = time.monotonic() - started
        assert _staged(stack) == [], "the staged file of the killed process is still there"
        assert waited < 30, f"recovered only after {waited:.1f} s"
        print(f"\nstaged file of the killed server removed {waited:.1f} s after the restart")
        assert s.get(f"{stack.base}/health").json()["status"] in ("ok", "degraded")
    finally:
        stack.kill()
