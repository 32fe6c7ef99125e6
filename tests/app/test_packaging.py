"""The built wheel works on its own: it carries the migrations (issue 19).

`.ci/run` also installs the wheel into a clean virtual environment outside the checkout and
starts `repo-server serve` from it (scripts/check-wheel); this test is the quick half.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(
    bool(os.environ.get("TEST_DATABASE_URL")),
    reason="packaging does not depend on the database: it runs in the SQLite leg")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                            "--no-build-isolation", "-q", "-w", str(out), str(CHECKOUT)],
                           capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stdout + build.stderr
    (found,) = out.glob("repo_server-*.whl")
    return found


def test_the_wheel_carries_every_migration(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"repo_server/migrations/{p.relative_to(CHECKOUT / 'migrations').as_posix()}"
                for p in (CHECKOUT / "migrations").rglob("*")
                if p.is_file() and "__pycache__" not in p.parts}
    assert {"repo_server/migrations/env.py", "repo_server/migrations/script.py.mako"} <= expected
    assert expected <= names, sorted(expected - names)
    assert "repo_server/codes/retention.json" in names


def test_the_unpacked_wheel_creates_a_database_without_the_checkout(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = ("from repo_server.catalog.migrate import migrations_dir; print(migrations_dir())")
    where = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env={"PYTHONPATH": str(site)},
                           capture_output=True, text=True, timeout=60)
    assert where.stdout.strip() == str(site / "repo_server" / "migrations"), where.stderr
    init = subprocess.run([sys.executable, "-m", "repo_server.cli", "--instance",
                           str(tmp_path / "instance"), "init"], cwd=tmp_path,
                          env={"PYTHONPATH": str(site), "REPO_FSYNC": "false"},
                          capture_output=True, text=True, timeout=120)
    assert init.returncode == 0, init.stdout + init.stderr
    assert "First admin API key" in init.stdout
