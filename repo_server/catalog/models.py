"""Catalog tables: mirror rows of the OCFL objects plus operational state.

Mirror rows (fonds, dossiers, documents, document_files) can be rebuilt from the storage
root at any time; the rest (api keys, outbox, counters, pending writes) is operational.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator):
    """Stores naive UTC, returns aware UTC, on every backend."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Fonds(Base):
    """Phông lưu trữ: the archive of one agency (OrganId)."""

    __tablename__ = "fonds"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    code: Mapped[str] = mapped_column(String(13), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(10), default="open")
    closed_on: Mapped[date | None] = mapped_column(Date)
    successor_code: Mapped[str | None] = mapped_column(String(13))
    meta: Mapped[dict[str, Any]] = mapped_column(JSONType)
    head_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Dossier(Base):
    """Hồ sơ: mirror of the head version of a dossier object."""

    __tablename__ = "dossiers"
    __table_args__ = (
        UniqueConstraint("fonds_code", "external_ref", name="uq_dossiers_fonds_external_ref"),
        Index("ix_dossiers_fonds_year", "fonds_code", "year"),
        Index("ix_dossiers_state_due", "state", "retention_due_on"),
        Index("ix_dossiers_created_at", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    fonds_code: Mapped[str] = mapped_column(ForeignKey("fonds.code"))
    file_code: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(1000))
    state: Mapped[str] = mapped_column(String(20))
    year: Mapped[int] = mapped_column(Integer)
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    retention: Mapped[str] = mapped_column(String(2))
    retention_years: Mapped[int | None] = mapped_column(Integer)
    access_mode: Mapped[str] = mapped_column(String(2))
    external_ref: Mapped[str | None] = mapped_column(String(100))
    retention_rule: Mapped[str | None] = mapped_column(String(20), index=True)
    retention_due_on: Mapped[date | None] = mapped_column(Date)
    archive_code: Mapped[str | None] = mapped_column(String(120), unique=True)
    archived_on: Mapped[date | None] = mapped_column(Date)
    doc_total: Mapped[int] = mapped_column(Integer, default=0)
    doc_seq: Mapped[int] = mapped_column(Integer, default=0)
    meta: Mapped[dict[str, Any]] = mapped_column(JSONType)
    head_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Document(Base):
    """Văn bản: mirror of the head version of a document object."""

    __tablename__ = "documents"
    __table_args__ = (
        Index("ix_documents_dossier_serial", "dossier_id", "serial"),
        Index("ix_documents_number", "code_number", "code_notation", "organ_name"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    dossier_id: Mapped[str] = mapped_column(ForeignKey("dossiers.id"))
    fonds_code: Mapped[str] = mapped_column(String(13), index=True)
    doc_code: Mapped[str] = mapped_column(String(120), unique=True)
    serial: Mapped[int] = mapped_column(Integer)
    type_code: Mapped[str | None] = mapped_column(String(2))
    direction: Mapped[str | None] = mapped_column(String(10))
    code_number: Mapped[str | None] = mapped_column(String(11))
    code_notation: Mapped[str | None] = mapped_column(String(30))
    organ_name: Mapped[str | None] = mapped_column(String(200))
    issued_date: Mapped[date | None] = mapped_column(Date)
    subject: Mapped[str | None] = mapped_column(String(500))
    access_mode: Mapped[str | None] = mapped_column(String(2))
    text_status: Mapped[str] = mapped_column(String(20), default="pending")
    text_reason: Mapped[str | None] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column(JSONType)
    head_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DocumentFile(Base):
    """A file in the head version of a document."""

    __tablename__ = "document_files"

    document_id: Mapped[str] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    media_type: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)


class ApiKey(Base):
    """An API key; only the SHA-256 of the secret is stored."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    user_name: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), index=True)
    label: Mapped[str | None] = mapped_column(String(200))
    roles: Mapped[list[str]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OutboxEvent(Base):
    """Work for the worker (index a changed object), committed with the change itself."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "processed_at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    object_id: Mapped[str] = mapped_column(String(36))
    object_kind: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)
    # A failed event waits until then before it is tried again (backoff)...
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # ... and after OUTBOX_MAX_ATTEMPTS it is parked: kept with its error, listed by
    # /api/v1/outbox/parked and /health, tried again only when someone asks.
    parked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PendingWrite(Base):
    """An object being written to storage; left behind only by a crash (see reconcile)."""

    __tablename__ = "pending_writes"

    token: Mapped[str] = mapped_column(String(36), primary_key=True)
    object_id: Mapped[str] = mapped_column(String(36))
    # "push:<group uuid>:<kind>" for the writes of one dossier push (services/push.py)
    object_kind: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The process writing it (a ProcessMarker id): once that process is gone, the write was
    # interrupted and is recovered at once (services/recovery.py). None: an older row.
    holder: Mapped[str | None] = mapped_column(String(200))


class ProcessMarker(Base):
    """A process that may write (web worker, job worker, command): who it is and since when,
    so that recovery can tell a crashed writer from a live one without waiting."""

    __tablename__ = "process_markers"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    boot_id: Mapped[str] = mapped_column(String(64))  # the host's boot: a pid means nothing after
    process_started: Mapped[str] = mapped_column(String(40))  # the kernel's start time of the pid
    role: Mapped[str] = mapped_column(String(40))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Counter(Base):
    """Named sequences (file numbers per fonds and year, ...)."""

    __tablename__ = "counters"

    scope: Mapped[str] = mapped_column(String(50), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class Lease(Base):
    """Who may run the worker (indexer and scheduled jobs); others wait as standby."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class JobRun(Base):
    """One run of a scheduled job (or a request to run one now)."""

    __tablename__ = "job_runs"
    __table_args__ = (Index("ix_job_runs_job_started", "job", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(50))
    trigger: Mapped[str] = mapped_column(String(20))  # schedule | manual
    status: Mapped[str] = mapped_column(String(20))  # requested | running | ok | failed
    requested_by: Mapped[str | None] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    counts: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    error: Mapped[str | None] = mapped_column(Text)


class RetentionRule(Base):
    """One line of the retention schedule (bảng thời hạn bảo quản)."""

    __tablename__ = "retention_rules"

    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    group: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(1000))
    years: Mapped[int | None] = mapped_column(Integer)
    permanent: Mapped[bool] = mapped_column(default=False)
    legal_basis: Mapped[str | None] = mapped_column(String(500))
    note: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(200))


class Hold(Base):
    """A legal hold (freeze): held dossiers refuse every change and every disposal."""

    __tablename__ = "holds"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    authority_ref: Mapped[str] = mapped_column(String(300))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    released_by: Mapped[str | None] = mapped_column(String(200))
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    release_reason: Mapped[str | None] = mapped_column(Text)


class HoldItem(Base):
    """A dossier under a hold; removal is recorded, never deleted."""

    __tablename__ = "hold_items"
    __table_args__ = (Index("ix_hold_items_dossier", "dossier_id", "removed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    hold_id: Mapped[str] = mapped_column(ForeignKey("holds.id"))
    dossier_id: Mapped[str] = mapped_column(String(36))
    added_by: Mapped[str] = mapped_column(String(200))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)
    removed_by: Mapped[str | None] = mapped_column(String(200))
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DisposalReview(Base):
    """Xem xét hủy: a list of dossiers the appraisal council decides on."""

    __tablename__ = "disposal_reviews"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    status: Mapped[str] = mapped_column(String(20))  # open | approved | executed
    fonds_code: Mapped[str | None] = mapped_column(String(13), index=True)
    title: Mapped[str] = mapped_column(String(500))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    quorum: Mapped[int] = mapped_column(Integer)
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_ref: Mapped[str | None] = mapped_column(String(300))
    executed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    record_id: Mapped[str | None] = mapped_column(String(36))


class ReviewItem(Base):
    __tablename__ = "review_items"
    __table_args__ = (UniqueConstraint("review_id", "dossier_id", name="uq_review_items_dossier"),
                      Index("ix_review_items_dossier", "dossier_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    review_id: Mapped[str] = mapped_column(ForeignKey("disposal_reviews.id"))
    dossier_id: Mapped[str] = mapped_column(String(36))
    reason: Mapped[str] = mapped_column(String(20))  # expired | duplicate
    prior_state: Mapped[str] = mapped_column(String(20))  # where a kept dossier returns
    outcome: Mapped[str | None] = mapped_column(String(20))  # destroy|keep|destroyed|kept|skipped
    outcome_note: Mapped[str | None] = mapped_column(Text)
    keep_retention: Mapped[str | None] = mapped_column(String(2))
    keep_retention_years: Mapped[int | None] = mapped_column(Integer)
    keep_reason: Mapped[str | None] = mapped_column(Text)


class ReviewOpinion(Base):
    __tablename__ = "review_opinions"
    __table_args__ = (UniqueConstraint("review_id", "dossier_id", "member",
                                       name="uq_review_opinions_member"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    review_id: Mapped[str] = mapped_column(ForeignKey("disposal_reviews.id"))
    dossier_id: Mapped[str] = mapped_column(String(36))
    member: Mapped[str] = mapped_column(String(200))
    opinion: Mapped[str] = mapped_column(String(10))  # destroy | keep
    retention: Mapped[str | None] = mapped_column(String(2))
    retention_years: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Tombstone(Base):
    """What remains in the catalog of a destroyed dossier."""

    __tablename__ = "tombstones"

    dossier_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    fonds_code: Mapped[str] = mapped_column(String(13), index=True)
    file_code: Mapped[str] = mapped_column(String(100))
    archive_code: Mapped[str | None] = mapped_column(String(120))
    title: Mapped[str] = mapped_column(String(1000))
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    retention: Mapped[str] = mapped_column(String(2))
    retention_years: Mapped[int | None] = mapped_column(Integer)
    review_id: Mapped[str] = mapped_column(String(36))
    record_id: Mapped[str | None] = mapped_column(String(36))
    decided_by: Mapped[dict[str, Any]] = mapped_column(JSONType)
    documents: Mapped[list[Any]] = mapped_column(JSONType)
    destroyed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DocumentTombstone(Base):
    """A destroyed document: which destroyed dossier it was in (its tombstone says the rest),
    so that the document and its files answer 410 with the review instead of 404."""

    __tablename__ = "document_tombstones"

    document_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    dossier_id: Mapped[str] = mapped_column(String(36), index=True)
    doc_code: Mapped[str | None] = mapped_column(String(120))


class DeadlineWarning(Base):
    """Made by the daily deadline job: hand-over to the agency archive, transfer to history."""

    __tablename__ = "deadline_warnings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20))  # handover | transfer | handling
    dossier_id: Mapped[str] = mapped_column(String(36), index=True)
    # an incoming document whose handling deadline is near or past (kind "handling")
    document_id: Mapped[str | None] = mapped_column(String(36))
    due_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class User(Base):
    """A person or system that holds API keys: roles, fonds scope and clearances."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(300))
    roles: Mapped[list[str]] = mapped_column(JSONType)
    fonds_scope: Mapped[list[str]] = mapped_column(JSONType)  # ["*"] = every fonds
    conditional_access: Mapped[bool] = mapped_column(default=False)  # access mode 02
    clearance: Mapped[bool] = mapped_column(default=False)  # access mode 03 (secret)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AccessGrant(Base):
    """Permission for one user to use one conditional-access (02) dossier."""

    __tablename__ = "access_grants"
    __table_args__ = (Index("ix_access_grants_user", "user_id", "dossier_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    dossier_id: Mapped[str] = mapped_column(String(36))
    granted_by: Mapped[str] = mapped_column(String(200))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEvent(Base):
    """One entry of the append-only, hash-chained audit trail."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_target", "target"),
                      Index("ix_audit_events_actor_at", "actor", "at"),
                      Index("ix_audit_events_action_at", "action", "at"))

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                     primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(60))
    target: Mapped[str | None] = mapped_column(String(300))
    outcome: Mapped[str] = mapped_column(String(20))
    client_addr: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSONType)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The newest event's sequence and hash: the chain's tip, locked while appending."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    # HMAC-SHA256 of "seq:hash" under the instance's audit key (kept outside the database):
    # rewriting rows and the tip, or moving the tip back, cannot be sealed again without it.
    mac: Mapped[str | None] = mapped_column(String(64))


# --- operations: fixity checks and alerts (issue 6) -------------------------------------------


class FixityObject(Base):
    """When each stored object was last re-hashed, and what that found (rolling fixity)."""

    __tablename__ = "fixity_objects"
    __table_args__ = (Index("ix_fixity_objects_status", "status"),)

    object_id: Mapped[str] = mapped_column(String(100), primary_key=True)  # OCFL id
    kind: Mapped[str | None] = mapped_column(String(20))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime)  # first seen by the job
    last_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20))  # unchecked | ok | failed | missing
    problems: Mapped[list[Any] | None] = mapped_column(JSONType)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checks: Mapped[int] = mapped_column(Integer, default=0)


class FixityRun(Base):
    """One run of the fixity check: how much it re-hashed and which objects failed."""

    __tablename__ = "fixity_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    trigger: Mapped[str] = mapped_column(String(20))  # schedule | manual | api
    status: Mapped[str] = mapped_column(String(20))  # running | ok | problems | failed
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    objects_total: Mapped[int] = mapped_column(Integer, default=0)
    objects_checked: Mapped[int] = mapped_column(Integer, default=0)
    files_checked: Mapped[int] = mapped_column(Integer, default=0)
    bytes_checked: Mapped[int] = mapped_column(BigInteger, default=0)
    failures: Mapped[list[Any]] = mapped_column(JSONType)
    error: Mapped[str | None] = mapped_column(Text)
    # What the rolling check covers after this run (issue 12 §3).
    period_days: Mapped[int | None] = mapped_column(Integer)
    seconds: Mapped[float | None] = mapped_column(Float)
    overdue: Mapped[int | None] = mapped_column(Integer)  # objects unchecked within the period
    oldest_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Alert(Base):
    """Something an operator must look at (a damaged or missing object, a failed backup)."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_open", "resolved_at", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(40))  # fixity | backup
    subject: Mapped[str | None] = mapped_column(String(300))
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSONType)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution: Mapped[str | None] = mapped_column(Text)


class IdempotencyKey(Base):
    """The first answer to a POST sent with an Idempotency-Key, replayed to its retries."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("actor", "key", name="uq_idempotency_keys_actor_key"),
                      Index("ix_idempotency_keys_expires", "expires_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    actor: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(1000))
    fingerprint: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(20))  # in_progress | done
    status_code: Mapped[int | None] = mapped_column(Integer)
    body: Mapped[str | None] = mapped_column(Text)
    headers: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DigitisationBatch(Base):
    """A digitisation batch: a finding aid and its scans, converted and filed (operational
    state; the dossiers it makes are ordinary records in the storage root)."""

    __tablename__ = "digitisation_batches"
    __table_args__ = (Index("ix_digitisation_batches_state", "state", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    fonds_code: Mapped[str] = mapped_column(String(13))
    # queued | running | done | partial (some documents failed) | cancelled
    state: Mapped[str] = mapped_column(String(20))
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    source: Mapped[str] = mapped_column(String(1000))  # the scans: a folder or a ZIP
    options: Mapped[dict[str, Any]] = mapped_column(JSONType)
    rejected: Mapped[list[Any] | None] = mapped_column(JSONType)  # rows left out (errors)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    runner: Mapped[str | None] = mapped_column(String(200))  # which process works on it
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pages_total: Mapped[int] = mapped_column(Integer, default=0)
    cpu_seconds: Mapped[float] = mapped_column(default=0.0)
    work_seconds: Mapped[float] = mapped_column(default=0.0)  # time spent running
    error: Mapped[str | None] = mapped_column(Text)


class DigitisationDossier(Base):
    """One dossier row of a batch's finding aid, and the dossier it became."""

    __tablename__ = "digitisation_dossiers"
    __table_args__ = (Index("ix_digitisation_dossiers_batch", "batch_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("digitisation_batches.id",
                                                     ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    row: Mapped[int] = mapped_column(Integer)  # row of the dossier list
    label: Mapped[str] = mapped_column(String(100))  # dossier number in the finding aid
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)  # the dossier's metadata
    dossier_id: Mapped[str] = mapped_column(String(36))  # chosen before it is written
    file_code: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(20))  # pending | done | failed
    error: Mapped[str | None] = mapped_column(Text)


class DigitisationItem(Base):
    """One document of a batch: its scans, conversion and quality, and the document it became."""

    __tablename__ = "digitisation_items"
    __table_args__ = (Index("ix_digitisation_items_batch", "batch_id", "state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("digitisation_batches.id",
                                                     ondelete="CASCADE"))
    dossier_position: Mapped[int] = mapped_column(Integer)
    serial: Mapped[int] = mapped_column(Integer)  # its number in the dossier (doc code)
    row: Mapped[int] = mapped_column(Integer)  # row of the document list
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)  # the document's metadata
    scans: Mapped[list[Any]] = mapped_column(JSONType)  # scan names, in page order
    pages: Mapped[int] = mapped_column(Integer)  # counted when the batch was checked
    document_id: Mapped[str] = mapped_column(String(36))  # chosen before it is written
    state: Mapped[str] = mapped_column(String(20))  # pending | converted | done | failed
    error: Mapped[str | None] = mapped_column(Text)
    quality: Mapped[list[Any] | None] = mapped_column(JSONType)  # per page
    output_sha256: Mapped[str | None] = mapped_column(String(64))
    cpu_seconds: Mapped[float] = mapped_column(default=0.0)


# --- records office (issue 15): numbering, registers, file plan, links, hand-over -------------


class RegisterEntry(Base):
    """One number of a registration series (sổ đăng ký văn bản đi/đến): given to a document,
    still being written, or cancelled with a reason. The number and date also live in the
    document's metadata; this is the counter's log, so no number is reused or lost unseen."""

    __tablename__ = "register_entries"
    __table_args__ = (
        UniqueConstraint("fonds_code", "series", "year", "number",
                         name="uq_register_entries_number"),
        Index("ix_register_entries_period", "fonds_code", "direction", "registered_on"),
        Index("ix_register_entries_document", "document_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fonds_code: Mapped[str] = mapped_column(String(13))
    direction: Mapped[str] = mapped_column(String(10))  # outgoing | incoming
    book: Mapped[str] = mapped_column(String(40))
    series: Mapped[str] = mapped_column(String(100))  # book, or book:type for per-type books
    year: Mapped[int] = mapped_column(Integer)
    number: Mapped[int] = mapped_column(Integer)
    document_id: Mapped[str | None] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(12))  # pending | registered | cancelled
    registered_on: Mapped[date] = mapped_column(Date)  # local (Vietnam) date
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    registered_by: Mapped[str] = mapped_column(String(200))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_by: Mapped[str | None] = mapped_column(String(200))
    cancel_reason: Mapped[str | None] = mapped_column(Text)


class FilePlan(Base):
    """Danh mục hồ sơ: the planned dossiers of one fonds for one year."""

    __tablename__ = "file_plans"
    __table_args__ = (UniqueConstraint("fonds_code", "year", name="uq_file_plans_fonds_year"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    fonds_code: Mapped[str] = mapped_column(String(13))
    year: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(500))
    numbering: Mapped[str] = mapped_column(String(10))  # plan | heading (serials restart)
    status: Mapped[str] = mapped_column(String(10))  # draft | approved
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approval_ref: Mapped[str | None] = mapped_column(String(300))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class FilePlanItem(Base):
    """A heading (Roman numeral or Arabic sub-heading) or a planned dossier of a file plan."""

    __tablename__ = "file_plan_items"
    __table_args__ = (Index("ix_file_plan_items_plan", "plan_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    plan_id: Mapped[str] = mapped_column(ForeignKey("file_plans.id"))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(10))  # heading | dossier
    heading: Mapped[str | None] = mapped_column(String(10))  # I, II, ... or 1, 2, ...
    level: Mapped[int | None] = mapped_column(Integer)  # 1 Roman, 2 Arabic
    abbreviation: Mapped[str | None] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(Integer)
    file_notation: Mapped[str | None] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(1000))
    retention: Mapped[str | None] = mapped_column(String(2))
    retention_years: Mapped[int | None] = mapped_column(Integer)
    retention_rule: Mapped[str | None] = mapped_column(String(20))
    handover_rule: Mapped[str | None] = mapped_column(String(20))
    maker: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    dossier_id: Mapped[str | None] = mapped_column(String(36))


class DossierLink(Base):
    """A document filed in a further dossier without being copied; mirrors the dossier's
    `linked_documents` (its OCFL metadata is the truth)."""

    __tablename__ = "dossier_links"

    dossier_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    document_id: Mapped[str] = mapped_column(String(36), primary_key=True, index=True)
    linked_by: Mapped[str] = mapped_column(String(200))
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime)


class HandoverBatch(Base):
    """Đợt nộp lưu: closed dossiers handed by a unit to the agency archive."""

    __tablename__ = "handover_batches"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    fonds_code: Mapped[str] = mapped_column(String(13), index=True)
    title: Mapped[str] = mapped_column(String(500))
    giving_unit: Mapped[str] = mapped_column(String(300))
    receiving_archive: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(12))  # draft | given | received | cancelled
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    given_by: Mapped[str | None] = mapped_column(String(200))
    given_name: Mapped[str | None] = mapped_column(String(200))
    given_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    given_note: Mapped[str | None] = mapped_column(Text)
    received_by: Mapped[str | None] = mapped_column(String(200))
    received_name: Mapped[str | None] = mapped_column(String(200))
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_note: Mapped[str | None] = mapped_column(Text)
    record_id: Mapped[str | None] = mapped_column(String(36))


class HandoverItem(Base):
    """A dossier in a hand-over batch (one batch per dossier; a cancelled draft frees it)."""

    __tablename__ = "handover_items"
    __table_args__ = (UniqueConstraint("dossier_id", name="uq_handover_items_dossier"),
                      Index("ix_handover_items_batch", "batch_id", "position"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("handover_batches.id"))
    dossier_id: Mapped[str] = mapped_column(String(36))
    position: Mapped[int] = mapped_column(Integer)
    archive_code: Mapped[str | None] = mapped_column(String(120))
