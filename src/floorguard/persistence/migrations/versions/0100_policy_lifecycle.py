"""Policy lifecycle: quote drafts, idempotency keys, broker orders, settlements.

Models: ``floorguard.persistence.lifecycle``. The unique constraints carry the
exactly-once guarantees of binding and settlement (see that module).

Revision ID: 0100_policy_lifecycle
Revises: 0001_initial
Create Date: 2026-11-22
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
from floorguard.persistence.types import JSONType
from floorguard.persistence.types import Money, UTCDateTime

# revision identifiers, used by Alembic.
revision: str = '0100_policy_lifecycle'
down_revision: Union[str, Sequence[str], None] = '0001_initial'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('broker_orders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('policy_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('leg_index', sa.Integer(), nullable=False),
    sa.Column('client_order_id', sa.String(length=40), nullable=False),
    sa.Column('broker', sa.String(length=16), nullable=False),
    sa.Column('broker_order_id', sa.String(length=64), nullable=True),
    sa.Column('side', sa.String(length=4), nullable=False),
    sa.Column('instrument', JSONType, nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('limit_price', sa.Double(), nullable=True),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('filled_quantity', sa.Integer(), nullable=False),
    sa.Column('avg_fill_price', sa.Double(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.CheckConstraint("purpose IN ('open', 'unwind')", name=op.f('ck_broker_orders_purpose')),
    sa.CheckConstraint("side IN ('buy', 'sell')", name=op.f('ck_broker_orders_side')),
    sa.CheckConstraint("state IN ('submitting', 'pending', 'open', 'partially_filled', 'filled', 'cancelled', 'rejected', 'unknown')", name=op.f('ck_broker_orders_state')),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_broker_orders_quantity_positive')),
    sa.ForeignKeyConstraint(['policy_id'], ['insurance_policies.id'], name=op.f('fk_broker_orders_policy_id_insurance_policies'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_broker_orders')),
    sa.UniqueConstraint('client_order_id', name=op.f('uq_broker_orders_client_order_id'))
    )
    with op.batch_alter_table('broker_orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_broker_orders_policy_id'), ['policy_id'], unique=False)

    op.create_table('idempotency_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=32), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('locked_until', UTCDateTime(), nullable=False),
    sa.Column('response_status', sa.Integer(), nullable=True),
    sa.Column('response', JSONType, nullable=True),
    sa.Column('policy_id', sa.Integer(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.CheckConstraint("status IN ('in_progress', 'completed')", name=op.f('ck_idempotency_keys_status')),
    sa.ForeignKeyConstraint(['policy_id'], ['insurance_policies.id'], name=op.f('fk_idempotency_keys_policy_id_insurance_policies'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_idempotency_keys_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idempotency_keys')),
    sa.UniqueConstraint('user_id', 'scope', 'key', name=op.f('uq_idempotency_keys_user_id_scope_key'))
    )
    op.create_table('quote_drafts',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('portfolio_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('expires_at', UTCDateTime(), nullable=False),
    sa.Column('strategy', sa.String(length=32), nullable=False),
    sa.Column('index_symbol', sa.String(length=16), nullable=False),
    sa.Column('coverage_notional', Money(), nullable=False),
    sa.Column('premium_net', Money(), nullable=False),
    sa.Column('request', JSONType, nullable=False),
    sa.Column('draft', JSONType, nullable=False),
    sa.Column('policy_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("status IN ('open', 'binding', 'bound', 'failed', 'expired')", name=op.f('ck_quote_drafts_status')),
    sa.ForeignKeyConstraint(['policy_id'], ['insurance_policies.id'], name=op.f('fk_quote_drafts_policy_id_insurance_policies'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['portfolio_id'], ['portfolios.id'], name=op.f('fk_quote_drafts_portfolio_id_portfolios'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_quote_drafts_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quote_drafts')),
    sa.UniqueConstraint('policy_id', name=op.f('uq_quote_drafts_policy_id'))
    )
    with op.batch_alter_table('quote_drafts', schema=None) as batch_op:
        batch_op.create_index('ix_quote_drafts_user_created', ['user_id', 'created_at'], unique=False)

    op.create_table('policy_settlements',
    sa.Column('policy_id', sa.Integer(), nullable=False),
    sa.Column('settled_at', UTCDateTime(), nullable=False),
    sa.Column('settlement_date', sa.Date(), nullable=False),
    sa.Column('final_index_level', sa.Double(), nullable=False),
    sa.Column('final_portfolio_value', Money(), nullable=False),
    sa.Column('shortfall', Money(), nullable=False),
    sa.Column('hedge_payoff', Money(), nullable=False),
    sa.Column('compensation', Money(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('figures', JSONType, nullable=False),
    sa.Column('journal_entry_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['journal_entry_id'], ['journal_entries.id'], name=op.f('fk_policy_settlements_journal_entry_id_journal_entries'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['policy_id'], ['insurance_policies.id'], name=op.f('fk_policy_settlements_policy_id_insurance_policies'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('policy_id', name=op.f('pk_policy_settlements'))
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('policy_settlements')
    with op.batch_alter_table('quote_drafts', schema=None) as batch_op:
        batch_op.drop_index('ix_quote_drafts_user_created')

    op.drop_table('quote_drafts')
    op.drop_table('idempotency_keys')
    with op.batch_alter_table('broker_orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_broker_orders_policy_id'))

    op.drop_table('broker_orders')
