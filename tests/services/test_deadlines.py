"""services/deadlines.py: the daily warning list — dossiers due for hand-over to the agency
archive, permanent dossiers due for transfer, incoming documents near their handling deadline.
Each run replaces the list."""

from __future__ import annotations

from datetime import date

import pytest

from repo_server.services import deadlines, lifecycle, registration
from repo_server.services.context import Actor
from repo_server.services.documents import create_document
from repo_server.services.errors import Forbidden

from .conftest import ARCHIVIST, closed_dossier, new_dossier

pytestmark = pytest.mark.usefixtures("a_fonds")


def warnings(env, kind: str | None = None) -> list[tuple[str, str, date]]:  # noqa: ANN001
    items, _ = deadlines.list_warnings(env, ARCHIVIST, kind=kind, page=1, page_size=100)
    return [(w["kind"], w["dossier_id"], w["due_on"]) for w in items]


def test_a_closed_dossier_is_warned_of_from_30_days_before_its_hand_over(env, clock) -> None:  # noqa: ANN001
    d = closed_dossier(env, retention="04", end=date(2025, 6, 30))  # due a year later
    clock.set(2026, 5, 30, 3)  # 31 days before
    assert deadlines.compute_warnings(env)["handover"] == 0
    clock.set(2026, 5, 31, 3)
    assert deadlines.compute_warnings(env) == {"handover": 1, "transfer": 0, "handling": 0}
    assert warnings(env) == [("handover", d["id"], date(2026, 6, 30))]
    clock.set(2026, 8, 1, 3)  # overdue: still listed, marked overdue
    deadlines.compute_warnings(env)
    items, total = deadlines.list_warnings(env, ARCHIVIST, kind="handover", page=1, page_size=10)
    assert total == 1 and items[0]["overdue"] is True


def test_a_short_lived_dossier_gets_no_hand_over_warning(env, clock) -> None:  # noqa: ANN001
    env.config["ARCHIVE_MIN_RETENTION_YEARS"] = 20
    closed_dossier(env, retention="06")  # 10 years: stays with its unit
    clock.set(2026, 6, 30, 3)
    assert deadlines.compute_warnings(env)["handover"] == 0


def test_a_permanent_archived_dossier_is_warned_of_a_year_before_its_transfer(env,  # noqa: ANN001
                                                                               clock) -> None:
    d = closed_dossier(env, retention="01")
    kept_30 = closed_dossier(env, retention="04")
    for row in (d, kept_30):
        lifecycle.archive_dossier(env, ARCHIVIST, row["id"], handed_over_by="Văn thư",
                                  received_by=None, handed_over_on=date(2026, 3, 2), note=None,
                                  expected_version=None)
    clock.set(2030, 12, 30, 3)  # due 2031-12-31 (5 years after the archiving year): 366 days
    assert deadlines.compute_warnings(env)["transfer"] == 0
    clock.set(2030, 12, 31, 3)
    assert deadlines.compute_warnings(env)["transfer"] == 1
    assert warnings(env, "transfer") == [("transfer", d["id"], date(2031, 12, 31))]


def test_each_run_replaces_the_list(env, clock) -> None:  # noqa: ANN001
    d = closed_dossier(env, retention="04")
    clock.set(2026, 6, 1, 3)
    deadlines.compute_warnings(env)
    deadlines.compute_warnings(env)
    assert warnings(env) == [("handover", d["id"], date(2026, 6, 30))]
    lifecycle.archive_dossier(env, ARCHIVIST, d["id"], handed_over_by="Văn thư",
                              received_by=None, handed_over_on=None, note=None,
                              expected_version=None)
    deadlines.compute_warnings(env)
    assert warnings(env) == []  # handed over: no longer due


def test_an_incoming_document_is_warned_of_until_its_handling_is_done(env, clock) -> None:  # noqa: ANN001
    d = new_dossier(env)
    doc = create_document(env, ARCHIVIST, d["id"], {"type_code": "02",
                                                    "subject": "Công văn đề nghị"})
    registration.register_incoming(env, ARCHIVIST, doc["id"], {
        "organ_name": "Sở Nội vụ", "arrival_date": date(2025, 7, 15),
        "due_date": date(2025, 7, 25)})
    clock.set(2025, 7, 22, 3)  # 3 days before: outside the 2-day window
    assert deadlines.compute_warnings(env)["handling"] == 0
    clock.set(2025, 7, 23, 3)
    assert deadlines.compute_warnings(env)["handling"] == 1
    items, _ = deadlines.list_warnings(env, ARCHIVIST, kind="handling", page=1, page_size=10)
    assert items[0]["document_id"] == doc["id"] and items[0]["due_on"] == date(2025, 7, 25)
    registration.record_handling(env, ARCHIVIST, doc["id"], {"status": "done"})
    assert deadlines.compute_warnings(env)["handling"] == 0


def test_warnings_are_read_only_with_the_right(env) -> None:  # noqa: ANN001
    with pytest.raises(Forbidden):
        deadlines.list_warnings(env, Actor(name="x", roles=("appraiser",)), kind=None, page=1,
                                page_size=10)
