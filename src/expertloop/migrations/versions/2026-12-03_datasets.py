"""datasets: snapshots, seed imports and seeds

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 09:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('dataset_snapshots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('building', 'ready', 'failed', name='snapshotstatus', native_enum=False, length=20), nullable=False),
    sa.Column('filters', sa.JSON(), nullable=False),
    sa.Column('test_fraction_bp', sa.Integer(), nullable=False),
    sa.Column('path', sa.String(length=300), nullable=False),
    sa.Column('manifest', sa.JSON(), nullable=True),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.Column('total_bytes', sa.BigInteger(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ready_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_dataset_snapshots_created_by_id_users')),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_dataset_snapshots_job_id_jobs')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_dataset_snapshots_organisation_id_organisations')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_dataset_snapshots_project_id_projects'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dataset_snapshots')),
    sa.UniqueConstraint('project_id', 'number', name=op.f('uq_dataset_snapshots_project_id_number'))
    )
    with op.batch_alter_table('dataset_snapshots', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dataset_snapshots_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_dataset_snapshots_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_dataset_snapshots_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_dataset_snapshots_job_id'), ['job_id'], unique=False)

    op.create_table('seed_imports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('format', sa.String(length=20), nullable=False),
    sa.Column('content_sha256', sa.String(length=64), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('upload_path', sa.String(length=300), nullable=False),
    sa.Column('status', sa.Enum('queued', 'validating', 'imported', 'failed', name='importstatus', native_enum=False, length=20), nullable=False),
    sa.Column('rows_total', sa.Integer(), nullable=False),
    sa.Column('rows_imported', sa.Integer(), nullable=False),
    sa.Column('errors', sa.JSON(), nullable=False),
    sa.Column('error_count', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_seed_imports_created_by_id_users')),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_seed_imports_job_id_jobs')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_seed_imports_organisation_id_organisations')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_seed_imports_project_id_projects'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_seed_imports')),
    sa.UniqueConstraint('project_id', 'content_sha256', name=op.f('uq_seed_imports_project_id_content_sha256'))
    )
    with op.batch_alter_table('seed_imports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_seed_imports_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_seed_imports_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_seed_imports_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_seed_imports_job_id'), ['job_id'], unique=False)

    op.create_table('seeds',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('import_id', sa.Integer(), nullable=False),
    sa.Column('line', sa.Integer(), nullable=False),
    sa.Column('external_id', sa.String(length=200), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('statement', sa.Text(), nullable=False),
    sa.Column('context', sa.Text(), nullable=False),
    sa.Column('domain', sa.String(length=100), nullable=False),
    sa.Column('prompts', sa.JSON(), nullable=False),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.Column('picked_by_id', sa.Integer(), nullable=True),
    sa.Column('problem_set_id', sa.Integer(), nullable=True),
    sa.Column('picked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['import_id'], ['seed_imports.id'], name=op.f('fk_seeds_import_id_seed_imports'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['picked_by_id'], ['users.id'], name=op.f('fk_seeds_picked_by_id_users')),
    sa.ForeignKeyConstraint(['problem_set_id'], ['problem_sets.id'], name=op.f('fk_seeds_problem_set_id_problem_sets')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_seeds_project_id_projects'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_seeds'))
    )
    with op.batch_alter_table('seeds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_seeds_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_seeds_import_id'), ['import_id'], unique=False)


def downgrade() -> None:
    op.drop_table('seeds')
    op.drop_table('seed_imports')
    op.drop_table('dataset_snapshots')
