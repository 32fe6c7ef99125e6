"""One configuration (config.py): a table of settings, each documented and used, read in one
place; the HTTP layer uses the configuration of the env it is given."""

from __future__ import annotations

import re
from pathlib import Path

from repo_server import build_env, create_app
from repo_server.catalog.migrate import upgrade
from repo_server.config import DEFAULTS, SETTINGS, load_config
from repo_server.services.keys import create_key
from tests.conftest import Client, close_env

ROOT = Path(__file__).resolve().parents[2]


def test_create_app_uses_the_configuration_of_its_env(tmp_path, monkeypatch):
    """`repo-server --instance X serve`: the HTTP layer read METRICS_PUBLIC, AUTH_FAILURE_*,
    MAX_JSON_BYTES and IDEMPOTENCY_* from ./instance and made a stray ./instance."""
    cwd = tmp_path / "elsewhere"
    (cwd / "instance").mkdir(parents=True)
    (cwd / "instance" / "config.py").write_text(
        "METRICS_PUBLIC = False\nMAX_JSON_BYTES = 10\n", encoding="utf-8")
    elsewhere = tmp_path / "empty-cwd"
    elsewhere.mkdir()
    x = tmp_path / "X"
    x.mkdir()
    (x / "config.py").write_text("METRICS_PUBLIC = True\nFSYNC = False\n", encoding="utf-8")
    monkeypatch.delenv("REPO_INSTANCE_PATH", raising=False)
    config = load_config(x)
    upgrade(config["DATABASE_URL"])
    env = build_env(config)
    try:
        for where in (cwd, elsewhere):
            monkeypatch.chdir(where)
            app = create_app(env=env)
            assert app.config["REPO"]["METRICS_PUBLIC"] is True
            assert app.config["REPO"]["MAX_JSON_BYTES"] == DEFAULTS["MAX_JSON_BYTES"]
            assert app.test_client().get("/api/v1/metrics").status_code == 200
            _, secret = create_key(env, f"admin-{where.name}", ["admin"])
            r = Client(app, secret).post("/api/v1/fonds", json={
                "code": "000.00.00.H49" if where is cwd else "000.00.00.H50", "name": "UBND"})
            assert r.status_code == 201, r.json  # a body over 10 bytes is fine
        assert not (elsewhere / "instance").exists(), "a stray ./instance was created"
    finally:
        close_env(env)


def _readme_settings() -> set[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    names: set[str] = set()
    for cell in re.findall(r"^\| (`[A-Z][A-Z0-9_]*`(?:, `[A-Z][A-Z0-9_]*`)*) \|", text, re.M):
        names.update(re.findall(r"`([A-Z0-9_]+)`", cell))
    return names


def test_every_setting_is_in_the_readme_table():
    documented = _readme_settings()
    assert sorted(set(DEFAULTS) - documented) == [], "add these settings to the README table"
    assert sorted(documented - set(DEFAULTS)) == [], "the README names unknown settings"


def test_every_setting_has_a_type_and_a_help():
    for s in SETTINGS:
        assert s.help.strip(), s.name
        assert s.default is None or isinstance(s.default, s.type) or (
            s.type is float and isinstance(s.default, int)), s.name


def test_every_setting_is_used_outside_config_py():
    sources = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "repo_server").rglob("*.py")
                        if p != ROOT / "repo_server" / "config.py")
    unused = [s.name for s in SETTINGS if not re.search(rf"[\"']{s.name}[\"']", sources)]
    assert unused == [], "settings nobody reads"


def test_settings_are_read_only_in_config_py():
    """No module but config.py reads a setting's REPO_* environment variable."""
    names = "|".join(s.name for s in SETTINGS)
    reads = re.compile(rf"environ(?:\.get\(|\[)\s*[\"']REPO_({names})[\"']\s*[,)\]](?!\s*=)")
    offenders = []
    for path in (ROOT / "repo_server").rglob("*.py"):
        if path == ROOT / "repo_server" / "config.py":
            continue
        offenders += [f"{path.relative_to(ROOT)}: REPO_{m[1]}"
                      for m in reads.finditer(path.read_text(encoding="utf-8"))]
    assert offenders == []
