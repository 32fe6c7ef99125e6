"""The records office's code lists are data with a shape the code relies on."""

from __future__ import annotations

from repo_server.codes import load_code_lists
from repo_server.services.registers import KINDS

CELL_KEYS = {
    "outgoing": {"number_symbol", "date", "type_subject", "signer", "recipients",
                 "file_copy_holder", "copies", "delivered_on", "received_sign", "note"},
    "incoming": {"arrival_date", "arrival_number", "author", "number_symbol", "date",
                 "type_subject", "assigned_to", "delivered_on", "received_sign", "note"},
    "follow_up": {"arrival_number", "document", "handler", "due_date", "progress",
                  "reply_number", "note"},
}


def test_every_direction_has_one_default_book():
    books = load_code_lists()["number_book"]
    for direction in ("outgoing", "incoming"):
        defaults = [b for b in books if b.extra.get("direction") == direction
                    and b.extra.get("select") == "default"]
        assert len(defaults) == 1, direction
    assert {b.extra.get("direction") for b in books} == {"outgoing", "incoming"}


def test_handover_rules_have_months_and_one_default():
    rules = load_code_lists()["handover_rule"]
    assert [r.code for r in rules if r.extra.get("default")] == ["default"]
    assert all(isinstance(r.extra["months"], int) and r.extra["months"] > 0 for r in rules)
    assert rules.get("xdcb").extra["months"] == 3 and rules.get("default").extra["months"] == 12


def test_register_columns_are_the_decrees_and_known_to_the_registers():
    columns = load_code_lists()["register_column"]
    for kind in KINDS:
        fields = {c.extra["field"] for c in columns if c.extra["register"] == kind}
        assert fields == CELL_KEYS[kind], kind
    assert sum(c.extra["register"] == "follow_up" for c in columns) == 7
