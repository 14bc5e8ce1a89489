"""Portfolio use cases: import, list, show, resolve, value with provenance.

A position without a user price must be known to the market data (the
configured provider chain): an unknown symbol without a price is an import
error naming its line, and nothing is written. Valuation uses the user price
when given (source ``"user"``), else the last close of the first source that
has the symbol, and says which source and as of which date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from floorguard.domain.portfolio import Portfolio, parse_portfolio_file_with_lines
from floorguard.exceptions import (
    DataError,
    FieldError,
    NotFoundError,
    PortfolioImportError,
    SymbolNotFoundError,
    ValidationError,
)
from floorguard.marketdata import ProviderChain
from floorguard.persistence import repositories as repo
from floorguard.services.context import AppContext

__all__ = [
    "DEFAULT_OWNER",
    "PositionValue",
    "PortfolioValuation",
    "get_portfolio",
    "import_portfolio",
    "list_portfolios",
    "load_portfolio_file",
    "resolve_portfolio",
    "value_portfolio",
]

#: The user the CLI acts as unless told otherwise (the demo investor).
DEFAULT_OWNER = "demo"


def _validate_against_market(
    portfolio: Portfolio, lines: dict[str, int], market: ProviderChain
) -> list[FieldError]:
    errors: list[FieldError] = []
    for pos in portfolio.positions:
        if pos.price is not None or pos.asset_type == "cash":
            continue  # user-priced, or cash valued at 1 per unit
        try:
            market.source_of(pos.symbol)
        except SymbolNotFoundError:
            errors.append(
                FieldError(
                    "symbol",
                    f"unknown symbol {pos.symbol} without a price: no market-data source "
                    f"({', '.join(s.name for s in market.sources)}) has it; add a price column",
                    lines.get(pos.symbol),
                )
            )
    return errors


def load_portfolio_file(ctx: AppContext, path: Path | str, *, name: str | None = None) -> Portfolio:
    """Parse a CSV/JSON portfolio file and check its symbols against the market data.

    Raises
    ------
    PortfolioImportError
        Every bad row (line, field, reason), including unknown symbols
        without a price.
    """
    portfolio, lines = parse_portfolio_file_with_lines(path, name=name)
    errors = _validate_against_market(portfolio, lines, ctx.market_data())
    if errors:
        shown = "; ".join(str(e) for e in errors[:20])
        raise PortfolioImportError(
            f"portfolio has {len(errors)} error(s), nothing imported: {shown}", errors=errors
        )
    return portfolio


def import_portfolio(
    ctx: AppContext,
    path: Path | str,
    *,
    name: str,
    owner: str = DEFAULT_OWNER,
    replace: bool = False,
) -> Portfolio:
    """Validate a portfolio file completely, then store it in one transaction.

    Parameters
    ----------
    path : Path or str
        ``.csv`` or ``.json`` file.
    name : str
        Name of the stored portfolio (unique per owner).
    owner : str
        User name (created as an investor when missing).
    replace : bool
        Overwrite an existing portfolio with the same name.
    """
    if not name or not name.strip():
        raise ValidationError.for_field("name", "a portfolio name is required")
    portfolio = load_portfolio_file(ctx, path, name=name.strip())
    with ctx.session() as session:
        user = repo.ensure_user(session, name=owner)
        return repo.save_portfolio(session, owner_id=user.id, portfolio=portfolio, replace=replace)


def list_portfolios(ctx: AppContext, *, owner: str = DEFAULT_OWNER) -> list[repo.PortfolioSummary]:
    """Stored portfolios of ``owner`` by name (empty when the user does not exist)."""
    with ctx.session() as session:
        try:
            user = repo.get_user_by_name(session, name=owner)
        except NotFoundError:
            return []
        return repo.list_portfolios(session, owner_id=user.id)


def get_portfolio(ctx: AppContext, name: str, *, owner: str = DEFAULT_OWNER) -> Portfolio:
    """The stored portfolio ``name`` of ``owner`` (NotFoundError otherwise)."""
    with ctx.session() as session:
        try:
            user = repo.get_user_by_name(session, name=owner)
        except NotFoundError as exc:
            raise NotFoundError(f"portfolio {name!r} not found (no user {owner!r})") from exc
        return repo.get_portfolio(session, owner_id=user.id, name=name)


def resolve_portfolio(ctx: AppContext, arg: str | Path, owner: str | None = None) -> Portfolio:
    """A portfolio from a CSV/JSON file path, or a stored portfolio name.

    A path that exists (or ends in ``.csv``/``.json``) is read as a file;
    anything else is looked up by name for ``owner`` (default the demo user).
    """
    text = str(arg)
    path = Path(text)
    if path.suffix.lower() in (".csv", ".json") or path.is_file():
        return load_portfolio_file(ctx, path)
    return get_portfolio(ctx, text, owner=owner or DEFAULT_OWNER)


@dataclass(frozen=True)
class PositionValue:
    """One valued position with the provenance of its price."""

    symbol: str
    quantity: float
    price: float
    price_source: str
    price_as_of: dt.date | None
    value: float
    weight: float
    asset_type: str
    sector: str | None
    beta: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "quantity": self.quantity,
            "price": self.price,
            "price_source": self.price_source,
            "price_as_of": self.price_as_of.isoformat() if self.price_as_of else None,
            "value": self.value,
            "weight": self.weight,
            "asset_type": self.asset_type,
            "sector": self.sector,
            "beta": self.beta,
        }


@dataclass(frozen=True)
class PortfolioValuation:
    """A portfolio valued position by position.

    ``weight`` is ``value / net_value`` (shorts have negative weights);
    ``gross_value`` is the sum of absolute values.
    """

    name: str
    currency: str
    positions: tuple[PositionValue, ...]
    net_value: float
    gross_value: float
    sources: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "currency": self.currency,
            "net_value": self.net_value,
            "gross_value": self.gross_value,
            "sources": self.sources,
            "positions": [p.to_dict() for p in self.positions],
        }


def value_portfolio(ctx: AppContext, portfolio: Portfolio) -> PortfolioValuation:
    """Value every position (user price, else last close with its source and date).

    Raises
    ------
    DataError
        A position has no user price and no source knows the symbol.
    """
    market = ctx.market_data()
    rows: list[tuple[Any, float, str, dt.date | None, str | None]] = []
    sources: dict[str, str] = {}
    for pos in portfolio.positions:
        sector = pos.sector
        if pos.price is not None:
            price, src, as_of = float(pos.price), "user", None
        elif pos.asset_type == "cash":
            price, src, as_of = 1.0, "cash", None
        else:
            try:
                point = market.last_price(pos.symbol)
            except SymbolNotFoundError as exc:
                raise DataError(f"cannot value {pos.symbol}: {exc}") from exc
            price, src, as_of = point.price, point.source, point.as_of
            sources[point.source] = f"last close as of {point.as_of.isoformat()}"
        if sector is None:
            try:
                sector = market.instrument(pos.symbol).sector
            except (SymbolNotFoundError, DataError):
                sector = None
        rows.append((pos, price, src, as_of, sector))
    values = [pos.quantity * price for pos, price, *_ in rows]
    net = float(sum(values))
    gross = float(sum(abs(v) for v in values))
    out = tuple(
        PositionValue(
            symbol=pos.symbol,
            quantity=float(pos.quantity),
            price=price,
            price_source=src,
            price_as_of=as_of,
            value=v,
            weight=(v / net) if net else float("nan"),
            asset_type=pos.asset_type,
            sector=sector,
            beta=pos.beta,
        )
        for (pos, price, src, as_of, sector), v in zip(rows, values, strict=True)
    )
    if any(p.price_source == "user" for p in out):
        sources["user"] = "price given in the portfolio file"
    return PortfolioValuation(portfolio.name, portfolio.currency, out, net, gross, sources)
