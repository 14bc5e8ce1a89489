"""Uncertainty & opportunity engine: model artefacts, feedback, audit log.

Tables ``forecast_models`` (each fitted forecasting model version with its data
window, parameters and fit metrics), ``opportunity_feedback`` (accept / reject
of a recommended hedge) and ``opportunity_audit`` (served recommendations,
scenario runs, narratives with prompts and the chosen text). Models:
``floorguard.persistence.opportunities``.

Revision ID: 0300_opportunities
Revises: 0200_risk_sector_metrics
Create Date: 2026-11-22
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
from floorguard.persistence.types import JSONType, UTCDateTime

# revision identifiers, used by Alembic.
revision: str = '0300_opportunities'
down_revision: Union[str, Sequence[str], None] = '0200_risk_sector_metrics'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('forecast_models',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('data_symbol', sa.String(length=32), nullable=False),
    sa.Column('data_start', sa.Date(), nullable=False),
    sa.Column('data_end', sa.Date(), nullable=False),
    sa.Column('n_obs', sa.Integer(), nullable=False),
    sa.Column('params', JSONType, nullable=False),
    sa.Column('metrics', JSONType, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forecast_models')),
    sa.UniqueConstraint('name', 'version', name=op.f('uq_forecast_models_name_version'))
    )
    op.create_table('opportunity_audit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ts', UTCDateTime(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('portfolio_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('recommendation_id', sa.String(length=64), nullable=True),
    sa.Column('choice', sa.String(length=16), nullable=True),
    sa.Column('prompt', sa.Text(), nullable=True),
    sa.Column('output', sa.Text(), nullable=True),
    sa.Column('details', JSONType, nullable=False),
    sa.ForeignKeyConstraint(['portfolio_id'], ['portfolios.id'], name=op.f('fk_opportunity_audit_portfolio_id_portfolios'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_opportunity_audit_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_opportunity_audit'))
    )
    with op.batch_alter_table('opportunity_audit', schema=None) as batch_op:
        batch_op.create_index('ix_opportunity_audit_kind_ts', ['kind', 'ts'], unique=False)
        batch_op.create_index(batch_op.f('ix_opportunity_audit_user_id'), ['user_id'], unique=False)

    op.create_table('opportunity_feedback',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('portfolio_id', sa.Integer(), nullable=True),
    sa.Column('recommendation_id', sa.String(length=64), nullable=False),
    sa.Column('structure', sa.String(length=32), nullable=False),
    sa.Column('expiry', sa.Date(), nullable=True),
    sa.Column('decision', sa.String(length=16), nullable=False),
    sa.Column('draft_id', sa.String(length=32), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('details', JSONType, nullable=False),
    sa.CheckConstraint("decision IN ('accepted', 'rejected')", name=op.f('ck_opportunity_feedback_decision')),
    sa.ForeignKeyConstraint(['portfolio_id'], ['portfolios.id'], name=op.f('fk_opportunity_feedback_portfolio_id_portfolios'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_opportunity_feedback_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_opportunity_feedback'))
    )
    with op.batch_alter_table('opportunity_feedback', schema=None) as batch_op:
        batch_op.create_index('ix_opportunity_feedback_user_created', ['user_id', 'created_at'], unique=False)



def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('opportunity_feedback', schema=None) as batch_op:
        batch_op.drop_index('ix_opportunity_feedback_user_created')

    op.drop_table('opportunity_feedback')
    with op.batch_alter_table('opportunity_audit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_opportunity_audit_user_id'))
        batch_op.drop_index('ix_opportunity_audit_kind_ts')

    op.drop_table('opportunity_audit')
    op.drop_table('forecast_models')
