"""projects: versioned NDAs, their acceptances, and the public summary an invited expert reads

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 19:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.add_column(sa.Column('public_summary', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('expected_hours_per_week', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('hourly_rate_cents', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('rate_currency', sa.String(length=3), nullable=False, server_default=''))

    op.create_table('project_ndas',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_project_ndas_created_by_id_users')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_project_ndas_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_ndas')),
    sa.UniqueConstraint('project_id', 'version', name=op.f('uq_project_ndas_project_id_version'))
    )
    with op.batch_alter_table('project_ndas', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_project_ndas_project_id'), ['project_id'], unique=False)

    op.create_table('nda_acceptances',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('nda_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ip_address', sa.String(length=64), nullable=False),
    sa.Column('user_agent', sa.String(length=500), nullable=False),
    sa.ForeignKeyConstraint(['nda_id'], ['project_ndas.id'], name=op.f('fk_nda_acceptances_nda_id_project_ndas'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_nda_acceptances_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_nda_acceptances_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_nda_acceptances')),
    sa.UniqueConstraint('nda_id', 'user_id', name=op.f('uq_nda_acceptances_nda_id_user_id'))
    )
    with op.batch_alter_table('nda_acceptances', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_nda_acceptances_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_nda_acceptances_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('nda_acceptances', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_nda_acceptances_user_id'))
        batch_op.drop_index(batch_op.f('ix_nda_acceptances_project_id'))
    op.drop_table('nda_acceptances')
    with op.batch_alter_table('project_ndas', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_project_ndas_project_id'))
    op.drop_table('project_ndas')
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.drop_column('rate_currency')
        batch_op.drop_column('hourly_rate_cents')
        batch_op.drop_column('expected_hours_per_week')
        batch_op.drop_column('public_summary')
