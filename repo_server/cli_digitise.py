"""`repo-server digitise`: digitisation batches from the command line, with a progress bar.

    repo-server digitise check muc-luc.xlsx --scans scans.zip --fonds 000.00.00.H49
    repo-server digitise start muc-luc.xlsx --scans scans/ --fonds 000.00.00.H49 --workers 2
    repo-server digitise resume <batch id>      # after a crash, a cancel, or failed documents
    repo-server digitise status [<batch id>]
    repo-server digitise report <batch id> --format xlsx -o bao-cao.xlsx

The conversion runs in this process's pool of workers (not in the server); the scans are read
where they are (folder or ZIP), so keep them there until the batch is done.
"""

# Commands import what they run inside their function: `repo-server digitise --help` starts
# without loading the digitisation services and their imaging libraries. No loop is hidden there
# (check_layers counts function-level imports too; issue 14 §6).
from __future__ import annotations

import getpass
import json
import os
import shutil
import socket
import sys
from pathlib import Path

import click

EXIT_PROBLEMS, EXIT_PARTIAL = 1, 2


def _env(config: dict):  # noqa: ANN202
    """The service env; the database is brought up to date first (as every command does)."""
    from . import build_env
    from .catalog.migrate import upgrade

    Path(config["INSTANCE_PATH"]).mkdir(parents=True, exist_ok=True)
    upgrade(config["DATABASE_URL"])
    return build_env(config)


def _actor(name: str | None):  # noqa: ANN202
    from .services.context import Actor

    who = name or f"cli:{getpass.getuser()}"
    return Actor(name=who, roles=("admin",), conditional=True, clearance=True)


def _print_problems(problems: list[dict], limit: int = 200) -> None:
    for p in problems[:limit]:
        where = ", ".join(str(x) for x in (p["sheet"], p["row"] and f"row {p['row']}",
                                           p["column"] and f"column {p['column']}") if x)
        click.echo(f"  {where}: {p['message']}", err=True)
    if len(problems) > limit:
        click.echo(f"  … and {len(problems) - limit} more (see the JSON with --json).", err=True)


def _run(env, batch_id: str, workers: int | None) -> dict:  # noqa: ANN001
    from tqdm import tqdm

    from .services.digitisation_run import claim_batch, run_batch, workers_for
    from .services.digitisation_status import batch_view

    runner = f"cli:{socket.gethostname()}:{os.getpid()}"
    if claim_batch(env, runner, batch_id) is None:
        raise click.ClickException(f"Batch {batch_id} is not waiting to run (another process "
                                   "is running it, or it is finished).")
    with env.db.read() as session:
        from .catalog import DigitisationBatch

        view = batch_view(session, env, session.get(DigitisationBatch, batch_id))
    n = workers_for(env, workers)
    click.echo(f"Batch {batch_id}: {view['dossiers']['total']} dossiers, "
               f"{view['documents']['total']} documents, {view['pages']['total']} pages; "
               f"{n} conversion process(es).")
    with tqdm(total=view["pages"]["total"], initial=view["pages"]["converted"], unit="page",
              desc="Digitising", dynamic_ncols=True, file=sys.stderr) as bar:
        return run_batch(env, batch_id, runner, workers=workers, progress=bar.update)


def _summary(env, actor, result: dict) -> None:  # noqa: ANN001
    from .services.digitisation import report_path

    d, docs, pages = result["dossiers"], result["documents"], result["pages"]
    click.echo(f"Batch {result['id']} {result['state']}: dossiers {d['done']}/{d['total']} filed"
               f" ({d['failed']} failed), documents {docs['done']}/{docs['total']}, pages "
               f"{pages['converted']}/{pages['total']}; CPU {result['cpu_seconds']} s "
               f"({result['cpu_seconds_per_page']} s per page).")
    if result.get("error"):
        click.echo(f"Error: {result['error']}", err=True)
    for fmt in ("json", "xlsx", "pdf"):
        try:
            click.echo(f"Report ({fmt}): {report_path(env, actor, result['id'], fmt)}")
        except Exception as exc:  # noqa: BLE001 - one format missing must not hide the others
            click.echo(f"Report ({fmt}) not made: {exc}", err=True)


def _exit(result: dict) -> None:
    if result["state"] != "done":
        sys.exit(EXIT_PARTIAL)


@click.group("digitise")
def digitise() -> None:
    """Digitise paper dossiers: a finding aid (XLSX or two CSV) plus scans -> PDF/A dossiers."""


_aid = click.argument("finding_aid", nargs=-1, required=True,
                      type=click.Path(exists=True, dir_okay=False))
_scans = click.option("--scans", required=True, type=click.Path(exists=True),
                      help="Folder or ZIP of the scans (PDF, TIFF, JPEG, PNG) the finding aid "
                           "names.")
_fonds = click.option("--fonds", "fonds_code", required=True,
                      help="Fonds (OrganId) the dossiers are filed in.")


@digitise.command("check")
@_aid
@_scans
@_fonds
@click.option("--json", "as_json", is_flag=True, help="Print the whole check as JSON.")
@click.pass_obj
def check_cmd(config: dict, finding_aid: tuple[str, ...], scans: str, fonds_code: str,
              as_json: bool) -> None:
    """Check a finding aid and its scans; write nothing. Exit 1 when something is wrong."""
    from .services.digitisation import check_batch, check_report

    env = _env(config)
    aid, unused, _ = check_batch(env, _actor(None), fonds_code,
                                 [(Path(p), Path(p).name) for p in finding_aid], Path(scans))
    report = check_report(aid, unused)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=1, default=str))
    else:
        click.echo(f"{report['dossiers']} dossiers ({report['valid_dossiers']} without "
                   f"problems), {report['documents']} documents, {report['pages']} pages.")
        for note in report["notes"]:
            click.echo(f"Note: {note}")
        if report["problems"]:
            click.echo(f"{len(report['problems'])} problem(s):", err=True)
            _print_problems(report["problems"])
    if report["problems"]:
        sys.exit(EXIT_PROBLEMS)


@digitise.command("start")
@_aid
@_scans
@_fonds
@click.option("--import-valid-rows", is_flag=True,
              help="Leave out the dossiers with problems and import the others.")
@click.option("--workers", type=int, default=None,
              help="Conversion processes (default: DIGITISATION_WORKERS, 0 = every core).")
@click.option("--by", "by", default=None, help="Name recorded as the clerk who made the batch.")
@click.pass_obj
def start_cmd(config: dict, finding_aid: tuple[str, ...], scans: str, fonds_code: str,
              import_valid_rows: bool, workers: int | None, by: str | None) -> None:
    """Check, then digitise: convert every scan to PDF/A and file the dossiers."""
    from .services.digitisation import BatchRejected, create_batch

    env = _env(config)
    actor = _actor(by)
    try:
        batch = create_batch(env, actor, fonds_code,
                             [(Path(p).resolve(), Path(p).name) for p in finding_aid],
                             Path(scans).resolve(), import_valid_rows=import_valid_rows,
                             keep_files=False)
    except BatchRejected as exc:
        click.echo(exc.message, err=True)
        _print_problems(exc.details.get("problems") or [])
        sys.exit(EXIT_PROBLEMS)
    from .services.digitisation import batch_dir

    target = batch_dir(env, batch["id"]) / "finding-aid"  # a copy stays with the batch
    target.mkdir(parents=True, exist_ok=True)
    for p in finding_aid:
        shutil.copy2(p, target / Path(p).name)
    if batch["left_out"]:
        click.echo(f"Left out ({len(batch['left_out'])} problem(s)):", err=True)
        _print_problems(batch["left_out"])
    result = _run(env, batch["id"], workers)
    _summary(env, actor, result)
    _exit(result)


@digitise.command("resume")
@click.argument("batch_id")
@click.option("--workers", type=int, default=None)
@click.pass_obj
def resume_cmd(config: dict, batch_id: str, workers: int | None) -> None:
    """Run a batch again: what is filed is skipped, what failed or was cut short is redone."""
    from .services.digitisation import resume_batch
    from .services.errors import ServiceError

    env = _env(config)
    actor = _actor(None)
    try:
        resume_batch(env, actor, batch_id)
    except ServiceError as exc:
        raise click.ClickException(exc.message) from exc
    result = _run(env, batch_id, workers)
    _summary(env, actor, result)
    _exit(result)


@digitise.command("status")
@click.argument("batch_id", required=False)
@click.pass_obj
def status_cmd(config: dict, batch_id: str | None) -> None:
    """One batch's state and counts (JSON), or the list of batches."""
    from .services.digitisation import get_batch, list_batches
    from .services.errors import ServiceError

    env = _env(config)
    try:
        if batch_id:
            out = get_batch(env, _actor(None), batch_id)
        else:
            out = list_batches(env, _actor(None), page_size=200)[0]
    except ServiceError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(json.dumps(out, ensure_ascii=False, indent=1, default=str))


@digitise.command("cancel")
@click.argument("batch_id")
@click.pass_obj
def cancel_cmd(config: dict, batch_id: str) -> None:
    """Stop a batch (what is filed stays; `resume` goes on later)."""
    from .services.digitisation import cancel_batch
    from .services.errors import ServiceError

    try:
        out = cancel_batch(_env(config), _actor(None), batch_id)
    except ServiceError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"Batch {batch_id}: {out['state']} (cancel asked).")


@digitise.command("report")
@click.argument("batch_id")
@click.option("--format", "fmt", type=click.Choice(["json", "xlsx", "pdf"]), default="xlsx",
              show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None)
@click.pass_obj
def report_cmd(config: dict, batch_id: str, fmt: str, output: str | None) -> None:
    """Write the batch report: pages below the standard, failed documents, rows left out."""
    from .services.digitisation import report_path
    from .services.errors import ServiceError

    env = _env(config)
    try:
        path = report_path(env, _actor(None), batch_id, fmt)
    except ServiceError as exc:
        raise click.ClickException(exc.message) from exc
    if output:
        shutil.copyfile(path, output)
        path = Path(output)
    click.echo(str(path))
