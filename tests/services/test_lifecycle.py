"""services/lifecycle.py: the dossier state machine, the retention fixed at closing, the hand-over
to the agency archive and the selection for transfer."""

from __future__ import annotations

from datetime import date

import pytest

from repo_server.catalog import Dossier
from repo_server.services import lifecycle
from repo_server.services.documents import create_document
from repo_server.services.errors import Conflict, ValidationFailed
from repo_server.services.holds import Held, create_hold

from .conftest import ARCHIVIST, closed_dossier, new_dossier

pytestmark = pytest.mark.usefixtures("a_fonds", "clock")


def archive(env, dossier_id: str, on: date = date(2026, 3, 2)) -> dict:  # noqa: ANN001
    return lifecycle.archive_dossier(env, ARCHIVIST, dossier_id, handed_over_by="Văn thư",
                                     received_by=None, handed_over_on=on, note=None,
                                     expected_version=None)


def test_every_state_allows_only_its_listed_next_states() -> None:
    for state, allowed in lifecycle.NEXT_STATES.items():
        for target in lifecycle.NEXT_STATES:
            row = Dossier(state=state, file_code="H49.01")
            if target in allowed:
                lifecycle.check_transition(row, target)
            else:
                with pytest.raises(Conflict) as exc:
                    lifecycle.check_transition(row, target)
                assert exc.value.details["allowed"] == list(allowed)
    assert lifecycle.NEXT_STATES["destroyed"] == lifecycle.NEXT_STATES["transferred"] == ()


def test_closing_fixes_the_longest_retention_of_the_documents_and_its_due_date(env) -> None:  # noqa: ANN001
    d = new_dossier(env, retention="06")  # 10 years
    create_document(env, ARCHIVIST, d["id"], {"type_code": "02", "subject": "Quyết định",
                                              "retention": "04"})  # 30 years
    closed = lifecycle.close_dossier(env, ARCHIVIST, d["id"], end_date=date(2025, 6, 30),
                                     note="xong", expected_version=None)
    assert closed["state"] == "closed" and closed["retention"] == "04"
    with env.db.read() as session:
        assert session.get(Dossier, d["id"]).retention_due_on == date(2056, 1, 1)


def test_closing_keeps_the_dossiers_own_retention_when_it_is_the_longest(env) -> None:  # noqa: ANN001
    closed = closed_dossier(env, retention="05")  # 20 years; the document inherits it
    assert closed["retention"] == "05" and closed["end_date"] == date(2025, 6, 30)


def test_an_end_date_before_the_start_date_is_refused(env) -> None:  # noqa: ANN001
    d = new_dossier(env)
    with pytest.raises(ValidationFailed) as exc:
        lifecycle.close_dossier(env, ARCHIVIST, d["id"], end_date=date(2024, 12, 31), note=None,
                                expected_version=None)
    assert "end_date" in exc.value.errors


def test_a_closed_dossier_cannot_be_closed_again(env) -> None:  # noqa: ANN001
    d = closed_dossier(env)
    with pytest.raises(Conflict) as exc:
        lifecycle.close_dossier(env, ARCHIVIST, d["id"], end_date=None, note=None,
                                expected_version=None)
    assert exc.value.details["state"] == "closed"


def test_a_held_dossier_cannot_change_state(env) -> None:  # noqa: ANN001
    d = new_dossier(env)
    hold = create_hold(env, ARCHIVIST, "Thanh tra", "QĐ 45/TTr", [d["id"]])
    with pytest.raises(Held) as exc:
        lifecycle.close_dossier(env, ARCHIVIST, d["id"], end_date=None, note=None,
                                expected_version=None)
    assert exc.value.details["holds"] == [hold["id"]]


def test_archiving_gives_consecutive_archive_codes_per_fonds_and_year(env) -> None:  # noqa: ANN001
    first, second = closed_dossier(env, retention="04"), closed_dossier(env, retention="01")
    assert archive(env, first["id"])["archive_code"] == "000.00.00.H49.LT.2026.000001"
    assert archive(env, second["id"])["archive_code"] == "000.00.00.H49.LT.2026.000002"
    with env.db.read() as session:
        row = session.get(Dossier, first["id"])
        assert row.state == "archived" and row.archived_on == date(2026, 3, 2)


def test_a_dossier_kept_less_than_the_minimum_stays_with_its_unit(env) -> None:  # noqa: ANN001
    env.config["ARCHIVE_MIN_RETENTION_YEARS"] = 20
    d = closed_dossier(env, retention="06")  # 10 years < 20
    with pytest.raises(Conflict, match="stays with its unit"):
        archive(env, d["id"])


def test_only_a_permanent_archived_dossier_is_selected_for_transfer(env) -> None:  # noqa: ANN001
    kept_30 = archive(env, closed_dossier(env, retention="04")["id"])
    with pytest.raises(Conflict, match="not permanent"):
        lifecycle.mark_transfer_due(env, ARCHIVIST, kept_30["id"], note=None,
                                    expected_version=None)
    permanent = archive(env, closed_dossier(env, retention="01")["id"])
    due = lifecycle.mark_transfer_due(env, ARCHIVIST, permanent["id"], note="Đợt 2026",
                                      expected_version=None)
    assert due["state"] == "transfer_due"
    done = lifecycle.transfer_dossier(env, ARCHIVIST, permanent["id"],
                                      receiving_archive="Lưu trữ lịch sử tỉnh",
                                      reference="BB 12", transferred_on=date(2026, 9, 1),
                                      expected_version=None)
    assert done["state"] == "transferred"
    with pytest.raises(Conflict):
        lifecycle.mark_transfer_due(env, ARCHIVIST, permanent["id"], note=None,
                                    expected_version=None)
