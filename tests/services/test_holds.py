"""services/holds.py: a legal hold freezes its dossiers until it is released or they are
removed from it; its history is kept."""

from __future__ import annotations

import pytest

from repo_server.services import holds
from repo_server.services.context import Actor
from repo_server.services.errors import Conflict, Forbidden, NotFound, ValidationFailed

from .conftest import ARCHIVIST, new_dossier

pytestmark = pytest.mark.usefixtures("a_fonds", "clock")


def held(env, dossier_id: str) -> bool:  # noqa: ANN001
    with env.db.read() as session:
        try:
            holds.ensure_not_held(session, dossier_id)
        except holds.Held:
            return True
    return False


def test_a_held_dossier_is_refused_with_the_names_of_its_holds(env) -> None:  # noqa: ANN001
    d = new_dossier(env)
    a = holds.create_hold(env, ARCHIVIST, "Thanh tra", "QĐ 45/TTr", [d["id"]])
    b = holds.create_hold(env, ARCHIVIST, "Khiếu nại", "CV 7/UBND", [d["id"]])
    with env.db.read() as session:
        with pytest.raises(holds.Held) as exc:
            holds.ensure_not_held(session, d["id"], "H49.01")
    assert exc.value.status == 423
    assert sorted(exc.value.details["holds"]) == sorted([a["id"], b["id"]])
    assert "QĐ 45/TTr" in exc.value.message and "CV 7/UBND" in exc.value.message


def test_releasing_the_hold_frees_the_dossier_and_keeps_the_history(env, clock) -> None:  # noqa: ANN001
    d = new_dossier(env)
    h = holds.create_hold(env, ARCHIVIST, "Thanh tra", "QĐ 45/TTr", [d["id"]])
    clock.set(2025, 9, 1)
    released = holds.release_hold(env, ARCHIVIST, h["id"], "Kết thúc thanh tra")
    assert not held(env, d["id"])
    assert released["active"] is False and released["release_reason"] == "Kết thúc thanh tra"
    assert released["released_at"].date().isoformat() == "2025-09-01"
    assert [x["dossier_id"] for x in released["dossiers"]] == [d["id"]]
    with pytest.raises(Conflict, match="already released"):
        holds.release_hold(env, ARCHIVIST, h["id"], "lần nữa")
    with pytest.raises(Conflict, match="create a new hold"):
        holds.add_dossiers(env, ARCHIVIST, h["id"], [d["id"]])


def test_a_dossier_removed_from_a_hold_is_free_while_the_others_stay_held(env) -> None:  # noqa: ANN001
    a, b = new_dossier(env), new_dossier(env)
    h = holds.create_hold(env, ARCHIVIST, "Thanh tra", "QĐ 45/TTr", [a["id"], b["id"]])
    view = holds.remove_dossier(env, ARCHIVIST, h["id"], a["id"])
    assert not held(env, a["id"]) and held(env, b["id"])
    assert view["active"] is True
    removed = next(x for x in view["dossiers"] if x["dossier_id"] == a["id"])
    assert removed["removed_by"] == "archivist"
    with pytest.raises(NotFound):
        holds.remove_dossier(env, ARCHIVIST, h["id"], a["id"])
    holds.add_dossiers(env, ARCHIVIST, h["id"], [a["id"], b["id"]])  # b already in: once
    assert held(env, a["id"])
    assert len(holds.get_hold(env, h["id"], ARCHIVIST)["dossiers"]) == 3  # a twice, b once


def test_a_hold_on_an_unknown_dossier_writes_nothing(env) -> None:  # noqa: ANN001
    d = new_dossier(env)
    with pytest.raises(ValidationFailed) as exc:
        holds.create_hold(env, ARCHIVIST, "Thanh tra", "QĐ 45/TTr", [d["id"], "nope"])
    assert exc.value.errors == {"dossier_ids": ["There is no dossier 'nope'."]}
    assert holds.list_holds(env, ARCHIVIST, active=None, page=1, page_size=10) == ([], 0)
    assert not held(env, d["id"])


def test_only_holders_of_the_hold_right_place_holds(env) -> None:  # noqa: ANN001
    d = new_dossier(env)
    reader = Actor(name="reader", roles=("reader",))
    with pytest.raises(Forbidden):
        holds.create_hold(env, reader, "Thanh tra", "QĐ 45/TTr", [d["id"]])


def test_active_and_released_holds_are_listed_apart(env) -> None:  # noqa: ANN001
    d = new_dossier(env)
    a = holds.create_hold(env, ARCHIVIST, "Thanh tra", "QĐ 45/TTr", [d["id"]])
    b = holds.create_hold(env, ARCHIVIST, "Khiếu nại", "CV 7/UBND", [d["id"]])
    holds.release_hold(env, ARCHIVIST, a["id"], "xong")
    active, n = holds.list_holds(env, ARCHIVIST, active=True, page=1, page_size=10)
    released, m = holds.list_holds(env, ARCHIVIST, active=False, page=1, page_size=10)
    assert ([h["id"] for h in active], n) == ([b["id"]], 1)
    assert ([h["id"] for h in released], m) == ([a["id"]], 1)
    with env.db.read() as session:
        assert holds.held_dossier_ids(session) == {d["id"]}
