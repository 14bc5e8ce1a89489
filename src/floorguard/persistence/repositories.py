"""Repository functions: keyword-only, one ``Session`` in, domain objects out.

They never commit: the caller (``AppContext.session()``) owns the
transaction. Lookups scoped by owner raise
:class:`~floorguard.exceptions.NotFoundError` for another user's object, the
same as for a missing one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from floorguard.domain.portfolio import Portfolio, Position
from floorguard.exceptions import ConflictError, NotFoundError, ValidationError
from floorguard.persistence.orm import (
    ACCOUNT_TYPES,
    ApiToken,
    FactorExposure,
    InsurancePolicy,
    InsurancePolicyEvent,
    InsurancePolicyNav,
    JournalEntry,
    JournalLine,
    LedgerAccount,
    MarketDataCache,
    PortfolioRow,
    PortfolioSnapshot,
    PositionRow,
    User,
    utcnow,
)
from floorguard.persistence.types import to_decimal

__all__ = [
    "CachedSeries",
    "PortfolioSummary",
    "account_balance",
    "add_policy_event",
    "add_policy_nav",
    "cached_universe",
    "create_api_token",
    "delete_portfolio",
    "ensure_account",
    "ensure_user",
    "find_user_by_token",
    "get_policy",
    "get_portfolio",
    "get_portfolio_by_id",
    "get_user",
    "get_user_by_name",
    "hash_api_token",
    "latest_snapshot",
    "list_factor_exposures",
    "list_policies",
    "list_portfolios",
    "load_prices",
    "post_entry",
    "save_factor_exposures",
    "save_portfolio",
    "save_snapshot",
    "store_prices",
    "trial_balance",
]


# ---------------------------------------------------------------------- users
def get_user(session: Session, *, user_id: int) -> User:
    """The user with ``user_id``."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError(f"user {user_id} not found")
    return user


def get_user_by_name(session: Session, *, name: str) -> User:
    """The user called ``name``."""
    user = session.scalar(sa.select(User).where(User.name == name))
    if user is None:
        raise NotFoundError(f"user {name!r} not found")
    return user


def ensure_user(
    session: Session,
    *,
    name: str,
    role: str = "investor",
    approved_strategy_level: int = 1,
) -> User:
    """The user called ``name``, created when missing (existing users are not changed)."""
    if role not in ("investor", "admin"):
        raise ValidationError.for_field("role", f"must be investor or admin, got {role!r}")
    if not 0 <= approved_strategy_level <= 3:
        raise ValidationError.for_field("approved_strategy_level", "must be between 0 and 3")
    user = session.scalar(sa.select(User).where(User.name == name))
    if user is None:
        user = User(name=name, role=role, approved_strategy_level=approved_strategy_level)
        session.add(user)
        session.flush()
    return user


def hash_api_token(token: str, *, secret: str) -> str:
    """HMAC-SHA256 of ``token`` peppered with ``secret`` (hex, 64 chars)."""
    return hmac.new(secret.encode("utf-8"), token.encode("utf-8"), hashlib.sha256).hexdigest()


def create_api_token(session: Session, *, user_id: int, token_hash: str, label: str | None = None) -> ApiToken:
    """Store a hashed token for ``user_id``."""
    get_user(session, user_id=user_id)
    row = ApiToken(user_id=user_id, token_hash=token_hash, label=label)
    session.add(row)
    session.flush()
    return row


def find_user_by_token(session: Session, *, token_hash: str, touch: bool = True) -> User | None:
    """The user owning an unrevoked token with this hash, or ``None``."""
    row = session.scalar(
        sa.select(ApiToken).where(ApiToken.token_hash == token_hash, ApiToken.revoked_at.is_(None))
    )
    if row is None:
        return None
    if touch:
        row.last_used_at = utcnow()
    return session.get(User, row.user_id)


# ----------------------------------------------------------------- portfolios
@dataclass(frozen=True)
class PortfolioSummary:
    """A stored portfolio without its positions."""

    id: int
    name: str
    owner_id: int
    currency: str
    n_positions: int
    created_at: dt.datetime
    updated_at: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "owner_id": self.owner_id,
            "currency": self.currency,
            "n_positions": self.n_positions,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


def _to_float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _to_domain(row: PortfolioRow) -> Portfolio:
    return Portfolio(
        name=row.name,
        positions=tuple(
            Position(
                symbol=p.symbol,
                quantity=float(p.quantity),
                price=_to_float(p.price),
                asset_type=p.asset_type,
                beta=p.beta,
                sector=p.sector,
            )
            for p in row.positions
        ),
        id=row.id,
        owner_id=row.owner_id,
        currency=row.currency,
    )


def save_portfolio(
    session: Session, *, owner_id: int, portfolio: Portfolio, replace: bool = False
) -> Portfolio:
    """Store ``portfolio`` for ``owner_id``.

    Parameters
    ----------
    replace : bool
        Replace the positions of an existing portfolio with the same name
        (otherwise that is a :class:`ConflictError`).

    Returns
    -------
    Portfolio
        With ``id`` and ``owner_id`` set.
    """
    get_user(session, user_id=owner_id)
    row = session.scalar(
        sa.select(PortfolioRow)
        .where(PortfolioRow.owner_id == owner_id, PortfolioRow.name == portfolio.name)
        .options(selectinload(PortfolioRow.positions))
    )
    if row is not None and not replace:
        raise ConflictError(f"portfolio {portfolio.name!r} already exists (use replace to overwrite)")
    if row is None:
        row = PortfolioRow(owner_id=owner_id, name=portfolio.name, currency=portfolio.currency)
        session.add(row)
    else:
        row.currency = portfolio.currency
        row.positions.clear()
        row.updated_at = utcnow()
        session.flush()
    for p in portfolio.positions:
        row.positions.append(
            PositionRow(
                symbol=p.symbol,
                quantity=to_decimal(p.quantity),
                price=None if p.price is None else to_decimal(p.price),
                asset_type=p.asset_type,
                beta=p.beta,
                sector=p.sector,
            )
        )
    session.flush()
    return _to_domain(row)


def _portfolio_query(owner_id: int | None) -> sa.Select[tuple[PortfolioRow]]:
    q = sa.select(PortfolioRow).options(selectinload(PortfolioRow.positions))
    if owner_id is not None:
        q = q.where(PortfolioRow.owner_id == owner_id)
    return q


def get_portfolio(session: Session, *, owner_id: int, name: str) -> Portfolio:
    """The portfolio called ``name`` of ``owner_id``."""
    row = session.scalar(_portfolio_query(owner_id).where(PortfolioRow.name == name))
    if row is None:
        raise NotFoundError(f"portfolio {name!r} not found")
    return _to_domain(row)


def get_portfolio_by_id(session: Session, *, portfolio_id: int, owner_id: int | None = None) -> Portfolio:
    """Portfolio ``portfolio_id`` (restricted to ``owner_id`` when given)."""
    row = session.scalar(_portfolio_query(owner_id).where(PortfolioRow.id == portfolio_id))
    if row is None:
        raise NotFoundError(f"portfolio {portfolio_id} not found")
    return _to_domain(row)


def list_portfolios(session: Session, *, owner_id: int | None) -> list[PortfolioSummary]:
    """Portfolios of ``owner_id`` (every owner's when ``None``), by name."""
    count = (
        sa.select(sa.func.count(PositionRow.id))
        .where(PositionRow.portfolio_id == PortfolioRow.id)
        .scalar_subquery()
    )
    q = sa.select(PortfolioRow, count).order_by(PortfolioRow.name, PortfolioRow.id)
    if owner_id is not None:
        q = q.where(PortfolioRow.owner_id == owner_id)
    return [
        PortfolioSummary(r.id, r.name, r.owner_id, r.currency, int(n), r.created_at, r.updated_at)
        for r, n in session.execute(q)
    ]


def delete_portfolio(session: Session, *, owner_id: int, name: str) -> None:
    """Delete a portfolio (its positions, exposures and snapshots go with it)."""
    row = session.scalar(
        sa.select(PortfolioRow).where(PortfolioRow.owner_id == owner_id, PortfolioRow.name == name)
    )
    if row is None:
        raise NotFoundError(f"portfolio {name!r} not found")
    session.delete(row)
    session.flush()


# ------------------------------------------------------------ market data cache
@dataclass(frozen=True)
class CachedSeries:
    """What the market-data cache holds for one symbol and source."""

    symbol: str
    source: str
    first: dt.date
    last: dt.date
    n: int
    sector: str | None
    fetched_at: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "source": self.source,
            "first": self.first.isoformat(),
            "last": self.last.isoformat(),
            "n": self.n,
            "sector": self.sector,
            "fetched_at": self.fetched_at.isoformat(),
        }


def store_prices(
    session: Session,
    *,
    symbol: str,
    closes: pd.Series,
    source: str,
    sector: str | None = None,
) -> int:
    """Upsert daily closes (NaN and non-positive values are refused, not skipped).

    Returns
    -------
    int
        Number of rows written.
    """
    clean = closes.dropna()
    if (clean <= 0).any():
        bad = clean[clean <= 0].index[0]
        raise ValidationError.for_field("close", f"{symbol} close on {bad.date()} is not positive")
    if clean.empty:
        return 0
    now = utcnow()
    rows = [
        {
            "symbol": symbol,
            "date": pd.Timestamp(d).date(),
            "close": float(v),
            "sector": sector,
            "source": source,
            "fetched_at": now,
        }
        for d, v in zip(clean.index, clean.to_numpy(dtype=float), strict=True)
    ]
    dialect = session.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        # INSERT ... ON CONFLICT DO UPDATE (both dialects support it)
        if dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:
            from sqlalchemy.dialects.postgresql import insert
        table = MarketDataCache.__table__
        stmt = insert(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=["symbol", "date", "source"],
            set_={
                "close": stmt.excluded.close,
                "fetched_at": stmt.excluded.fetched_at,
                "sector": sa.func.coalesce(stmt.excluded.sector, table.c.sector),
            },
        )
        session.execute(stmt, rows)  # executemany: one statement, many parameter sets
        return len(rows)
    existing = {  # other databases: ORM merge
        r.date: r
        for r in session.scalars(
            sa.select(MarketDataCache).where(
                MarketDataCache.symbol == symbol, MarketDataCache.source == source
            )
        )
    }
    for row in rows:
        hit = existing.get(row["date"])
        if hit is None:
            session.add(MarketDataCache(**row))
        else:
            hit.close, hit.fetched_at = row["close"], now
            hit.sector = sector or hit.sector
    session.flush()
    return len(rows)


def load_prices(session: Session, *, symbol: str, source: str) -> pd.Series:
    """Cached closes of ``symbol`` from ``source`` (float Series by date; may be empty)."""
    rows = session.execute(
        sa.select(MarketDataCache.date, MarketDataCache.close)
        .where(MarketDataCache.symbol == symbol, MarketDataCache.source == source)
        .order_by(MarketDataCache.date)
    ).all()
    index = pd.DatetimeIndex([pd.Timestamp(d) for d, _ in rows], name="date")
    return pd.Series([float(c) for _, c in rows], index=index, name=symbol, dtype="float64")


def cached_universe(session: Session, *, source: str | None = None) -> list[CachedSeries]:
    """One summary per cached ``(symbol, source)``."""
    q = sa.select(
        MarketDataCache.symbol,
        MarketDataCache.source,
        sa.func.min(MarketDataCache.date),
        sa.func.max(MarketDataCache.date),
        sa.func.count(MarketDataCache.id),
        sa.func.max(MarketDataCache.sector),
        sa.func.max(MarketDataCache.fetched_at),
    ).group_by(MarketDataCache.symbol, MarketDataCache.source)
    if source is not None:
        q = q.where(MarketDataCache.source == source)
    out = []
    for sym, src, first, last, n, sector, fetched in session.execute(q.order_by(MarketDataCache.symbol)):
        if isinstance(fetched, str):  # SQLite aggregates bypass the column type
            fetched = dt.datetime.fromisoformat(fetched)
        if isinstance(first, str):
            first, last = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
        if fetched.tzinfo is None:
            fetched = fetched.replace(tzinfo=dt.UTC)
        out.append(CachedSeries(sym, src, first, last, int(n), sector, fetched))
    return out


# ------------------------------------------------------- exposures, snapshots
def save_factor_exposures(
    session: Session,
    *,
    portfolio_id: int,
    exposures: Iterable[dict[str, Any]],
    calculation_date: dt.date,
    source: str,
) -> list[FactorExposure]:
    """Store exposures: dicts with ``factor``, ``exposure_value``, optional ``symbol``, ``metadata``."""
    rows = []
    for e in exposures:
        rows.append(
            FactorExposure(
                portfolio_id=portfolio_id,
                symbol=e.get("symbol"),
                factor=str(e["factor"]),
                exposure_value=float(e["exposure_value"]),
                calculation_date=calculation_date,
                source=e.get("source", source),
                meta=dict(e.get("metadata") or {}),
            )
        )
    session.add_all(rows)
    session.flush()
    return rows


def list_factor_exposures(
    session: Session, *, portfolio_id: int, calculation_date: dt.date | None = None
) -> list[FactorExposure]:
    """Exposures of a portfolio (latest calculation date when none given)."""
    if calculation_date is None:
        calculation_date = session.scalar(
            sa.select(sa.func.max(FactorExposure.calculation_date)).where(
                FactorExposure.portfolio_id == portfolio_id
            )
        )
        if calculation_date is None:
            return []
    return list(
        session.scalars(
            sa.select(FactorExposure)
            .where(
                FactorExposure.portfolio_id == portfolio_id,
                FactorExposure.calculation_date == calculation_date,
            )
            .order_by(FactorExposure.id)
        )
    )


def save_snapshot(
    session: Session,
    *,
    portfolio_id: int,
    as_of: dt.datetime,
    total_value: Decimal | float,
    positions: Sequence[dict[str, Any]] | dict[str, Any],
    metrics: dict[str, Any] | None = None,
    source: str = "bundled",
) -> PortfolioSnapshot:
    """Store a valued state of a portfolio."""
    row = PortfolioSnapshot(
        portfolio_id=portfolio_id,
        as_of=as_of,
        total_value=to_decimal(total_value),
        positions={"positions": list(positions)} if not isinstance(positions, dict) else positions,
        metrics=dict(metrics or {}),
        source=source,
    )
    session.add(row)
    session.flush()
    return row


def latest_snapshot(session: Session, *, portfolio_id: int) -> PortfolioSnapshot | None:
    """The most recent snapshot of a portfolio, if any."""
    return session.scalar(
        sa.select(PortfolioSnapshot)
        .where(PortfolioSnapshot.portfolio_id == portfolio_id)
        .order_by(PortfolioSnapshot.as_of.desc(), PortfolioSnapshot.id.desc())
        .limit(1)
    )


# ------------------------------------------------------------------ policies
def get_policy(session: Session, *, policy_id: int, user_id: int | None = None) -> InsurancePolicy:
    """Policy ``policy_id`` (another user's policy is not found)."""
    row = session.get(InsurancePolicy, policy_id)
    if row is None or (user_id is not None and row.user_id != user_id):
        raise NotFoundError(f"policy {policy_id} not found")
    return row


def list_policies(
    session: Session, *, user_id: int | None, status: str | Sequence[str] | None = None
) -> list[InsurancePolicy]:
    """Policies of a user (everybody's when ``None``), newest first."""
    q = sa.select(InsurancePolicy).order_by(InsurancePolicy.id.desc())
    if user_id is not None:
        q = q.where(InsurancePolicy.user_id == user_id)
    if status is not None:
        statuses = [status] if isinstance(status, str) else list(status)
        q = q.where(InsurancePolicy.status.in_(statuses))
    return list(session.scalars(q))


def add_policy_event(
    session: Session,
    *,
    policy_id: int,
    event_type: str,
    details: dict[str, Any] | None = None,
    ts: dt.datetime | None = None,
) -> InsurancePolicyEvent:
    """Append an event to a policy's history."""
    row = InsurancePolicyEvent(
        policy_id=policy_id, event_type=event_type, details=dict(details or {}), ts=ts or utcnow()
    )
    session.add(row)
    session.flush()
    return row


def add_policy_nav(
    session: Session,
    *,
    policy_id: int,
    ts: dt.datetime,
    portfolio_value: Decimal | float,
    index_level: float,
    hedge_value: Decimal | float,
    shortfall: Decimal | float,
    intrinsic_est: Decimal | float,
) -> InsurancePolicyNav:
    """Record a mark of a policy."""
    row = InsurancePolicyNav(
        policy_id=policy_id,
        ts=ts,
        portfolio_value=to_decimal(portfolio_value),
        index_level=float(index_level),
        hedge_value=to_decimal(hedge_value),
        shortfall=to_decimal(shortfall),
        intrinsic_est=to_decimal(intrinsic_est),
    )
    session.add(row)
    session.flush()
    return row


# -------------------------------------------------------------------- ledger
def ensure_account(
    session: Session,
    *,
    code: str,
    name: str,
    type: str,  # noqa: A002 - the accounting term
    currency: str = "USD",
    user_id: int | None = None,
) -> LedgerAccount:
    """The account with ``code``, created when missing."""
    if type not in ACCOUNT_TYPES:
        raise ValidationError.for_field("type", f"must be one of {', '.join(ACCOUNT_TYPES)}, got {type!r}")
    row = session.scalar(sa.select(LedgerAccount).where(LedgerAccount.code == code))
    if row is None:
        row = LedgerAccount(code=code, name=name, type=type, currency=currency, user_id=user_id)
        session.add(row)
        session.flush()
    elif row.type != type:
        raise ConflictError(f"account {code!r} exists with type {row.type!r}, not {type!r}")
    return row


def post_entry(
    session: Session,
    *,
    description: str,
    lines: Sequence[tuple[str, Decimal | float | int, Decimal | float | int]],
    reference: str | None = None,
    policy_id: int | None = None,
    ts: dt.datetime | None = None,
) -> JournalEntry:
    """Post a balanced journal entry.

    Parameters
    ----------
    lines : sequence of (account_code, debit, credit)
        Exactly one of debit/credit positive per line; total debits must
        equal total credits exactly (decimal arithmetic).
    reference : str, optional
        Idempotency key: posting the same reference twice returns the first
        entry when its lines are identical, else raises ConflictError.

    Raises
    ------
    ValidationError
        Unbalanced entry, fewer than two lines, negative or two-sided lines,
        unknown account.
    """
    if reference is not None:
        existing = session.scalar(sa.select(JournalEntry).where(JournalEntry.reference == reference))
        if existing is not None:
            q = Decimal("1e-6")
            stored = sorted((ln.account.code, ln.debit, ln.credit) for ln in existing.lines)
            asked = sorted((c, to_decimal(d).quantize(q), to_decimal(k).quantize(q)) for c, d, k in lines)
            if stored == asked:
                return existing
            raise ConflictError(f"journal reference {reference!r} was already posted with other lines")
    if len(lines) < 2:
        raise ValidationError.for_field("lines", "a journal entry needs at least two lines")
    built: list[JournalLine] = []
    total_d = total_c = Decimal(0)
    for i, (code, debit, credit) in enumerate(lines):
        d, c = to_decimal(debit), to_decimal(credit)
        if d < 0 or c < 0 or (d > 0) == (c > 0):
            raise ValidationError.for_field(
                f"lines.{i}", f"exactly one of debit/credit must be positive, got {d}/{c}"
            )
        account = session.scalar(sa.select(LedgerAccount).where(LedgerAccount.code == code))
        if account is None:
            raise ValidationError.for_field(f"lines.{i}.account", f"unknown ledger account {code!r}")
        total_d += d
        total_c += c
        built.append(JournalLine(account=account, debit=d, credit=c))
    if total_d != total_c:
        raise ValidationError.for_field(
            "lines", f"entry does not balance: debits {total_d} != credits {total_c}"
        )
    entry = JournalEntry(
        description=description, reference=reference, policy_id=policy_id, ts=ts or utcnow(), lines=built
    )
    session.add(entry)
    session.flush()
    return entry


def account_balance(session: Session, *, code: str) -> Decimal:
    """Debits minus credits of an account (exact)."""
    account = session.scalar(sa.select(LedgerAccount).where(LedgerAccount.code == code))
    if account is None:
        raise NotFoundError(f"ledger account {code!r} not found")
    rows = session.execute(
        sa.select(JournalLine.debit, JournalLine.credit).where(JournalLine.account_id == account.id)
    ).all()
    return sum((d - c for d, c in rows), Decimal(0))


def trial_balance(session: Session) -> dict[str, Decimal]:
    """Balance (debit - credit) of every account; the values sum to zero."""
    out: dict[str, Decimal] = {}
    for account in session.scalars(sa.select(LedgerAccount).order_by(LedgerAccount.code)):
        out[account.code] = account_balance(session, code=account.code)
    return out
