"""What every service function receives: the stores, the code lists, the clock, the actor."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ..catalog import Database
from ..codes import CodeLists, load_code_lists
from ..extract.cache import TextCache
from ..storage import ObjectStore


@dataclass(frozen=True)
class Actor:
    """Who acts: the user behind an API key, the worker, or a command-line operator.

    `scope` lists the fonds the actor may see (None: every fonds); `conditional` opens access
    mode 02 (conditional use) and `clearance` mode 03 (secret).
    """

    name: str
    roles: tuple[str, ...] = ()
    key_id: str | None = None
    user_id: str | None = None
    scope: tuple[str, ...] | None = None
    conditional: bool = False
    clearance: bool = False

    @property
    def address(self) -> str:
        """The OCFL version `user.address` for this actor."""
        return f"urn:repo-server:user:{self.name}"


SYSTEM = Actor(name="repo-server", roles=("system",), conditional=True, clearance=True)


@dataclass
class Env:
    """The repository's stores and settings, shared by all service calls of a process."""

    db: Database
    store: ObjectStore
    codes: CodeLists
    config: dict[str, Any]
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.config.get("TIMEZONE", "Asia/Ho_Chi_Minh"))

    def now(self) -> datetime:
        return self.clock()

    @cached_property
    def texts(self) -> TextCache:
        """The derived-text cache (extract/cache.py), outside the storage root."""
        folder = self.config.get("DERIVED_DIR") or Path(self.config["INSTANCE_PATH"]) / "derived"
        return TextCache(folder)

    def local_year(self, when: datetime | None = None) -> int:
        """The calendar year in Vietnam (numbering and retention use local years)."""
        return (when or self.now()).astimezone(self.tz).year


def build_env(config: dict[str, Any]) -> Env:
    """The stores and code lists for one configuration (used by the app, the CLI, the worker)."""
    db = Database(config["DATABASE_URL"], sqlite_synchronous=config["SQLITE_SYNCHRONOUS"])
    store = ObjectStore(config["STORAGE_ROOT"], tmp_dir=config["STORAGE_TMP"],
                        fsync=config["FSYNC"], sync_method=config["FSYNC_METHOD"])
    if db.file is not None:
        db.storage_syncs_commits = store.commit_syncs(db.file)
    return Env(db=db, store=store, codes=load_code_lists(config["CODES_DIR"]), config=config)
