"""Logs on stderr: JSON lines for machines (production), short text lines for people (embedded).

Each line carries the id of the request being served, when there is one. LOG_FORMAT picks the
format: `json`, `text`, or `auto` (the default): text for `repo-server serve` and the one-shot
commands a person types, JSON for the production processes (gunicorn via wsgi.py and
`repo-server worker`), whose lines a log collector reads.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from .services.audit import request_context

# Libraries that talk at INFO about things an operator never needs: fontTools names every table
# of every font it subsets (hundreds of lines per PDF record), APScheduler every job it adds
# and runs (our job runs are recorded in the catalog), Alembic its plugins and every migration
# (the CLI says in one line what it did to the database), waitress the address it listens on
# (the greeting says it). Their warnings and errors still show; LOG_LEVEL=DEBUG shows all.
QUIET_LOGGERS = ("fontTools", "apscheduler", "alembic", "waitress")


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ctx = request_context.get() or {}
        entry = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(),
                 "level": record.levelname, "logger": record.name,
                 "message": record.getMessage()}
        if ctx.get("request_id"):
            entry["request_id"] = ctx["request_id"]
            entry["client_addr"] = ctx.get("client_addr")
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`12:58:54 WARNING worker: message  [request abc-123]`, local time, for a console."""

    def __init__(self) -> None:
        super().__init__(datefmt="%Y-%m-%d %H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        ctx = request_context.get() or {}
        name = record.name.removeprefix("repo_server.")
        line = (f"{self.formatTime(record, self.datefmt)} {record.levelname:<7} {name}: "
                f"{record.getMessage()}")
        if ctx.get("request_id"):
            line += f"  [request {ctx['request_id']}]"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def resolve_format(fmt: str, *, production: bool) -> str:
    """`json` or `text` for a LOG_FORMAT setting (`auto`: JSON only in production processes)."""
    fmt = (fmt or "auto").strip().lower()
    if fmt not in ("json", "text", "auto"):
        raise ValueError(f"LOG_FORMAT must be json, text or auto, not {fmt!r}")
    if fmt == "auto":
        return "json" if production else "text"
    return fmt


def setup_logging(level: str = "INFO", fmt: str = "auto", *, production: bool = True) -> None:
    """Log to stderr in the format LOG_FORMAT asks for (see the module docstring)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JSONFormatter() if resolve_format(fmt, production=production) == "json"
                         else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(
            logging.WARNING if root.level > logging.DEBUG else logging.NOTSET)
