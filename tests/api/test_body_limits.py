"""One JSON 413, decided from Content-Length before the body is read, by both web servers the
project runs under: waitress (`repo-server serve`) and gunicorn (`wsgi.py`)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from repo_server import create_app
from repo_server.api.body_limits import largest_body, waitress_channel
from tests.conftest import make_config

ROOT = Path(__file__).resolve().parents[2]
HUGE = 600 * 1024 * 1024


def _ask(port: int, path: str, content_type: str, length: int, body: bytes = b"") -> tuple:
    """Send headers (and `body`, far less than announced) and read the answer: a server that
    waited for the whole body would time out here."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall((f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n"
                   f"Content-Length: {length}\r\n\r\n").encode() + body)
        data = b""
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, payload = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in
               (line.decode().partition(":") for line in head.split(b"\r\n")[1:])}
    return status, headers, payload


def _length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":", 1)[1])
    return 1 << 30


def _check(status: int, headers: dict, payload: bytes, limit_name: str) -> None:
    assert status == 413
    assert headers["content-type"].startswith("application/json")
    body = json.loads(payload)
    assert body["code"] == 413 and body["status"] and limit_name in body["message"]


def test_waitress_refuses_from_content_length(instance, env):
    config = make_config(instance, MAX_UPLOAD_BYTES=2 * 1024 * 1024)
    app = create_app(config, env=env)
    from waitress.server import create_server

    server = create_server(app, host="127.0.0.1", port=0, threads=2,
                           max_request_body_size=largest_body(config) + 1)
    server.channel_class = waitress_channel(config)
    threading.Thread(target=server.run, daemon=True).start()
    try:
        port = server.effective_port
        _check(*_ask(port, "/api/v1/dossiers", "application/json", 2 * 1024 * 1024),
               "MAX_JSON_BYTES")
        # just over the upload limit (the old window between 512 and 513 MiB)
        _check(*_ask(port, "/api/v1/documents/x/files", "application/pdf",
                     2 * 1024 * 1024 + 10), "MAX_UPLOAD_BYTES")
        _check(*_ask(port, "/api/v1/dossiers/x/documents", "multipart/form-data; boundary=B",
                     HUGE), "MAX_UPLOAD_BYTES")
    finally:
        server.close()


@pytest.mark.skipif(shutil.which("gunicorn", path=str(Path(sys.executable).parent)) is None,
                    reason="gunicorn is not installed")
def test_gunicorn_refuses_from_content_length(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "REPO_MAX_UPLOAD_BYTES": str(2 * 1024 * 1024), "REPO_FSYNC": "0",
           "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-w", "1", "-b", f"127.0.0.1:{port}",
         "--chdir", str(tmp_path), "wsgi:app"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        _check(*_ask(port, "/api/v1/documents/x/files", "application/pdf", HUGE),
               "MAX_UPLOAD_BYTES")
        _check(*_ask(port, "/api/v1/dossiers", "application/json", 5 * 1024 * 1024, b"{"),
               "MAX_JSON_BYTES")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
