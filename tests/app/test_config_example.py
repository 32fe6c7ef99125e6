"""instance/config.example.py lists every setting, and each line works when uncommented."""

from __future__ import annotations

import re
from pathlib import Path

from repo_server.config import DEFAULTS, load_config

EXAMPLE = Path(__file__).resolve().parents[2] / "instance" / "config.example.py"
SETTING = re.compile(r"^# ([A-Z][A-Z0-9_]*) = (.*?)(?:[ \t]+#.*)?$", re.M)


def test_the_example_names_every_setting_and_sets_none():
    text = EXAMPLE.read_text(encoding="utf-8")
    named = {m[1] for m in SETTING.finditer(text)}
    assert sorted(set(DEFAULTS) - named) == [], "add these settings to config.example.py"
    assert sorted(named - set(DEFAULTS)) == [], "config.example.py names unknown settings"
    namespace: dict = {}
    exec(compile(text, str(EXAMPLE), "exec"), namespace)  # as copied: changes nothing
    assert not [k for k in namespace if k.isupper()]


def test_every_line_of_the_example_is_a_value_of_the_right_kind(tmp_path):
    for m in SETTING.finditer(EXAMPLE.read_text(encoding="utf-8")):
        name, value = m[1], eval(m[2])  # noqa: S307 - our own example file
        default = DEFAULTS[name]
        if default is not None and not isinstance(default, bool):
            assert isinstance(value, type(default)) or (
                isinstance(default, float) and isinstance(value, int)), (name, value)
        elif isinstance(default, bool):
            assert isinstance(value, bool), (name, value)
    # uncommented as a whole, it loads
    (tmp_path / "config.py").write_text(
        re.sub(r"^# ([A-Z][A-Z0-9_]* = )", r"\1", EXAMPLE.read_text(encoding="utf-8"), flags=re.M),
        encoding="utf-8")
    config = load_config(tmp_path)
    assert config["PORT"] == 8080 and config["BACKUP_DIR"] == "/media/usb/repo-backups"
