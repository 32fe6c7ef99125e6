"""Schemathesis with every check (tests/api/schemathesis_run.py) on every operation that no
other part of `schemathesis_run.PARTS` names."""

import pytest

from tests.api.schemathesis_run import run_part

pytestmark = pytest.mark.slow(40)  # seconds, about: sent first (tests/conftest.py)


def test_schemathesis_all_checks(tmp_path, instance, env, worker):  # noqa: ANN001
    run_part("rest", tmp_path, instance, env, worker)
