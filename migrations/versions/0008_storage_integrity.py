"""storage integrity: fixity run coverage, the audit tip's seal (HMAC)

Revision ID: 0008_storage_integrity
Revises: 0007_intake
"""

import sqlalchemy as sa
from alembic import op

import repo_server.catalog.models

revision = '0008_storage_integrity'
down_revision = '0007_intake'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('fixity_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('period_days', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('seconds', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('overdue', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('oldest_check_at',
                                      repo_server.catalog.models.UTCDateTime(), nullable=True))
    with op.batch_alter_table('audit_head', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mac', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('audit_head', schema=None) as batch_op:
        batch_op.drop_column('mac')
    with op.batch_alter_table('fixity_runs', schema=None) as batch_op:
        batch_op.drop_column('oldest_check_at')
        batch_op.drop_column('overdue')
        batch_op.drop_column('seconds')
        batch_op.drop_column('period_days')
