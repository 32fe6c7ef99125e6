"""repo-server: a headless repository for the electronic records of Vietnamese agencies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

__version__ = "0.1.0"


def build_env(config: dict[str, Any]):  # noqa: ANN201
    """The stores and code lists for one configuration (used by the app, the CLI, the worker)."""
    from .catalog import Database
    from .codes import load_code_lists
    from .services.context import Env
    from .storage import ObjectStore

    db = Database(config["DATABASE_URL"], sqlite_synchronous=config["SQLITE_SYNCHRONOUS"])
    store = ObjectStore(config["STORAGE_ROOT"], tmp_dir=config["STORAGE_TMP"],
                        fsync=config["FSYNC"], sync_method=config["FSYNC_METHOD"])
    if db.file is not None:
        db.storage_syncs_commits = store.commit_syncs(db.file)
    codes = load_code_lists(config["CODES_DIR"])
    return Env(db=db, store=store, codes=codes, config=config)


def default_instance_path() -> Path:
    return Path.cwd() / "instance"


def create_app(overrides: dict[str, Any] | None = None, *, env=None) -> Flask:  # noqa: ANN001
    """The WSGI application. It never runs jobs or writes the search index itself."""
    from . import jobs  # noqa: F401 - the job registry, listed by /api/v1/jobs
    from .api import init_api
    from .config import load_config

    config = load_config(default_instance_path(), overrides)
    Path(config["INSTANCE_PATH"]).mkdir(parents=True, exist_ok=True)
    app = Flask(__name__, instance_path=config["INSTANCE_PATH"])
    app.config["REPO"] = config
    app.config["JSON_SORT_KEYS"] = False
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    app.extensions["repo_server"] = env or build_env(config)
    init_api(app)
    return app
