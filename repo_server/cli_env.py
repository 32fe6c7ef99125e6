"""Getting an instance ready for a command (`repo-server …`): the catalog created or
upgraded, the storage root opened, this process registered for crash recovery. Shared by
cli.py and the command groups beside it (cli_records.py)."""

# Commands import what they run inside their function: commands that need no database start
# without Alembic. No loop is hidden there (check_layers counts function-level imports too; issue
# 14 §6).
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from .services.context import build_env

log = logging.getLogger("repo_server.cli")


def prepare(config: dict):  # noqa: ANN202
    """Create or upgrade the catalog and the storage root; returns the service env."""
    env, _ = prepare_told(config)
    return env


def prepare_told(config: dict) -> tuple[Any, str]:
    """`prepare`, and what it did to the database in words ("created", "upgraded ...")."""
    from .catalog.migrate import current_heads, upgrade
    from .services.processes import this_process
    from .services.retention import seed_default_schedule

    Path(config["INSTANCE_PATH"]).mkdir(parents=True, exist_ok=True)
    before = current_heads(config["DATABASE_URL"])
    upgrade(config["DATABASE_URL"])
    after = current_heads(config["DATABASE_URL"])
    if not before:
        done = "created"
    elif before != after:
        done = f"upgraded from {', '.join(before)} to {', '.join(after)}"
    else:
        done = "up to date"
    if before != after:
        log.info("database %s: %s", done, _safe_url(config["DATABASE_URL"]))
    env = build_env(config)
    seed_default_schedule(env)
    this_process(env, "command")  # before it writes or stages anything (crash recovery)
    return env, done


def _safe_url(url: str) -> str:
    """A database URL without its password, fit for a log line."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - only for display
        return url.split("@")[-1]
