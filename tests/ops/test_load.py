"""Production mode under load: gunicorn with 4 web workers plus one `repo-server worker`, 8
clients mixing creates, updates, uploads, reads and searches. Zero 5xx, nothing lost or
duplicated, the index catches up. (The 60 s run of the closing note: scripts/loadtest.py.)"""

from __future__ import annotations

import os

import pytest

from tests.ops.stack import database_url, loadtest

SECONDS = float(os.environ.get("REPO_LOADTEST_SECONDS", "12"))


@pytest.mark.slow(55)
def test_production_stack_under_load_loses_and_duplicates_nothing(tmp_path):
    lt = loadtest()
    result = lt.run(SECONDS, 8, tmp_path, database_url=database_url())
    print("\n" + lt.table(result))
    assert result["status_5xx"] == 0, result["error_samples"]
    assert result["errors"] == 0, result["error_samples"]
    assert result["lost"] == 0, result["lost_detail"]
    assert result["duplicated"] == 0
    assert result["search_found"] == result["search_sample"] > 0
    assert result["acked_documents"] > 10 and all(o["count"] for o in result["ops"].values())
    # the metrics of the 4 web workers are summed (PROMETHEUS_MULTIPROC_DIR)
    assert result["metrics_requests_total"] >= result["requests"]
    assert result["ready"] == "ok"
