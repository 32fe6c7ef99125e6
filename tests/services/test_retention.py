"""services/retention.py: TT 05 retention codes, the due date of a disposal review, and the
retention schedule whose rules move the due dates of the dossiers that use them."""

from __future__ import annotations

from datetime import date

import pytest

from repo_server.catalog import Dossier
from repo_server.services import retention
from repo_server.services.errors import Conflict, ValidationFailed

from .conftest import ARCHIVIST, closed_dossier, new_dossier


def test_a_period_maps_to_its_tt05_code_and_other_periods_to_07() -> None:
    assert retention.code_for(None) == ("01", None)
    assert [retention.code_for(y)[0] for y in (70, 50, 30, 20, 10)] == ["02", "03", "04",
                                                                        "05", "06"]
    assert retention.code_for(15) == ("07", 15)


def test_review_is_due_on_the_first_of_january_after_the_period() -> None:
    assert retention.due_on(date(2025, 6, 30), 10) == date(2036, 1, 1)
    assert retention.due_on(date(2025, 12, 31), 10) == date(2036, 1, 1)
    assert retention.due_on(date(2025, 6, 30), None) is None  # permanent: never
    assert retention.due_on(None, 10) is None  # not ended yet


def test_permanent_is_longer_than_any_number_of_years() -> None:
    assert retention.longer(10, 30) == 30
    assert retention.longer(None, 70) is None and retention.longer(70, None) is None


def test_a_rule_outside_2_to_70_years_or_permanent_with_years_is_refused(env) -> None:  # noqa: ANN001
    for data in ({"years": 1}, {"years": 71}, {"years": 10, "permanent": True}):
        with pytest.raises(ValidationFailed) as exc:
            retention.create_rule(env, ARCHIVIST, {"code": "X.1", "group": "X",
                                                   "title": "Thử", **data})
        assert list(exc.value.errors) == ["years"]


def test_an_existing_rule_is_not_created_twice(env) -> None:  # noqa: ANN001
    data = {"code": "X.1", "group": "X", "title": "Hồ sơ thử", "years": 15}
    assert retention.create_rule(env, ARCHIVIST, data)["years"] == 15
    with pytest.raises(Conflict):
        retention.create_rule(env, ARCHIVIST, data)


@pytest.mark.usefixtures("a_fonds", "clock")
def test_changing_a_rule_moves_the_due_date_of_every_dossier_that_uses_it(env) -> None:  # noqa: ANN001
    retention.create_rule(env, ARCHIVIST, {"code": "X.1", "group": "X", "title": "Hồ sơ thử",
                                           "years": 10})
    d = closed_dossier(env, retention=None, retention_rule="X.1")
    other = closed_dossier(env, retention="06")  # same 10 years, no rule: unchanged
    retention.update_rule(env, ARCHIVIST, "X.1", {"years": 20})
    with env.db.read() as session:
        row = session.get(Dossier, d["id"])
        assert (row.retention, row.retention_due_on) == ("05", date(2046, 1, 1))
        assert session.get(Dossier, other["id"]).retention_due_on == date(2036, 1, 1)
    retention.update_rule(env, ARCHIVIST, "X.1", {"years": None, "permanent": True})
    with env.db.read() as session:
        row = session.get(Dossier, d["id"])
        assert (row.retention, row.retention_due_on) == ("01", None)


@pytest.mark.usefixtures("a_fonds", "clock")
def test_a_rule_in_use_cannot_be_removed(env) -> None:  # noqa: ANN001
    retention.create_rule(env, ARCHIVIST, {"code": "X.1", "group": "X", "title": "Hồ sơ thử",
                                           "years": 10})
    new_dossier(env, retention=None, retention_rule="X.1")
    with pytest.raises(Conflict) as exc:
        retention.delete_rule(env, ARCHIVIST, "X.1")
    assert exc.value.details["used_by"] == 1
    retention.create_rule(env, ARCHIVIST, {"code": "X.2", "group": "X", "title": "Không dùng",
                                           "years": 10})
    retention.delete_rule(env, ARCHIVIST, "X.2")
    assert "X.2" not in {r["code"] for r in retention.list_rules(env, group="X")[0]}


@pytest.mark.usefixtures("a_fonds")
def test_a_dossier_retention_that_disagrees_with_its_rule_is_refused(env) -> None:  # noqa: ANN001
    retention.create_rule(env, ARCHIVIST, {"code": "X.1", "group": "X", "title": "Hồ sơ thử",
                                           "years": 10})
    with pytest.raises(ValidationFailed) as exc:
        new_dossier(env, retention="04", retention_rule="X.1")
    assert list(exc.value.errors) == ["retention"]
    assert new_dossier(env, retention="06", retention_rule="X.1")["retention"] == "06"


def test_a_rule_without_a_period_cannot_be_applied(env) -> None:  # noqa: ANN001
    retention.create_rule(env, ARCHIVIST, {"code": "X.3", "group": "X", "title": "Chờ quy định"})
    with env.db.read() as session:
        with pytest.raises(ValidationFailed) as exc:
            retention.resolve(env, session, {"retention_rule": "X.3"})
    assert "no period yet" in exc.value.errors["retention_rule"][0]


def test_the_exported_schedule_imports_back_unchanged(env) -> None:  # noqa: ANN001
    exported = retention.export_csv(env)
    count = len(retention.list_rules(env, page_size=10_000)[0])
    assert count > 10
    assert retention.import_csv(env, ARCHIVIST, exported) == {"created": 0, "updated": count}
    assert retention.export_csv(env) == exported


def test_a_broken_csv_changes_nothing(env) -> None:  # noqa: ANN001
    before = retention.export_csv(env)
    bad = before + "X.9,X,Thử,abc,false,,\n"
    with pytest.raises(ValidationFailed):
        retention.import_csv(env, ARCHIVIST, bad)
    assert retention.export_csv(env) == before


def test_the_default_schedule_is_seeded_once(env) -> None:  # noqa: ANN001
    assert retention.seed_default_schedule(env) == 0  # the env fixture seeded it already
