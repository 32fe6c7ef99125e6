"""Schemathesis with every check (tests/api/schemathesis_run.py) on the operations of `schemathesis_run.PARTS["documents"]`."""

from tests.api.schemathesis_run import run_part


def test_schemathesis_all_checks(tmp_path, instance, env, worker):  # noqa: ANN001
    run_part("documents", tmp_path, instance, env, worker)
