"""Schemathesis with every check (tests/api/schemathesis_run.py) on the operations of `schemathesis_run.PARTS["dossiers"]`."""

import pytest

from tests.api.schemathesis_run import run_part

pytestmark = pytest.mark.slow(40)  # seconds, about: sent first (tests/conftest.py)


def test_schemathesis_all_checks(tmp_path, instance, env, worker):  # noqa: ANN001
    run_part("dossiers", tmp_path, instance, env, worker)
