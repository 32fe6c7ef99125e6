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
    from .services.retention import seed_default_schedule

    Path(config["INSTANCE_PATH"]).mkdir(parents=True, exist_ok=True)
    upgrade(config["DATABASE_URL"])
    env = build_env(config)
    seed_default_schedule(env)
    return env


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
@click.option("--role", "roles", multiple=True, default=["admin"], show_default=True,
              type=click.Choice(["admin", "clerk", "archivist", "appraiser", "head", "reader",
                                 "auditor", "integration"]))
@click.option("--fonds", "fonds", multiple=True,
              help="Fonds code the user may see (repeat); default: every fonds.")
@click.option("--conditional/--no-conditional", default=None,
              help="May use conditional-access (02) records (default: admins only).")
@click.option("--clearance/--no-clearance", default=False, help="Cleared for secret (03) records.")
@click.pass_obj
def create_key_cmd(config: dict, name: str, roles: tuple[str, ...], fonds: tuple[str, ...],
                   conditional: bool | None, clearance: bool) -> None:
    """Create an API key; the secret is printed once and stored only as a hash.

    A new user is created with the given roles and scope; for an existing user the key is
    added and the user's own settings apply.
    """
    from .services.keys import create_key

    env = _prepare(config)
    key_id, secret = create_key(env, name, list(roles), fonds_scope=list(fonds) or None,
                                conditional=conditional, clearance=clearance)
    click.echo(f"Key {key_id} for {name} ({', '.join(roles)}):")
    click.echo(secret)


@main.command("verify-audit")
@click.pass_obj
def verify_audit(config: dict) -> None:
    """Check the audit trail's hash chain; exit 1 and name the first broken link if any."""
    from .services.audit import verify

    result = verify(_prepare(config))
    if result["ok"]:
        click.echo(f"Audit trail intact: {result['checked']} events.")
        return
    click.echo(f"Audit trail BROKEN at event {result['first_broken_seq']}: {result['problem']}",
               err=True)
    sys.exit(1)


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
    if config["EMBEDDED_WORKER"]:
        from .jobs.worker import start_embedded
        from .services.search import open_writer

        start_embedded(env, lambda: open_writer(env))
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
    total = sum(1 for _ in env.store.iter_object_ids())
    with click.progressbar(length=total, label="Reading objects", show_pos=True) as bar:
        counts = rebuild_catalog(env, progress=lambda n: bar.update(1))
    click.echo(f"Rebuilt: {counts['fonds']} fonds, {counts['dossier']} dossiers, "
               f"{counts['document']} documents.")


@main.command()
@click.pass_obj
def worker(config: dict) -> None:
    """Run the worker: indexing and scheduled jobs (one active per installation)."""
    import signal
    import threading

    from .jobs.worker import Worker
    from .services.rebuild import reconcile_pending
    from .services.search import open_writer

    env = _prepare(config)
    reconcile_pending(env, older_than_seconds=120)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    w = Worker(env, lambda: open_writer(env))
    click.echo(f"repo-server worker {w.lease.holder} started (standby until it holds the lease)")
    w.run_forever(stop)


@main.command()
@click.pass_obj
def reindex(config: dict) -> None:
    """Rebuild the search index from the storage root (no text is extracted again)."""
    from .jobs.builtin import reindex as reindex_job
    from .jobs.lease import Lease
    from .services.context import Actor
    from .services.jobs import request_run
    from .services.search import open_writer

    env = _prepare(config)
    lease = Lease(env, "worker")
    if not lease.acquire():
        run = request_run(env, Actor(name="cli"), "reindex")
        click.echo(f"A worker is running; it will rebuild the index (job run {run['id']}).")
        return
    try:
        total = sum(1 for _ in env.store.iter_object_ids())
        backend = open_writer(env)
        with click.progressbar(length=total, label="Indexing", show_pos=True) as bar:
            counts = reindex_job(env, backend, progress=bar.update)
        backend.close()
        click.echo(f"Indexed {counts['records']} records.")
    finally:
        lease.release()


if __name__ == "__main__":  # pragma: no cover
    main()
