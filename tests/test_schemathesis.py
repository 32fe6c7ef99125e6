"""A bounded property-based run of schemathesis against the OpenAPI description: every
operation, generated inputs, no 5xx and no response that breaks its own schema.

(Driven by hand rather than through schemathesis' pytest plugin, which does not load under
pytest 9.)"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings

from repo_server.services.keys import create_key
from tests.conftest import drain

EXAMPLES_PER_OPERATION = 6


def test_no_server_errors_and_responses_match_the_schema(app, env, client, dossier, worker):
    drain(worker)  # the search index exists, as it does once the worker has run
    _, secret = create_key(env, "fuzzer", ["admin"], clearance=True)
    headers = {"Authorization": f"Bearer {secret}"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    checks = [schemathesis.checks.not_a_server_error,
              schemathesis.checks.response_schema_conformance]
    failures = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True,
                  suppress_health_check=list(HealthCheck), database=None)
        def run(case):  # noqa: ANN001, ANN202
            case.call_and_validate(headers=headers, checks=checks)

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collect them all
            if "No supported serializers" in str(exc):
                continue  # a binary-only body (a ZIP package): covered by its own tests
            failures.append(f"{operation.label}: {str(exc)[:600]}")
    assert operations > 40
    assert failures == [], "\n\n".join(failures)
