"""The SQL catalog: models and the database handle."""

from .db import Database
from .models import (
    ApiKey,
    Base,
    Counter,
    Document,
    DocumentFile,
    Dossier,
    Fonds,
    OutboxEvent,
    PendingWrite,
)

__all__ = [
    "ApiKey",
    "Base",
    "Counter",
    "Database",
    "Document",
    "DocumentFile",
    "Dossier",
    "Fonds",
    "OutboxEvent",
    "PendingWrite",
]
