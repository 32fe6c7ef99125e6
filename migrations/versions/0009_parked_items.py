"""parked outbox items (retry with backoff) and process markers (crash recovery)

Revision ID: 0009_parked_items
Revises: 0008_storage_integrity
"""

from alembic import op
import sqlalchemy as sa
import repo_server.catalog.models

revision = '0009_parked_items'
down_revision = '0008_storage_integrity'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('next_attempt_at', repo_server.catalog.models.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('parked_at', repo_server.catalog.models.UTCDateTime(), nullable=True))
    with op.batch_alter_table('pending_writes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('holder', sa.String(length=200), nullable=True))
    op.create_table('process_markers',
    sa.Column('id', sa.String(length=200), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('boot_id', sa.String(length=64), nullable=False),
    sa.Column('process_started', sa.String(length=40), nullable=False),
    sa.Column('role', sa.String(length=40), nullable=False),
    sa.Column('started_at', repo_server.catalog.models.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_process_markers'))
    )


def downgrade() -> None:
    op.drop_table('process_markers')
    with op.batch_alter_table('pending_writes', schema=None) as batch_op:
        batch_op.drop_column('holder')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('parked_at')
        batch_op.drop_column('next_attempt_at')
