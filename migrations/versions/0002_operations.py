"""operations: rolling fixity checks and alerts

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 16:40:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import repo_server.catalog.models

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
UTC = repo_server.catalog.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "fixity_objects",
        sa.Column("object_id", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=True),
        sa.Column("registered_at", UTC(), nullable=False),
        sa.Column("last_checked_at", UTC(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("problems", JSON, nullable=True),
        sa.Column("failing_since", UTC(), nullable=True),
        sa.Column("checks", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("object_id", name=op.f("pk_fixity_objects")),
    )
    with op.batch_alter_table("fixity_objects", schema=None) as batch_op:
        batch_op.create_index("ix_fixity_objects_status", ["status"], unique=False)

    op.create_table(
        "fixity_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("trigger", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("started_at", UTC(), nullable=False),
        sa.Column("finished_at", UTC(), nullable=True),
        sa.Column("objects_total", sa.Integer(), nullable=False),
        sa.Column("objects_checked", sa.Integer(), nullable=False),
        sa.Column("files_checked", sa.Integer(), nullable=False),
        sa.Column("bytes_checked", sa.BigInteger(), nullable=False),
        sa.Column("failures", JSON, nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fixity_runs")),
    )

    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("details", JSON, nullable=False),
        sa.Column("raised_at", UTC(), nullable=False),
        sa.Column("resolved_at", UTC(), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index("ix_alerts_open", ["resolved_at", "kind"], unique=False)

    # A dossier push marks its pending writes "push:<uuid>:<kind>": too long for 20 characters
    # on PostgreSQL (SQLite does not enforce the length).
    with op.batch_alter_table("pending_writes", schema=None) as batch_op:
        batch_op.alter_column("object_kind", existing_type=sa.String(length=20),
                              type_=sa.String(length=100), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("pending_writes", schema=None) as batch_op:
        batch_op.alter_column("object_kind", existing_type=sa.String(length=100),
                              type_=sa.String(length=20), existing_nullable=False)
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_open")
    op.drop_table("alerts")
    op.drop_table("fixity_runs")
    with op.batch_alter_table("fixity_objects", schema=None) as batch_op:
        batch_op.drop_index("ix_fixity_objects_status")
    op.drop_table("fixity_objects")
