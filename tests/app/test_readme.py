"""Every shell example of the README runs as written, against a fresh server (issue 19).

The README marks each ```sh block with an HTML comment on the line before it (invisible on a
rendered page):

    <!-- walkthrough: NAME[; KEY=SOURCE][; needs: PROGRAM] -->   run as part of walkthrough NAME
    <!-- not run: REASON -->                                     shown only (starts a server, ...)

The blocks of one walkthrough run in order, in one bash (`set -euo pipefail`, and curl fails
on an HTTP error unless the block asks for the status with `-w`), after the `common` blocks. Two things are put in, as a person would: the server's address replaces
`http://127.0.0.1:8080` (the test server has a port of its own), and the line `KEY=rs_...`
gets the key named by `KEY=SOURCE`: `admin`, the key of the first start, or a variable the
operator walkthrough left (its keys for the clerk, the archivist, the desk system). So the
walkthroughs run in their README order on one server, as on a first day.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.app.test_first_start import REPO_SERVER, Started, admin_key, free_port, quiet_env

CHECKOUT = Path(__file__).resolve().parents[2]
README = CHECKOUT / "README.md"
pytestmark = pytest.mark.slow(30)  # a real server per walkthrough: sent first (tests/conftest.py)
MARKER = re.compile(r"<!--\s*(walkthrough|not run):\s*(.*?)\s*-->")
KEY_LINE = re.compile(r"^(\s*(?:export\s+)?KEY)=rs_\.\.\.(.*)$", re.M)
README_URL = "http://127.0.0.1:8080"
# A request the server refuses must fail the walkthrough, not print an error the next command
# reads as `null`: curl exits non-zero on HTTP errors (and still prints the JSON error), except
# where the README asks for the status code itself (`-w`, to show a refusal on purpose).
FAIL_ON_HTTP_ERRORS = """curl() {
  local a; for a in "$@"; do [ "$a" = -w ] && { command curl "$@"; return; }; done
  command curl --fail-with-body "$@"
}"""


@dataclass
class Walkthrough:
    name: str
    key: str | None = None
    needs: list[str] = field(default_factory=list)
    blocks: list[tuple[int, str]] = field(default_factory=list)  # (line number, code)

    def script(self) -> str:
        return "\n".join(f"# --- README.md line {line}\n{code}" for line, code in self.blocks)


def shell_blocks(text: str) -> list[tuple[int, str | None, str]]:
    """Every ```sh block: (line number, the marker comment before it or None, code)."""
    lines = text.splitlines()
    out = []
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```sh":
            j = i - 1
            while j >= 0 and not lines[j].strip():
                j -= 1
            marker = lines[j].strip() if j >= 0 and MARKER.fullmatch(lines[j].strip()) else None
            end = i + 1
            while lines[end].strip() != "```":
                end += 1
            out.append((i + 1, marker, "\n".join(lines[i + 1:end])))
            i = end
        i += 1
    return out


def walkthroughs(text: str) -> dict[str, Walkthrough]:
    found: dict[str, Walkthrough] = {}
    for line, marker, code in shell_blocks(text):
        if marker is None:
            continue
        kind, spec = MARKER.fullmatch(marker).groups()
        if kind == "not run":
            continue
        name, *options = [part.strip() for part in spec.split(";")]
        w = found.setdefault(name, Walkthrough(name))
        for option in options:
            if option.startswith("KEY="):
                w.key = option.removeprefix("KEY=")
            elif option.startswith("needs:"):
                w.needs += option.removeprefix("needs:").split()
            else:
                raise AssertionError(f"README.md line {line}: unknown option {option!r}")
        if "needs:" in spec and shutil.which(spec.split("needs:")[1].split()[0]) is None:
            code = (f"echo 'skipped (README.md line {line}): "
                    f"{spec.split('needs:')[1].split()[0]} is not installed' >&2")
        w.blocks.append((line, code))
    return found


# The walkthroughs run in README order on one server (the operator gives out the keys the
# others use): under pytest-xdist this file goes to one worker (`.ci/run`: `--dist loadfile`).
TEXT = README.read_text(encoding="utf-8")
WALKTHROUGHS = walkthroughs(TEXT)
# README order: the operator's walkthrough gives out the keys the others use.
ORDER = [name for name in WALKTHROUGHS if name != "common"]


def test_every_shell_example_is_run_or_says_why_not():
    unmarked = [line for line, marker, _ in shell_blocks(TEXT) if marker is None]
    assert unmarked == [], (f"README.md lines {unmarked}: mark each ```sh block with "
                            "<!-- walkthrough: NAME --> or <!-- not run: why -->")
    assert {"operator", "integrator", "clerk", "archivist"} <= set(WALKTHROUGHS)
    for name in ORDER:
        w = WALKTHROUGHS[name]
        assert w.key, f"walkthrough {name}: say whose key it uses (KEY=...)"
        assert KEY_LINE.search(w.script()), f"walkthrough {name}: no `KEY=rs_...` line"


def test_the_readme_links_only_to_files_a_clone_has():
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", TEXT):
        if "://" in target:
            continue
        assert (CHECKOUT / target).exists(), f"README.md links to {target}, not in the repo"
    assert "../shared" not in TEXT


class Day:
    """One fresh server for the walkthroughs, and what each one leaves for the next."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.state: dict[str, str] = {}
        self.failed: list[str] = []
        # the folder looks like a clone where scripts/serve ran: .venv and instance/
        (home / ".venv").symlink_to(Path(sys.prefix))
        self.env = quiet_env()
        self.server = Started([REPO_SERVER, "serve", "--port", str(self.port)], home, self.env)
        self.server.wait_for("Stop with Ctrl+C")
        self.state["admin"] = admin_key(self.server.stdout)
        shutil.copy(CHECKOUT / "instance" / "config.example.py",
                    home / "instance" / "config.example.py")

    def run(self, w: Walkthrough) -> subprocess.CompletedProcess:
        key = self.state.get(w.key or "")
        assert key, f"walkthrough {w.name} needs {w.key}, which no walkthrough before it left"
        body = w.script().replace(README_URL, self.url)
        body = KEY_LINE.sub(lambda m: f"{m[1]}={key}{m[2]}", body)
        common = WALKTHROUGHS["common"].script().replace(README_URL, self.url)
        state_file = self.home / f".{w.name}.state"
        script = (f"set -euo pipefail\n{FAIL_ON_HTTP_ERRORS}\n{common}\n{body}\n"
                  f"declare -p | grep -E '_KEY=' > {state_file} || true\n")
        (self.home / f"{w.name}.sh").write_text(script, encoding="utf-8")
        env = {k: v for k, v in self.env.items() if k not in ("VIRTUAL_ENV",)}
        # the user's shell: no .venv on PATH unless a walkthrough puts it there
        env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                      if Path(p).resolve() != Path(sys.prefix, "bin").resolve())
        out = subprocess.run(["bash", str(self.home / f"{w.name}.sh")], cwd=self.home, env=env,
                             capture_output=True, text=True, timeout=300)
        (self.home / f"{w.name}.out").write_text(out.stdout + "\n--- stderr\n" + out.stderr,
                                                 encoding="utf-8")
        if state_file.exists():
            for m in re.finditer(r"([A-Z_]+_KEY)=\"?(rs_[^\"\s]+)", state_file.read_text()):
                self.state[m[1]] = m[2]
        return out


@pytest.fixture(scope="module")
def day(tmp_path_factory):  # noqa: ANN201
    d = Day(tmp_path_factory.mktemp("first-day"))
    yield d
    d.server.stop()


@pytest.mark.parametrize("name", ORDER)
def test_walkthrough_runs_as_written(day, name):
    w = WALKTHROUGHS[name]
    if day.failed and w.key not in day.state:
        pytest.fail(f"walkthrough {name} needs {w.key}; {', '.join(day.failed)} failed first")
    out = day.run(w)
    if out.returncode != 0:
        day.failed.append(name)
    assert out.returncode == 0, (
        f"walkthrough {name} failed (exit {out.returncode}); script in {day.home}/{name}.sh\n"
        f"--- stdout\n{out.stdout[-4000:]}\n--- stderr\n{out.stderr[-4000:]}\n"
        f"--- server log\n{day.server.stderr[-3000:]}")
    assert "receipt CHANGED" not in out.stdout
