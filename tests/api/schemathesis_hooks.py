"""Schemathesis hooks for tests/api/schemathesis_run.py (loaded by the `st` command).

A fresh Idempotency-Key for every request: schemathesis sends the same boundary value (200
zeros) with different bodies, which the server rightly refuses (422, tests/api/test_idempotency.py).
The change is made without marking the case as edited: an edited case is re-classified, which
would turn a "missing Authorization" case into an authenticated one.
"""

import uuid

import schemathesis


@schemathesis.hook
def before_call(ctx, case, **kwargs):  # noqa: ANN001, ANN003, ANN201, ARG001
    if case.headers and "Idempotency-Key" in case.headers:
        case.headers["Idempotency-Key"] = uuid.uuid4().hex
        case._sync_validated_hashes()  # noqa: SLF001 - see above
