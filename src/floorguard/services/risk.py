"""Risk metrics of a portfolio: one call, everything, with data-quality metadata.

:class:`RiskMetricsService` values the portfolio (today's prices and weights),
loads the daily history of its public positions, of the S&P 500 ("SPX") and
of the bundled factor ETFs, and returns one JSON-ready dictionary with:

* ``measures``: volatility, drawdown (depth, dates, duration, current), VaR and
  ES (historical, Gaussian, Cornish–Fisher), Sharpe, Sortino, downside
  deviation and the last values of their 63-day rolling versions, for the
  portfolio's public sleeve held at today's weights;
* ``beta``: per-position hybrid betas (multivariate first, single-factor
  fallback, provided, default) with provenance, and the portfolio beta or a
  skip payload (``skip_reason``, ``quality_flag``);
* ``factors``: portfolio factor loadings;
* ``sectors`` and ``concentration`` against the dated S&P 500 sector map
  (``floorguard/data/sp500_sector_weights.json``);
* ``correlation``, ``diversification_ratio`` and risk ``contributions``
  (volatility and ES);
* ``stress``: historical windows, market shocks through the beta, factor
  shocks, each with and without a hedge when a hedge payoff is given;
* ``metadata``: window, observations, missing data, which beta path ran,
  data sources, latency, and which figures are estimates.

Factor returns (documented construction): ``market`` is the S&P 500 daily
return; ``size``, ``value``, ``momentum``, ``quality`` and ``low_volatility``
are long-short returns: the iShares MSCI USA factor ETF (SIZE, VLUE, MTUM,
QUAL, USMV) minus the S&P 500 return on the same day. The ETFs are bundled
for 2014-2022 only; outside that range the multivariate regression cannot run
and the single-factor fallback is used.

Missing history and snapshots degrade to skip payloads and notes, never to
errors: a private position without a beta gets the default beta (labelled an
estimate); a portfolio without public positions gets ``available: false``
sections with a ``skip_reason``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from floorguard.core import risk as R
from floorguard.domain.portfolio import Portfolio
from floorguard.exceptions import (
    ConfigurationError,
    DataError,
    FloorguardError,
    NotFoundError,
    SymbolNotFoundError,
    ValidationError,
)
from floorguard.persistence import repositories as repo
from floorguard.persistence.types import JSONType
from floorguard.services.context import AppContext
from floorguard.services.portfolios import PortfolioValuation, resolve_portfolio, value_portfolio

__all__ = [
    "DEFAULT_FACTOR_SHOCKS",
    "FACTOR_ETFS",
    "MARKET_SYMBOL",
    "RiskMetricsService",
    "compare_betas",
    "etf_factor_returns",
    "load_sector_benchmark",
    "option_legs_payoff",
    "protective_put_payoff",
    "run_risk_batch",
]

log = logging.getLogger("floorguard.services.risk")

#: The market factor and index of the market-beta regressions.
MARKET_SYMBOL = "SPX"
#: Style factor -> iShares MSCI USA factor ETF (long-short against the market).
FACTOR_ETFS: dict[str, str] = {
    "size": "SIZE",
    "value": "VLUE",
    "momentum": "MTUM",
    "quality": "QUAL",
    "low_volatility": "USMV",
}
#: Hypothetical factor shocks (returns as fractions); labelled hypothetical.
DEFAULT_FACTOR_SHOCKS: dict[str, dict[str, float]] = {
    "momentum_crash": {"momentum": -0.15},
    "value_rotation": {"value": 0.10, "momentum": -0.10},
    "flight_to_quality": {"market": -0.10, "quality": 0.05, "low_volatility": 0.05},
    "small_cap_selloff": {"size": -0.10},
}
_NON_PUBLIC_TYPES = {"private", "custom"}
_BENCHMARKS = {"SP500": "sp500_sector_weights.json"}


# ------------------------------------------------------------------ helpers
def load_sector_benchmark(benchmark: str = "SP500") -> dict[str, Any]:
    """The dated sector benchmark map shipped as data (``weights``, ``as_of``, ``source``)."""
    key = str(benchmark).strip().upper().replace("&", "").replace(" ", "")
    if key in ("SPX", "S P500", "SANDP500"):
        key = "SP500"
    fname = _BENCHMARKS.get(key)
    if fname is None:
        raise ValidationError.for_field("benchmark", f"unknown benchmark {benchmark!r}; known: {', '.join(_BENCHMARKS)}")
    text = resources.files("floorguard").joinpath("data", fname).read_text(encoding="utf-8")
    return json.loads(text)


def etf_factor_returns(market: pd.Series, etf_returns: pd.DataFrame) -> pd.DataFrame:
    """Factor returns from the bundled ETFs: ``market`` and ETF-minus-market long-short legs.

    Parameters
    ----------
    market : pandas.Series
        Daily simple returns of the S&P 500.
    etf_returns : pandas.DataFrame
        Daily simple returns with the columns of :data:`FACTOR_ETFS` values.

    Returns
    -------
    pandas.DataFrame
        Columns ``market, size, value, momentum, quality, low_volatility``;
        NaN where an ETF has no observation (before its listing).
    """
    out = {"market": market}
    for name, etf in FACTOR_ETFS.items():
        if etf in etf_returns.columns:
            out[name] = etf_returns[etf] - market
    return pd.DataFrame(out)


def protective_put_payoff(
    index_level: float, strike: float, contracts: float, multiplier: float = 100.0, premium: float = 0.0
) -> Callable[[float], float]:
    """Hedge P&L of long index puts for a scenario's index return.

    ``contracts * multiplier * (max(K - S0 (1 + m), 0) - max(K - S0, 0)) - premium``:
    the change of intrinsic value from today to the scenario's end (time value
    ignored, an estimate), net of ``premium`` if one is still to be paid.
    """
    return option_legs_payoff(
        [{"kind": "put", "side": "long", "strike": strike, "contracts": contracts, "multiplier": multiplier}],
        index_level, premium=premium,
    )


def option_legs_payoff(
    legs: Iterable[Mapping[str, Any]], index_level: float, *, premium: float = 0.0
) -> Callable[[float], float]:
    """Hedge P&L of index option legs for a scenario's index return ``m``.

    Each leg has ``kind`` (put/call), ``side`` (long/short), ``strike``,
    ``contracts`` and ``multiplier``. P&L is the change of intrinsic value
    ``sum sign * contracts * multiplier * (payoff(S0 (1 + m)) - payoff(S0))``
    (time value ignored: an estimate) minus ``premium``.
    """
    s0 = float(index_level)
    if not math.isfinite(s0) or s0 <= 0:
        raise ValidationError.for_field("hedge.index_level", f"must be positive, got {index_level!r}")
    parsed: list[tuple[float, bool, float, float]] = []
    for i, leg in enumerate(legs):
        try:
            kind = str(leg["kind"]).lower()
            side = str(leg.get("side", "long")).lower()
            k = float(leg["strike"])
            n = float(leg["contracts"])
            mult = float(leg.get("multiplier", 100.0))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValidationError.for_field(f"hedge.legs.{i}", f"needs kind, strike, contracts: {exc}") from exc
        if kind not in ("put", "call") or side not in ("long", "short"):
            raise ValidationError.for_field(f"hedge.legs.{i}", f"unknown kind/side {kind!r}/{side!r}")
        if not (k > 0 and n >= 0 and mult > 0):
            raise ValidationError.for_field(f"hedge.legs.{i}", "strike and multiplier must be positive, contracts >= 0")
        parsed.append(((1.0 if side == "long" else -1.0) * n * mult, kind == "put", k, 0.0))
    prem = float(premium)

    def intrinsic(level: float) -> float:
        return sum(q * (max(k - level, 0.0) if put else max(level - k, 0.0)) for q, put, k, _ in parsed)

    base = intrinsic(s0)

    def payoff(m: float) -> float:
        return intrinsic(s0 * (1.0 + float(m))) - base - prem

    return payoff


def _f(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _date(x: Any) -> str | None:
    if x is None:
        return None
    if isinstance(x, (pd.Timestamp, dt.datetime)):
        return x.date().isoformat()
    if isinstance(x, dt.date):
        return x.isoformat()
    return str(x)


def _as_timestamp(field: str, value: Any) -> pd.Timestamp | None:
    """``value`` as a timestamp, or a ValidationError naming ``field`` (``None`` passes through)."""
    if value is None:
        return None
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ValidationError.for_field(field, f"must be a date YYYY-MM-DD, got {value!r}") from exc
    if ts is pd.NaT:
        raise ValidationError.for_field(field, f"must be a date YYYY-MM-DD, got {value!r}")
    return ts


def _skip(reason: str, message: str, quality_flag: str = "failed") -> dict[str, Any]:
    return {"available": False, "skip_reason": reason, "quality_flag": quality_flag, "message": message}


@dataclass(frozen=True)
class _History:
    """Daily simple returns of the symbols needed by one report."""

    returns: pd.DataFrame  # (dates, symbols), NaN where unobserved
    provenance: dict[str, Any]
    #: what is derived from ``returns`` alone (column subsets, read-only under copy-on-write;
    #: the market's first and last dates), kept for the next report
    memo: dict[Any, Any] = field(default_factory=dict)

    def select(self, cols: list[str]) -> pd.DataFrame:
        key = ("columns", tuple(cols))
        frame = self.memo.get(key)
        if frame is None:
            frame = self.memo[key] = self.returns[cols]
        return frame

    def market_span(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        span = self.memo.get("market_span")
        if span is None:
            m = self.returns[MARKET_SYMBOL].dropna()
            span = self.memo["market_span"] = (m.index[0], m.index[-1])
        return span


# ------------------------------------------------------------------ service
class RiskMetricsService:
    """Risk report of a portfolio with provenance, degrading to skip payloads.

    Parameters
    ----------
    ctx : AppContext
    level : float
        VaR/ES confidence level.
    lookback_days : int
        Trading days in the default window (ending at ``end`` or the last date).
    beta_cap : float or None
        Same cap for single-factor and multivariate market betas.
    default_beta : float
        Beta assumed for a position without history or provided beta (an estimate).
    min_observations : int
        Fewer aligned days flag a regression ``short_window``.
    rolling_window : int
        Window of the rolling measures.
    remedy : {"ridge", "orthogonal"} or None
        Remedy for a multicollinear multivariate fit before falling back.
    """

    def __init__(
        self,
        ctx: AppContext,
        *,
        level: float = 0.95,
        lookback_days: int = 756,
        beta_cap: float | None = 3.0,
        default_beta: float = 1.0,
        min_observations: int = R.DEFAULT_MIN_OBSERVATIONS,
        rolling_window: int = 63,
        remedy: str | None = None,
    ) -> None:
        self.ctx = ctx
        self.level = float(level)
        self.lookback_days = int(lookback_days)
        self.beta_cap = beta_cap
        self.default_beta = float(default_beta)
        self.min_observations = int(min_observations)
        self.rolling_window = int(rolling_window)
        self.remedy = remedy
        self._history_cache: dict[tuple[str, ...], _History] = {}
        self._benchmarks: dict[str, dict[str, Any]] = {}

    # -------------------------------------------------------------- data
    def _known_symbols(self) -> set[str]:
        return set(self.ctx.market_data().symbols())

    def _history(self, symbols: tuple[str, ...]) -> _History:
        cached = self._history_cache.get(symbols)
        if cached is not None:
            return cached
        prices = self.ctx.market_data().price_history(list(symbols))
        rets = prices / prices.shift(1) - 1.0
        rets = rets.iloc[1:].copy()
        rets.attrs = {}  # provenance kept aside: pandas deep-copies attrs on every operation
        hist = _History(rets, dict(prices.attrs.get("provenance", {})))
        self._history_cache[symbols] = hist
        return hist

    def _benchmark(self, name: str) -> dict[str, Any]:
        if name not in self._benchmarks:
            self._benchmarks[name] = load_sector_benchmark(name)
        return self._benchmarks[name]

    def _window(
        self, hist: _History, start: Any, end: Any
    ) -> tuple[pd.DataFrame, dict[str, Any]]:
        rets = hist.returns
        first, last = hist.market_span()
        req_start = _as_timestamp("start", start)
        req_end = _as_timestamp("end", end)
        if req_start is not None and req_end is not None and req_start >= req_end:
            raise ValidationError.for_field("start", f"must be before end ({req_start.date()} >= {req_end.date()})")
        if req_end is not None and req_end < first:
            raise ValidationError.for_field("end", f"is before the first market data ({first.date()})")
        if req_start is not None and req_start > last:
            raise ValidationError.for_field("start", f"is after the last market data ({last.date()})")
        hi = min(req_end, last) if req_end is not None else last
        if req_start is not None:
            lo = max(req_start, first)
            win = rets.loc[(rets.index >= lo) & (rets.index <= hi)]
        else:
            upto = rets.loc[rets.index <= hi]
            win = upto.iloc[-self.lookback_days :]
        info = {
            "start": _date(win.index[0]) if len(win) else None,
            "end": _date(win.index[-1]) if len(win) else None,
            "requested_start": _date(req_start),
            "requested_end": _date(req_end),
            "trading_days": int(len(win)),
            "default_lookback_days": None if req_start is not None else self.lookback_days,
            "clipped_to_data": bool(
                (req_end is not None and req_end > last) or (req_start is not None and req_start < first)
            ),
        }
        return win, info

    # -------------------------------------------------------------- report
    def report(
        self,
        portfolio: Portfolio | str | Path,
        *,
        start: Any = None,
        end: Any = None,
        benchmark: str = "SP500",
        persist: bool = False,
        hedge_payoff: Callable[[float], float] | str | None = "active",
        factor_shocks: Mapping[str, Mapping[str, float]] | None = None,
        include_correlation: bool = True,
    ) -> dict[str, Any]:
        """Everything about a portfolio's risk in one JSON-ready dictionary.

        Parameters
        ----------
        portfolio : Portfolio, or a portfolio file path / stored name
        start, end : date-like, optional
            Return window; default the last ``lookback_days`` trading days.
        benchmark : str
            Sector benchmark map (``"SP500"``).
        persist : bool
            Store betas in ``factor_exposures`` and a snapshot with sector and
            concentration columns (stored portfolios only; noted otherwise).
        hedge_payoff : callable, "active" or None
            ``market_return -> hedge P&L`` (currency) for the stress tests;
            ``"active"`` (default) uses the legs of the portfolio's active or
            partially bound insurance policies, when it has any; ``None`` shows
            the stresses without a hedge only.
        factor_shocks : mapping, optional
            Scenario -> {factor: shock}; default :data:`DEFAULT_FACTOR_SHOCKS`.
        include_correlation : bool
            Include the full correlation matrix.
        """
        t0 = time.perf_counter()
        pf = portfolio if isinstance(portfolio, Portfolio) else resolve_portfolio(self.ctx, portfolio)
        bench = self._benchmark(benchmark)
        valuation = value_portfolio(self.ctx, pf)
        notes: list[str] = []
        estimates: list[str] = []

        known = self._known_symbols()
        values = {p.symbol: p.value for p in valuation.positions}
        sectors = {p.symbol: p.sector for p in valuation.positions}
        kinds = {p.symbol: p.asset_type for p in valuation.positions}
        provided = {p.symbol: p.beta for p in valuation.positions if p.beta is not None}
        public = [
            s for s in values
            if kinds[s] not in _NON_PUBLIC_TYPES and kinds[s] != "cash" and s in known and s not in provided
        ]
        cash = [s for s in values if kinds[s] == "cash"]
        etfs = [e for e in FACTOR_ETFS.values() if e in known]
        needed = tuple(sorted(set(public) | {MARKET_SYMBOL} | set(etfs)))
        hist = self._history(needed)
        win, window_info = self._window(hist, start, end)

        # ---------------------------------------------------------- betas
        # the window is one date-aligned frame: work on its array (regressions align by
        # position and drop NaN rows; pandas column access per asset is the slow part)
        col = {c: i for i, c in enumerate(win.columns)}
        A = win.to_numpy(dtype=np.float64)
        m_arr = A[:, col[MARKET_SYMBOL]]
        f_arr: dict[str, np.ndarray] | None = None
        if etfs:
            f_arr = {"market": m_arr}
            for fname, etf in FACTOR_ETFS.items():
                if etf in col:
                    f_arr[fname] = A[:, col[etf]] - m_arr  # long-short: ETF minus market
        missing = {s: int(np.isnan(A[:, col[s]]).sum()) for s in public}
        # one call for every public position: the factor set is the same for all of them, so
        # its VIF, condition number and normal matrix are computed once per set of complete rows
        public_betas = R.hybrid_betas(
            {s: A[:, col[s]] for s in public}, m_arr, f_arr, cap=self.beta_cap, default_beta=self.default_beta,
            remedy=self.remedy,  # type: ignore[arg-type]
            min_observations=self.min_observations,
        )
        pos_betas: dict[str, R.HybridBetaResult] = {}
        for s in values:
            if s in cash:
                pos_betas[s] = R.HybridBetaResult(0.0, "provided", 0, float("nan"), "ok", "cash has no market exposure")
            elif s in provided:
                pos_betas[s] = R.hybrid_beta(None, None, provided_beta=provided[s])
            elif s in public:
                pos_betas[s] = public_betas[s]
            else:
                pos_betas[s] = R.HybridBetaResult(
                    self.default_beta, "default", 0, float("nan"), "failed",
                    f"{kinds[s]} position without price history or provided beta",
                    warnings=(f"default beta {self.default_beta:g} assumed (estimate)",),
                )
        for s, b in pos_betas.items():
            if b.beta_source == "default":
                estimates.append(f"beta of {s} is the default {b.beta:g} (assumption)")
        pbeta = R.portfolio_beta(values, pos_betas, public=public)
        beta_section: dict[str, Any] = {
            "portfolio": pbeta.to_dict(),
            # the number alone (None with a skip payload), for consumers that only need it
            "portfolio_beta": pbeta.beta if isinstance(pbeta, R.PortfolioBeta) else None,
            "positions": {s: b.to_dict() for s, b in pos_betas.items()},
            "cap": self.beta_cap,
        }
        net = valuation.net_value
        factor_betas = self._portfolio_factor_betas(values, pos_betas, net)

        # ---------------------------------------------------------- measures
        pub_values = np.array([values[s] for s in public], dtype=float)
        pub_net = float(pub_values.sum()) if public else 0.0
        measures: dict[str, Any]
        contributions: dict[str, Any]
        correlation: Any = None
        div_ratio: float | None = None
        if public:
            sub = A[:, [col[s] for s in public]]
            keep = ~np.isnan(sub).any(axis=1)
            rows = pd.DataFrame(sub[keep], index=win.index[keep], columns=public)
        else:
            rows = win.iloc[:0]
        if not public:
            measures = _skip("no_public_positions", "no position has a public price history")
            contributions = dict(measures)
        elif pub_net <= 0:
            measures = _skip("non_positive_net_value", "the public sleeve's net value is not positive")
            contributions = dict(measures)
        elif len(rows) < max(3, self.rolling_window // 3):
            measures = _skip("insufficient_history", f"only {len(rows)} complete days in the window", "short_window")
            contributions = dict(measures)
        else:
            w = pub_values / pub_net
            X = rows.to_numpy(dtype=np.float64)
            rp = pd.Series(X @ w, index=rows.index)
            measures = self._measures(rp)
            vc = R.vol_contributions(w, rows)
            ec = R.es_contributions(w, rows, self.level, "historical")
            contributions = {"volatility": vc.to_dict(), "expected_shortfall": ec.to_dict(), "weights": dict(zip(public, w.tolist(), strict=True))}
            if len(public) > 1:
                div_ratio = R.diversification_ratio(w, rows)
                if include_correlation:
                    # DataFrame.round(6).to_dict() ({column: {row: value}}), built from the array
                    corr = np.round(R.correlation_matrix(X), 6).tolist()
                    correlation = {c: {r: corr[i][j] for i, r in enumerate(public)} for j, c in enumerate(public)}
        # ---------------------------------------------------------- sectors / concentration
        sect = R.sector_exposure(values, sectors, bench["weights"])
        conc = R.concentration(values)
        sectors_out = sect.to_dict()
        sectors_out["benchmark_name"] = bench.get("name")
        sectors_out["benchmark_as_of"] = bench.get("as_of")
        sectors_out["benchmark_source"] = bench.get("source")

        # ---------------------------------------------------------- stress
        hedge_info: dict[str, Any] | None = None
        if hedge_payoff == "active":
            hedge_payoff, hedge_info = self._active_hedge(pf)
        elif isinstance(hedge_payoff, str):
            raise ValidationError.for_field("hedge_payoff", f"must be a callable, 'active' or None, got {hedge_payoff!r}")
        elif hedge_payoff is not None:
            hedge_info = {"source": "caller"}
        stress = self._stress(values, public, hist, pbeta, factor_betas, net, hedge_payoff, factor_shocks, pos_betas)
        if isinstance(stress, dict):
            stress["hedge"] = hedge_info

        covered = sum(abs(values[s]) for s in public) / valuation.gross_value if valuation.gross_value else 0.0
        if covered < 1.0:
            notes.append(f"return-based measures cover the public sleeve only ({covered:.1%} of gross exposure)")
        if f_arr is None or all(np.isnan(v).all() for k, v in f_arr.items() if k != "market"):
            notes.append("factor ETFs have no data in the window: multivariate regressions could not run")
        paths: dict[str, int] = {}
        for b in pos_betas.values():
            paths[b.beta_source] = paths.get(b.beta_source, 0) + 1
        out: dict[str, Any] = {
            "portfolio": {"name": pf.name, "id": pf.id, "currency": valuation.currency,
                          "net_value": net, "gross_value": valuation.gross_value,
                          "positions": [p.to_dict() for p in valuation.positions]},
            "measures": measures,
            "beta": beta_section,
            "factors": {"portfolio_betas": factor_betas,
                        "construction": "market = S&P 500 return; style = iShares MSCI USA factor ETF minus S&P 500 (long-short)",
                        "etfs": dict(FACTOR_ETFS)},
            "sectors": sectors_out,
            "concentration": conc.to_dict(),
            "correlation": correlation,
            "diversification_ratio": div_ratio,
            "contributions": contributions,
            "stress": stress,
            "metadata": {
                "window": window_info,
                "observations": int(len(rows)),
                "dropped_incomplete_days": int(len(win) - len(rows)) if public else 0,
                "missing_data": missing,
                "public_positions": public,
                "non_public_positions": [s for s in values if s not in public],
                "coverage": covered,
                "beta_paths": paths,
                "beta_source": getattr(pbeta, "beta_source", None),
                "level": self.level,
                "periods_per_year": 252,
                "data_sources": {s: hist.provenance.get(s) for s in needed},
                "valuation_sources": valuation.sources,
                "estimates": estimates,
                "notes": notes,
                "definitions": {
                    "var_es": "one-day losses as positive fractions; historical VaR interpolates like np.percentile; "
                              "historical ES averages the floor((T-1)(1-level))+1 worst days",
                    "drawdown": "compounded wealth, starting value counts as a peak; negative fraction",
                    "weights": "today's values held constant over the window (public sleeve, net value)",
                },
            },
        }
        snapshot_info = self._snapshot_context(pf)
        if persist:
            snapshot_info["persisted"] = self._persist(pf, valuation, out, pos_betas, factor_betas, sect, conc)
        out["metadata"]["snapshot"] = snapshot_info
        latency = (time.perf_counter() - t0) * 1000.0
        out["metadata"]["latency_ms"] = round(latency, 3)
        log.info(
            "risk report %s: %d positions, %d days, beta %s (%s), %.1f ms",
            pf.name, len(values), len(rows), _f(getattr(pbeta, "beta", None)),
            getattr(pbeta, "beta_source", getattr(pbeta, "skip_reason", "")), latency,
        )
        return out

    # -------------------------------------------------------------- parts
    def _measures(self, rp_series: pd.Series) -> dict[str, Any]:
        lv = self.level
        dd = R.drawdown_details(rp_series)
        rp = rp_series.to_numpy(dtype=np.float64)
        m: dict[str, Any] = {
            "available": True,
            "annual_volatility": R.annual_volatility(rp),
            "max_drawdown": dd.max_drawdown,
            "drawdown": {**dd.to_dict(), "peak": _date(dd.peak), "trough": _date(dd.trough), "recovery": _date(dd.recovery)},
            "current_drawdown": dd.current_drawdown,
            "value_at_risk": {meth: R.value_at_risk(rp, lv, meth) for meth in ("historical", "gaussian", "cornish_fisher")},
            "expected_shortfall": {meth: R.expected_shortfall(rp, lv, meth) for meth in ("historical", "gaussian", "cornish_fisher")},
            "sharpe": R.sharpe_ratio(rp),
            "sortino": R.sortino_ratio(rp),
            "downside_deviation": R.downside_deviation(rp),
            "level": lv,
        }
        wnd = self.rolling_window
        if len(rp) >= wnd:
            m["rolling"] = {
                "window": wnd,
                "as_of": _date(rp_series.index[-1]),
                "volatility": float(R.rolling_volatility(rp[-wnd:], wnd)[-1]),
                "value_at_risk": float(R.rolling_value_at_risk(rp[-wnd:], wnd, lv)[-1]),
                "expected_shortfall": float(R.rolling_expected_shortfall(rp[-wnd:], wnd, lv)[-1]),
                "max_drawdown": float(R.rolling_max_drawdown(rp[-wnd:], wnd)[-1]),
                "sharpe": float(R.rolling_sharpe(rp[-wnd:], wnd)[-1]),
                "sortino": float(R.rolling_sortino(rp[-wnd:], wnd)[-1]),
                "downside_deviation": float(R.rolling_downside_deviation(rp[-wnd:], wnd)[-1]),
            }
        else:
            m["rolling"] = _skip("short_window", f"fewer than {wnd} days", "short_window")
        return m

    @staticmethod
    def _portfolio_factor_betas(
        values: Mapping[str, float], betas: Mapping[str, R.HybridBetaResult], net: float
    ) -> dict[str, float] | None:
        if not net:
            return None
        out: dict[str, float] = {"market": 0.0}
        for s, v in values.items():
            b = betas[s]
            w = v / net
            mv = b.multivariate
            if b.beta_source == "multivariate" and mv is not None:
                for k, x in mv.betas.items():
                    out[k] = out.get(k, 0.0) + w * x
            else:
                out["market"] += w * b.beta
        for k in ["market", *FACTOR_ETFS]:
            out.setdefault(k, 0.0)
        return out

    def _stress(
        self,
        values: Mapping[str, float],
        public: list[str],
        hist: _History,
        pbeta: R.PortfolioBeta | R.BetaSkip,
        factor_betas: dict[str, float] | None,
        net: float,
        hedge_payoff: Callable[[float], float] | None,
        factor_shocks: Mapping[str, Mapping[str, float]] | None,
        pos_betas: Mapping[str, R.HybridBetaResult],
    ) -> dict[str, Any]:
        if net <= 0:
            return _skip("non_positive_net_value", "stress tests need a positive net value")
        weights = {s: v / net for s, v in values.items()}
        rets = hist.returns
        hist_cols = [s for s in public if s in rets.columns]
        historical = R.historical_stress(
            weights, hist.select(hist_cols), rets[MARKET_SYMBOL], portfolio_value=net,
            betas={s: b.beta for s, b in pos_betas.items()}, hedge_payoff=hedge_payoff,
        )
        out: dict[str, Any] = {
            "hedged": hedge_payoff is not None,
            "historical": [r.to_dict() for r in historical],
        }
        if isinstance(pbeta, R.PortfolioBeta):
            # the portfolio beta is per unit of net exposure of positions with a beta
            out["market_shocks"] = [r.to_dict() for r in R.market_shock_stress(
                pbeta.dollar_beta / net, portfolio_value=net, hedge_payoff=hedge_payoff)]
        else:
            out["market_shocks"] = _skip(pbeta.skip_reason, pbeta.message)
        if factor_betas is not None:
            shocks = factor_shocks if factor_shocks is not None else DEFAULT_FACTOR_SHOCKS
            out["factor_shocks"] = [r.to_dict() for r in R.factor_shock_stress(
                factor_betas, shocks, portfolio_value=net, hedge_payoff=hedge_payoff)]
            out["factor_shocks_note"] = "hypothetical shocks through estimated factor loadings"
        return out

    def _active_hedge(self, pf: Portfolio) -> tuple[Callable[[float], float] | None, dict[str, Any] | None]:
        """Payoff of the option legs of the portfolio's active (or partially bound) policies."""
        if pf.id is None:
            return None, None
        from floorguard.persistence.orm import InsurancePolicy

        try:
            with self.ctx.session() as session:
                rows = list(session.scalars(sa.select(InsurancePolicy).where(
                    InsurancePolicy.portfolio_id == pf.id,
                    InsurancePolicy.status.in_(("active", "partially_bound")),
                )))
                policies = []
                for r in rows:
                    legs = list((r.draft or {}).get("legs") or [])
                    if not legs:
                        legs = [{"kind": "put", "side": "long", "strike": float(r.put_strike),
                                 "contracts": r.contracts_put, "multiplier": 100.0}]
                        if r.call_strike is not None and r.contracts_call:
                            legs.append({"kind": "call", "side": "short", "strike": float(r.call_strike),
                                         "contracts": r.contracts_call, "multiplier": 100.0})
                    policies.append({"policy_id": r.id, "status": r.status, "strategy": r.strategy,
                                     "index_symbol": r.index_symbol, "legs": legs})
        except (ConfigurationError, sa.exc.SQLAlchemyError) as exc:
            return None, {"source": "active_policies", "available": False,
                          "reason": f"policies unavailable: {str(exc).splitlines()[0]}"}
        if not policies:
            return None, None
        parts = []
        levels: dict[str, dict[str, Any]] = {}
        for pol in policies:
            by_symbol: dict[str, list[dict[str, Any]]] = {}
            for leg in pol["legs"]:
                by_symbol.setdefault(str(leg.get("symbol") or pol["index_symbol"]), []).append(leg)
            for sym, legs in by_symbol.items():
                if sym not in levels:
                    levels[sym] = self._underlying_level(sym)
                parts.append(option_legs_payoff(legs, levels[sym]["level"]))

        def payoff(m: float) -> float:
            return float(sum(f(m) for f in parts))

        info = {
            "source": "active_policies",
            "policies": [{k: v for k, v in p.items() if k != "legs"} | {"legs": len(p["legs"])} for p in policies],
            "definition": "change of intrinsic value of the policy legs from today's index level to the "
                          "scenario's (time value ignored: an estimate); the index moves with the market return",
            "underlying_levels": levels,
        }
        return payoff, info

    def _underlying_level(self, symbol: str) -> dict[str, Any]:
        """Today's level of an option underlying, with where it came from.

        Market data may not carry the option underlying itself (XSP, or SPY in
        the bundled data); its level is then the contract specification's
        index level times ``index_ratio`` (exact for XSP = SPX / 10, an
        estimate for SPY).
        """
        from floorguard.domain.contracts import get_contract_spec

        md = self.ctx.market_data()
        try:
            point = md.last_price(symbol)
            return {"level": float(point.price), "source": point.source, "as_of": _date(point.as_of)}
        except (SymbolNotFoundError, DataError) as first:
            try:
                spec = get_contract_spec(symbol)
            except NotFoundError:
                raise first from None
            if spec.underlying_index.upper() == symbol.upper():
                raise
            point = md.last_price(spec.underlying_index)
            return {
                "level": float(point.price) * float(spec.index_ratio),
                "source": f"{point.source}: {spec.underlying_index} x {spec.index_ratio:g}",
                "as_of": _date(point.as_of),
                "estimate": not bool(spec.index_ratio_exact),
            }

    # -------------------------------------------------------------- snapshots & persistence
    def _snapshot_context(self, pf: Portfolio) -> dict[str, Any]:
        if pf.id is None:
            return {"available": False, "reason": "portfolio read from a file: not stored, no snapshots"}
        try:
            with self.ctx.session() as session:
                snap = repo.latest_snapshot(session, portfolio_id=pf.id)
                if snap is None:
                    return {"available": False, "reason": "no snapshot stored yet"}
                return {"available": True, "as_of": _date(snap.as_of), "previous_metrics": dict(snap.metrics or {})}
        except (ConfigurationError, sa.exc.SQLAlchemyError) as exc:
            return {"available": False, "reason": f"snapshots unavailable: {str(exc).splitlines()[0]}"}

    def _persist(
        self,
        pf: Portfolio,
        valuation: PortfolioValuation,
        report: dict[str, Any],
        pos_betas: Mapping[str, R.HybridBetaResult],
        factor_betas: dict[str, float] | None,
        sect: R.SectorExposure,
        conc: R.Concentration,
    ) -> dict[str, Any]:
        if pf.id is None:
            return {"stored": False, "reason": "only stored portfolios are persisted"}
        today = dt.date.today()
        as_of = dt.datetime.now(dt.UTC)
        exposures: list[dict[str, Any]] = []
        for s, b in pos_betas.items():
            exposures.append({
                "symbol": s, "factor": "market_beta", "exposure_value": b.beta, "source": b.beta_source,
                "metadata": {"observations": b.observations, "r_squared": _f(b.r_squared),
                             "quality_flag": b.quality_flag, "fallback_reason": b.fallback_reason},
            })
            if b.beta_source == "multivariate" and b.multivariate is not None:
                for k, x in b.multivariate.betas.items():
                    if k != "market":
                        exposures.append({"symbol": s, "factor": k, "exposure_value": x, "source": "multivariate",
                                          "metadata": {"vif": _f(b.multivariate.vif.get(k)),
                                                       "method": b.multivariate.method}})
        pb = report["beta"]["portfolio"]
        if pb.get("available"):
            exposures.append({"symbol": None, "factor": "market_beta", "exposure_value": pb["beta"],
                              "source": pb["beta_source"], "metadata": {"sources": pb["sources"]}})
        if factor_betas:
            for k, x in factor_betas.items():
                if k != "market":
                    exposures.append({"symbol": None, "factor": k, "exposure_value": x, "source": "multivariate",
                                      "metadata": {"aggregation": "net-value-weighted position loadings"}})
        m = report["measures"]
        metrics = {
            "annual_volatility": m.get("annual_volatility"),
            "max_drawdown": m.get("max_drawdown"),
            "value_at_risk": (m.get("value_at_risk") or {}).get("historical"),
            "expected_shortfall": (m.get("expected_shortfall") or {}).get("historical"),
            "level": self.level,
            "beta": pb.get("beta"),
            "beta_source": pb.get("beta_source"),
            "window": report["metadata"]["window"],
        }
        metrics = json.loads(json.dumps(metrics, default=str))
        snap_table = sa.table(
            "portfolio_snapshots",
            sa.column("id"),
            sa.column("sector_exposure", JSONType),
            sa.column("hhi"),
            sa.column("effective_positions"),
            sa.column("top_3_concentration"),
            sa.column("top_10_concentration"),
        )
        try:
            with self.ctx.session() as session:
                cols = {c["name"] for c in sa.inspect(session.connection()).get_columns("portfolio_snapshots")}
                rows = repo.save_factor_exposures(
                    session, portfolio_id=pf.id, exposures=exposures, calculation_date=today, source="risk"
                )
                snap = repo.save_snapshot(
                    session, portfolio_id=pf.id, as_of=as_of, total_value=valuation.net_value,
                    positions=[p.to_dict() for p in valuation.positions], metrics=metrics, source="risk",
                )
                sector_cols = {"sector_exposure", "hhi", "effective_positions", "top_3_concentration", "top_10_concentration"}
                stored_sectors = sector_cols <= cols
                if stored_sectors:
                    session.execute(
                        sa.update(snap_table).where(snap_table.c.id == snap.id).values(
                            sector_exposure=json.loads(json.dumps(sect.to_dict())),
                            hhi=round(conc.hhi, 4),
                            effective_positions=round(conc.effective_positions, 4),
                            top_3_concentration=round(conc.top_3, 4),
                            top_10_concentration=round(conc.top_10, 4),
                        )
                    )
                return {
                    "stored": True, "snapshot_id": snap.id, "factor_exposures": len(rows),
                    "sector_columns": stored_sectors,
                    **({} if stored_sectors else {"reason": "database not upgraded to 0200_risk_sector_metrics"}),
                }
        except (ConfigurationError, sa.exc.SQLAlchemyError) as exc:
            return {"stored": False, "reason": f"database unavailable: {str(exc).splitlines()[0]}"}

    # -------------------------------------------------------------- beta comparison
    def betas(self, portfolio: Portfolio | str | Path, *, start: Any = None, end: Any = None) -> dict[str, Any]:
        """Per position: multivariate and single-factor betas, VIF, condition number, path chosen."""
        t0 = time.perf_counter()
        pf = portfolio if isinstance(portfolio, Portfolio) else resolve_portfolio(self.ctx, portfolio)
        known = self._known_symbols()
        etfs = [e for e in FACTOR_ETFS.values() if e in known]
        public = [p.symbol for p in pf.positions
                  if p.asset_type not in _NON_PUBLIC_TYPES and p.asset_type != "cash" and p.symbol in known]
        hist = self._history(tuple(sorted(set(public) | {MARKET_SYMBOL} | set(etfs))))
        win, info = self._window(hist, start, end)
        market = win[MARKET_SYMBOL]
        factors = etf_factor_returns(market, win[etfs]) if etfs else None
        rows = []
        for p in pf.positions:
            if p.asset_type == "cash":  # as in the report: cash has no market exposure
                rows.append({"symbol": p.symbol, "path": "provided", "beta": 0.0,
                             "reason": "cash has no market exposure"})
                continue
            if p.symbol not in public:
                rows.append({"symbol": p.symbol, "path": "provided" if p.beta is not None else "default",
                             "beta": p.beta if p.beta is not None else self.default_beta,
                             "reason": f"{p.asset_type} position without public history"})
                continue
            rows.append(compare_betas(win[p.symbol], market, factors, cap=self.beta_cap,
                                      provided_beta=p.beta, default_beta=self.default_beta,
                                      min_observations=self.min_observations, symbol=p.symbol,
                                      remedy=self.remedy))
        srcs = [r["path"] for r in rows]
        return {
            "portfolio": pf.name,
            "window": info,
            "positions": rows,
            "summary": {k: srcs.count(k) for k in sorted(set(srcs))},
            "latency_ms": round((time.perf_counter() - t0) * 1000.0, 3),
        }


def compare_betas(
    asset: pd.Series,
    market: pd.Series,
    factors: pd.DataFrame | None,
    *,
    cap: float | None = None,
    provided_beta: float | None = None,
    default_beta: float = 1.0,
    min_observations: int = R.DEFAULT_MIN_OBSERVATIONS,
    symbol: str = "",
    remedy: str | None = None,
) -> dict[str, Any]:
    """Single-factor vs multivariate beta of one asset and the hybrid's choice."""
    row: dict[str, Any] = {"symbol": symbol}
    try:
        sf = R.market_beta(asset, market, cap, min_observations=min_observations)
        row["single_factor"] = {"beta": sf.beta, "r_squared": sf.r_squared, "std_error": sf.std_error,
                                "observations": sf.observations, "warnings": list(sf.warnings)}
    except ValidationError as exc:
        row["single_factor"] = _skip("insufficient_history", str(exc))
    if factors is not None:
        mv = R.factor_regression(asset, factors, cap=cap, min_observations=min_observations)
        row["multivariate"] = {"betas": mv.betas, "r_squared": mv.r_squared, "observations": mv.observations,
                               "vif": mv.vif, "condition_number": mv.condition_number,
                               "quality_flag": mv.quality_flag, "warnings": list(mv.warnings)}
    else:
        row["multivariate"] = _skip("no_factors", "no factor returns available")
    hb = R.hybrid_beta(asset, market, factors, cap=cap, provided_beta=provided_beta, default_beta=default_beta,
                       min_observations=min_observations, remedy=remedy)  # type: ignore[arg-type]
    row.update({"path": hb.beta_source, "beta": hb.beta, "quality_flag": hb.quality_flag,
                "fallback_reason": hb.fallback_reason})
    return row


def run_risk_batch(
    ctx: AppContext,
    portfolios: Iterable[Portfolio | str],
    *,
    persist: bool = True,
    service: RiskMetricsService | None = None,
    **report_kwargs: Any,
) -> list[dict[str, Any]]:
    """Run the risk report for every portfolio (a plain function for any executor).

    Each item is ``{"portfolio", "ok", "report" | "error", "latency_ms"}``; a
    failing portfolio is reported, it does not stop the others.
    """
    svc = service or RiskMetricsService(ctx)
    results: list[dict[str, Any]] = []
    for p in portfolios:
        name = p.name if isinstance(p, Portfolio) else str(p)
        t0 = time.perf_counter()
        try:
            rep = svc.report(p, persist=persist, **report_kwargs)
            results.append({"portfolio": name, "ok": True, "report": rep,
                            "latency_ms": round((time.perf_counter() - t0) * 1000.0, 3)})
        except (FloorguardError, SymbolNotFoundError, DataError) as exc:
            log.warning("risk batch: %s failed: %s", name, exc)
            results.append({"portfolio": name, "ok": False, "error": str(exc),
                            "latency_ms": round((time.perf_counter() - t0) * 1000.0, 3)})
    return results
