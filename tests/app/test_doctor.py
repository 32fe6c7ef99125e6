"""`repo-server doctor` names what is wrong on the machine and says what to do (issue 19)."""

from __future__ import annotations

import os
import shutil
from datetime import timedelta

import pytest
from click.testing import CliRunner

from repo_server.cli import main
from repo_server.doctor import PROBLEM, WARNING, check_clock, run_checks


def doctor(instance, **env_vars: str):  # noqa: ANN001, ANN201
    env = {k: None for k in os.environ if k.startswith("REPO_")}
    env.update({"REPO_FSYNC": "false"})
    if os.environ.get("TEST_DATABASE_URL"):
        env["REPO_DATABASE_URL"] = os.environ["TEST_DATABASE_URL"]
    env.update(env_vars)
    return CliRunner().invoke(main, ["doctor", "--instance", str(instance)], env=env)


def lines_of(output: str, check: str) -> list[str]:
    """The line of one check and its advice line."""
    lines = output.splitlines()
    for i, line in enumerate(lines):
        if line.split()[1:2] == [check]:
            return lines[i:i + 2]
    raise AssertionError(f"no {check} line in:\n{output}")


@pytest.fixture
def ready_instance(config, env, client, dossier):  # noqa: ANN001, ANN201
    """An instance in use: a fonds, a dossier, a key."""
    return config["INSTANCE_PATH"]


def test_doctor_checks_every_area_and_exits_0_when_nothing_is_wrong(ready_instance,
                                                                    monkeypatch):
    from collections import namedtuple

    if shutil.which("tesseract") is None:
        pytest.skip("Tesseract is not installed here (.ci/run installs it)")
    # what depends on the machine rather than on the instance: a roomy disk, a synced clock
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr("repo_server.doctor.disk_usage",
                        lambda path: usage(500 * 1024**3, 100 * 1024**3, 400 * 1024**3))
    monkeypatch.setattr("repo_server.doctor._ntp_synchronised", lambda: True)
    out = doctor(ready_instance)
    assert out.exit_code == 0, out.output
    for check in ("Database", "OCR", "Fonts", "Disk", "Backups", "Clock", "Permissions"):
        expected = "WARNING" if check == "Backups" else "ok"
        assert lines_of(out.output, check)[0].split()[0] == expected, out.output
    # the default backup folder works, and doctor says why it is not enough
    backups = lines_of(out.output, "Backups")
    assert backups[0].split()[0] == "WARNING" and "same disk" in backups[0]
    assert "-> set BACKUP_DIR" in backups[1]


def test_doctor_says_how_to_install_tesseract_when_it_is_missing(ready_instance, tmp_path):
    empty = tmp_path / "no-programs"
    empty.mkdir()
    out = doctor(ready_instance, PATH=str(empty))
    assert out.exit_code == 1, out.output
    ocr = lines_of(out.output, "OCR")
    assert ocr[0].split()[0] == "PROBLEM" and "Tesseract" in ocr[0]
    assert "apt-get install tesseract-ocr tesseract-ocr-vie" in ocr[1]
    assert "1 problem(s)" in out.output or "problem(s)" in out.output


def test_doctor_flags_a_pdf_font_that_is_not_there(ready_instance):
    out = doctor(ready_instance, REPO_PDF_FONT="/nowhere/font.ttf")
    assert out.exit_code == 1
    fonts = lines_of(out.output, "Fonts")
    assert fonts[0].split()[0] == "PROBLEM" and "/nowhere/font.ttf" in fonts[0]


def test_doctor_flags_a_time_zone_that_does_not_exist(ready_instance):
    out = doctor(ready_instance, REPO_TIMEZONE="Asia/Hanoi-ish")
    assert out.exit_code == 1
    assert "Asia/Ho_Chi_Minh" in lines_of(out.output, "Clock")[1]


def test_doctor_flags_a_clock_behind_the_records(env, client, dossier):
    real = env.clock
    env.clock = lambda: real() - timedelta(days=400)
    try:
        finding = check_clock(env)
    finally:
        env.clock = real
    assert finding.status == PROBLEM and "the clock is wrong" in finding.message


def test_doctor_measures_growth_and_flags_a_disk_that_is_nearly_full(env, client, dossier,
                                                                      monkeypatch):
    from collections import namedtuple

    client.make_document(dossier["id"], files={"don.pdf": b"%PDF-1.4 " + b"x" * 300_000})
    findings = {f.check: f for f in run_checks(env)}
    assert "records grow about 293.0 KiB a day" in findings["Disk"].message
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr("repo_server.doctor.disk_usage",
                        lambda path: usage(100 * 1024**3, 99 * 1024**3, 700 * 1024**2))
    disk = {f.check: f for f in run_checks(env)}["Disk"]
    assert disk.status == PROBLEM and disk.message.startswith("700.0 MiB free of 100.0 GiB")
    assert "larger disk" in disk.advice


def test_doctor_names_an_unreachable_postgresql(env, client, dossier, tmp_path):
    pytest.importorskip("psycopg")
    from repo_server import build_env
    from repo_server.config import load_config

    url = f"postgresql+psycopg://repo@/repo?host={tmp_path}/no-server-here"
    config = load_config(env.config["INSTANCE_PATH"], {"DATABASE_URL": url, "FSYNC": False})
    findings = {f.check: f for f in run_checks(build_env(config))}
    db = findings["Database"]
    assert db.status == PROBLEM and db.message.startswith("PostgreSQL cannot be reached")
    assert "DATABASE_URL" in db.advice
    # what can be checked without it still is; nothing else is blamed on the database
    assert findings["Backups"].message == "not checked: the database cannot be reached"
    assert findings["Disk"].message.endswith("on the disk of the records")
    assert "could not be checked" not in str(findings)


def test_doctor_on_a_folder_with_no_instance_creates_nothing(tmp_path):
    for url in (None, f"postgresql+psycopg://repo@/repo?host={tmp_path}/no-server-here"):
        out = doctor(tmp_path / "nothing", **({"REPO_DATABASE_URL": url} if url else {}))
        assert out.exit_code == 1
        assert "repo-server init" in out.output
        assert not (tmp_path / "nothing").exists()


def test_a_warning_alone_does_not_fail_the_doctor(ready_instance):
    if shutil.which("tesseract") is None:
        pytest.skip("Tesseract is not installed here")
    out = doctor(ready_instance)
    assert WARNING.upper() in out.output and out.exit_code == 0
