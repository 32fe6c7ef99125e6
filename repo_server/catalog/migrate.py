"""Run the Alembic migrations against the configured database.

The migrations live in the top-level `migrations/` folder of a checkout; a built wheel carries a
copy inside the package, as `repo_server/migrations` (setup.py puts it there), so an installed
`repo-server` finds them without the checkout.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

_PACKAGE = Path(__file__).resolve().parents[1]


def migrations_dir() -> Path:
    for candidate in (_PACKAGE / "migrations", _PACKAGE.parent / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise RuntimeError(f"The database migrations are missing: neither {_PACKAGE / 'migrations'} "
                       f"(installed package) nor {_PACKAGE.parent / 'migrations'} (checkout) "
                       "holds env.py. Reinstall repo-server.")


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    cfg.attributes["database_url"] = database_url
    return cfg


def upgrade(database_url: str, revision: str = "heads") -> None:
    """Create or upgrade the catalog schema."""
    command.upgrade(alembic_config(database_url), revision)


def current_heads(database_url: str) -> tuple[str, ...]:
    """The revisions the database is at (empty for a database not created yet)."""
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return tuple(sorted(MigrationContext.configure(conn).get_current_heads()))
    finally:
        engine.dispose()


def current_revision(database_url: str) -> str | None:
    heads = current_heads(database_url)
    return heads[0] if heads else None
