"""Portfolios owned by an authenticated user (the API's view).

Every call is scoped by the caller's user id: another user's portfolio is
"not found", never shown. Positions without a price must be known to the
market data, as for file imports; parsing is all-or-nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import sqlalchemy as sa

from floorguard.domain.portfolio import Portfolio, Position, parse_portfolio_text
from floorguard.exceptions import (
    FieldError,
    NotFoundError,
    PortfolioImportError,
    SymbolNotFoundError,
    ValidationError,
)
from floorguard.persistence import repositories as repo
from floorguard.persistence.orm import PortfolioRow
from floorguard.services.context import AppContext
from floorguard.services.users import Principal

__all__ = [
    "create_portfolio",
    "delete_portfolio",
    "get_portfolio",
    "import_portfolio_text",
    "list_portfolios",
    "portfolio_from_positions",
    "replace_positions",
]


def _check_market(ctx: AppContext, portfolio: Portfolio, lines: dict[str, int] | None = None) -> None:
    market = ctx.market_data()
    errors: list[FieldError] = []
    for i, pos in enumerate(portfolio.positions):
        if pos.price is not None or pos.asset_type == "cash":
            continue
        try:
            market.source_of(pos.symbol)
        except SymbolNotFoundError:
            field = "symbol" if lines is not None else f"positions.{i}.symbol"
            errors.append(
                FieldError(
                    field,
                    f"unknown symbol {pos.symbol} without a price: no market-data source has it; give a price",
                    None if lines is None else lines.get(pos.symbol),
                )
            )
    if errors:
        raise PortfolioImportError(
            f"portfolio has {len(errors)} error(s), nothing stored: " + "; ".join(str(e) for e in errors[:20]),
            errors=errors,
        )


def portfolio_from_positions(name: str, positions: Sequence[dict[str, Any]], currency: str = "USD") -> Portfolio:
    """Build a portfolio from position dicts, collecting every field error."""
    errors: list[FieldError] = []
    built: list[Position] = []
    for i, raw in enumerate(positions):
        try:
            built.append(
                Position(
                    symbol=str(raw.get("symbol", "")).strip().upper(),
                    quantity=raw.get("quantity"),  # type: ignore[arg-type]
                    price=raw.get("price"),
                    asset_type=raw.get("asset_type") or "equity",
                    beta=raw.get("beta"),
                    sector=raw.get("sector"),
                )
            )
        except ValidationError as exc:
            errors.extend(FieldError(f"positions.{i}.{e.field}", e.reason) for e in exc.errors)
    if errors:
        raise ValidationError("; ".join(str(e) for e in errors[:20]), errors=errors)
    return Portfolio(name=name.strip(), positions=tuple(built), currency=currency)


def create_portfolio(ctx: AppContext, user: Principal, portfolio: Portfolio, *, replace: bool = False) -> Portfolio:
    """Validate against the market data and store for ``user``."""
    _check_market(ctx, portfolio)
    with ctx.session() as session:
        return repo.save_portfolio(session, owner_id=user.id, portfolio=portfolio, replace=replace)


def import_portfolio_text(
    ctx: AppContext,
    user: Principal,
    text: str,
    fmt: Literal["csv", "json"],
    *,
    name: str,
    currency: str = "USD",
    replace: bool = False,
) -> Portfolio:
    """Parse an uploaded CSV/JSON file completely, then store it (all or nothing)."""
    if not name or not name.strip():
        raise ValidationError.for_field("name", "a portfolio name is required")
    portfolio = parse_portfolio_text(text, fmt, name=name.strip(), currency=currency)
    _check_market(ctx, portfolio, lines={})
    with ctx.session() as session:
        return repo.save_portfolio(session, owner_id=user.id, portfolio=portfolio, replace=replace)


def list_portfolios(ctx: AppContext, user: Principal) -> list[repo.PortfolioSummary]:
    with ctx.session() as session:
        return repo.list_portfolios(session, owner_id=user.id)


def get_portfolio(ctx: AppContext, user: Principal, portfolio_id: int) -> Portfolio:
    """``user``'s portfolio ``portfolio_id`` (404 for anybody else's)."""
    with ctx.session() as session:
        return repo.get_portfolio_by_id(session, portfolio_id=portfolio_id, owner_id=user.id)


def replace_positions(
    ctx: AppContext, user: Principal, portfolio_id: int, positions: Sequence[dict[str, Any]], name: str | None = None
) -> Portfolio:
    """Replace the positions (and optionally the name) of ``user``'s portfolio."""
    current = get_portfolio(ctx, user, portfolio_id)
    new = portfolio_from_positions(name or current.name, positions, current.currency)
    _check_market(ctx, new)
    with ctx.session() as session:
        row = session.scalar(
            sa.select(PortfolioRow).where(PortfolioRow.id == portfolio_id, PortfolioRow.owner_id == user.id)
        )
        if row is None:
            raise NotFoundError(f"portfolio {portfolio_id} not found")
        if new.name != row.name:
            clash = session.scalar(
                sa.select(PortfolioRow.id).where(PortfolioRow.owner_id == user.id, PortfolioRow.name == new.name)
            )
            if clash is not None:
                raise ValidationError.for_field("name", f"you already have a portfolio named {new.name!r}")
            row.name = new.name
            session.flush()
        return repo.save_portfolio(session, owner_id=user.id, portfolio=new, replace=True)


def delete_portfolio(ctx: AppContext, user: Principal, portfolio_id: int) -> None:
    with ctx.session() as session:
        row = session.scalar(
            sa.select(PortfolioRow).where(PortfolioRow.id == portfolio_id, PortfolioRow.owner_id == user.id)
        )
        if row is None:
            raise NotFoundError(f"portfolio {portfolio_id} not found")
        repo.delete_portfolio(session, owner_id=user.id, name=row.name)
