"""repo-server: a headless repository for the electronic records of Vietnamese agencies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from .services.context import build_env
from .version import __version__

__all__ = ["__version__", "build_env", "create_app"]


def default_instance_path() -> Path:
    return Path.cwd() / "instance"


def create_app(overrides: dict[str, Any] | None = None, *, env=None) -> Flask:  # noqa: ANN001
    """The WSGI application. It never runs jobs or writes the search index itself.

    With `env`, the application uses that env's configuration (`overrides` on top of it);
    without, it loads the configuration of ./instance (or REPO_INSTANCE_PATH)."""
    # Here, not at the top: every process that imports any part of the package (the worker,
    # text extraction's child processes, the CLI) imports this file first, and would load the
    # whole HTTP layer with it. No loop is hidden (check_layers counts these imports too).
    from .api import init_api
    from .config import load_config
    from .services.processes import this_process

    if env is not None:
        config = {**env.config, **(overrides or {})}
    else:
        config = load_config(default_instance_path(), overrides)
        Path(config["INSTANCE_PATH"]).mkdir(parents=True, exist_ok=True)
    app = Flask(__name__, instance_path=config["INSTANCE_PATH"])
    app.config["REPO"] = config
    app.config["JSON_SORT_KEYS"] = False
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    env = env or build_env(config)
    app.extensions["repo_server"] = env

    @app.before_request
    def _mark_process() -> None:
        # Each web process (a forked gunicorn worker too) registers before it stages or
        # writes anything, so crash recovery can tell it is alive (services/processes.py).
        this_process(env, "web")

    init_api(app)
    return app
