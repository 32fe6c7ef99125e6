"""The first hour of a new user: the start scripts, the greeting, quiet logs (issue 19).

These run the real programs (`scripts/serve`, `repo-server serve`) in subprocesses, on a fresh
instance in a temporary folder, the way a person types them.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from repo_server.logs import QUIET_LOGGERS, resolve_format, setup_logging

CHECKOUT = Path(__file__).resolve().parents[2]
REPO_SERVER = str(Path(sys.executable).with_name("repo-server"))
pytestmark = pytest.mark.slow(30)  # real programs in subprocesses: sent first (tests/conftest.py)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def quiet_env(**extra: str) -> dict[str, str]:
    """The environment without REPO_* settings of whoever runs the tests."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPO_")}
    env.update({"REPO_FSYNC": "false", "PYTHONUNBUFFERED": "1", **extra})
    if os.environ.get("TEST_DATABASE_URL"):
        from tests.ops.stack import database_url

        env["REPO_DATABASE_URL"] = database_url()
    return env


class Started:
    """A server process started by a test: its output so far, stopped like Ctrl+C."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.out_path = cwd / "stdout.txt"
        self.err_path = cwd / "stderr.txt"
        self.proc = subprocess.Popen(args, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                     stdout=self.out_path.open("wb"),
                                     stderr=self.err_path.open("wb"), start_new_session=True)

    @property
    def stdout(self) -> str:
        return self.out_path.read_text(encoding="utf-8", errors="replace")

    @property
    def stderr(self) -> str:
        return self.err_path.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, text: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.stdout:
            if self.proc.poll() is not None:
                raise AssertionError(f"exited {self.proc.returncode} before {text!r}:\n"
                                     f"{self.stdout}\n{self.stderr}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} within {timeout} s:\n{self.stdout}\n"
                                     f"{self.stderr}")
            time.sleep(0.1)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        return self.proc.returncode


def get(url: str, key: str | None = None) -> tuple[int, dict]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"} if key else {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def admin_key(greeting: str) -> str:
    keys = re.findall(r"│\s+(rs_\S+)\s+│", greeting)
    assert len(keys) == 1, greeting
    return keys[0]


# --- scripts/serve and scripts/test -------------------------------------------------------


def test_scripts_serve_passes_its_arguments_to_repo_server_serve():
    """`scripts/serve --help` once reached pip as `.[--help]` and failed with exit 2."""
    out = subprocess.run([str(CHECKOUT / "scripts" / "serve"), "--help"], capture_output=True,
                         text=True, timeout=300, env=quiet_env())
    assert out.returncode == 0, out.stdout + out.stderr
    assert "--port" in out.stdout and "--instance" in out.stdout
    assert "Run the server in one process" in out.stdout


def test_switching_from_scripts_test_to_scripts_serve_installs_nothing():
    """The suite runs from the .venv that scripts/test made: scripts/serve uses it as it is
    (once it reinstalled the package every time, and failed on a machine without network)."""
    if not (CHECKOUT / ".venv" / "bin" / "python").exists() or \
            Path(sys.prefix).resolve() != (CHECKOUT / ".venv").resolve():
        pytest.skip("the suite does not run from the checkout's .venv (scripts/test)")
    started = time.monotonic()
    out = subprocess.run([str(CHECKOUT / "scripts" / "serve"), "--help"], capture_output=True,
                         text=True, timeout=300, env=quiet_env())
    assert out.returncode == 0, out.stderr
    assert "Installing" not in out.stdout + out.stderr
    assert time.monotonic() - started < 30


def test_scripts_serve_listens_on_the_port_and_instance_it_is_given(tmp_path):
    port = free_port()
    server = Started([str(CHECKOUT / "scripts" / "serve"), "--port", str(port),
                      "--instance", str(tmp_path / "office")], tmp_path, quiet_env())
    try:
        server.wait_for("Stop with Ctrl+C")
        assert f"http://127.0.0.1:{port}/api/v1/" in server.stdout
        assert "     .venv/bin/repo-server doctor" in server.stdout
        status, body = get(f"http://127.0.0.1:{port}/api/v1/health")
        assert status == 200 and body["checks"]["database"] == "ok"
        assert (tmp_path / "office" / "storage" / "0=ocfl_1.1").is_file()
        assert not (CHECKOUT / "office").exists()
    finally:
        assert server.stop() == 0, server.stderr


# --- the greeting -------------------------------------------------------------------------


def test_first_start_reads_like_a_greeting_and_logs_nothing_alarming(tmp_path):
    port = free_port()
    env = quiet_env()
    server = Started([REPO_SERVER, "serve", "--port", str(port)], tmp_path, env)
    try:
        server.wait_for("Stop with Ctrl+C")
        time.sleep(1.5)  # the worker's first turn: it creates the search index
        greeting = server.stdout
        base = f"http://127.0.0.1:{port}/api/v1"
        assert f"{base}/\n" in greeting and f"{base}/docs" in greeting
        key = admin_key(greeting)
        assert "shown only this once" in greeting and "Next steps" in greeting
        assert "repo-server doctor" in greeting and "Getting started" in greeting
        assert len(greeting.splitlines()) <= 35, greeting
        assert get(f"{base}/me", key)[0] == 200
        # the log: short text lines, nothing that reads like an error
        log = server.stderr.strip().splitlines()
        assert len(log) <= 6, server.stderr
        for line in log:
            assert not line.startswith("{"), line
            assert not re.search(r"\b(WARNING|ERROR|CRITICAL|Traceback)\b", line), line
    finally:
        assert server.stop(signal.SIGINT) == 0, server.stderr  # Ctrl+C
    assert "repo-server stopped." in server.stdout
    # the second start greets without a key (it is shown once)
    assert "WARNING" not in server.stderr, server.stderr  # a normal stop is not a problem
    again = Started([REPO_SERVER, "serve", "--port", str(port)], tmp_path, env)
    try:
        again.wait_for("Stop with Ctrl+C")
        assert "rs_" not in again.stdout and "Next steps" not in again.stdout
        assert "database: up to date" in again.stdout
        # the first process handed its worker lease back: the new one indexes at once
        deadline = time.monotonic() + 10
        while "holds the lease" not in again.stderr and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "holds the lease" in again.stderr, again.stderr
    finally:
        assert again.stop() == 0, again.stderr  # SIGTERM, as systemd stops it


def test_a_port_in_use_is_a_plain_message_and_the_first_key_is_not_lost(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = subprocess.run([REPO_SERVER, "serve", "--port", str(port)], cwd=tmp_path,
                             capture_output=True, text=True, timeout=120, env=quiet_env())
    assert out.returncode == 1
    assert f"Cannot listen on 127.0.0.1:{port}" in out.stderr
    assert f"--port {port + 1}" in out.stderr and "Traceback" not in out.stderr
    assert re.search(r"First admin API key .*: rs_\S+", out.stdout), out.stdout


def test_production_logs_stay_json_lines_when_asked(tmp_path):
    port = free_port()
    server = Started([REPO_SERVER, "serve", "--port", str(port)], tmp_path,
                     quiet_env(REPO_LOG_FORMAT="json"))
    try:
        server.wait_for("Stop with Ctrl+C")
        time.sleep(1)
    finally:
        server.stop()
    lines = server.stderr.strip().splitlines()
    assert lines and all(json.loads(line)["level"] for line in lines), server.stderr


# --- log format and chatter ---------------------------------------------------------------


def test_log_format_auto_is_text_for_people_and_json_for_production():
    assert resolve_format("auto", production=False) == "text"
    assert resolve_format("auto", production=True) == "json"
    assert resolve_format("json", production=False) == "json"
    assert resolve_format("text", production=True) == "text"
    with pytest.raises(ValueError, match="json, text or auto"):
        resolve_format("yaml", production=False)


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    saved = (root.handlers[:], root.level,
             {name: logging.getLogger(name).level for name in QUIET_LOGGERS})
    yield
    root.handlers[:], root.level = saved[0], saved[1]
    for name, level in saved[2].items():
        logging.getLogger(name).setLevel(level)


def test_a_pdf_record_logs_no_font_library_chatter(restore_logging):
    """fpdf2's font subsetting logged some forty INFO lines per destruction record."""
    from repo_server.services.destruction import find_font, render_pdf

    font = find_font()
    if font is None:
        pytest.skip("no font with Vietnamese letters (fonts-dejavu-core)")
    setup_logging("INFO", "text", production=False)
    seen: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    logging.getLogger().addHandler(Collect())
    body = {"title": "Biên bản hủy tài liệu hết giá trị",
            "decision": {"decision_ref": "15/QĐ-UBND", "approved_by": "Chủ tịch",
                         "approved_at": "2025-09-30"},
            "council": ["Nguyễn Văn A"], "review": {"title": "Đợt 1", "id": "r1", "quorum": 3},
            "executed_at": "2025-10-01", "destroyed": [], "kept": [], "skipped": []}
    assert render_pdf(body, font).startswith(b"%PDF")
    assert [r.getMessage() for r in seen] == []
    # DEBUG brings the libraries' lines back, for whoever needs them
    setup_logging("DEBUG", "text", production=False)
    logging.getLogger().handlers[:] = [Collect()]
    render_pdf(body, font)
    assert any(r.name.startswith("fontTools") for r in seen)
