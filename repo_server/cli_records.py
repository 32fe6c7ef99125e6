"""`repo-server records …`: the records office's outputs and file plan from the command line
(print a register, import or export the file plan, list dossiers due for hand-over, print a
batch's papers, export a dossier as PDF or XML). The operator acts as `cli` with every right,
as the other operator commands do; each action is in the audit trail."""

# Commands import what they run inside their function: a records command loads only the services
# it runs. No loop is hidden there (check_layers counts function-level imports too; issue 14 §6).
from __future__ import annotations

import json
from pathlib import Path

import click

from .cli_env import prepare


def _env(config: dict):  # noqa: ANN202
    return prepare(config)


def _actor():  # noqa: ANN202
    from .services.context import Actor

    return Actor(name="cli", roles=("admin",), conditional=True, clearance=True)


def _run(call):  # noqa: ANN001, ANN202
    from .services.errors import ServiceError

    try:
        return call()
    except ServiceError as exc:
        detail = json.dumps(exc.errors, ensure_ascii=False, default=str) if exc.errors else ""
        raise click.ClickException(f"{exc.message} {detail}".strip()) from exc


def _format(output: str, allowed: tuple[str, ...]) -> str:
    fmt = Path(output).suffix.lstrip(".").lower()
    if fmt not in allowed:
        raise click.BadParameter(f"write a file ending in {', '.join('.' + a for a in allowed)}",
                                 param_hint="--output")
    return fmt


@click.group()
def records() -> None:
    """Records office: registers, file plan, hand-over, dossier export."""


@records.command("register")
@click.argument("kind", type=click.Choice(["outgoing", "incoming", "follow_up"]))
@click.option("--fonds", "fonds_code", required=True)
@click.option("--from", "date_from", required=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option("--to", "date_to", required=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option("--book", default=None, help="Only this book of the number_book list.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="A .pdf (A4 landscape), .xlsx or .json file.")
@click.pass_obj
def register_cmd(config: dict, kind: str, fonds_code: str, date_from, date_to, book,  # noqa: ANN001
                 output: str) -> None:
    """Write a register for a period (registration dates, Vietnam time)."""
    from .services import registers

    fmt = _format(output, ("pdf", "xlsx", "json"))
    env = _env(config)
    register = _run(lambda: registers.build_register(
        env, _actor(), kind, fonds_code=fonds_code, date_from=date_from.date(),
        date_to=date_to.date(), book=book))
    if fmt == "json":
        data = json.dumps(register, ensure_ascii=False, indent=1, default=str).encode()
    else:
        data = _run(lambda: registers.render(env, register, fmt))
    Path(output).write_bytes(data)
    click.echo(f"{register['title']}: {len(register['rows'])} rows written to {output}.")


def _plan_id(env, fonds_code: str, year: int, create: bool) -> str:  # noqa: ANN001
    from .services import fileplan

    plans = fileplan.list_plans(env, _actor(), fonds_code=fonds_code, year=year)
    if plans:
        return plans[0]["id"]
    if not create:
        raise click.ClickException(f"Fonds {fonds_code} has no file plan for {year}.")
    return _run(lambda: fileplan.create_plan(env, _actor(), fonds_code=fonds_code,
                                             year=year))["id"]


@records.command("plan-import")
@click.option("--fonds", "fonds_code", required=True)
@click.option("--year", required=True, type=int)
@click.argument("sheet", type=click.Path(exists=True, dir_okay=False))
@click.pass_obj
def plan_import(config: dict, fonds_code: str, year: int, sheet: str) -> None:
    """Import the file plan of a fonds and year from an .xlsx or .csv sheet (all or nothing;
    every problem is listed with its row and column)."""
    from .services import fileplan
    from .services.errors import ValidationFailed

    fmt = _format(sheet, ("xlsx", "csv"))
    env = _env(config)
    plan_id = _plan_id(env, fonds_code, year, create=True)
    try:
        plan = fileplan.import_plan(env, _actor(), plan_id, Path(sheet).read_bytes(), fmt)
    except ValidationFailed as exc:
        click.echo(exc.message, err=True)
        for problem in (exc.errors or {}).get("rows", []):
            if isinstance(problem, dict):
                click.echo(f"  row {problem['row']}, {problem['column']}: {problem['message']}",
                           err=True)
        for field, messages in (exc.errors or {}).items():
            if field != "rows":
                click.echo(f"  {field}: {'; '.join(map(str, messages))}", err=True)
        raise SystemExit(1) from exc
    dossiers = sum(i["kind"] == "dossier" for i in plan["items"])
    click.echo(f"File plan {year} of {fonds_code}: {len(plan['items'])} rows, {dossiers} "
               "planned dossiers.")


@records.command("plan-export")
@click.option("--fonds", "fonds_code", required=True)
@click.option("--year", required=True, type=int)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False))
@click.pass_obj
def plan_export(config: dict, fonds_code: str, year: int, output: str) -> None:
    """Export the file plan as .xlsx or .csv."""
    from .services import fileplan

    fmt = _format(output, ("xlsx", "csv"))
    env = _env(config)
    plan_id = _plan_id(env, fonds_code, year, create=False)
    Path(output).write_bytes(_run(lambda: fileplan.export_plan(env, _actor(), plan_id, fmt)))
    click.echo(f"Written to {output}.")


@records.command("due")
@click.option("--fonds", "fonds_code", required=True)
@click.option("--days", default=None, type=int, help="Due within this many days.")
@click.pass_obj
def due_cmd(config: dict, fonds_code: str, days: int | None) -> None:
    """List closed dossiers due for hand-over to the agency archive."""
    from .services import handover

    env = _env(config)
    items = _run(lambda: handover.list_due(env, _actor(), fonds_code=fonds_code,
                                           within_days=days))
    for i in items:
        flag = "QUÁ HẠN" if i["overdue"] else "sắp đến hạn"
        click.echo(f"{i['due_on']}  {flag:11}  {i['file_code']}  {i['title']}")
    click.echo(f"{len(items)} dossier(s) due.")


@records.command("papers")
@click.argument("batch_id")
@click.option("--which", type=click.Choice(["inventory", "record"]), default="inventory")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False))
@click.pass_obj
def papers(config: dict, batch_id: str, which: str, output: str) -> None:
    """Write a hand-over batch's inventory or hand-over record as .pdf or .xlsx."""
    from .services import handover_docs

    fmt = _format(output, ("pdf", "xlsx"))
    env = _env(config)
    data, _ = _run(lambda: handover_docs.render(env, _actor(), batch_id, which, fmt))
    Path(output).write_bytes(data)
    click.echo(f"Written to {output}.")


@records.command("export-dossier")
@click.argument("dossier_id")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="A .pdf (cover, contents, documents) or .xml (TT 05) file.")
@click.pass_obj
def export_dossier(config: dict, dossier_id: str, output: str) -> None:
    """Export one dossier as a single PDF or as TT 05 XML."""
    from .services import dossier_export

    fmt = _format(output, ("pdf", "xml"))
    env = _env(config)
    call = dossier_export.dossier_pdf if fmt == "pdf" else dossier_export.dossier_xml
    Path(output).write_bytes(_run(lambda: call(env, _actor(), dossier_id)))
    click.echo(f"Written to {output}.")


