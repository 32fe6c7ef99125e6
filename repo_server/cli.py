"""The `repo-server` command: serve, worker, init, create-key, doctor, backup, restore, ..."""

# Commands import what they run inside their function: `repo-server --help`, `init` and `create-
# key` start without loading the HTTP layer, the worker or the search engine. No loop is hidden
# there (check_layers counts function-level imports too; issue 14 §6).
from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

import click

from . import __version__, build_env, default_instance_path
from .cli_env import prepare, prepare_told
from .config import load_config

log = logging.getLogger(__name__)


def _config(instance: str | None) -> dict:
    if not instance:
        return load_config(default_instance_path())
    # An explicit --instance wins over REPO_INSTANCE_PATH (which load_config prefers to its
    # argument, so that the environment can move an app that defaults to ./instance).
    saved = os.environ.pop("REPO_INSTANCE_PATH", None)
    try:
        return load_config(Path(instance))
    finally:
        if saved is not None:
            os.environ["REPO_INSTANCE_PATH"] = saved


def _first_admin_key(env) -> str | None:  # noqa: ANN001
    """On the very first start, an admin key so the operator can use the API at once."""
    from .services.keys import create_key, has_keys

    if has_keys(env):
        return None
    _, secret = create_key(env, "admin", ["admin"])
    return secret


def _use_instance(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value:
        ctx.obj = _config(value)
        _setup_logging(ctx.obj, ctx.info_name)


def _setup_logging(config: dict, command: str | None) -> None:
    from .logs import setup_logging

    try:
        setup_logging(config["LOG_LEVEL"], config["LOG_FORMAT"],
                      production=command in _PRODUCTION_COMMANDS)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc


def instance_option(command: Callable) -> Callable:
    """`--instance` after the command name too (`repo-server serve --instance X`), as well as
    before it (`repo-server --instance X serve`)."""
    return click.option("--instance", default=None, expose_value=False, is_eager=True,
                        callback=_use_instance, metavar="FOLDER",
                        help="Instance folder (database, storage root, index).")(command)


# Commands that run as long-lived production processes log JSON lines when LOG_FORMAT is auto;
# `serve` and the one-shot commands a person types log text.
_PRODUCTION_COMMANDS = {"worker"}


@click.group()
@click.version_option(__version__, prog_name="repo-server")
@click.option("--instance", envvar="REPO_INSTANCE_PATH", default=None, metavar="FOLDER",
              help="Instance folder (database, storage root, index). Default: ./instance")
@click.pass_context
def main(ctx: click.Context, instance: str | None) -> None:
    """repo-server: electronic dossiers and documents of Vietnamese agencies."""
    ctx.obj = _config(instance)
    _setup_logging(ctx.obj, ctx.invoked_subcommand)


@main.command()
@instance_option
@click.pass_obj
def init(config: dict) -> None:
    """Create or upgrade the database and the storage root."""
    env = prepare(config)
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
@instance_option
@click.pass_obj
def create_key_cmd(config: dict, name: str, roles: tuple[str, ...], fonds: tuple[str, ...],
                   conditional: bool | None, clearance: bool) -> None:
    """Create an API key; the secret is printed once and stored only as a hash.

    A new user is created with the given roles and scope; for an existing user the key is
    added and the user's own settings apply.
    """
    from .services.keys import create_key

    env = prepare(config)
    key_id, secret = create_key(env, name, list(roles), fonds_scope=list(fonds) or None,
                                conditional=conditional, clearance=clearance)
    click.echo(f"Key {key_id} for {name} ({', '.join(roles)}):")
    click.echo(secret)


@main.command("verify-audit")
@instance_option
@click.pass_obj
def verify_audit(config: dict) -> None:
    """Check the audit trail's hash chain; exit 1 and name the first broken link if any."""
    from .services.audit import verify

    result = verify(prepare(config))
    if result["ok"]:
        click.echo(f"Audit trail intact: {result['checked']} events.")
        return
    click.echo(f"Audit trail BROKEN at event {result['first_broken_seq']}: {result['problem']}",
               err=True)
    sys.exit(1)


@main.command()
@click.option("--host", default=None, help="Address to listen on (default HOST, 127.0.0.1; "
              "0.0.0.0 for every address of this machine).")
@click.option("--port", default=None, type=click.IntRange(1, 65535),
              help="Port to listen on (default PORT, 8080).")
@click.option("--threads", default=8, show_default=True, help="Requests served at once.")
@instance_option
@click.pass_obj
def serve(config: dict, host: str | None, port: int | None, threads: int) -> None:
    """Run the server in one process (embedded mode: web server and worker together)."""
    from waitress.server import create_server

    from . import create_app
    from .api.body_limits import largest_body, waitress_channel
    from .console import greeting
    from .services.backup_status import backup_state
    from .services.rebuild import reconcile_pending

    env, database = prepare_told(config)
    fixed = reconcile_pending(env)
    secret = _first_admin_key(env)
    app = create_app(env=env)
    host = host or config["HOST"]
    port = port or int(config["PORT"])
    try:
        server = create_server(app, host=host, port=port, threads=threads, ident="repo-server",
                               max_request_body_size=largest_body(config) + 1)
        server.channel_class = waitress_channel(config)  # JSON 413 from Content-Length
    except OSError as exc:
        if secret:  # the key would be lost with this start: show it anyway
            click.echo(f"First admin API key (shown once, keep it safe): {secret}")
        raise click.ClickException(
            f"Cannot listen on {host}:{port}: {exc.strerror or exc}. Another program (another "
            f"repo-server?) may use that port: start on another one, e.g. --port {port + 1}."
        ) from exc
    worker = None
    if config["EMBEDDED_WORKER"]:
        from .jobs.worker import start_embedded
        from .services.search import open_writer

        worker = start_embedded(env, lambda: open_writer(env))
    # Listening on every address: this machine reaches it on the loopback address.
    shown = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "[::1]"}.get(host, host)
    shown = f"[{shown}]" if ":" in shown and not shown.startswith("[") else shown
    port = getattr(server, "effective_port", port)
    click.echo(greeting(version=__version__, base_url=f"http://{shown}:{port}",
                        instance=config["INSTANCE_PATH"], database=database, secret=secret,
                        recovered=fixed, backup=backup_state(env),
                        embedded_worker=bool(config["EMBEDDED_WORKER"])))
    sys.stdout.flush()
    _stop_on_signals()
    try:
        server.run()  # returns (after closing its threads) on Ctrl+C or SIGTERM
    except KeyboardInterrupt:
        pass
    finally:
        if worker is not None:
            # Let the worker finish its turn and hand back its lease: a restart takes over at
            # once instead of waiting for the lease to expire.
            thread, stop = worker
            stop.set()
            thread.join(15)
        click.echo("repo-server stopped.")


def _stop_on_signals() -> None:
    """Stop on SIGTERM (systemd, `kill`) as on Ctrl+C; and on SIGINT even where the shell that
    started the server in the background told it to ignore that signal."""
    import signal

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop)


@main.command()
@instance_option
@click.pass_obj
def doctor(config: dict) -> None:
    """Check this machine and instance (OCR, fonts, disk, backups, clock, permissions,
    database) and say what to do; exit status 1 when something is wrong."""
    from types import SimpleNamespace

    from . import doctor as checks

    click.echo(f"repo-server {__version__} doctor: checking {config['INSTANCE_PATH']}\n")
    database = Path(config["DATABASE_URL"].removeprefix("sqlite:///"))
    missing = (f"no database at {database}" if config["DATABASE_URL"].startswith("sqlite:///")
               and not database.is_file() else None)
    if not Path(config["STORAGE_ROOT"]).is_dir():
        missing = f"no storage root at {config['STORAGE_ROOT']}"
    if missing:
        # Nothing is created here: a doctor only looks.
        machine = SimpleNamespace(config=config)
        findings = [checks.Finding("Instance", checks.PROBLEM, missing,
                                   "start the server once (scripts/serve) or run: "
                                   "repo-server init"),
                    checks.check_ocr(machine), checks.check_fonts(machine)]
    else:
        findings = checks.run_checks(build_env(config))
    click.echo(checks.report(findings))
    if any(f.status == checks.PROBLEM for f in findings):
        sys.exit(1)


@main.command()
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@instance_option
@click.pass_obj
def rebuild(config: dict, yes: bool) -> None:
    """Recreate the catalog's mirror rows from the storage root alone."""
    from .services.rebuild import rebuild_catalog

    if not yes:
        click.confirm("Replace the catalog's dossiers and documents with what the storage "
                      "root holds?", abort=True)
    env = prepare(config)
    total = sum(1 for _ in env.store.iter_object_ids())
    with click.progressbar(length=total, label="Reading objects", show_pos=True) as bar:
        counts = rebuild_catalog(env, progress=lambda n: bar.update(1))
    click.echo(f"Rebuilt: {counts['fonds']} fonds, {counts['dossier']} dossiers, "
               f"{counts['document']} documents.")


@main.command()
@instance_option
@click.pass_obj
def worker(config: dict) -> None:
    """Run the worker: indexing and scheduled jobs (one active per installation)."""
    import signal
    import threading

    from .jobs.worker import Worker
    from .services.recovery import recover
    from .services.search import open_writer

    # The handlers first: a SIGTERM during start-up ends the worker cleanly (exit 0), as
    # systemd expects, instead of killing it by the default action.
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    env = prepare(config)
    # What a killed process left (pending writes, reserved rows, staged files) is recovered
    # now, not after a fixed wait: live writers are told from dead ones by their markers.
    recover(env)
    w = Worker(env, lambda: open_writer(env))
    click.echo(f"repo-server worker {w.lease.holder} started (standby until it holds the lease)")
    w.run_forever(stop)


@main.command()
@instance_option
@click.pass_obj
def reindex(config: dict) -> None:
    """Rebuild the search index from the storage root; texts come from the derived-text cache
    (a file it lacks is read again)."""
    from .jobs.lease import Lease
    from .services.indexing import reindex as reindex_job
    from .services.jobs import request_run
    from .services.search import open_writer

    env = prepare(config)
    lease = Lease(env, "worker")
    if not lease.acquire():
        run = request_run(env, _cli_actor(), "reindex")
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



# --- operations: backup, restore, verification (docs/operations.md) ----------------------------


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


@main.command()
@click.argument("dest", type=click.Path(file_okay=False))
@click.option("--full", "mode", flag_value="full", help="Copy everything again (independent set).")
@click.option("--incremental", "mode", flag_value="incremental",
              help="Copy only what changed since the newest set (hard links for the rest).")
@click.option("--keep", type=int, default=None,
              help="Keep this many sets, delete older ones (default BACKUP_KEEP).")
@instance_option
@click.pass_obj
def backup(config: dict, dest: str, mode: str | None, keep: int | None) -> None:
    """Back up the database and the storage root into DEST while the server runs."""
    from .services.backup import BackupError
    from .services.backup import backup as make_backup

    env = build_env(config)
    try:
        m = make_backup(env, dest, mode=mode or "auto",
                        keep=keep if keep is not None else config["BACKUP_KEEP"])
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    st = m["storage"]
    click.echo(f"Backup set {m['name']} ({m['mode']}) in {m['path']}")
    click.echo(f"  database: {m['database']['dialect']} snapshot at "
               f"{m['database_snapshot_at']}, {_size(m['database']['size'])}")
    click.echo(f"  storage:  {st['objects']} objects, {st['files']} files, {_size(st['bytes'])}; "
               f"copied {st['copied_files']} files ({_size(st['copied_bytes'])}), "
               f"linked {st['linked_files']}")
    click.echo(f"  took {m['seconds']:.1f} s")
    if m["pruned"]:
        click.echo(f"  removed old sets: {', '.join(m['pruned'])}")
    for problem in m["problems"]:
        click.echo(f"  PROBLEM: {problem}", err=True)
    if m["problems"]:
        sys.exit(1)


@main.command("verify-backup")
@click.argument("src", type=click.Path(exists=True, file_okay=False))
@click.option("--set", "set_name", default=None, help="Which set (default: the newest).")
@click.option("--all", "all_sets", is_flag=True, help="Check every set in SRC.")
@click.option("--deep", is_flag=True, help="Also re-check every object's OCFL digests.")
def verify_backup(src: str, set_name: str | None, all_sets: bool, deep: bool) -> None:
    """Check a backup: every file against its checksum, the database, nothing extra."""
    from .services.backup import BackupError, list_sets, resolve_set, verify_set

    try:
        paths = ([s["path"] for s in list_sets(src)] if all_sets
                 else [resolve_set(src, set_name)])
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    if not paths:
        raise click.ClickException(f"{src} holds no finished backup set.")
    bad = 0
    for path in paths:
        result = verify_set(path, deep=deep)
        state = "OK" if result["ok"] else "DAMAGED"
        click.echo(f"{result['set']}: {state} ({result['files']} files checked)")
        for problem in result["problems"][:50]:
            click.echo(f"  {problem}", err=True)
        bad += not result["ok"]
    if bad:
        sys.exit(1)


@main.command()
@click.argument("src", type=click.Path(exists=True, file_okay=False))
@click.option("--set", "set_name", default=None, help="Which set (default: the newest).")
@click.option("--no-reindex", is_flag=True, help="Leave the search index to the worker.")
@instance_option
@click.pass_obj
def restore(config: dict, src: str, set_name: str | None, no_reindex: bool) -> None:
    """Restore a backup into an empty instance (a new machine after a disk died)."""
    from .services.backup import BackupError
    from .services.backup import restore as do_restore

    try:
        result = do_restore(config, src, set_name=set_name, reindex=not no_reindex)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    rec = result["reconciled"]
    click.echo(f"Restored set {result['set']} ({result['mode']}) into {config['INSTANCE_PATH']}")
    click.echo(f"  database as of {result['database_snapshot_at']}; storage: "
               f"{result['storage']['files']} files, {_size(result['storage']['bytes'])}")
    click.echo(f"  newer versions imported from the storage root: {rec['imported']}; "
               f"destructions finished: {rec['destroyed']}")
    if result["indexed"] is not None:
        click.echo(f"  search index rebuilt: {result['indexed']} records")
    if rec["missing"]:
        click.echo(f"  WARNING: {rec['missing']} catalog record(s) have no object in the "
                   "storage root (see the log)", err=True)
    click.echo(f"  took {result['seconds']:.1f} s. API keys and users are those of the backup.")


@main.command("reconcile-storage")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@instance_option
@click.pass_obj
def reconcile_storage_cmd(config: dict, yes: bool) -> None:
    """Line the catalog up with a storage root that is newer than it (after a point-in-time
    recovery of PostgreSQL: docs/city.md §7), as restore does: import every version the
    catalog does not know, finish destructions it recorded. Run it before the nodes start."""
    from .services.backup_restore import reconcile_storage

    if not yes:
        click.confirm("Import into the catalog every version of the storage root it does not "
                      "know (objects without their dossier or fonds there are removed)?",
                      abort=True)
    env = prepare(config)
    counts = reconcile_storage(env)
    click.echo(f"Imported from the storage root: {counts['imported']}; destructions finished: "
               f"{counts['destroyed']}; purged: {counts['purged']}; left out (written without "
               f"their dossier or fonds): {counts['orphans']}")
    if counts["missing"]:
        click.echo(f"WARNING: {counts['missing']} catalog record(s) have no object in the "
                   "storage root: it is older than the database (see the log)", err=True)
        sys.exit(1)


@main.command()
@click.option("--all", "everything", is_flag=True, help="Re-hash every object, not a share.")
@instance_option
@click.pass_obj
def verify(config: dict, everything: bool) -> None:
    """Re-hash stored objects now (the nightly fixity check; --all for every object)."""
    from .services.fixity import run_fixity

    env = build_env(config)
    counts = run_fixity(env, "manual", limit=10**12 if everything else None)
    click.echo(f"Checked {counts['objects_checked']} of {counts['objects_total']} objects "
               f"({counts['files_checked']} files, {_size(counts['bytes_checked'])}); "
               f"{counts['failures']} damaged or missing.")
    if counts["failures"]:
        from .services.fixity import failing

        for row in failing(env, 50)[1]:
            click.echo(f"  {row['object_id']} ({row['kind']}): {row['status']}: "
                       f"{'; '.join(row['problems'][:3])}", err=True)
        sys.exit(1)



# --- transfer packages (docs/decisions/0004-packages.md) -----------------------------------------

def _cli_actor():  # noqa: ANN202
    """The command line acts as the system (every fonds, every right), named `cli` in the
    versions and the audit trail it writes."""
    from dataclasses import replace

    from .services.context import SYSTEM

    return replace(SYSTEM, name="cli")


@main.command("export")
@click.option("--fonds", "fonds_code", default=None, help="Export this whole fonds.")
@click.option("--dossier", "dossier_ids", multiple=True, help="Or these dossiers (repeat).")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="The package file to write (a ZIP).")
@instance_option
@click.pass_obj
def export_cmd(config: dict, fonds_code: str | None, dossier_ids: tuple[str, ...],
               output: str) -> None:
    """Export a fonds or dossiers as a BagIt package (ZIP) with every version and history."""
    from .services.errors import ServiceError
    from .services.packages import export_to_file, prepare_export

    env = prepare(config)
    actor = _cli_actor()
    try:
        selection = prepare_export(env, actor, fonds_code=fonds_code,
                                   dossier_ids=list(dossier_ids))
        stats = export_to_file(env, actor, selection, output)
    except ServiceError as exc:
        raise click.ClickException(f"{exc.message} {exc.errors or ''}".strip()) from exc
    click.echo(f"Package {stats['package']} written to {stats['path']}: {stats['fonds']} fonds, "
               f"{stats['dossiers']} dossiers, {stats['documents']} documents, "
               f"{stats['versions']} versions, {_size(stats['bytes'])} in "
               f"{stats['seconds']:.1f} s.")


@main.command("import")
@click.argument("package", type=click.Path(exists=True, dir_okay=False))
@instance_option
@click.pass_obj
def import_cmd(config: dict, package: str) -> None:
    """Import a package: every checksum is checked first; records already here are skipped."""
    import json

    from .services.errors import ServiceError
    from .services.packages import import_package

    env = prepare(config)
    actor = _cli_actor()
    try:
        report = import_package(env, actor, package)
    except ServiceError as exc:
        click.echo(f"REFUSED: {exc.message}", err=True)
        report = exc.details.get("report") or {}
        lines = [*((exc.errors or {}).get("package") or []), *(report.get("problems") or []),
                 *(report.get("conflicts") or [])]
        for line in list(dict.fromkeys(lines))[:100]:
            click.echo(f"  {line}", err=True)
        sys.exit(1)
    click.echo(json.dumps(report, ensure_ascii=False, indent=1))


from .cli_records import records  # noqa: E402 - the records office's commands

main.add_command(records)

from .cli_digitise import digitise  # noqa: E402 - after `main` exists

main.add_command(digitise)


if __name__ == "__main__":  # pragma: no cover
    main()
