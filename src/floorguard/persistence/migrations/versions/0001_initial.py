"""Initial schema: users, tokens, portfolios, positions, market-data cache,
factor exposures, snapshots, insurance policies (seed 000 section 8) with NAV
and events, and the double-entry ledger.

On PostgreSQL a deferred constraint trigger also checks at commit that every
journal entry balances (debits = credits); on every database the ORM session
checks it before each flush (``floorguard.persistence.db``).

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-22
"""
from collections.abc import Sequence
from typing import Union

from alembic import op
import sqlalchemy as sa

from floorguard.persistence.types import JSONType, Money, UTCDateTime

# revision identifiers, used by Alembic.
revision: str = '0001_initial'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


_PG_BALANCE_FUNCTION = """
CREATE OR REPLACE FUNCTION floorguard_check_entry_balanced() RETURNS trigger AS $$
DECLARE
    eid integer;
    total_debit numeric;
    total_credit numeric;
    n integer;
BEGIN
    IF TG_OP = 'DELETE' THEN
        eid := OLD.entry_id;
    ELSE
        eid := NEW.entry_id;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM journal_entries WHERE id = eid) THEN
        RETURN NULL;  -- the whole entry was deleted
    END IF;
    SELECT COALESCE(SUM(debit), 0), COALESCE(SUM(credit), 0), COUNT(*)
      INTO total_debit, total_credit, n
      FROM journal_lines WHERE entry_id = eid;
    IF n < 2 OR total_debit <> total_credit THEN
        RAISE EXCEPTION 'journal entry % does not balance: debits % <> credits % (% lines)',
            eid, total_debit, total_credit, n USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
"""

_PG_BALANCE_TRIGGER = """
CREATE CONSTRAINT TRIGGER journal_lines_balanced
AFTER INSERT OR UPDATE OR DELETE ON journal_lines
DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW EXECUTE FUNCTION floorguard_check_entry_balanced()
"""


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('market_data_cache',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('close', sa.Double(), nullable=False),
    sa.Column('sector', sa.String(length=64), nullable=True),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('fetched_at', UTCDateTime(), nullable=False),
    sa.CheckConstraint('close > 0', name=op.f('ck_market_data_cache_close_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_market_data_cache')),
    sa.UniqueConstraint('symbol', 'date', 'source', name=op.f('uq_market_data_cache_symbol_date_source'))
    )
    with op.batch_alter_table('market_data_cache', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_market_data_cache_symbol'), ['symbol'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('approved_strategy_level', sa.Integer(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.CheckConstraint("role IN ('investor', 'admin')", name=op.f('ck_users_role')),
    sa.CheckConstraint('approved_strategy_level BETWEEN 0 AND 3', name=op.f('ck_users_strategy_level')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('name', name=op.f('uq_users_name'))
    )
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=128), nullable=False),
    sa.Column('label', sa.String(length=120), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('last_used_at', UTCDateTime(), nullable=True),
    sa.Column('revoked_at', UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_tokens_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_user_id'), ['user_id'], unique=False)

    op.create_table('ledger_accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=80), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.CheckConstraint("type IN ('asset', 'liability', 'equity', 'income', 'expense')", name=op.f('ck_ledger_accounts_type')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_ledger_accounts_user_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_accounts')),
    sa.UniqueConstraint('code', name=op.f('uq_ledger_accounts_code'))
    )
    op.create_table('portfolios',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_portfolios_owner_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portfolios')),
    sa.UniqueConstraint('owner_id', 'name', name=op.f('uq_portfolios_owner_id_name'))
    )
    with op.batch_alter_table('portfolios', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_portfolios_owner_id'), ['owner_id'], unique=False)

    op.create_table('factor_exposures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('portfolio_id', sa.Integer(), nullable=False),
    sa.Column('symbol', sa.String(length=32), nullable=True),
    sa.Column('factor', sa.String(length=64), nullable=False),
    sa.Column('exposure_value', sa.Double(), nullable=False),
    sa.Column('calculation_date', sa.Date(), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('metadata', JSONType, nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['portfolio_id'], ['portfolios.id'], name=op.f('fk_factor_exposures_portfolio_id_portfolios'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_factor_exposures'))
    )
    with op.batch_alter_table('factor_exposures', schema=None) as batch_op:
        batch_op.create_index('ix_factor_exposures_portfolio_date', ['portfolio_id', 'calculation_date'], unique=False)

    op.create_table('insurance_policies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('portfolio_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.Column('start_utc', UTCDateTime(), nullable=False),
    sa.Column('end_utc', UTCDateTime(), nullable=False),
    sa.Column('floor_pct', sa.Double(), nullable=False),
    sa.Column('index_symbol', sa.String(length=16), nullable=False),
    sa.Column('strategy', sa.String(length=32), nullable=False),
    sa.Column('put_strike', Money(), nullable=False),
    sa.Column('call_strike', Money(), nullable=True),
    sa.Column('contracts_put', sa.Integer(), nullable=False),
    sa.Column('contracts_call', sa.Integer(), nullable=True),
    sa.Column('premium_put', Money(), nullable=False),
    sa.Column('premium_call', Money(), nullable=True),
    sa.Column('premium_net', Money(), nullable=False),
    sa.Column('coverage_notional', Money(), nullable=False),
    sa.Column('portfolio_value_at_bind', Money(), nullable=False),
    sa.Column('beta', sa.Double(), nullable=False),
    sa.Column('breach_flag', sa.Boolean(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('draft', JSONType, nullable=False),
    sa.CheckConstraint("status IN ('draft', 'active', 'partially_bound', 'expired', 'settled', 'cancelled')", name=op.f('ck_insurance_policies_status')),
    sa.CheckConstraint('end_utc > start_utc', name=op.f('ck_insurance_policies_period')),
    sa.CheckConstraint('floor_pct > 0 AND floor_pct < 1', name=op.f('ck_insurance_policies_floor_pct')),
    sa.ForeignKeyConstraint(['portfolio_id'], ['portfolios.id'], name=op.f('fk_insurance_policies_portfolio_id_portfolios'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_insurance_policies_user_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_insurance_policies'))
    )
    with op.batch_alter_table('insurance_policies', schema=None) as batch_op:
        batch_op.create_index('ix_insurance_policies_user_status', ['user_id', 'status'], unique=False)

    op.create_table('portfolio_snapshots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('portfolio_id', sa.Integer(), nullable=False),
    sa.Column('as_of', UTCDateTime(), nullable=False),
    sa.Column('total_value', Money(), nullable=False),
    sa.Column('positions', JSONType, nullable=False),
    sa.Column('metrics', JSONType, nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['portfolio_id'], ['portfolios.id'], name=op.f('fk_portfolio_snapshots_portfolio_id_portfolios'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portfolio_snapshots'))
    )
    with op.batch_alter_table('portfolio_snapshots', schema=None) as batch_op:
        batch_op.create_index('ix_portfolio_snapshots_portfolio_as_of', ['portfolio_id', 'as_of'], unique=False)

    op.create_table('positions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('portfolio_id', sa.Integer(), nullable=False),
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('quantity', Money(), nullable=False),
    sa.Column('price', Money(), nullable=True),
    sa.Column('asset_type', sa.String(length=16), nullable=False),
    sa.Column('beta', sa.Double(), nullable=True),
    sa.Column('sector', sa.String(length=64), nullable=True),
    sa.CheckConstraint("asset_type IN ('equity', 'etf', 'fund', 'private', 'cash', 'custom')", name=op.f('ck_positions_asset_type')),
    sa.CheckConstraint('CAST(quantity AS NUMERIC) <> 0', name=op.f('ck_positions_quantity_nonzero')),
    sa.ForeignKeyConstraint(['portfolio_id'], ['portfolios.id'], name=op.f('fk_positions_portfolio_id_portfolios'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_positions')),
    sa.UniqueConstraint('portfolio_id', 'symbol', name=op.f('uq_positions_portfolio_id_symbol'))
    )
    with op.batch_alter_table('positions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_positions_portfolio_id'), ['portfolio_id'], unique=False)

    op.create_table('insurance_policy_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('policy_id', sa.Integer(), nullable=False),
    sa.Column('ts', UTCDateTime(), nullable=False),
    sa.Column('event_type', sa.String(length=40), nullable=False),
    sa.Column('details_json', JSONType, nullable=False),
    sa.ForeignKeyConstraint(['policy_id'], ['insurance_policies.id'], name=op.f('fk_insurance_policy_events_policy_id_insurance_policies'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_insurance_policy_events'))
    )
    with op.batch_alter_table('insurance_policy_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_insurance_policy_events_policy_id'), ['policy_id'], unique=False)

    op.create_table('insurance_policy_nav',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('policy_id', sa.Integer(), nullable=False),
    sa.Column('ts', UTCDateTime(), nullable=False),
    sa.Column('portfolio_value', Money(), nullable=False),
    sa.Column('index_level', sa.Double(), nullable=False),
    sa.Column('hedge_value', Money(), nullable=False),
    sa.Column('shortfall', Money(), nullable=False),
    sa.Column('intrinsic_est', Money(), nullable=False),
    sa.ForeignKeyConstraint(['policy_id'], ['insurance_policies.id'], name=op.f('fk_insurance_policy_nav_policy_id_insurance_policies'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_insurance_policy_nav')),
    sa.UniqueConstraint('policy_id', 'ts', name=op.f('uq_insurance_policy_nav_policy_id_ts'))
    )
    with op.batch_alter_table('insurance_policy_nav', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_insurance_policy_nav_policy_id'), ['policy_id'], unique=False)

    op.create_table('journal_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ts', UTCDateTime(), nullable=False),
    sa.Column('description', sa.String(length=240), nullable=False),
    sa.Column('reference', sa.String(length=120), nullable=True),
    sa.Column('policy_id', sa.Integer(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['policy_id'], ['insurance_policies.id'], name=op.f('fk_journal_entries_policy_id_insurance_policies'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_journal_entries')),
    sa.UniqueConstraint('reference', name=op.f('uq_journal_entries_reference'))
    )
    with op.batch_alter_table('journal_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_journal_entries_policy_id'), ['policy_id'], unique=False)

    op.create_table('journal_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('debit', Money(), nullable=False),
    sa.Column('credit', Money(), nullable=False),
    sa.Column('memo', sa.String(length=240), nullable=True),
    sa.CheckConstraint('CAST(debit AS NUMERIC) >= 0 AND CAST(credit AS NUMERIC) >= 0 AND ((CAST(debit AS NUMERIC) > 0 AND CAST(credit AS NUMERIC) = 0) OR (CAST(credit AS NUMERIC) > 0 AND CAST(debit AS NUMERIC) = 0))', name=op.f('ck_journal_lines_one_side')),
    sa.ForeignKeyConstraint(['account_id'], ['ledger_accounts.id'], name=op.f('fk_journal_lines_account_id_ledger_accounts'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['entry_id'], ['journal_entries.id'], name=op.f('fk_journal_lines_entry_id_journal_entries'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_journal_lines'))
    )
    with op.batch_alter_table('journal_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_journal_lines_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_journal_lines_entry_id'), ['entry_id'], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_BALANCE_FUNCTION)
        op.execute(_PG_BALANCE_TRIGGER)



def downgrade() -> None:
    """Downgrade schema."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS journal_lines_balanced ON journal_lines")
        op.execute("DROP FUNCTION IF EXISTS floorguard_check_entry_balanced()")
    with op.batch_alter_table('journal_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_journal_lines_entry_id'))
        batch_op.drop_index(batch_op.f('ix_journal_lines_account_id'))

    op.drop_table('journal_lines')
    with op.batch_alter_table('journal_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_journal_entries_policy_id'))

    op.drop_table('journal_entries')
    with op.batch_alter_table('insurance_policy_nav', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_insurance_policy_nav_policy_id'))

    op.drop_table('insurance_policy_nav')
    with op.batch_alter_table('insurance_policy_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_insurance_policy_events_policy_id'))

    op.drop_table('insurance_policy_events')
    with op.batch_alter_table('positions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_positions_portfolio_id'))

    op.drop_table('positions')
    with op.batch_alter_table('portfolio_snapshots', schema=None) as batch_op:
        batch_op.drop_index('ix_portfolio_snapshots_portfolio_as_of')

    op.drop_table('portfolio_snapshots')
    with op.batch_alter_table('insurance_policies', schema=None) as batch_op:
        batch_op.drop_index('ix_insurance_policies_user_status')

    op.drop_table('insurance_policies')
    with op.batch_alter_table('factor_exposures', schema=None) as batch_op:
        batch_op.drop_index('ix_factor_exposures_portfolio_date')

    op.drop_table('factor_exposures')
    with op.batch_alter_table('portfolios', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_portfolios_owner_id'))

    op.drop_table('portfolios')
    op.drop_table('ledger_accounts')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_user_id'))

    op.drop_table('api_tokens')
    op.drop_table('users')
    with op.batch_alter_table('market_data_cache', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_market_data_cache_symbol'))

    op.drop_table('market_data_cache')
