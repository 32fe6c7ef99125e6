"""services/disposal.py: the sweep lists expired dossiers, the council's quorum decides each
item, the head signs off, and the execution destroys (keeping a tombstone), keeps with a new
retention, or skips what a hold or a link protects."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from repo_server.catalog import Document, Dossier, ReviewOpinion, Tombstone
from repo_server.services import disposal, disposal_execution, fonds, holds
from repo_server.services.errors import Conflict, Forbidden, ValidationFailed
from repo_server.services.records import object_id

from .conftest import ARCHIVIST, COUNCIL, HEAD, closed_dossier

pytestmark = pytest.mark.usefixtures("a_fonds")


def opinion(member: str, side: str, retention: str | None = None) -> ReviewOpinion:
    return ReviewOpinion(member=member, opinion=side, retention=retention,
                         retention_years=None, reason="Còn giá trị" if side == "keep" else None)


def test_a_side_wins_with_a_quorum_of_agreeing_members_and_more_votes() -> None:
    decide = disposal._decide
    assert decide([opinion("a", "destroy"), opinion("b", "destroy")], 2) == ("destroy", None)
    assert decide([opinion("a", "destroy"), opinion("b", "keep", "05")], 2) == (None, None)
    assert decide([opinion("a", "destroy")] * 2 + [opinion("b", "keep", "05")] * 2, 2) == (
        None, None)  # a tie decides nothing
    side, chosen = decide([opinion("a", "keep", "05"), opinion("b", "keep", "04"),
                           opinion("c", "keep", "04")], 3)
    assert side == "keep" and chosen.retention == "04"  # the retention most members proposed


def expired_review(env, clock, n: int = 1) -> tuple[list[dict], str]:  # noqa: ANN001
    dossiers = [closed_dossier(env, retention="06") for _ in range(n)]  # due 2036-01-01
    clock.set(2036, 1, 1, 3)
    result = disposal.retention_sweep(env)
    assert result["listed"] == n
    return dossiers, result["reviews"][0]


def vote(env, review_id: str, dossier_id: str, side: str = "destroy", **keep) -> None:  # noqa: ANN001, ANN003
    for member in COUNCIL:
        disposal.record_opinions(env, member, review_id,
                                 [{"dossier_id": dossier_id, "opinion": side, **keep}])


def test_the_sweep_lists_expired_dossiers_once_and_leaves_held_and_permanent_ones(env,  # noqa: ANN001
                                                                                    clock) -> None:
    expired, held_one = closed_dossier(env), closed_dossier(env)
    permanent, young = closed_dossier(env, retention="01"), closed_dossier(env, retention="05")
    holds.create_hold(env, ARCHIVIST, "Thanh tra", "QĐ 45/TTr", [held_one["id"]])
    clock.set(2035, 12, 31, 12)  # 19:00 in Hà Nội: still 2035
    assert disposal.retention_sweep(env) == {"due": 0, "held": 0, "listed": 0, "reviews": []}
    clock.set(2036, 1, 1, 3)
    result = disposal.retention_sweep(env)
    assert (result["due"], result["held"], result["listed"]) == (2, 1, 1)
    review = disposal.get_review(env, result["reviews"][0])
    assert [i["dossier_id"] for i in review["items"]] == [expired["id"]]
    assert review["status"] == "open" and review["quorum"] == 3
    assert disposal.retention_sweep(env)["listed"] == 0  # already in an open review
    with env.db.read() as session:
        states = {d: session.get(Dossier, d).state for d in (expired["id"], held_one["id"],
                                                             permanent["id"], young["id"])}
    assert states == {expired["id"]: "disposal_review", held_one["id"]: "closed",
                      permanent["id"]: "closed", young["id"]: "closed"}


def test_the_sweep_makes_one_review_per_fonds(env, clock) -> None:  # noqa: ANN001
    fonds.create_fonds(env, ARCHIVIST, {"code": "000.00.00.H50", "name": "UBND xã Phú Mỹ"})
    closed_dossier(env)
    closed_dossier(env, fonds_code="000.00.00.H50")
    clock.set(2036, 1, 1, 3)
    reviews = [disposal.get_review(env, r) for r in disposal.retention_sweep(env)["reviews"]]
    assert sorted(r["fonds_code"] for r in reviews) == ["000.00.00.H49", "000.00.00.H50"]
    assert all(len(r["items"]) == 1 for r in reviews)


def test_a_proposal_refuses_permanent_dossiers_and_names_the_hold_of_held_ones(env) -> None:  # noqa: ANN001
    permanent, held_one = closed_dossier(env, retention="01"), closed_dossier(env)
    with pytest.raises(ValidationFailed) as exc:
        disposal.propose_review(env, ARCHIVIST, "Hủy trùng",
                                [{"dossier_id": permanent["id"], "reason": "duplicate"}])
    assert "permanent" in exc.value.errors["items"][0]
    hold = holds.create_hold(env, ARCHIVIST, "Thanh tra", "QĐ 45/TTr", [held_one["id"]])
    with pytest.raises(holds.Held) as held_exc:
        disposal.propose_review(env, ARCHIVIST, "Hủy trùng",
                                [{"dossier_id": held_one["id"], "reason": "duplicate"}])
    assert held_exc.value.details["holds"] == [f"QĐ 45/TTr ({hold['id']})"]
    with env.db.read() as session:
        assert session.get(Dossier, held_one["id"]).state == "closed"


def test_approval_needs_a_quorum_on_every_item_and_the_head(env, clock) -> None:  # noqa: ANN001
    (a, b), review_id = expired_review(env, clock, 2)
    vote(env, review_id, a["id"])
    with pytest.raises(Forbidden):
        disposal.approve_review(env, ARCHIVIST, review_id, "QĐ 9")  # admin is no approver
    with pytest.raises(Conflict) as exc:
        disposal.approve_review(env, HEAD, review_id, "QĐ 9")
    assert exc.value.details["missing_quorum"] == [b["id"]]
    vote(env, review_id, b["id"], "keep", retention="04", reason="Còn giá trị tra cứu")
    approved = disposal.approve_review(env, HEAD, review_id, "QĐ 9")
    assert approved["status"] == "approved"
    assert [i["outcome"] for i in approved["items"]] == ["destroy", "keep"]
    with pytest.raises(Conflict, match="opinions are closed"):
        vote(env, review_id, a["id"], "keep", retention="04", reason="muộn")


def test_a_keep_opinion_needs_a_valid_retention_and_a_reason(env, clock) -> None:  # noqa: ANN001
    (a,), review_id = expired_review(env, clock)
    for op in ({"opinion": "keep"}, {"opinion": "keep", "retention": "99", "reason": "r"}):
        with pytest.raises(ValidationFailed) as exc:
            disposal.record_opinions(env, COUNCIL[0], review_id, [{"dossier_id": a["id"], **op}])
        assert list(exc.value.errors) == ["opinions.0"]
    with env.db.read() as session:
        assert session.scalars(select(ReviewOpinion)).all() == []


def test_execution_destroys_keeps_and_skips_as_decided(env, clock) -> None:  # noqa: ANN001
    (gone, kept, frozen), review_id = expired_review(env, clock, 3)
    vote(env, review_id, gone["id"])
    vote(env, review_id, kept["id"], "keep", retention="04", reason="Còn giá trị tra cứu")
    vote(env, review_id, frozen["id"])
    disposal.approve_review(env, HEAD, review_id, "QĐ 9")
    holds.create_hold(env, ARCHIVIST, "Khiếu nại", "CV 7/UBND", [frozen["id"]])  # meanwhile
    with env.db.read() as session:
        gone_docs = session.scalars(select(Document.id)
                                    .where(Document.dossier_id == gone["id"])).all()
    counts = disposal_execution.execute_approved(env)
    assert counts == {"destroyed": 1, "kept": 1, "skipped": 1, "reviews": 1}
    review = disposal.get_review(env, review_id)
    assert review["status"] == "executed" and review["record_id"]
    with env.db.read() as session:
        assert session.get(Dossier, gone["id"]) is None
        tomb = session.get(Tombstone, gone["id"])
        assert tomb.review_id == review_id and tomb.decided_by["decision_ref"] == "QĐ 9"
        assert tomb.decided_by["members"] == sorted(m.name for m in COUNCIL)
        kept_row, frozen_row = session.get(Dossier, kept["id"]), session.get(Dossier,
                                                                             frozen["id"])
        assert (kept_row.state, kept_row.retention) == ("closed", "04")
        assert frozen_row.state == "closed"
    for rid in [gone["id"], *gone_docs]:
        assert not env.store.exists(object_id(rid))
    skipped = next(i for i in review["items"] if i["dossier_id"] == frozen["id"])
    assert skipped["outcome"] == "skipped" and "CV 7/UBND" in skipped["outcome_note"]
    assert disposal_execution.execute_approved(env) == {"reviews": 0}  # nothing left to carry out
