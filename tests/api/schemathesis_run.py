"""Schemathesis with every check, against the real server (waitress, as `repo-server serve`):
no 5xx, every answer matches its schema (errors included), 405 names what is allowed, the
spec and the server agree on what is valid. Bounded (a few examples per operation) and failing
on any finding.

Run through the `st` command (phases examples, coverage and fuzzing; the coverage phase sends
the undeclared methods, missing headers and boundary values that the pytest API does not).

The operations are split into PARTS by the first segment of their path, one test file each
(`test_schemathesis_<part>.py`), so that `--dist loadfile` spreads them over the workers
(decision 0025). The last part, "rest", takes every operation no other part names, so a new
resource is never left out; each part runs on a fresh server with the same data and the same
deterministic generation as the whole run did.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

from repo_server import create_app
from repo_server.api.body_limits import largest_body, waitress_channel
from repo_server.services.keys import create_key
from tests.conftest import Client, drain

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES_PER_OPERATION = 2

# Answers that depend on the server's state, not on the request's shape, so no schema can
# promise them: a stale If-Match (412) and a reference to a record that does not exist or is
# not in the right state (422 naming the field). Listed per operation, with the reason.
STATE_DEPENDENT = {
    # 412: If-Match names a version that is no longer the current one
    "/api/v1/fonds/{code}": [412],
    "/api/v1/fonds/{code}/close": [412, 422],  # the successor fonds exists
    # and 422: a code (languages, retention, …) is checked against the code lists, which are data
    # (repo_server/codes) the schema does not enumerate, as for POST /api/v1/dossiers. Reached
    # once the dossiers' operations ran on a server of their own (decision 0025).
    "/api/v1/dossiers/{dossier_id}": [412, 422],
    "/api/v1/documents/{document_id}": [412],
    "/api/v1/documents/{document_id}/files": [412, 422],  # and: a file part is required
    "/api/v1/documents/{document_id}/files/{name}": [412, 422],
    "/api/v1/dossiers/{dossier_id}/links": [412],
    "/api/v1/dossiers/{dossier_id}/links/{document_id}": [412],
    "/api/v1/dossiers/{dossier_id}/close": [412, 422],  # end date before the start date
    "/api/v1/dossiers/{dossier_id}/archive": [412],
    "/api/v1/dossiers/{dossier_id}/transfer": [412],
    "/api/v1/dossiers/{dossier_id}/transfer-due": [412],
    "/api/v1/dossiers/{dossier_id}/keep-back": [412, 422],  # until: within 2 years of today
    "/api/v1/documents/{document_id}/registration": [412],
    "/api/v1/documents/{document_id}/handling": [412],
    "/api/v1/documents/{document_id}/incoming-registration": [412],
    "/api/v1/documents/{document_id}/outgoing-registration": [412, 422],  # a number book
    # 422: the body names records that do not exist, or the files' content is checked
    "/api/v1/disposal-reviews": [422],
    "/api/v1/disposal-reviews/{review_id}/opinions": [422],
    "/api/v1/holds": [422],
    "/api/v1/holds/{hold_id}/dossiers": [422],
    "/api/v1/handover-batches": [422],
    "/api/v1/handover-batches/{batch_id}/dossiers": [422],
    "/api/v1/packages/export": [422],  # fonds_code or dossier_id, not both
    "/api/v1/users/{user_id}/keys": [422],  # expires_at in the future
    "/api/v1/retention-rules/{code}": [422],  # years only for rules that are not permanent
    "/api/v1/retention-rules/import": [422],  # the CSV's columns
    "/api/v1/file-plans/{plan_id}/import": [422],  # the spreadsheet's rows
    "/api/v1/file-plans/{plan_id}/items": [422],
    "/api/v1/file-plans/{plan_id}/open": [422],  # items of this plan
    "/api/v1/users/{user_id}/grants": [422],  # the dossier granted exists
    "/api/v1/retention-rules": [422],  # years only for rules that are not permanent
    "/api/v1/fonds": [422],  # a closed fonds needs closed_on
    "/api/v1/dossiers": [422],  # retention_rule: a rule of this instance's schedule
    "/api/v1/digitisation/batches": [422],  # the finding aid and the scans' content
    "/api/v1/digitisation/checks": [422],
    "/api/v1/dossiers/push": [422],  # the manifest's content and the files it names
    "/api/v1/dossiers/{dossier_id}/documents": [422],  # metadata part is JSON text
    # a rule across two parameters, which a JSON schema cannot state: page × page_size ≤ 10,000
    "/api/v1/search": [400],
}
DEFAULT_ACCEPTED = ["2xx", "3xx", 401, 403, 404, 409, 429]
DEFAULT_REJECTED = [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429]


def _config(tmp: Path) -> Path:
    lines = [
        'hooks = "tests.api.schemathesis_hooks"',
        "[checks.missing_required_header]",
        # 428 Precondition Required is RFC 6585's answer to a missing If-Match
        "expected-statuses = [400, 401, 403, 406, 415, 422, 428]",
    ]
    for path, extra in STATE_DEPENDENT.items():
        statuses = ", ".join(f'"{s}"' if isinstance(s, str) else str(s)
                             for s in DEFAULT_ACCEPTED + extra)
        lines += ["[[operations]]", f'include-path = "{path}"',
                  "[operations.checks.positive_data_acceptance]",
                  f"expected-statuses = [{statuses}]"]
        if 412 in extra:  # an If-Match that is not the current ETag is a 412, whatever it is
            lines += ["[operations.checks.negative_data_rejection]",
                      f"expected-statuses = [{', '.join(map(str, DEFAULT_REJECTED))}, 412]"]
    config = tmp / "schemathesis.toml"
    config.write_text("\n".join(lines) + "\n")
    return config


# The first path segment after /api/v1/ of the operations each part fuzzes; "rest" is every
# other operation. Balanced by the time each took (about a quarter of the whole run each).
PARTS: dict[str, list[str]] = {
    "dossiers": ["dossiers", "fonds", "registrations", "registers", "handover",
                 "deadline-warnings"],
    "documents": ["documents", "search", "outbox", "packages", "code-lists", "me", "metrics",
                  "health"],
    "plans": ["handover-batches", "file-plans", "retention-rules"],
}


def _segments(names: list[str]) -> str:
    return "^/api/v1/(" + "|".join(re.escape(n) for n in names) + ")(/|$)"


def selection(part: str) -> list[str]:
    """The `st run` options that select the operations of ``part``."""
    if part == "rest":
        return ["--exclude-path-regex", _segments([n for p in PARTS.values() for n in p])]
    return ["--include-path-regex", _segments(PARTS[part])]


def run_part(part: str, tmp_path: Path, instance: Path, env, worker) -> None:  # noqa: ANN001
    from waitress.server import create_server

    from tests.conftest import make_config

    config = make_config(instance, MAX_UPLOAD_BYTES=2 * 1024 * 1024,
                         AUTH_FAILURE_LIMIT=1_000_000)  # ignored_auth sends bad keys on purpose
    app = create_app(config, env=env)
    _, secret = create_key(env, "fuzzer", ["admin"], clearance=True)
    client = Client(app, secret)
    client.make_fonds()
    dossier = client.make_dossier()
    client.make_document(dossier["id"], files={"a.txt": b"hello"})
    drain(worker)  # the search index exists, as it does once the worker has run

    server = create_server(app, host="127.0.0.1", port=0, threads=4,
                           max_request_body_size=largest_body(config) + 1)
    server.channel_class = waitress_channel(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.effective_port}"
    try:
        run = subprocess.run(
            [str(Path(sys.executable).parent / "st"), "--config-file", str(_config(tmp_path)),
             "run", f"{base}/api/v1/openapi.json", "--checks", "all",
             "-H", f"Authorization: Bearer {secret}",
             "--max-examples", str(EXAMPLES_PER_OPERATION),
             "--phases", "examples,coverage,fuzzing", "--workers", "1",
             "--generation-deterministic", "--no-color", "--request-timeout", "30",
             # a ZIP package: no generated body can be one (tests/services/test_packages.py)
             "--exclude-path", "/api/v1/packages/import", *selection(part)],
            cwd=ROOT, capture_output=True, text=True, timeout=600,
            env={**os.environ, "PYTHONPATH": str(ROOT)})
    finally:
        server.close()
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-20000:]
