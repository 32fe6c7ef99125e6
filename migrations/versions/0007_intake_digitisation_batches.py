"""digitisation batches (intake: finding aids and scans)

Revision ID: 0007_intake
Revises: 0006_records_office
"""

from alembic import op
import sqlalchemy as sa
import repo_server.catalog.models
from sqlalchemy.dialects import postgresql

revision = '0007_intake'
down_revision = '0006_records_office'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('digitisation_batches',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('fonds_code', sa.String(length=13), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('cancel_requested', sa.Boolean(), nullable=False),
    sa.Column('source', sa.String(length=1000), nullable=False),
    sa.Column('options', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('rejected', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', repo_server.catalog.models.UTCDateTime(), nullable=False),
    sa.Column('started_at', repo_server.catalog.models.UTCDateTime(), nullable=True),
    sa.Column('finished_at', repo_server.catalog.models.UTCDateTime(), nullable=True),
    sa.Column('runner', sa.String(length=200), nullable=True),
    sa.Column('heartbeat_at', repo_server.catalog.models.UTCDateTime(), nullable=True),
    sa.Column('pages_total', sa.Integer(), nullable=False),
    sa.Column('cpu_seconds', sa.Double(), nullable=False),
    sa.Column('work_seconds', sa.Double(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_digitisation_batches'))
    )
    with op.batch_alter_table('digitisation_batches', schema=None) as batch_op:
        batch_op.create_index('ix_digitisation_batches_state', ['state', 'created_at'], unique=False)

    op.create_table('digitisation_dossiers',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('batch_id', sa.String(length=36), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('row', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=100), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('dossier_id', sa.String(length=36), nullable=False),
    sa.Column('file_code', sa.String(length=100), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['batch_id'], ['digitisation_batches.id'], name=op.f('fk_digitisation_dossiers_batch_id_digitisation_batches'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_digitisation_dossiers'))
    )
    with op.batch_alter_table('digitisation_dossiers', schema=None) as batch_op:
        batch_op.create_index('ix_digitisation_dossiers_batch', ['batch_id', 'position'], unique=False)

    op.create_table('digitisation_items',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('batch_id', sa.String(length=36), nullable=False),
    sa.Column('dossier_position', sa.Integer(), nullable=False),
    sa.Column('serial', sa.Integer(), nullable=False),
    sa.Column('row', sa.Integer(), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('scans', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('pages', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.String(length=36), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('quality', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('output_sha256', sa.String(length=64), nullable=True),
    sa.Column('cpu_seconds', sa.Double(), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['digitisation_batches.id'], name=op.f('fk_digitisation_items_batch_id_digitisation_batches'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_digitisation_items'))
    )
    with op.batch_alter_table('digitisation_items', schema=None) as batch_op:
        batch_op.create_index('ix_digitisation_items_batch', ['batch_id', 'state'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('digitisation_items', schema=None) as batch_op:
        batch_op.drop_index('ix_digitisation_items_batch')

    op.drop_table('digitisation_items')
    with op.batch_alter_table('digitisation_dossiers', schema=None) as batch_op:
        batch_op.drop_index('ix_digitisation_dossiers_batch')

    op.drop_table('digitisation_dossiers')
    with op.batch_alter_table('digitisation_batches', schema=None) as batch_op:
        batch_op.drop_index('ix_digitisation_batches_state')

    op.drop_table('digitisation_batches')

