"""Stress tests: historical windows replayed on today's weights, market and factor shocks.

Every stress reports the portfolio P&L without a hedge and, when a
``hedge_payoff`` callback is given, with it. The callback receives the
scenario's market (index) return as a fraction and returns the hedge's P&L in
currency (positive = the hedge pays); the insurance engine supplies it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from floorguard.exceptions import ValidationError

__all__ = [
    "HISTORICAL_SCENARIOS",
    "HedgePayoff",
    "HistoricalScenario",
    "StressResult",
    "factor_shock_stress",
    "historical_stress",
    "market_shock_stress",
]

#: ``hedge_payoff(market_return) -> hedge P&L in currency``.
HedgePayoff = Callable[[float], float]


@dataclass(frozen=True)
class HistoricalScenario:
    """A dated historical window (S&P 500 peak to trough unless stated).

    Attributes
    ----------
    key : str
    name : str
    start, end : datetime.date
        First and last trading day of the window (returns from the close of
        ``start`` to the close of ``end``).
    description : str
    """

    key: str
    name: str
    start: dt.date
    end: dt.date
    description: str


#: Windows replayed by default. Dates are the S&P 500 closing peak and trough
#: of each episode (2007-10-09 -> 2009-03-09; 2020-02-19 -> 2020-03-23;
#: 2022-01-03 -> 2022-10-12).
HISTORICAL_SCENARIOS: tuple[HistoricalScenario, ...] = (
    HistoricalScenario(
        "gfc_2008", "2008–09 financial crisis", dt.date(2007, 10, 9), dt.date(2009, 3, 9),
        "S&P 500 peak of 2007-10-09 to the trough of 2009-03-09",
    ),
    HistoricalScenario(
        "covid_2020", "2020 COVID crash", dt.date(2020, 2, 19), dt.date(2020, 3, 23),
        "S&P 500 peak of 2020-02-19 to the trough of 2020-03-23",
    ),
    HistoricalScenario(
        "bear_2022", "2022 bear market", dt.date(2022, 1, 3), dt.date(2022, 10, 12),
        "S&P 500 peak of 2022-01-03 to the trough of 2022-10-12",
    ),
)


@dataclass(frozen=True)
class StressResult:
    """Outcome of one stress scenario.

    Attributes
    ----------
    key, name, kind : str
        ``kind`` is ``historical``, ``market_shock`` or ``factor_shock``.
    portfolio_return : float
        Unhedged return as a fraction of the portfolio value.
    pnl : float
        Unhedged P&L in currency.
    market_return : float or None
        Return of the market/index in the scenario.
    hedge_pnl, hedged_pnl, hedged_return : float or None
        With the hedge (``None`` without a hedge callback).
    max_drawdown : float or None
        Worst peak-to-trough of the replayed path (historical only).
    proxied : list of str
        Positions without history in the window, replayed through their beta
        times the market return (historical only).
    details : dict
    """

    key: str
    name: str
    kind: str
    portfolio_return: float
    pnl: float
    market_return: float | None = None
    hedge_pnl: float | None = None
    hedged_pnl: float | None = None
    hedged_return: float | None = None
    max_drawdown: float | None = None
    proxied: tuple[str, ...] = ()
    details: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        # what dataclasses.asdict gives (containers copied), without its deep-copy machinery
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["proxied"] = list(self.proxied)
        d["details"] = _copied(self.details)
        return d


def _copied(x: Any) -> Any:
    """Copy of nested dicts, lists and tuples; other values (numbers, strings, dates) as they are."""
    if isinstance(x, dict):
        return {k: _copied(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_copied(v) for v in x)
    return x


def _value(portfolio_value: float) -> float:
    v = float(portfolio_value)
    if not np.isfinite(v) or v <= 0:
        raise ValidationError.for_field("portfolio_value", f"must be positive, got {portfolio_value!r}")
    return v


def _hedged(
    key: str, name: str, kind: str, ret: float, value: float, market: float | None,
    hedge_payoff: HedgePayoff | None, **extra: Any,
) -> StressResult:
    pnl = ret * value
    hp = hedged_pnl = hedged_ret = None
    if hedge_payoff is not None and market is not None:
        hp = float(hedge_payoff(float(market)))
        if not np.isfinite(hp):
            raise ValidationError.for_field("hedge_payoff", "returned a non-finite P&L")
        hedged_pnl = pnl + hp
        hedged_ret = hedged_pnl / value
    return StressResult(key, name, kind, float(ret), float(pnl), market, hp, hedged_pnl, hedged_ret, **extra)


def historical_stress(
    weights: Mapping[str, float],
    asset_returns: pd.DataFrame,
    market_returns: pd.Series,
    *,
    portfolio_value: float = 1.0,
    scenarios: Sequence[HistoricalScenario] = HISTORICAL_SCENARIOS,
    betas: Mapping[str, float] | None = None,
    hedge_payoff: HedgePayoff | None = None,
) -> list[StressResult]:
    """Replay historical windows on today's weights (buy and hold from the window start).

    The return of position ``i`` over the window is ``prod(1 + r_i) - 1``; the
    portfolio return is ``sum_i w_i R_i`` and the daily path is
    ``sum_i w_i (W_i,t - 1)``. A position with any missing return in the
    window is replayed as ``beta_i`` times the market's daily returns (beta 1
    when unknown) and listed in ``proxied``. A window outside the market data
    is reported as skipped in ``details`` (``portfolio_return`` NaN).

    Parameters
    ----------
    weights : mapping of symbol to float
        Fractions of portfolio value (signed).
    asset_returns : pandas.DataFrame, shape (T, N)
        Daily simple returns by date (DatetimeIndex) and symbol.
    market_returns : pandas.Series, shape (T,)
        Daily simple returns of the market index.
    portfolio_value : float
        Currency value for P&L.
    scenarios : sequence of HistoricalScenario
    betas : mapping of symbol to float or None
        Betas for proxying positions without history.
    hedge_payoff : callable or None
        Hedge P&L for the window's market return.
    """
    value = _value(portfolio_value)
    if not isinstance(asset_returns, pd.DataFrame) or not isinstance(market_returns, pd.Series):
        raise ValidationError.for_field("asset_returns", "must be a DataFrame (and market_returns a Series) indexed by date")
    out: list[StressResult] = []
    shared = _shared_dates(asset_returns, market_returns)
    for sc in scenarios:
        lo, hi = pd.Timestamp(sc.start), pd.Timestamp(sc.end)
        # returns strictly after the start close, up to and including the end close
        if shared is not None:
            # one sorted date index for both: the window is a slice, columns are array columns
            idx, m_all, col, values = shared
            i0, i1 = idx.searchsorted(lo, side="right"), idx.searchsorted(hi, side="right")
            observed = ~np.isnan(m_all[i0:i1])
            m_arr = m_all[i0:i1][observed]
            outside = m_arr.size == 0 or idx[0] > lo or idx[-1] < hi
            rows = values[i0:i1][observed]

            def column(sym: str, rows: np.ndarray = rows) -> np.ndarray | None:
                j = col.get(sym)
                return None if j is None else rows[:, j]
        else:
            m = market_returns[(market_returns.index > lo) & (market_returns.index <= hi)].dropna()
            outside = m.size == 0 or market_returns.index.min() > lo or market_returns.index.max() < hi
            m_arr = m.to_numpy(dtype=np.float64)
            block = None if outside else asset_returns.reindex(m.index)

            def column(sym: str, block: pd.DataFrame | None = block) -> np.ndarray | None:
                if block is None or sym not in block.columns:
                    return None
                return block[sym].to_numpy(dtype=np.float64)
        if outside:
            out.append(StressResult(
                sc.key, sc.name, "historical", float("nan"), float("nan"),
                details={"skipped": "window outside the available market history", "start": sc.start, "end": sc.end},
            ))
            continue
        path = np.zeros(m_arr.size)
        proxied: list[str] = []
        contrib: dict[str, float] = {}
        for sym, w in weights.items():
            r = column(sym)
            if r is not None and np.isnan(r).any():
                r = None
            if r is None:
                r = m_arr * float((betas or {}).get(sym, 1.0))
                proxied.append(sym)
            wealth = np.cumprod(1.0 + r)
            path += float(w) * (wealth - 1.0)
            contrib[sym] = float(w) * float(wealth[-1] - 1.0)
        nav = 1.0 + path
        peak = np.maximum(np.maximum.accumulate(nav), 1.0)
        mdd = float(min((nav / peak - 1.0).min(), 0.0))
        mret = float(np.prod(1.0 + m_arr) - 1.0)
        out.append(_hedged(
            sc.key, sc.name, "historical", float(path[-1]), value, mret, hedge_payoff,
            max_drawdown=mdd, proxied=tuple(proxied),
            details={"start": sc.start, "end": sc.end, "days": int(m_arr.size), "contributions": contrib,
                     "description": sc.description},
        ))
    return out


def _shared_dates(
    asset_returns: pd.DataFrame, market_returns: pd.Series
) -> tuple[pd.DatetimeIndex, np.ndarray, dict[Any, int], np.ndarray] | None:
    """Arrays for the window slicing when both inputs share one sorted, unique, naive date index.

    Returns the index, the market's values, the column positions and the
    asset values (T, N); ``None`` (then pandas selects and reindexes each
    window) for anything else: other or unsorted indexes, duplicate columns,
    non-float64 data.
    """
    idx = market_returns.index
    if not (
        isinstance(idx, pd.DatetimeIndex) and idx.tz is None and not idx.hasnans
        and idx.is_monotonic_increasing and idx.is_unique and asset_returns.index.equals(idx)
        and asset_returns.columns.is_unique and market_returns.dtype == np.float64
        and all(d == np.float64 for d in asset_returns.dtypes)
    ):
        return None
    col = {c: j for j, c in enumerate(asset_returns.columns)}
    return idx, market_returns.to_numpy(dtype=np.float64), col, asset_returns.to_numpy(dtype=np.float64)


def market_shock_stress(
    portfolio_beta: float,
    shocks: Sequence[float] = (-0.10, -0.20, -0.30),
    *,
    portfolio_value: float = 1.0,
    hedge_payoff: HedgePayoff | None = None,
) -> list[StressResult]:
    """Hypothetical market moves transmitted through the portfolio beta.

    ``portfolio_return = beta * shock`` (CAPM, no idiosyncratic move).

    Parameters
    ----------
    portfolio_beta : float
        Net-exposure-weighted market beta.
    shocks : sequence of float
        Market returns as fractions (``-0.2`` = the market falls 20 %).
    """
    value = _value(portfolio_value)
    b = float(portfolio_beta)
    if not np.isfinite(b):
        raise ValidationError.for_field("portfolio_beta", "must be finite")
    out = []
    for s in shocks:
        s = float(s)
        if not -1.0 <= s <= 10.0:
            raise ValidationError.for_field("shocks", f"market return must be between -100 % and +1000 %, got {s}")
        out.append(_hedged(f"market_{round(s * 100):+d}", f"Market {s:+.0%}", "market_shock", b * s, value, s, hedge_payoff,
                           details={"beta": b}))
    return out


def factor_shock_stress(
    factor_betas: Mapping[str, float],
    shocks: Mapping[str, Mapping[str, float]],
    *,
    market_factor: str = "market",
    portfolio_value: float = 1.0,
    hedge_payoff: HedgePayoff | None = None,
) -> list[StressResult]:
    """Hypothetical factor moves: ``portfolio_return = sum_k beta_k * shock_k``.

    Parameters
    ----------
    factor_betas : mapping of factor to float
        Portfolio loadings (from the multi-factor regression).
    shocks : mapping of scenario name to {factor: shock}
        E.g. ``{"value_crash": {"value": -0.1}}``. Factors absent from
        ``factor_betas`` are refused.
    market_factor : str
        Its shock (0 when absent) is passed to ``hedge_payoff``.
    """
    value = _value(portfolio_value)
    out = []
    for name, shock in shocks.items():
        unknown = [f for f in shock if f not in factor_betas]
        if unknown:
            raise ValidationError.for_field(f"shocks.{name}", f"unknown factor(s): {', '.join(unknown)}")
        ret = float(sum(float(factor_betas[f]) * float(x) for f, x in shock.items()))
        mkt = float(shock.get(market_factor, 0.0))
        out.append(_hedged(f"factor_{name}", name, "factor_shock", ret, value, mkt, hedge_payoff,
                           details={"shocks": dict(shock)}))
    return out
