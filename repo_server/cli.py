"""The `repo-server` command: serve, init, create-key, rebuild."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from . import __version__, build_env, default_instance_path
from .config import load_config


def _config(instance: str | None) -> dict:
    return load_config(instance or default_instance_path())


def _prepare(config: dict):  # noqa: ANN202
    """Create or upgrade the catalog and the storage root; returns the service env."""
    from .catalog.migrate import upgrade

    Path(config["INSTANCE_PATH"]).mkdir(parents=True, exist_ok=True)
    upgrade(config["DATABASE_URL"])
    return build_env(config)


def _first_admin_key(env) -> str | None:  # noqa: ANN001
    """On the very first start, an admin key so the operator can use the API at once."""
    from .services.keys import create_key, has_keys

    if has_keys(env):
        return None
    _, secret = create_key(env, "admin", ["admin"])
    return secret


@click.group()
@click.version_option(__version__, prog_name="repo-server")
@click.option("--instance", envvar="REPO_INSTANCE_PATH", default=None,
              help="Instance folder (database, storage root, index). Default: ./instance")
@click.pass_context
def main(ctx: click.Context, instance: str | None) -> None:
    """repo-server: electronic dossiers and documents of Vietnamese agencies."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    ctx.obj = _config(instance)


@main.command()
@click.pass_obj
def init(config: dict) -> None:
    """Create or upgrade the database and the storage root."""
    env = _prepare(config)
    click.echo(f"Database ready: {config['DATABASE_URL']}")
    click.echo(f"Storage root:  {config['STORAGE_ROOT']}")
    secret = _first_admin_key(env)
    if secret:
        click.echo(f"First admin API key (shown once, keep it safe): {secret}")


@main.command("create-key")
@click.option("--name", required=True, help="Who uses the key (a person or a system).")
@click.option("--role", "roles", multiple=True, default=["admin"], show_default=True)
@click.pass_obj
def create_key_cmd(config: dict, name: str, roles: tuple[str, ...]) -> None:
    """Create an API key; the secret is printed once and stored only as a hash."""
    from .services.keys import create_key

    env = _prepare(config)
    key_id, secret = create_key(env, name, list(roles))
    click.echo(f"Key {key_id} for {name} ({', '.join(roles)}):")
    click.echo(secret)


@main.command()
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default 8080).")
@click.option("--threads", default=8, show_default=True)
@click.pass_obj
def serve(config: dict, host: str | None, port: int | None, threads: int) -> None:
    """Run the server in one process (embedded mode: SQLite, local storage, whoosh)."""
    from waitress import serve as waitress_serve

    from . import create_app
    from .services.rebuild import reconcile_pending

    env = _prepare(config)
    fixed = reconcile_pending(env)
    if fixed:
        click.echo(f"Recovered {fixed} interrupted write(s) from the storage root.")
    secret = _first_admin_key(env)
    app = create_app(env=env)
    host = host or config["HOST"]
    port = port or int(config["PORT"])
    click.echo(f"repo-server {__version__} listening on http://{host}:{port}/api/v1/")
    click.echo(f"API docs: http://{host}:{port}/api/v1/docs")
    if secret:
        click.echo(f"First admin API key (shown once, keep it safe): {secret}")
    sys.stdout.flush()
    waitress_serve(app, host=host, port=port, threads=threads, ident="repo-server",
                   max_request_body_size=config["MAX_UPLOAD_BYTES"] + 1024 * 1024)


@main.command()
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def rebuild(config: dict, yes: bool) -> None:
    """Recreate the catalog's mirror rows from the storage root alone."""
    from .services.rebuild import rebuild_catalog

    if not yes:
        click.confirm("Replace the catalog's dossiers and documents with what the storage "
                      "root holds?", abort=True)
    env = _prepare(config)
    with click.progressbar(length=0, label="Reading objects", show_pos=True) as bar:
        counts = rebuild_catalog(env, progress=lambda n: bar.update(1))
    click.echo(f"Rebuilt: {counts['fonds']} fonds, {counts['dossier']} dossiers, "
               f"{counts['document']} documents.")


if __name__ == "__main__":  # pragma: no cover
    main()
