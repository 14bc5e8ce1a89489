"""Sector and concentration metrics on portfolio snapshots.

Adds the columns written by ``floorguard.services.risk`` (seed 004, phase 2.2):
``sector_exposure`` (JSON: net/gross/benchmark/active weights, unclassified
symbols), ``hhi``, ``effective_positions``, ``top_3_concentration`` and
``top_10_concentration``. All nullable: older snapshots have none.

Revision ID: 0200_risk_sector_metrics
Revises: 0100_policy_lifecycle
Create Date: 2026-11-22
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
from floorguard.persistence.types import JSONType

# revision identifiers, used by Alembic.
revision: str = '0200_risk_sector_metrics'
down_revision: Union[str, Sequence[str], None] = '0100_policy_lifecycle'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('portfolio_snapshots', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sector_exposure', JSONType, nullable=True))
        batch_op.add_column(sa.Column('hhi', sa.Numeric(precision=10, scale=4), nullable=True))
        batch_op.add_column(sa.Column('effective_positions', sa.Numeric(precision=10, scale=4), nullable=True))
        batch_op.add_column(sa.Column('top_3_concentration', sa.Numeric(precision=10, scale=4), nullable=True))
        batch_op.add_column(sa.Column('top_10_concentration', sa.Numeric(precision=10, scale=4), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('portfolio_snapshots', schema=None) as batch_op:
        batch_op.drop_column('top_10_concentration')
        batch_op.drop_column('top_3_concentration')
        batch_op.drop_column('effective_positions')
        batch_op.drop_column('hhi')
        batch_op.drop_column('sector_exposure')
