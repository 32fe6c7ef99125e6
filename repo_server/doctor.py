"""`repo-server doctor`: what a small agency gets wrong on its machine, and what to do about it.

Each check answers `ok`, `warning` (advice: things work, but not as safely as they should) or
`problem` (something does not work, or will soon). Every answer that is not `ok` says what to
do in plain words. Checks never change anything and never raise: a check that fails to run is
a problem of its own.
"""

# Commands import what they run inside their function: a check whose part cannot be imported (a
# missing library) reports it instead of stopping `repo-server doctor`. No loop is hidden there
# (check_layers counts function-level imports too; issue 14 §6).
from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from shutil import disk_usage
from typing import Any

from .services.backup_status import as_utc

OK, WARNING, PROBLEM = "ok", "warning", "problem"

GiB = 1024**3
MiB = 1024**2
# Free space below which writes will soon fail, and how many days of growth must fit.
MIN_FREE_BYTES = 1 * GiB
MIN_DAYS_LEFT, COMFORT_DAYS_LEFT = 30, 180
# Looking back this far to measure how fast the records grow.
GROWTH_WINDOW = timedelta(days=30)


@dataclass
class Finding:
    check: str
    status: str
    message: str
    advice: str = ""


def _size(n: float) -> str:
    for unit, factor in (("GiB", GiB), ("MiB", MiB), ("KiB", 1024)):
        if n >= factor:
            return f"{n / factor:.1f} {unit}"
    return f"{n:.0f} B"


# --- the checks -------------------------------------------------------------------------------


def check_ocr(env: Any) -> Finding:
    from .extract.ocr import _installed_langs, ocr_problem

    if not env.config.get("OCR", True):
        return Finding("OCR", OK, "turned off (OCR = False): scans are stored without text")
    _installed_langs.cache_clear()
    problem = ocr_problem("vie")
    if problem is None:
        return Finding("OCR", OK, "Tesseract with the Vietnamese model (vie): scans are read")
    return Finding("OCR", PROBLEM, f"scans cannot be read: {problem}",
                   "install it: sudo apt-get install tesseract-ocr tesseract-ocr-vie "
                   "(or set OCR = False in instance/config.py if you never store scans)")


def check_fonts(env: Any) -> Finding:
    from .services.destruction import find_font

    configured = str(env.config.get("PDF_FONT") or "")
    find_font.cache_clear()
    font = find_font(configured)
    if font:
        return Finding("Fonts", OK, f"PDF records are written with {font}")
    if configured:
        return Finding("Fonts", PROBLEM, f"PDF_FONT is {configured}, which is not a file",
                       "point PDF_FONT at a TTF font with Vietnamese letters, or remove it "
                       "to use DejaVu Sans")
    return Finding("Fonts", PROBLEM, "no font with Vietnamese letters: destruction records "
                   "(biên bản hủy) get no PDF", "install one: sudo apt-get install "
                   "fonts-dejavu-core")


def _intake_per_day(env: Any) -> float | None:
    """Bytes of files received per day over the last GROWTH_WINDOW (None: no records yet)."""
    from sqlalchemy import func, select
    from sqlalchemy.exc import SQLAlchemyError

    from .catalog import Document, DocumentFile

    since = env.now() - GROWTH_WINDOW
    try:
        with env.db.read() as session:
            first = session.scalar(select(func.min(Document.created_at)))
            added = session.scalar(select(func.coalesce(func.sum(DocumentFile.size), 0))
                                   .join(Document, Document.id == DocumentFile.document_id)
                                   .where(Document.created_at >= since)) or 0
    except SQLAlchemyError:
        return None  # the database check says why
    first = as_utc(first)
    if first is None:
        return None
    days = max(min((env.now() - first).total_seconds() / 86400, GROWTH_WINDOW.days), 1.0)
    return float(added) / days  # PostgreSQL sums into a Decimal


def check_disk(env: Any) -> Finding:
    from .services.backup_status import same_disk

    root = env.store.root
    usage = disk_usage(root)
    free = usage.free
    rate = _intake_per_day(env)
    dest = str(env.config.get("BACKUP_DIR") or "")
    # Backups on the same disk grow with the records (every full set is a new copy).
    factor = 2 if dest and same_disk(dest, root) else 1
    grows = f"; records grow about {_size(rate)} a day" if rate else ""
    days_left = free / (rate * factor) if rate else None
    text = f"{_size(free)} free of {_size(usage.total)} on the disk of the records{grows}"
    if days_left is not None:
        text += f" (room for about {days_left:,.0f} days)"
    advice = ("free space (old files that are not records), or move the instance to a larger "
              "disk (repo-server backup, then restore on the new disk)")
    if free < MIN_FREE_BYTES or (days_left is not None and days_left < MIN_DAYS_LEFT):
        return Finding("Disk", PROBLEM, text, advice)
    if free < usage.total * 0.10 or (days_left is not None and days_left < COMFORT_DAYS_LEFT):
        return Finding("Disk", WARNING, text, "plan a larger disk within a few months")
    return Finding("Disk", OK, text)


def check_backups(env: Any) -> Finding:
    from .services.backup_status import backup_state
    from .services.health import backup_check

    state = backup_state(env)
    dest = state["destination"]
    health = backup_check(env)
    if not dest or not state["schedule"]:
        return Finding("Backups", WARNING, "the nightly backup is turned off",
                       "turn it on: remove the \"backup\" entry from JOB_SCHEDULES, and set "
                       "BACKUP_DIR to a folder on another disk")
    probe = Path(dest)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    last = state["last_success"]
    done = (f"last success {last:%Y-%m-%d %H:%M} UTC" if last else "no backup made yet "
            "(the first runs tonight)")
    text = f"every night into {dest}; {done}"
    if not os.access(probe, os.W_OK):
        return Finding("Backups", PROBLEM, f"{text}; but {probe} is not writable",
                       "let the server's user write there (chown), or choose another folder")
    if health.startswith("failed:"):
        return Finding("Backups", PROBLEM, health.removeprefix("failed: "),
                       f"is the disk mounted and writable? Run `repo-server backup {dest}` "
                       "to see why")
    if state["same_disk"]:
        return Finding("Backups", WARNING, f"{text}; on the same disk as the records",
                       "set BACKUP_DIR (instance/config.py) to a folder on another disk: a "
                       "USB disk or a network share; copy a backup to another building from "
                       "time to time")
    return Finding("Backups", OK, text)


def _ntp_synchronised() -> bool | None:
    """Does the system say its clock is synchronised (systemd's timedatectl)? None: unknown."""
    cmd = shutil.which("timedatectl")
    if cmd is None:
        return None
    try:
        out = subprocess.run([cmd, "show", "-p", "NTPSynchronized", "--value"],
                             capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    value = out.stdout.strip().lower()
    return {"yes": True, "no": False}.get(value)


def check_clock(env: Any) -> Finding:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from sqlalchemy import func, select
    from sqlalchemy.exc import SQLAlchemyError

    from .catalog import AuditEvent

    name = str(env.config.get("TIMEZONE") or "")
    try:
        tz = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return Finding("Clock", PROBLEM, f"TIMEZONE {name!r} is not a time zone",
                       "set TIMEZONE = \"Asia/Ho_Chi_Minh\" (or install the tzdata package)")
    now = env.now()
    try:
        with env.db.read() as session:
            newest = as_utc(session.scalar(select(func.max(AuditEvent.at))))
    except SQLAlchemyError:
        newest = None  # the database check says why
    local = now.astimezone(tz)
    text = f"{local:%Y-%m-%d %H:%M} in {name} (UTC{local:%z})"
    if newest is not None and newest - now > timedelta(minutes=5):
        return Finding("Clock", PROBLEM, f"{text}, which is before the newest event recorded "
                       f"({newest:%Y-%m-%d %H:%M} UTC): the clock is wrong",
                       "set the date and time (timedatectl set-ntp true), then restart")
    synced = _ntp_synchronised()
    if synced is False:
        return Finding("Clock", WARNING, f"{text}; the system clock is not synchronised",
                       "turn on time synchronisation: sudo timedatectl set-ntp true "
                       "(dates of records and retention depend on it)")
    return Finding("Clock", OK, text + ("; synchronised" if synced else ""))


def check_permissions(env: Any) -> Finding:
    config = env.config
    places = {"instance folder": config["INSTANCE_PATH"], "storage root": env.store.root,
              "staging folder": str(env.store.tmp_dir), "search index": config["INDEX_DIR"]}
    database = env.db.file if getattr(env.db, "file", None) else None
    if database is not None:
        places["database"] = str(database)
    not_writable, open_to_all = [], []
    for label, path in places.items():
        p = Path(path)
        if not p.exists():
            continue  # made when first needed
        if not os.access(p, os.W_OK):
            not_writable.append(f"{label} {p}")
        if p.stat().st_mode & stat.S_IWOTH:
            open_to_all.append(f"{label} {p}")
    local = Path(config["INSTANCE_PATH"]) / "config.py"
    if local.is_file() and local.stat().st_mode & stat.S_IROTH \
            and "@" in str(config.get("DATABASE_URL") or "") and ":" in str(
                config.get("DATABASE_URL", "")).split("@")[0].split("//")[-1]:
        open_to_all.append(f"{local} (it holds the database password and anyone may read it)")
    user = _user_name()
    if not_writable:
        return Finding("Permissions", PROBLEM, f"{user} cannot write to: "
                       + "; ".join(not_writable),
                       f"run the server as the user who owns the instance, or: sudo chown -R "
                       f"{user} {config['INSTANCE_PATH']}")
    if open_to_all:
        return Finding("Permissions", WARNING, "every user of this machine may change or read: "
                       + "; ".join(open_to_all),
                       f"chmod -R o-rwx {config['INSTANCE_PATH']}")
    return Finding("Permissions", OK, f"{user} can write to the instance, the storage root and "
                   "the index; other users cannot change them")


def _user_name() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"user {os.getuid()}"


def check_database(env: Any) -> Finding:
    from sqlalchemy import text

    from .catalog.migrate import alembic_config

    url = str(env.config["DATABASE_URL"])
    kind = "PostgreSQL" if url.startswith("postgresql") else (
        "SQLite" if url.startswith("sqlite") else url.split(":")[0])
    try:
        with env.db.read() as session:
            session.execute(text("SELECT 1"))
            version = session.execute(text(
                "SELECT version()" if kind == "PostgreSQL" else "SELECT sqlite_version()")
            ).scalar() if kind in ("PostgreSQL", "SQLite") else ""
            heads = set(session.execute(text("SELECT version_num FROM alembic_version"))
                        .scalars())
    except Exception as exc:  # noqa: BLE001 - reported
        return Finding("Database", PROBLEM, f"{kind} cannot be reached: "
                       f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}",
                       "is the database server running, and are the address, user and password "
                       "in DATABASE_URL right?" if kind == "PostgreSQL" else
                       "is the instance folder there and readable?")
    from alembic.script import ScriptDirectory

    expected = set(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())
    short = str(version).split(" on ")[0]
    if expected - heads:
        return Finding("Database", PROBLEM, f"{kind} {short} reached, but its tables are older "
                       "than this version of repo-server", "run: repo-server init")
    if kind == "PostgreSQL" and not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        return Finding("Database", PROBLEM, f"{short} reached; but pg_dump is not installed, "
                       "so backups fail", "install it: sudo apt-get install postgresql-client")
    return Finding("Database", OK, f"{kind} {short} reached; tables up to date")


CHECKS: tuple[Callable[[Any], Finding], ...] = (
    check_database, check_ocr, check_fonts, check_disk, check_backups, check_clock,
    check_permissions)


# Checks that cannot say anything without the catalog.
NEEDS_DATABASE = (check_backups,)


def run_checks(env: Any) -> list[Finding]:
    findings: list[Finding] = []
    for check in CHECKS:
        if check in NEEDS_DATABASE and findings and findings[0].check == "Database" \
                and findings[0].status == PROBLEM:
            findings.append(Finding(check.__name__.removeprefix("check_").capitalize(),
                                    WARNING, "not checked: the database cannot be reached"))
            continue
        name = check.__name__.removeprefix("check_").capitalize()
        try:
            findings.append(check(env))
        except Exception as exc:  # noqa: BLE001 - a check that cannot run is a finding
            findings.append(Finding(name, PROBLEM, f"could not be checked: "
                                    f"{type(exc).__name__}: {exc}",
                                    "run again with LOG_LEVEL=DEBUG and read the message"))
    return findings


def report(findings: list[Finding]) -> str:
    """The findings as a person reads them: one line each, what to do under it."""
    label = {OK: "ok", WARNING: "WARNING", PROBLEM: "PROBLEM"}
    width = max(len(f.check) for f in findings)
    lines = []
    for f in findings:
        lines.append(f"  {label[f.status]:<8} {f.check:<{width}}  {f.message}")
        if f.advice and f.status != OK:
            lines.append(f"  {'':<8} {'':<{width}}  -> {f.advice}")
    problems = sum(f.status == PROBLEM for f in findings)
    warnings = sum(f.status == WARNING for f in findings)
    if problems:
        lines.append(f"\n{problems} problem(s), {warnings} warning(s): fix the problems first "
                     "(the lines with ->), then run `repo-server doctor` again.")
    elif warnings:
        lines.append(f"\nNo problems; {warnings} warning(s) to follow up.")
    else:
        lines.append("\nEverything looks right.")
    return "\n".join(lines)
