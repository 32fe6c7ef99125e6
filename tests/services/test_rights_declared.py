"""Every service function that acts for someone names its action (services/rights.py): a new
function taking an `actor`, `viewer` or `reader` without one fails here, so that the route
table in api/ never becomes the only check again."""

from __future__ import annotations

import ast
from pathlib import Path

from repo_server.services.policy import ALL_ACTIONS

SERVICES = Path(__file__).resolve().parents[2] / "repo_server" / "services"
# The rights machinery itself, and helpers that only record who acted (attribution).
MACHINERY = {"access.py", "policy.py", "rights.py", "audit_view.py"}
ATTRIBUTION = {"audit.py:make_event", "audit.py:log_in", "audit.py:record",
               "writes.py:write_object", "idempotency.py:begin",
               # loaders that receive the action from their caller
               "disposal.py:load", "holds.py:load"}


def _declares(fn: ast.FunctionDef, functions: dict[str, ast.FunctionDef], depth: int = 0) -> bool:
    """True when the function (or a function of its module it calls) names an action."""
    for node in ast.walk(fn):
        if isinstance(node, ast.Constant) and node.value in ALL_ACTIONS:
            return True
        if (depth < 2 and isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and functions.get(node.func.id) not in (None, fn)
                and _declares(functions[node.func.id], functions, depth + 1)):
            return True
    return False


def test_every_service_function_acting_for_someone_names_its_action():
    silent = []
    for path in sorted(SERVICES.glob("*.py")):
        if path.name in MACHINERY:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
        for name, fn in functions.items():
            params = {a.arg for a in fn.args.args + fn.args.kwonlyargs}
            if name.startswith("_") or not {"actor", "viewer", "reader"} & params:
                continue
            if f"{path.name}:{name}" not in ATTRIBUTION and not _declares(fn, functions):
                silent.append(f"{path.name}:{name}")
    assert silent == []
