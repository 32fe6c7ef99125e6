"""The worker's digitisation runner: picks up queued batches and runs one at a time in a
thread of its own, so that the outbox and the scheduled jobs go on meanwhile. The CPU-heavy
conversion runs in child processes at low priority (services/digitisation_run.py)."""

from __future__ import annotations

import logging
import threading
import time

from ..services.context import Env
from ..services.digitisation_run import claim_batch, has_work, run_batch

log = logging.getLogger(__name__)
CHECK_SECONDS = 2.0


class BatchThread:
    def __init__(self, env: Env, holder: str) -> None:
        self.env, self.runner = env, f"worker:{holder}"
        self.thread: threading.Thread | None = None
        self._last_check = 0.0

    def busy(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def tick(self) -> int:
        """Start the next batch if none runs here; returns 1 when one was started."""
        now = time.monotonic()
        if self.busy() or now - self._last_check < CHECK_SECONDS:
            return 0
        self._last_check = now
        if not has_work(self.env):
            return 0
        batch_id = claim_batch(self.env, self.runner)
        if batch_id is None:
            return 0
        self.thread = threading.Thread(target=self._run, args=(batch_id,), daemon=True,
                                       name=f"digitise-{batch_id[:8]}")
        self.thread.start()
        return 1

    def _run(self, batch_id: str) -> None:
        try:
            run_batch(self.env, batch_id, self.runner)
        except Exception:  # noqa: BLE001 - the batch records its own failure
            log.exception("digitisation batch %s stopped", batch_id)
