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
        Index("ix_dossiers_state", "state"),
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


class PendingWrite(Base):
    """An object being written to storage; left behind only by a crash (see reconcile)."""

    __tablename__ = "pending_writes"

    token: Mapped[str] = mapped_column(String(36), primary_key=True)
    object_id: Mapped[str] = mapped_column(String(36))
    object_kind: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Counter(Base):
    """Named sequences (file numbers per fonds and year, ...)."""

    __tablename__ = "counters"

    scope: Mapped[str] = mapped_column(String(50), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)
