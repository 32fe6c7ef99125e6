"""Fixtures of the service-layer tests: a real env (SQLite or the PostgreSQL leg, storage root)
driven through `repo_server.services` without HTTP, a clock the test moves, and the people who
act (an archivist, three council members, the head of the agency)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from repo_server.services import dossiers, fonds
from repo_server.services.context import Actor
from repo_server.services.documents import create_document
from repo_server.services.lifecycle import close_dossier
from tests.services.test_lifecycle_disposal import Clock, clock  # noqa: F401 - the shared clock

FONDS = "000.00.00.H49"
ARCHIVIST = Actor(name="archivist", roles=("admin",), conditional=True, clearance=True)
COUNCIL = [Actor(name=f"member{i}", roles=("appraiser",)) for i in range(3)]
HEAD = Actor(name="chairman", roles=("head",))


@pytest.fixture
def a_fonds(env) -> dict:  # noqa: ANN001
    return fonds.create_fonds(env, ARCHIVIST, {"code": FONDS, "name": "UBND phường An Cựu"})


def new_dossier(env, *, retention: str = "06", fonds_code: str = FONDS,  # noqa: ANN001
                **fields: Any) -> dict:
    return dossiers.create_dossier(env, ARCHIVIST, {
        "fonds_code": fonds_code, "title": "Hồ sơ cấp giấy phép xây dựng",
        "retention": retention, "start_date": date(2025, 1, 10), **fields})


def closed_dossier(env, *, retention: str = "06", end: date = date(2025, 6, 30),  # noqa: ANN001
                   documents: int = 1, **fields: Any) -> dict:
    d = new_dossier(env, retention=retention, **fields)
    for _ in range(documents):
        create_document(env, ARCHIVIST, d["id"], {
            "type_code": "02", "subject": "Quyết định về việc cấp giấy phép xây dựng"})
    return close_dossier(env, ARCHIVIST, d["id"], end_date=end, note=None,
                         expected_version=None)
