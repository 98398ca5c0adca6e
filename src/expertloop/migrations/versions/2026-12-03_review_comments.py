"""review: comments on steps and spans, review settings, step states at a return

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('review_comments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('problem_set_id', sa.Integer(), nullable=False),
    sa.Column('step_id', sa.Integer(), nullable=False),
    sa.Column('revision_id', sa.Integer(), nullable=True),
    sa.Column('step_run_id', sa.Integer(), nullable=True),
    sa.Column('target', sa.String(length=20), nullable=False),
    sa.Column('start', sa.Integer(), nullable=True),
    sa.Column('end', sa.Integer(), nullable=True),
    sa.Column('quote', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_review_comments_author_id_users')),
    sa.ForeignKeyConstraint(['problem_set_id'], ['problem_sets.id'], name=op.f('fk_review_comments_problem_set_id_problem_sets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_review_comments_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['revision_id'], ['step_revisions.id'], name=op.f('fk_review_comments_revision_id_step_revisions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['step_id'], ['steps.id'], name=op.f('fk_review_comments_step_id_steps'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['step_run_id'], ['step_runs.id'], name=op.f('fk_review_comments_step_run_id_step_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_comments'))
    )
    with op.batch_alter_table('review_comments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_comments_author_id'), ['author_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_comments_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_comments_problem_set_id'), ['problem_set_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_comments_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_comments_step_id'), ['step_id'], unique=False)

    op.create_table('review_settings',
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('clients_see_comments', sa.Boolean(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_review_settings_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_review_settings_updated_by_id_users')),
    sa.PrimaryKeyConstraint('project_id', name=op.f('pk_review_settings'))
    )
    op.create_table('review_returns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('problem_set_id', sa.Integer(), nullable=False),
    sa.Column('reviewer_id', sa.Integer(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('returned_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['problem_set_id'], ['problem_sets.id'], name=op.f('fk_review_returns_problem_set_id_problem_sets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reviewer_id'], ['users.id'], name=op.f('fk_review_returns_reviewer_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_returns'))
    )
    with op.batch_alter_table('review_returns', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_returns_problem_set_id'), ['problem_set_id'], unique=False)

    op.create_table('review_returned_steps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('return_id', sa.Integer(), nullable=False),
    sa.Column('step_id', sa.Integer(), nullable=False),
    sa.Column('step_title', sa.String(length=300), nullable=False),
    sa.Column('revision_number', sa.Integer(), nullable=True),
    sa.Column('prompt', sa.Text(), nullable=False),
    sa.Column('ideal_text', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['return_id'], ['review_returns.id'], name=op.f('fk_review_returned_steps_return_id_review_returns'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_returned_steps')),
    sa.UniqueConstraint('return_id', 'step_id', name=op.f('uq_review_returned_steps_return_id_step_id'))
    )
    with op.batch_alter_table('review_returned_steps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_returned_steps_return_id'), ['return_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('review_returned_steps', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_returned_steps_return_id'))

    op.drop_table('review_returned_steps')
    with op.batch_alter_table('review_returns', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_returns_problem_set_id'))

    op.drop_table('review_returns')
    op.drop_table('review_settings')
    with op.batch_alter_table('review_comments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_comments_step_id'))
        batch_op.drop_index(batch_op.f('ix_review_comments_project_id'))
        batch_op.drop_index(batch_op.f('ix_review_comments_problem_set_id'))
        batch_op.drop_index(batch_op.f('ix_review_comments_created_at'))
        batch_op.drop_index(batch_op.f('ix_review_comments_author_id'))

    op.drop_table('review_comments')
