"""A lease row in the database: exactly one worker runs jobs and writes the index.

The holder renews the lease well before it expires; a standby takes it over after it
expired, or at once when the holder's process is known to be gone (a worker killed on this
host: services/processes.py), so two never overlap (as long as clocks agree to within the
margin between renewal and expiry) and a restart after a crash does not wait out the lease.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import timedelta

from sqlalchemy.exc import IntegrityError

from ..catalog import Lease as LeaseRow
from ..services.context import Env
from ..services.processes import current_lease, holder_gone, this_process


def default_holder(env: Env | None = None) -> str:
    """`<process marker>/<suffix>`: the process (whose death frees the lease at once) and
    which of its workers; without a marker, host, pid and suffix (freed when it expires)."""
    marker = this_process(env, "worker") if env is not None else None
    if marker:
        return f"{marker}/{uuid.uuid4().hex[:8]}"
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease:
    def __init__(self, env: Env, name: str = "worker", holder: str | None = None,
                 ttl_seconds: float = 30) -> None:
        self.env = env
        self.name = name
        self.holder = holder or default_holder(env)
        self.ttl = timedelta(seconds=ttl_seconds)

    def acquire(self) -> bool:
        """Take or renew the lease; False while another live holder has it."""
        now = self.env.now()
        try:
            with self.env.db.write() as session:
                row = session.get(LeaseRow, self.name, with_for_update=True)
                if row is None:
                    session.add(LeaseRow(name=self.name, holder=self.holder, acquired_at=now,
                                         expires_at=now + self.ttl))
                    return True
                if row.holder != self.holder and row.expires_at > now \
                        and not holder_gone(self.env, row.holder):
                    return False
                if row.holder != self.holder:
                    row.holder, row.acquired_at = self.holder, now
                row.expires_at = now + self.ttl
                return True
        except IntegrityError:
            return False  # another worker inserted the row first

    def release(self) -> None:
        with self.env.db.write() as session:
            row = session.get(LeaseRow, self.name, with_for_update=True)
            if row is not None and row.holder == self.holder:
                session.delete(row)

    def current_holder(self) -> tuple[str, object] | None:
        return current_lease(self.env, self.name)
