"""The demo: an investor and a portfolio of bundled S&P 500 stocks.

``load_demo(ctx)`` is idempotent: it creates the ``demo`` investor and the
``demo`` portfolio, or resets that portfolio to the same positions. The
positions carry no user price: they are valued from the bundled history
(skfolio's adjusted closes), whose last date is 2022-12-28. Everything the
demo shows is labelled as historical bundled data, not live prices.

The risk summary is a historical simulation of the current quantities over
the trailing ``window`` sessions of bundled closes (buy and hold), using
:mod:`floorguard.core.risk`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from floorguard.domain.portfolio import Portfolio, Position
from floorguard.persistence import repositories as repo
from floorguard.services.context import AppContext
from floorguard.services.portfolios import PortfolioValuation, value_portfolio

__all__ = ["DEMO_POSITIONS", "DEMO_PORTFOLIO", "DEMO_USER", "DemoResult", "demo_risk_summary", "load_demo"]

DEMO_USER = "demo"
DEMO_PORTFOLIO = "demo"
#: symbol -> shares (about USD 300k at the 2022-12-28 closes)
DEMO_POSITIONS: dict[str, int] = {
    "AAPL": 400,
    "MSFT": 200,
    "JPM": 250,
    "JNJ": 150,
    "XOM": 300,
    "PG": 150,
    "HD": 80,
    "UNH": 40,
    "KO": 400,
    "LLY": 60,
}
DATA_LABEL = "bundled historical data (skfolio/arch wheels), not live prices"


@dataclass(frozen=True)
class DemoResult:
    """What ``load_demo`` did and the demo portfolio's figures."""

    user: str
    portfolio: Portfolio
    valuation: PortfolioValuation
    risk: dict[str, Any]
    data_label: str = DATA_LABEL
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "portfolio": self.portfolio.to_dict(),
            "valuation": self.valuation.to_dict(),
            "risk": self.risk,
            "data_label": self.data_label,
            "notes": list(self.notes),
        }


def demo_risk_summary(
    ctx: AppContext, portfolio: Portfolio, *, window: int = 756, level: float = 0.95
) -> dict[str, Any]:
    """Annualised volatility, max drawdown and one-day VaR of constant quantities.

    Parameters
    ----------
    window : int
        Trailing daily sessions of history used (756 = about three years).
    level : float
        VaR confidence level.

    Returns
    -------
    dict
        ``annual_volatility`` (fraction), ``max_drawdown`` (negative fraction),
        ``var_1d`` (positive loss fraction) and ``var_1d_amount`` (currency),
        with ``start``/``end`` of the window, ``n_returns`` and ``method``.
    """
    from floorguard.core.risk import annual_volatility, max_drawdown, simple_returns, value_at_risk

    symbols = [p.symbol for p in portfolio.positions if p.price is None and p.asset_type != "cash"]
    prices = ctx.market_data().price_history(symbols).dropna()
    prices = prices.iloc[-(window + 1) :]
    quantities = np.array([portfolio.position(s).quantity for s in symbols], dtype=np.float64)
    holdings = pd.Series(prices.to_numpy() @ quantities, index=prices.index, name="value")
    returns = simple_returns(holdings)
    var = value_at_risk(returns, level=level, method="historical")
    last_value = float(holdings.iloc[-1])
    return {
        "annual_volatility": annual_volatility(returns),
        "max_drawdown": max_drawdown(returns),
        "var_1d": var,
        "var_1d_amount": var * last_value,
        "var_level": level,
        "method": "historical simulation of current quantities (buy and hold)",
        "start": prices.index[0].date().isoformat(),
        "end": prices.index[-1].date().isoformat(),
        "n_returns": int(len(returns)),
        "value_at_end": last_value,
        "provenance": prices.attrs.get("provenance", {}),
        "label": f"estimates from {DATA_LABEL}",
    }


def load_demo(ctx: AppContext, *, with_risk: bool = True) -> DemoResult:
    """Create (or reset) the demo investor and portfolio; value it; summarise its risk."""
    market = ctx.market_data()
    positions = tuple(
        Position(sym, float(qty), asset_type="equity", sector=market.instrument(sym).sector)
        for sym, qty in DEMO_POSITIONS.items()
    )
    portfolio = Portfolio(name=DEMO_PORTFOLIO, positions=positions)
    with ctx.session() as session:
        user = repo.ensure_user(session, name=DEMO_USER, role="investor", approved_strategy_level=1)
        stored = repo.save_portfolio(session, owner_id=user.id, portfolio=portfolio, replace=True)
    valuation = value_portfolio(ctx, stored)
    risk = demo_risk_summary(ctx, stored) if with_risk else {}
    as_of = sorted({p.price_as_of.isoformat() for p in valuation.positions if p.price_as_of})
    notes = [f"prices are last closes as of {', '.join(as_of)} from {DATA_LABEL}"]
    return DemoResult(DEMO_USER, stored, valuation, risk, notes=notes)


def issue_demo_token(ctx: AppContext) -> str:
    """A new API token for the demo investor, to log in to the dashboard.

    Each call issues a fresh token (only its hash is stored); earlier demo
    tokens stay valid until revoked with ``floorguard user`` commands.
    """
    from floorguard.services.users import issue_token

    with ctx.session() as session:
        user = repo.ensure_user(session, name=DEMO_USER, role="investor", approved_strategy_level=1)
        return issue_token(session, user.id, str(ctx.settings.secret_key), label="demo login")
