"""document tombstones: destroyed documents answer 410 with their review

Revision ID: 0005_trust_rights
Revises: 0004
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0005_trust_rights"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "document_tombstones",
        sa.Column("document_id", sa.String(length=36), nullable=False),
        sa.Column("dossier_id", sa.String(length=36), nullable=False),
        sa.Column("doc_code", sa.String(length=120), nullable=True),
        sa.PrimaryKeyConstraint("document_id", name=op.f("pk_document_tombstones")),
    )
    with op.batch_alter_table("document_tombstones", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_document_tombstones_dossier_id"), ["dossier_id"],
                              unique=False)
    # Documents destroyed before this revision: their ids are in the audit event of the
    # destruction (details.documents), which the hash chain keeps unchanged.
    conn = op.get_bind()
    events = sa.table("audit_events", sa.column("action", sa.String), sa.column("target", sa.String),
                      sa.column("details", sa.JSON))
    rows = {}
    for target, details in conn.execute(sa.select(events.c.target, events.c.details)
                                        .where(events.c.action == "dossier.destroy")):
        if isinstance(details, str):
            details = json.loads(details)
        for document_id in (details or {}).get("documents") or []:
            rows[document_id] = {"document_id": document_id, "dossier_id": target,
                                 "doc_code": None}
    if rows:
        table = sa.table("document_tombstones", sa.column("document_id", sa.String),
                         sa.column("dossier_id", sa.String), sa.column("doc_code", sa.String))
        conn.execute(table.insert(), list(rows.values()))


def downgrade() -> None:
    with op.batch_alter_table("document_tombstones", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_document_tombstones_dossier_id"))
    op.drop_table("document_tombstones")
