"""SQLAlchemy 2.0 typed ORM models.

The schema is created only by the Alembic migrations in
``floorguard/persistence/migrations`` (never ``create_all``); a test checks
that the migrated schema matches these models.

Conventions: money is :class:`~floorguard.persistence.types.Money` (exact
``Decimal``), timestamps are :class:`~floorguard.persistence.types.UTCDateTime`
(timezone-aware UTC), free-form structures are JSON. Constraint names follow
``NAMING_CONVENTION`` so later migrations can refer to them.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from floorguard.persistence.types import JSONType, Money, UTCDateTime

__all__ = [
    "ApiToken",
    "Base",
    "FactorExposure",
    "InsurancePolicy",
    "InsurancePolicyEvent",
    "InsurancePolicyNav",
    "JournalEntry",
    "JournalLine",
    "LedgerAccount",
    "MarketDataCache",
    "NAMING_CONVENTION",
    "PortfolioRow",
    "PortfolioSnapshot",
    "PositionRow",
    "User",
    "utcnow",
]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Policy states (same as ``floorguard._typing.PolicyStatus``).
POLICY_STATUSES = ("draft", "active", "partially_bound", "expired", "settled", "cancelled")
ACCOUNT_TYPES = ("asset", "liability", "equity", "income", "expense")


def utcnow() -> dt.datetime:
    """Current time, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UTCDateTime(), Decimal: Money(), dict[str, Any]: JSONType}


class User(Base):
    """An investor or an administrator."""

    __tablename__ = "users"
    __table_args__ = (
        sa.CheckConstraint(_in("role", ("investor", "admin")), name="role"),
        sa.CheckConstraint("approved_strategy_level BETWEEN 0 AND 3", name="strategy_level"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120), unique=True)
    role: Mapped[str] = mapped_column(sa.String(16), default="investor")
    #: 0 none, 1 protective puts, 2 + collars and put spreads, 3 + tail hedges.
    approved_strategy_level: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    portfolios: Mapped[list[PortfolioRow]] = relationship(back_populates="owner")


class ApiToken(Base):
    """A hashed API token (the clear token is shown once and never stored)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(128), unique=True)
    label: Mapped[str | None] = mapped_column(sa.String(120))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]


class PortfolioRow(Base):
    """A stored portfolio (domain twin: ``floorguard.domain.portfolio.Portfolio``)."""

    __tablename__ = "portfolios"
    __table_args__ = (sa.UniqueConstraint("owner_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    currency: Mapped[str] = mapped_column(sa.String(3), default="USD")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    owner: Mapped[User] = relationship(back_populates="portfolios")
    positions: Mapped[list[PositionRow]] = relationship(
        back_populates="portfolio",
        cascade="all, delete-orphan",
        order_by="PositionRow.id",
    )


class PositionRow(Base):
    """One holding of a stored portfolio."""

    __tablename__ = "positions"
    __table_args__ = (
        sa.UniqueConstraint("portfolio_id", "symbol"),
        sa.CheckConstraint("CAST(quantity AS NUMERIC) <> 0", name="quantity_nonzero"),
        sa.CheckConstraint(
            _in("asset_type", ("equity", "etf", "fund", "private", "cash", "custom")), name="asset_type"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    portfolio_id: Mapped[int] = mapped_column(
        sa.ForeignKey("portfolios.id", ondelete="CASCADE"), index=True
    )
    symbol: Mapped[str] = mapped_column(sa.String(32))
    quantity: Mapped[Decimal]
    price: Mapped[Decimal | None]
    asset_type: Mapped[str] = mapped_column(sa.String(16), default="equity")
    beta: Mapped[float | None] = mapped_column(sa.Double)
    sector: Mapped[str | None] = mapped_column(sa.String(64))

    portfolio: Mapped[PortfolioRow] = relationship(back_populates="positions")


class MarketDataCache(Base):
    """Daily closes fetched from a live source (yfinance), with sector."""

    __tablename__ = "market_data_cache"
    __table_args__ = (
        sa.UniqueConstraint("symbol", "date", "source"),
        sa.CheckConstraint("close > 0", name="close_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    symbol: Mapped[str] = mapped_column(sa.String(32), index=True)
    date: Mapped[dt.date] = mapped_column(sa.Date)
    close: Mapped[float] = mapped_column(sa.Double)
    sector: Mapped[str | None] = mapped_column(sa.String(64))
    source: Mapped[str] = mapped_column(sa.String(32))
    fetched_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class FactorExposure(Base):
    """A factor loading of a portfolio (``symbol`` null) or one of its positions."""

    __tablename__ = "factor_exposures"
    __table_args__ = (sa.Index("ix_factor_exposures_portfolio_date", "portfolio_id", "calculation_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    portfolio_id: Mapped[int] = mapped_column(sa.ForeignKey("portfolios.id", ondelete="CASCADE"))
    symbol: Mapped[str | None] = mapped_column(sa.String(32))
    factor: Mapped[str] = mapped_column(sa.String(64))
    exposure_value: Mapped[float] = mapped_column(sa.Double)
    calculation_date: Mapped[dt.date] = mapped_column(sa.Date)
    #: how it was obtained: multivariate, single_factor, provided, default, ...
    source: Mapped[str] = mapped_column(sa.String(32))
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class PortfolioSnapshot(Base):
    """The valued state of a portfolio at one time."""

    __tablename__ = "portfolio_snapshots"
    __table_args__ = (sa.Index("ix_portfolio_snapshots_portfolio_as_of", "portfolio_id", "as_of"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    portfolio_id: Mapped[int] = mapped_column(sa.ForeignKey("portfolios.id", ondelete="CASCADE"))
    as_of: Mapped[dt.datetime]
    total_value: Mapped[Decimal]
    #: [{symbol, quantity, price, value, weight, source, as_of}]
    positions: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    #: risk figures at that time (annual vol, VaR, beta, ...)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    source: Mapped[str] = mapped_column(sa.String(32), default="bundled")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # added by migration 0200_risk_sector_metrics (written by services.risk)
    sector_exposure: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    hhi: Mapped[float | None] = mapped_column(sa.Numeric(10, 4, asdecimal=False))
    effective_positions: Mapped[float | None] = mapped_column(sa.Numeric(10, 4, asdecimal=False))
    top_3_concentration: Mapped[float | None] = mapped_column(sa.Numeric(10, 4, asdecimal=False))
    top_10_concentration: Mapped[float | None] = mapped_column(sa.Numeric(10, 4, asdecimal=False))


class InsurancePolicy(Base):
    """An insurance policy (seed 000 section 8) plus owner portfolio and the draft."""

    __tablename__ = "insurance_policies"
    __table_args__ = (
        sa.CheckConstraint(_in("status", POLICY_STATUSES), name="status"),
        sa.CheckConstraint("floor_pct > 0 AND floor_pct < 1", name="floor_pct"),
        sa.CheckConstraint("end_utc > start_utc", name="period"),
        sa.Index("ix_insurance_policies_user_status", "user_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    portfolio_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("portfolios.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(sa.String(20))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    start_utc: Mapped[dt.datetime]
    end_utc: Mapped[dt.datetime]
    floor_pct: Mapped[float] = mapped_column(sa.Double)
    index_symbol: Mapped[str] = mapped_column(sa.String(16))
    strategy: Mapped[str] = mapped_column(sa.String(32))
    put_strike: Mapped[Decimal]
    call_strike: Mapped[Decimal | None]
    contracts_put: Mapped[int]
    contracts_call: Mapped[int | None]
    premium_put: Mapped[Decimal]
    premium_call: Mapped[Decimal | None]
    premium_net: Mapped[Decimal]
    coverage_notional: Mapped[Decimal]
    portfolio_value_at_bind: Mapped[Decimal]
    beta: Mapped[float] = mapped_column(sa.Double)
    breach_flag: Mapped[bool] = mapped_column(default=False)
    notes: Mapped[str | None] = mapped_column(sa.Text)
    #: the full draft as quoted (legs, prices, sizing, assumptions)
    draft: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)

    nav: Mapped[list[InsurancePolicyNav]] = relationship(
        back_populates="policy", cascade="all, delete-orphan", order_by="InsurancePolicyNav.ts"
    )
    events: Mapped[list[InsurancePolicyEvent]] = relationship(
        back_populates="policy", cascade="all, delete-orphan", order_by="InsurancePolicyEvent.id"
    )


class InsurancePolicyNav(Base):
    """A mark of a policy: portfolio value, index level, hedge value, shortfall."""

    __tablename__ = "insurance_policy_nav"
    __table_args__ = (sa.UniqueConstraint("policy_id", "ts"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(
        sa.ForeignKey("insurance_policies.id", ondelete="CASCADE"), index=True
    )
    ts: Mapped[dt.datetime]
    portfolio_value: Mapped[Decimal]
    index_level: Mapped[float] = mapped_column(sa.Double)
    hedge_value: Mapped[Decimal]
    shortfall: Mapped[Decimal]
    intrinsic_est: Mapped[Decimal]

    policy: Mapped[InsurancePolicy] = relationship(back_populates="nav")


class InsurancePolicyEvent(Base):
    """Something that happened to a policy (bound, near breach, rolled, settled)."""

    __tablename__ = "insurance_policy_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(
        sa.ForeignKey("insurance_policies.id", ondelete="CASCADE"), index=True
    )
    ts: Mapped[dt.datetime] = mapped_column(default=utcnow)
    event_type: Mapped[str] = mapped_column(sa.String(40))
    details: Mapped[dict[str, Any]] = mapped_column("details_json", JSONType, default=dict)

    policy: Mapped[InsurancePolicy] = relationship(back_populates="events")


class LedgerAccount(Base):
    """An account of the double-entry ledger (``code`` like ``cash:user:1``)."""

    __tablename__ = "ledger_accounts"
    __table_args__ = (sa.CheckConstraint(_in("type", ACCOUNT_TYPES), name="type"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(80), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    type: Mapped[str] = mapped_column(sa.String(16))
    currency: Mapped[str] = mapped_column(sa.String(3), default="USD")
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class JournalEntry(Base):
    """A balanced set of journal lines (sum of debits = sum of credits).

    Balance is enforced before every flush (``floorguard.persistence.db``) and,
    on PostgreSQL, also by a deferred constraint trigger at commit.
    """

    __tablename__ = "journal_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    ts: Mapped[dt.datetime] = mapped_column(default=utcnow)
    description: Mapped[str] = mapped_column(sa.String(240))
    #: idempotency reference (e.g. ``premium:policy:7``); unique when given
    reference: Mapped[str | None] = mapped_column(sa.String(120), unique=True)
    policy_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("insurance_policies.id", ondelete="RESTRICT"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    lines: Mapped[list[JournalLine]] = relationship(
        back_populates="entry", cascade="all, delete-orphan", order_by="JournalLine.id"
    )


class JournalLine(Base):
    """One debit or credit of an entry (exactly one of the two is positive)."""

    __tablename__ = "journal_lines"
    __table_args__ = (
        sa.CheckConstraint(
            # CAST: on SQLite Money is stored as exact decimal text
            "CAST(debit AS NUMERIC) >= 0 AND CAST(credit AS NUMERIC) >= 0 AND "
            "((CAST(debit AS NUMERIC) > 0 AND CAST(credit AS NUMERIC) = 0) OR "
            "(CAST(credit AS NUMERIC) > 0 AND CAST(debit AS NUMERIC) = 0))",
            name="one_side",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(
        sa.ForeignKey("journal_entries.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[int] = mapped_column(
        sa.ForeignKey("ledger_accounts.id", ondelete="RESTRICT"), index=True
    )
    debit: Mapped[Decimal] = mapped_column(default=Decimal(0))
    credit: Mapped[Decimal] = mapped_column(default=Decimal(0))
    memo: Mapped[str | None] = mapped_column(sa.String(240))

    entry: Mapped[JournalEntry] = relationship(back_populates="lines")
    account: Mapped[LedgerAccount] = relationship()
