"""What `repo-server serve` prints when it starts: where it listens, the key, what to do next.

A commune's clerk may start the server once and read only this, so it is short, in plain words,
and says nothing that looks like an error on a normal first start. Log lines follow it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable


def _can_draw(stream) -> bool:  # noqa: ANN001
    try:
        "╭─╮│╰╯".encode(getattr(stream, "encoding", None) or "ascii")
        return True
    except (LookupError, UnicodeEncodeError):
        return False


def box(lines: Iterable[str], *, unicode: bool = True) -> str:
    """The lines in a frame, so a one-time secret stands out from everything around it."""
    lines = list(lines)
    width = max(len(line) for line in lines)
    tl, tr, bl, br, h, v = ("╭", "╮", "╰", "╯", "─", "│") if unicode else ("+", "+", "+", "+",
                                                                        "-", "|")
    out = [f"  {tl}{h * (width + 4)}{tr}"]
    out += [f"  {v}  {line.ljust(width)}  {v}" for line in lines]
    out.append(f"  {bl}{h * (width + 4)}{br}")
    return "\n".join(out)


def command_name() -> str:
    """How the person who started this process runs `repo-server` again: `.venv/bin/repo-server`
    after `scripts/serve` (which put it on the PATH only for itself), `repo-server` when it is
    on the PATH, else its full path."""
    import shutil
    from pathlib import Path

    me = Path(sys.argv[0]).resolve() if sys.argv and sys.argv[0] else None
    if me is None or me.name != "repo-server":
        return "repo-server"
    try:
        return str(me.relative_to(Path.cwd()))
    except ValueError:
        pass
    on_path = shutil.which("repo-server")
    return "repo-server" if on_path and Path(on_path).resolve() == me else str(me)


def greeting(*, version: str, base_url: str, instance: str, database: str, secret: str | None,
             recovered: int, backup: dict, embedded_worker: bool, stream=None) -> str:  # noqa: ANN001
    """The text printed once the server listens (`backup` as from `backup_state`)."""
    stream = stream or sys.stdout
    cmd = command_name()
    api = f"{base_url}/api/v1/"
    lines = [f"repo-server {version} is running"
             + (" (web server and worker in this process)." if embedded_worker else "."),
             "",
             f"  API         {api}",
             f"  API docs    {base_url}/api/v1/docs   (open it in a browser)",
             f"  Data        {instance}   (database: {database})"]
    if backup.get("destination") and backup.get("schedule"):
        lines.append(f"  Backups     {backup['destination']}   ({when(backup['schedule'])})")
    else:
        lines.append("  Backups     turned off")
    if recovered:
        lines.append(f"  Recovered   {recovered} write(s) a crash interrupted, from the storage root")
    if secret:
        lines += ["", box(["First admin API key. It is shown only this once: copy it now",
                           "and keep it safe (a password manager, a sealed envelope).",
                           "", secret], unicode=_can_draw(stream)),
                  "", "Next steps:",
                  f"  1. Try the key:   curl -H \"Authorization: Bearer {secret}\" {api}me",
                  "  2. Open the API docs, press \"Authorize\", paste the key, try any GET.",
                  "  3. Give every person and system a key of its own (not this one):",
                  "     README.md, \"Getting started\".",
                  "  4. Check this machine (OCR, fonts, disk, backups, clock):",
                  f"     {cmd} doctor"]
    advice = list(backup.get("warnings", []))
    if advice:
        lines += ["", "To do:"] + [f"  - {_sentence(w)}" for w in advice]
    lines += ["", "Stop with Ctrl+C. Log messages follow.", ""]
    return "\n".join(lines)


def when(crontab: str) -> str:
    """A crontab in words where it is a daily one ("every day at 00:30")."""
    import re

    m = re.fullmatch(r"(\d{1,2}) (\d{1,2}) \* \* \*", crontab.strip())
    if m:
        return f"every day at {int(m[2]):02d}:{int(m[1]):02d}"
    return f"schedule {crontab}"


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")
