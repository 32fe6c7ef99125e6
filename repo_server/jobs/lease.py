"""A lease row in the database: exactly one worker runs jobs and writes the index.

The holder renews the lease well before it expires; a standby takes it over only after it
expired, so a crashed worker is replaced within one lease period and two never overlap
(as long as clocks agree to within the margin between renewal and expiry).
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import timedelta

from sqlalchemy.exc import IntegrityError

from ..catalog import Lease as LeaseRow
from ..services.context import Env


def default_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease:
    def __init__(self, env: Env, name: str = "worker", holder: str | None = None,
                 ttl_seconds: float = 30) -> None:
        self.env = env
        self.name = name
        self.holder = holder or default_holder()
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
                if row.holder != self.holder and row.expires_at > now:
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
        with self.env.db.read() as session:
            row = session.get(LeaseRow, self.name)
            if row is None or row.expires_at <= self.env.now():
                return None
            return row.holder, row.expires_at
