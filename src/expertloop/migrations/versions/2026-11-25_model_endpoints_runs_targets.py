"""model endpoints, runs, project target models

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('model_endpoints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=True),
    sa.Column('provider', sa.String(length=40), nullable=False),
    sa.Column('base_url', sa.String(length=500), nullable=False),
    sa.Column('model_id', sa.String(length=200), nullable=False),
    sa.Column('api_key_encrypted', sa.Text(), nullable=True),
    sa.Column('defaults', sa.JSON(), nullable=False),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('rate_limit_per_second', sa.Float(), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_model_endpoints_created_by_id_users')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_model_endpoints_organisation_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_model_endpoints')),
    sa.UniqueConstraint('name', name=op.f('uq_model_endpoints_name'))
    )
    with op.batch_alter_table('model_endpoints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_model_endpoints_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('model_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('endpoint_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('replay_of_id', sa.Integer(), nullable=True),
    sa.Column('provider', sa.String(length=40), nullable=False),
    sa.Column('model_id', sa.String(length=200), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('messages', sa.JSON(), nullable=False),
    sa.Column('answer', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('finish_reason', sa.String(length=40), nullable=True),
    sa.Column('error_reason', sa.Text(), nullable=True),
    sa.Column('upstream_error', sa.Text(), nullable=True),
    sa.Column('prompt_tokens', sa.Integer(), nullable=True),
    sa.Column('completion_tokens', sa.Integer(), nullable=True),
    sa.Column('latency_ms', sa.Float(), nullable=True),
    sa.Column('ttft_ms', sa.Float(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('raw_request', sa.JSON(), nullable=False),
    sa.Column('raw_response', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['endpoint_id'], ['model_endpoints.id'], name=op.f('fk_model_runs_endpoint_id_model_endpoints')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_model_runs_project_id_projects'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['replay_of_id'], ['model_runs.id'], name=op.f('fk_model_runs_replay_of_id_model_runs')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_model_runs_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_model_runs'))
    )
    with op.batch_alter_table('model_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_model_runs_endpoint_id'), ['endpoint_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_model_runs_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_model_runs_user_id'), ['user_id'], unique=False)

    op.create_table('project_target_models',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('endpoint_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['endpoint_id'], ['model_endpoints.id'], name=op.f('fk_project_target_models_endpoint_id_model_endpoints')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_project_target_models_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_target_models')),
    sa.UniqueConstraint('project_id', 'endpoint_id', name=op.f('uq_project_target_models_project_id_endpoint_id'))
    )
    with op.batch_alter_table('project_target_models', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_project_target_models_endpoint_id'), ['endpoint_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_project_target_models_project_id'), ['project_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('project_target_models', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_project_target_models_project_id'))
        batch_op.drop_index(batch_op.f('ix_project_target_models_endpoint_id'))

    op.drop_table('project_target_models')
    with op.batch_alter_table('model_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_model_runs_user_id'))
        batch_op.drop_index(batch_op.f('ix_model_runs_project_id'))
        batch_op.drop_index(batch_op.f('ix_model_runs_endpoint_id'))

    op.drop_table('model_runs')
    with op.batch_alter_table('model_endpoints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_model_endpoints_organisation_id'))

    op.drop_table('model_endpoints')
