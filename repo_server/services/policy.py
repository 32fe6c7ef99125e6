"""Who may do what: the one table of roles and actions, checked in one place (the API's
request hook, which maps each route to an action) and by services that act for jobs.

Roles (DOMAIN.md; NĐ 30/2020 and the Law on Archives 2024):
admin · clerk (văn thư) · archivist (lưu trữ) · appraiser (council member) · head (approves
disposal) · reader · auditor · integration (a one-stop-shop system: create, read and search only).
"""

from __future__ import annotations

from .context import Actor
from .errors import Forbidden

READ = {"fonds.read", "dossier.read", "document.read", "file.read", "search", "codes.read",
        "dossier.export"}
# Records office (issue 15; README "Records office"): the clerk registers and numbers documents,
# keeps the file plan and files documents in further dossiers, and prepares and gives hand-over
# batches; the archivist receives them; the head approves the file plan and consents to keeping
# a dossier back. Reading the registers and the due list is for the records staff and the head.
RECORDS_READ = {"register.read", "fileplan.read", "handover.read"}
CLERK_RECORDS = RECORDS_READ | {"register.write", "register.cancel", "fileplan.write",
                                "fileplan.open", "dossier.link", "handover.prepare",
                                "handover.give"}
ROLE_ACTIONS: dict[str, frozenset[str]] = {
    "clerk": frozenset(READ | {"dossier.create", "dossier.update", "dossier.close",
                               "document.create", "document.update", "file.write",
                               "retention.read", "warnings.read", "signature.check",
                               "digitisation.read", "digitisation.run"} | CLERK_RECORDS),
    "archivist": frozenset(READ | {"dossier.archive", "dossier.transfer", "retention.read",
                                   "retention.write", "hold.read", "hold.write",
                                   "disposal.read", "disposal.propose", "warnings.read",
                                   "jobs.read", "jobs.run", "package.export",
                                   "package.import", "handover.receive", "signature.check",
                                   "digitisation.read", "digitisation.run"} | RECORDS_READ),
    "appraiser": frozenset(READ | {"disposal.read", "disposal.opinion", "retention.read"}),
    "head": frozenset(READ | {"disposal.read", "disposal.approve", "hold.read",
                              "warnings.read", "retention.read", "fileplan.approve",
                              "dossier.keep_back"} | RECORDS_READ),
    "reader": frozenset(READ),
    "auditor": frozenset({"audit.read", "codes.read"}),
    # a desk system also searches (its fonds scope and access modes apply, as for everyone)
    "integration": frozenset({"fonds.read", "dossier.read", "document.read", "file.read",
                              "search", "codes.read", "dossier.create", "document.create",
                              "file.write"}),
}
ALL_ACTIONS: frozenset[str] = frozenset().union(*ROLE_ACTIONS.values()) | {
    "fonds.write", "users.manage", "jobs.read", "jobs.run", "audit.read"}
ROLES = ("admin", *ROLE_ACTIONS)


def allowed(actor: Actor, action: str) -> bool:
    """True when one of the actor's roles permits the action (admin and the system: all)."""
    if action not in ALL_ACTIONS:
        raise KeyError(f"unknown action {action!r}")
    if {"admin", "system"} & set(actor.roles):
        return True
    return any(action in ROLE_ACTIONS.get(role, ()) for role in actor.roles)


def require(actor: Actor, action: str) -> None:
    if not allowed(actor, action):
        raise Forbidden(f"Your role ({', '.join(actor.roles) or 'none'}) does not allow this "
                        f"({action}). Ask an administrator if you need it.", action=action)
