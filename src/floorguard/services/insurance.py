"""Insurance use cases: quote a policy draft, settle or mark it, multi-index hedge.

``quote_policy(ctx, portfolio, request)`` runs the whole engine:

1. value the portfolio with price provenance (user price, market data, the
   configured fallback sources; missing prices refuse the quote; private
   assets and cash are left out of the hedge and reported);
2. estimate the portfolio beta against the hedge index (per position: the
   user's beta, else a regression on the market-data history, else 1.0
   flagged; exposure-weighted with shorts signed; implausible betas shrunk);
3. price source: a real chain file (CBOE CSV) or, without one, a labelled
   synthetic chain from the contract specification and a model surface;
4. choose the instrument (SPX, XSP or SPY: least granularity error) unless
   fixed, the listed expiry covering the term, the hedge notional and the
   number of contracts;
5. map the floor to a strike with the CAPM (Hull 17.4), pick the listed,
   liquid strike that guarantees it, and build the strategy;
6. return a :class:`~floorguard.domain.policy.PolicyDraft`.

``settle_draft`` and ``mark_draft`` are thin wrappers over
:mod:`floorguard.domain.settlement` for the settlement job and the API.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from floorguard.domain._plain import NotPlain, copy_plain
from floorguard.domain.hedging import (
    InstrumentCandidate,
    LiquidityLimits,
    choose_instrument,
    hedge_notional,
    size_contracts,
)
from floorguard.domain.multi_index import MultiIndexHedge, multi_index_hedge
from floorguard.domain.policy import STRATEGIES, PolicyDraft, PricingSource
from floorguard.domain.portfolio import Portfolio, Position
from floorguard.domain.settlement import SettlementResult, SettlementTerms, settle_policy
from floorguard.domain.strategies import (
    MarketInputs,
    QuoteRows,
    StrategyParams,
    build_strategy,
    quote_rows,
    select_expiry,
)
from floorguard.domain.valuation import hedge_portfolio_beta, value_positions
from floorguard.exceptions import (
    DataError,
    QuoteRefusedError,
    SymbolNotFoundError,
    ValidationError,
)
from floorguard.services.context import AppContext

__all__ = [
    "HEDGE_INSTRUMENTS",
    "QuoteRequest",
    "chain_quotes_for_draft",
    "compare_strategies",
    "contracts_path_for",
    "load_draft",
    "mark_draft",
    "multi_index_for_portfolio",
    "quote_policy",
    "settle_draft",
    "unwind_draft",
]

#: Option instruments on the same index, by hedge index.
HEDGE_INSTRUMENTS: dict[str, tuple[str, ...]] = {"SPX": ("SPX", "XSP", "SPY")}

#: Contract series the synthetic chain lists for an instrument (SPX: the PM-settled SPXW
#: weeklies and dailies, whose expiries match a term far better than the AM monthlies).
SYNTHETIC_SPECS: dict[str, str] = {"SPX": "SPXW"}

#: Covering expiries tried in turn when the first cannot implement the strategy (illiquid).
MAX_EXPIRY_TRIES = 3

#: Style-factor ETFs of the multi-factor beta (bundled 2014-2022).
FACTOR_ETFS: tuple[str, ...] = ("MTUM", "QUAL", "SIZE", "USMV", "VLUE")

#: Trading days of history behind the regression betas.
BETA_LOOKBACK_DAYS = 756


@dataclass(frozen=True)
class QuoteRequest:
    """What the investor asks for.

    Attributes
    ----------
    floor_pct : float
        Floor as a fraction of today's hedged value, in (0, 1).
    term_days : int
        Requested term in calendar days (the policy runs to the first listed
        expiry on or after it).
    strategy : {"protective_put", "collar", "put_spread", "tail_hedge"}
    index : str
        Hedge index (``"SPX"``).
    instrument : str or None
        Fix the option instrument (``"SPX"``, ``"XSP"``, ``"SPY"``); default:
        the best fit (or the chain's underlying when a chain is given).
    chain_path : Path or None
        CBOE delayed-quote CSV; without it a synthetic chain is used (labelled).
    beta : float or None
        Override the portfolio beta (``beta_source="provided"``).
    index_level : float or None
        Level of the hedge index for the synthetic chain (default: last close
        from the market data, flagged when stale).
    rate, dividend_yield, portfolio_dividend_yield : float or None
        Continuously compounded per year; default: implied from the chain
        (put-call parity) where possible, else the settings.
    multiplier : float or None
        Override the contract multiplier (non-standard contracts; flagged).
    cap : float or None
        Collar upside cap (0.05 = +5 % on the portfolio); None = zero-cost collar.
    coverage : float
        Share of the exposure to hedge, (0, 1] (partial coverage below 1).
    notional_mode : {"beta_adjusted", "full"}
        ``beta_adjusted`` (Hull's sizing, value x beta) or ``full`` (the value itself).
    rounding : {"up", "down", "nearest"}
        Contract rounding policy (``up`` never under-hedges).
    lower_floor_pct : float or None
        Put spread's short put level (portfolio fraction; default floor - 0.10).
    tail_budget_pct : float
        Tail hedge premium budget as a fraction of the portfolio.
    vol : float or None
        ATM volatility for the synthetic surface (default: last VIX close, else 0.20).
    as_of : datetime or None
        Quote time for a synthetic chain (default: now, UTC).
    compounding : {"continuous", "simple"}
        Compounding of the CAPM floor mapping (Hull's table uses simple).
    contracts_path : Path or None
        A contracts JSON file extending/overriding the bundled specifications;
        takes precedence over ``Settings.contracts_path`` (the CLI ``--contracts``).
    """

    floor_pct: float
    term_days: int
    strategy: str = "protective_put"
    index: str = "SPX"
    instrument: str | None = None
    chain_path: Path | None = None
    beta: float | None = None
    index_level: float | None = None
    rate: float | None = None
    dividend_yield: float | None = None
    portfolio_dividend_yield: float | None = None
    multiplier: float | None = None
    cap: float | None = None
    coverage: float = 1.0
    notional_mode: Literal["beta_adjusted", "full"] = "beta_adjusted"
    rounding: Literal["up", "down", "nearest"] = "up"
    lower_floor_pct: float | None = None
    tail_budget_pct: float = 0.005
    vol: float | None = None
    as_of: dt.datetime | None = None
    compounding: Literal["continuous", "simple"] = "continuous"
    contracts_path: Path | None = None

    def validate(self) -> None:
        """Raise :class:`ValidationError` naming every bad field."""
        from floorguard.exceptions import FieldError

        errs: list[FieldError] = []

        def bad(name: str, reason: str) -> None:
            errs.append(FieldError(name, reason))

        if not (isinstance(self.floor_pct, (int, float)) and 0.0 < self.floor_pct < 1.0):
            bad("floor_pct", f"must be in (0, 1), got {self.floor_pct!r}")
        if not (isinstance(self.term_days, int) and 1 <= self.term_days <= 3 * 365):
            bad("term_days", f"must be an integer from 1 to 1095, got {self.term_days!r}")
        if self.strategy not in STRATEGIES:
            bad("strategy", f"must be one of {', '.join(STRATEGIES)}, got {self.strategy!r}")
        if self.index.upper() not in HEDGE_INSTRUMENTS:
            bad("index", f"must be one of {', '.join(HEDGE_INSTRUMENTS)}, got {self.index!r}")
        if not (0.0 < self.coverage <= 1.0):
            bad("coverage", f"must be in (0, 1], got {self.coverage!r}")
        for name in ("index_level", "multiplier", "vol"):
            v = getattr(self, name)
            if v is not None and not (math.isfinite(v) and v > 0):
                bad(name, f"must be > 0, got {v!r}")
        for name in ("rate", "dividend_yield", "portfolio_dividend_yield"):
            v = getattr(self, name)
            if v is not None and not (math.isfinite(v) and -0.2 < v < 1.0):
                bad(name, f"must be a per-year rate in (-0.2, 1), got {v!r}")
        if self.beta is not None and not (math.isfinite(self.beta) and 0 < self.beta <= 10):
            bad("beta", f"must be in (0, 10], got {self.beta!r}")
        if self.cap is not None and not (math.isfinite(self.cap) and 0 < self.cap < 2):
            bad("cap", f"must be in (0, 2), got {self.cap!r}")
        if self.cap is not None and self.strategy != "collar":
            bad("cap", "applies to the collar strategy only")
        if not (0 < self.tail_budget_pct < 1):
            bad("tail_budget_pct", f"must be in (0, 1), got {self.tail_budget_pct!r}")
        if self.notional_mode not in ("beta_adjusted", "full"):
            bad("notional_mode", f"must be beta_adjusted or full, got {self.notional_mode!r}")
        if self.rounding not in ("up", "down", "nearest"):
            bad("rounding", f"must be up, down or nearest, got {self.rounding!r}")
        if self.chain_path is not None and not Path(self.chain_path).is_file():
            bad("chain", f"no such file: {self.chain_path}")
        if errs:
            raise ValidationError("; ".join(str(e) for e in errs), errors=errs)


# --------------------------------------------------------------------------- helpers


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def _price_positions(ctx: AppContext, positions: Sequence[Position]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Market prices for positions without a user price: (primary, fallback) maps."""
    from floorguard.marketdata import PricePoint

    market = ctx.market_data()
    primary_name = market.sources[0].name
    primary: dict[str, Any] = {}
    fallback: dict[str, Any] = {}
    for pos in positions:
        if pos.price is not None:
            continue
        if pos.asset_type == "cash":
            primary[pos.symbol] = PricePoint(pos.symbol, 1.0, _utc_now().date(), "cash")
            continue
        try:
            point = _last_price(ctx, pos.symbol)
        except (SymbolNotFoundError, DataError):
            continue  # value_positions lists every missing symbol
        (primary if point.source == primary_name else fallback)[pos.symbol] = point
    return primary, fallback


#: market-data look-ups (last closes, the VIX series) are shared by every quote for this long (seconds)
MARKET_CACHE_SECONDS = 60.0


def _last_price(ctx: AppContext, symbol: str) -> Any:
    """``ctx.market_data().last_price(symbol)``, shared by the quotes of one wall-clock minute.

    Keyed on the configured sources, the symbol and the UTC minute (a live
    source's last close may move; the bundled one never does). Errors are not
    cached: each caller sees them.
    """
    import time

    from floorguard.services._cache import context_cache

    cache = context_cache(ctx, "insurance.last_price", ttl=MARKET_CACHE_SECONDS, size=4096)
    key = (tuple(ctx.settings.market_data_sources), symbol, int(time.time() // 60))
    return cache.get_or_compute(key, lambda: ctx.market_data().last_price(symbol))


class _Same:
    """A cache-key part that is equal only to the very same object (held, so its id stays unique).

    For immutable values that are unhashable (a :class:`ContractSpec` holds
    dicts) but come from a cache themselves, so equal inputs give the same object.
    """

    __slots__ = ("obj",)

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def __hash__(self) -> int:
        return id(self.obj)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.obj is self.obj


#: history-derived betas are shared by every quote on the same inputs for this long (seconds)
BETA_CACHE_SECONDS = 300.0
BETA_CACHE_SIZE = 64


def _regression_betas(
    ctx: AppContext, positions: Sequence[Any], index: str, user_betas: dict[str, float | None],
    as_of: dt.datetime | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Hybrid beta per hedged position against ``index`` on market-data history.

    The regressions on history are the same for every quote of the same
    symbols: they are cached in the context (:mod:`floorguard.services._cache`)
    under the symbols with history, the index, the configured market-data
    sources and the UTC as-of date, for ``BETA_CACHE_SECONDS``.
    """
    from floorguard.core.risk import hybrid_beta

    from floorguard.services._cache import context_cache

    market = ctx.market_data()
    with_history: list[str] = []
    for p in positions:
        if user_betas.get(p.symbol) is not None:
            continue
        try:
            market.source_of(p.symbol)
        except (SymbolNotFoundError, DataError):
            continue
        with_history.append(p.symbol)
    day = (as_of or _utc_now()).astimezone(dt.timezone.utc).date().isoformat()
    key = ("regression_betas", index, tuple(with_history), tuple(ctx.settings.market_data_sources), day)
    cache = context_cache(ctx, "insurance.betas", ttl=BETA_CACHE_SECONDS, size=BETA_CACHE_SIZE)
    history, info = cache.get_or_compute(key, lambda: _history_betas(ctx, with_history, index))
    try:  # the cached dict stays as it was
        info = copy_plain(info)
    except NotPlain:
        info = copy.deepcopy(info)
    out: dict[str, Any] = {}
    empty = np.zeros(0)
    for p in positions:
        ub = user_betas.get(p.symbol)
        if ub is not None:
            out[p.symbol] = hybrid_beta(empty, None, provided_beta=ub)
        elif p.symbol in history:
            out[p.symbol] = history[p.symbol]
        else:
            out[p.symbol] = hybrid_beta(empty, None, default_beta=1.0)
    return out, info


def _history_betas(ctx: AppContext, with_history: list[str], index: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The regression betas of ``with_history`` on ``index`` (uncached; see :func:`_regression_betas`)."""
    from floorguard.core.risk import hybrid_beta

    market = ctx.market_data()
    info: dict[str, Any] = {"index": index, "lookback_days": BETA_LOOKBACK_DAYS, "symbols": list(with_history)}
    returns: pd.DataFrame | None = None
    if with_history:
        try:
            closes = market.price_history([*with_history, index])
        except (SymbolNotFoundError, DataError) as exc:
            raise DataError(f"cannot load history for the betas: {exc}") from exc
        # pandas deep-copies ``attrs`` into every derived frame: take the provenance, then drop them
        provenance = closes.attrs.get("provenance", {})
        closes.attrs = {}
        last = closes[index].last_valid_index()
        closes = closes.loc[:last].tail(BETA_LOOKBACK_DAYS + 1)
        returns = closes.pct_change(fill_method=None).iloc[1:]
        info["window"] = [closes.index[0].date().isoformat(), closes.index[-1].date().isoformat()]
        info["provenance"] = provenance
    factors = _factor_returns(ctx, returns, index) if returns is not None else None
    info["factors"] = None if factors is None else [c for c in factors.columns]
    out: dict[str, Any] = {}
    if returns is not None:
        for sym in with_history:
            pair = returns[[sym, index]].dropna()
            out[sym] = hybrid_beta(pair[sym], pair[index] if len(pair) >= 3 else None,
                                   factors if factors is not None and len(pair) >= 3 else None)
    return out, info


def _factor_returns(ctx: AppContext, returns: pd.DataFrame, index: str) -> pd.DataFrame | None:
    """Factor returns over the beta window, built as the risk service builds them.

    ``market`` is the hedge index's return; each style factor is its iShares
    MSCI USA factor ETF's return minus the market's (long-short), as in
    :func:`floorguard.services.risk.etf_factor_returns`, so the hedge uses the
    same hybrid market beta as the risk report. Raw ETF returns would be
    collinear with the market (each ETF holds mostly the market) and would
    always force the single-factor fallback. The multi-factor regression is
    tried first (the seed's "robust multi-factor beta"); the risk layer falls
    back to the single-factor beta, saying why, when the factors are poor or
    missing. ``None`` when the ETFs do not cover the window.
    """
    from floorguard.services.risk import FACTOR_ETFS as STYLE_ETFS
    from floorguard.services.risk import etf_factor_returns

    market = ctx.market_data()
    try:
        for sym in FACTOR_ETFS:
            market.source_of(sym)
        closes = market.price_history(list(FACTOR_ETFS), returns.index[0] - pd.Timedelta(days=10),
                                      returns.index[-1])
    except (SymbolNotFoundError, DataError):
        return None
    closes.attrs = {}  # provenance unused here; pandas would deep-copy it into every derived frame
    fr = closes.pct_change(fill_method=None).reindex(returns.index)
    if fr.isna().mean().max() > 0.05:
        return None  # the factors do not cover the window
    factors = etf_factor_returns(returns[index], fr[[STYLE_ETFS[name] for name in STYLE_ETFS]])
    return factors.dropna()


def _index_level(ctx: AppContext, index: str, request: QuoteRequest, as_of: dt.datetime) -> tuple[float, dict[str, Any], list[str]]:
    if request.index_level is not None:
        return float(request.index_level), {"source": "user", "as_of": as_of.date().isoformat()}, []
    try:
        point = _last_price(ctx, index)
    except (SymbolNotFoundError, DataError) as exc:
        raise QuoteRefusedError(f"no level for the index {index}: {exc}; pass --index-level") from exc
    warnings = []
    age = (as_of.date() - point.as_of).days
    if age > ctx.settings.stale_price_days:
        warnings.append(
            f"index level {point.price:.2f} is the last {point.source} close as of {point.as_of.isoformat()} "
            f"({age} days old): pass --index-level for a current quote"
        )
    return float(point.price), {"source": point.source, "as_of": point.as_of.isoformat()}, warnings


def _notional(v0: float, beta: float, request: QuoteRequest) -> Any:
    """Hedge notional: ``full`` (value), ``beta_adjusted`` (value x beta), scaled by the coverage."""
    if request.notional_mode == "full":
        base = hedge_notional(v0, beta, "full")
        if request.coverage < 1:
            return replace(base, mode="full_partial", coverage=request.coverage,
                           notional=base.notional * request.coverage)
        return base
    return hedge_notional(v0, beta, "partial" if request.coverage < 1 else "beta_adjusted", request.coverage)


#: VIX older than this many calendar days before the quote is not used as the ATM level.
VIX_MAX_AGE_DAYS = 7
#: trading days of the longest term (1095 calendar days): the GARCH term vols are tabulated this far
GARCH_MAX_HORIZON = round(3 * 365 * 252 / 365)


def _atm_vol(ctx: AppContext, request: QuoteRequest, index: str, as_of: dt.date) -> tuple[float, str]:
    """ATM level of the synthetic surface, and where it came from.

    In order: the user's vol; the VIX close when it is current at the quote
    date (at most ``VIX_MAX_AGE_DAYS`` old); otherwise a GARCH(1,1) forecast of
    the hedge index's volatility over the term, fitted on its daily history up
    to the quote date; 20% only when the index has no usable history.
    """
    if request.vol is not None:
        return float(request.vol), "user"
    from floorguard.services._cache import context_cache

    md = ctx.market_data()
    sources = tuple(ctx.settings.market_data_sources)

    def last_vix() -> tuple[float, dt.date, str] | None:
        try:
            frame = md.price_history(["VIX"], end=as_of)
            vix = frame["VIX"].dropna()
            source = ((frame.attrs.get("provenance") or {}).get("VIX") or {}).get("source", "market data")
        except (SymbolNotFoundError, DataError, KeyError):
            return None
        if vix.empty:
            return None
        return float(vix.iloc[-1]), vix.index[-1].date(), source

    vix_cache = context_cache(ctx, "insurance.vix", ttl=MARKET_CACHE_SECONDS, size=32)
    last = vix_cache.get_or_compute((sources, as_of.isoformat()), last_vix)
    if last is None:
        why = "no VIX in the market data"
    else:
        level, vix_date, source = last
        if (as_of - vix_date).days <= VIX_MAX_AGE_DAYS:
            return level / 100.0, f"VIX close {level:.2f} as of {vix_date.isoformat()} ({source})"
        why = f"VIX in the market data ends {vix_date.isoformat()}, not current at {as_of.isoformat()}"
    horizon = max(1, round(request.term_days * 252 / 365))

    def fit() -> tuple[tuple[float, ...], int, str]:
        from floorguard.core.forecast import fit_garch, garch_term_vols

        closes = md.price_history([index], end=as_of)[index].dropna()
        returns = closes.pct_change().dropna().to_numpy()[-2520:]
        # the term vol of every horizon a term can have (1..GARCH_MAX_HORIZON days) from one recursion
        terms = garch_term_vols(fit_garch(returns), GARCH_MAX_HORIZON)
        return tuple(float(v) for v in terms), len(returns), closes.index[-1].date().isoformat()

    try:
        # the fit does not depend on the term: one per index, date and sources serves any horizon
        cache = context_cache(ctx, "garch_fit", ttl=3600.0, size=16)
        terms, n, end = cache.get_or_compute((index, as_of.isoformat(), sources), fit)
        vol = terms[horizon - 1]
    except (SymbolNotFoundError, DataError, ValidationError, KeyError):
        return 0.20, f"default 20% ({why}; no usable {index} history for a GARCH forecast)"
    return vol, (f"GARCH(1,1) forecast of {index} over {horizon} trading days, fitted on {n} daily "
                 f"returns to {end} ({why})")


def _pm_quotes(chain: Any, expiry: dt.date) -> tuple[pd.DataFrame, str | None]:
    """Quotes of one expiry, one root (PM-settled SPXW preferred over AM SPX)."""
    q = chain.quotes
    if not (q["expiry"] == pd.Timestamp(expiry)).all():  # a one-expiry chain is its own slice
        q = chain.slice(expiry=expiry).quotes
    roots = [r for r in q["root"].unique() if r]
    root = None
    if len(roots) > 1:
        root = "SPXW" if "SPXW" in roots else sorted(roots)[0]
        q = q[q["root"] == root]
    elif roots:
        root = roots[0]
    return q.reset_index(drop=True), root


def _chain_expiry(chain: Any, expiry: dt.date) -> tuple[pd.DataFrame, str | None, float, dt.datetime]:
    """One expiry of a chain: its PM quotes and root, years to settlement and settlement moment (UTC)."""
    quotes, root = _pm_quotes(chain, expiry)
    t_years = chain.t_years(expiry, root)
    settle_ts = chain.settles_at()[chain.quotes["expiry"] == pd.Timestamp(expiry)]
    end_utc = pd.Timestamp(settle_ts.max()).tz_convert("UTC").to_pydatetime()
    return quotes, root, t_years, end_utc


#: listed-expiry tables (a function of the contract, the local date and the range) live this long (seconds)
LISTING_CACHE_SECONDS = 3600.0
#: listed expiries are tabulated once this far ahead of the quote date (the longest term, 1095 days, + 60)
LISTING_DAYS = 3 * 365 + 60
#: priced synthetic expiries (a function of the exact quote time) live this long (seconds)
SYNTHETIC_CACHE_SECONDS = 300.0


def _cached_listing(ctx: AppContext) -> Any:
    """:func:`~floorguard.domain.contracts.listed_expiry_table` shared through the context.

    Keyed on the contract specification object (specifications come from a
    cache keyed on the contracts file and its modification time, so an edited
    file gives a new object), the range and the listing date.
    """
    from floorguard.domain.contracts import exchange_calendar, listed_expiry_table
    from floorguard.services._cache import context_cache

    cache = context_cache(ctx, "insurance.expiry_table", ttl=LISTING_CACHE_SECONDS, size=64)

    def listing(spec: Any, start: dt.date, end: dt.date, as_of: dt.date) -> pd.DataFrame:
        longest = start + dt.timedelta(days=LISTING_DAYS)
        if end > longest:
            return listed_expiry_table(spec, start, end, as_of=as_of)
        cal_last = exchange_calendar(spec.exchange_calendar).last_session.date()
        table = cache.get_or_compute((_Same(spec), start, as_of), lambda: listed_expiry_table(
            spec, start, max(start, min(longest, cal_last)), as_of=as_of))
        # the rows up to ``end`` of a longer listing are the listing up to ``end`` (sorted, so a prefix)
        return table.iloc[: int(np.searchsorted(table["expiry"].to_numpy(), end, side="right"))]

    return listing


def _synthetic_expiry(
    ctx: AppContext, spec: Any, spot: float, ts: pd.Timestamp, surface: Any, rate: float, dividend: float,
    expiry: dt.date, listing: Any, horizon_days: int,
) -> tuple[pd.DataFrame, str | None, float, dt.datetime, QuoteRows]:
    """:func:`_chain_expiry` of the synthetic chain, pricing only ``expiry``, and its :func:`quote_rows`; cached.

    Each row of :func:`~floorguard.domain.chains.synthetic_chain` is priced on
    its own, so the one-expiry chain (listed up to ``expiry``) has exactly the
    full chain's quotes of that expiry, whatever the horizon ``horizon_days``
    listing it (only the chain's notes depend on it). The key holds every input: the
    specification, the underlying level, the exact quote time, the surface
    (a frozen dataclass), the rate, the dividend yield and the expiry.
    The cached frame must not be modified (a caller copies it); the records
    (what :func:`~floorguard.domain.strategies.build_strategy` reads) are
    read-only mappings, shared by every quote on the expiry.
    """
    from floorguard.domain.chains import synthetic_chain
    from floorguard.services._cache import context_cache

    def compute() -> tuple[pd.DataFrame, str | None, float, dt.datetime, QuoteRows]:
        chain = synthetic_chain(spec, spot, ts, surface, rate, dividend, horizon_days=horizon_days,
                                expiries=[expiry], listing=listing)
        quotes, root, t_years, end_utc = _chain_expiry(chain, expiry)
        return quotes, root, t_years, end_utc, quote_rows(quotes)

    cache = context_cache(ctx, "insurance.synthetic_expiry", ttl=SYNTHETIC_CACHE_SECONDS, size=256)
    return cache.get_or_compute((_Same(spec), float(spot), ts, surface, float(rate), float(dividend), expiry),
                                compute)


@functools.lru_cache(maxsize=8)
def _read_chain_cached(path: str, mtime_ns: int, size: int, contracts: str | None, contracts_mtime_ns: int) -> Any:
    from floorguard.marketdata.cboe import read_cboe_csv

    return read_cboe_csv(path, contracts_path=contracts)


def _read_chain(path: Path, contracts: Path | None = None) -> Any:
    """Read a CBOE CSV, cached on (path, modification time, size) and the contracts file."""
    if not path.is_file():
        raise ValidationError.for_field("chain", f"no such file: {path}")
    st = path.stat()
    c_key, c_mtime = None, 0
    if contracts is not None:
        c = Path(contracts).resolve()
        c_key, c_mtime = str(c), (c.stat().st_mtime_ns if c.is_file() else 0)
    return _read_chain_cached(str(path.resolve()), st.st_mtime_ns, st.st_size, c_key, c_mtime)


def contracts_path_for(ctx: AppContext, override: Path | str | None = None) -> Path | None:
    """The contracts file in force: ``override`` (a ``--contracts`` option), else the settings'."""
    if override is not None:
        return Path(override)
    return ctx.settings.contracts_path


# --------------------------------------------------------------------------- quote


def quote_policy(
    ctx: AppContext,
    portfolio: Portfolio | Sequence[Position] | str | Path,
    request: QuoteRequest,
) -> PolicyDraft:
    """Quote an insurance policy draft for a portfolio.

    Parameters
    ----------
    ctx : AppContext
    portfolio : Portfolio, sequence of Position, or str/Path
        A portfolio, its positions, a CSV/JSON file or a stored portfolio name.
    request : QuoteRequest

    Returns
    -------
    PolicyDraft

    Raises
    ------
    ValidationError
        Bad request fields or portfolio file.
    QuoteRefusedError
        Missing prices, zero beta, no liquid strike, no expiry covering the term,
        a notional above the configured limits.
    """
    from floorguard.domain.chains import implied_forward_and_dividend
    from floorguard.domain.contracts import get_contract_spec, tick_size

    request.validate()
    settings = ctx.settings
    contracts = contracts_path_for(ctx, request.contracts_path)
    if isinstance(portfolio, (str, Path)):
        from floorguard.services.portfolios import resolve_portfolio

        portfolio = resolve_portfolio(ctx, portfolio)
    positions = list(portfolio.positions) if isinstance(portfolio, Portfolio) else list(portfolio)
    name = portfolio.name if isinstance(portfolio, Portfolio) else "positions"
    if not positions:
        raise ValidationError.for_field("positions", "at least one position is needed")
    index = request.index.upper()
    warnings: list[str] = []

    # 1. valuation
    primary, fallback = _price_positions(ctx, positions)
    valuation = value_positions(positions, primary, fallback)
    warnings.extend(valuation.warnings)
    v0 = valuation.hedged_value

    # 2. beta
    if request.beta is not None:
        beta = float(request.beta)
        beta_meta: dict[str, Any] = {"beta": beta, "beta_source": "provided",
                                     "note": "portfolio beta given by the user"}
    else:
        user_betas = {p.symbol: p.user_beta for p in valuation.hedged_positions}
        estimates, hist = _regression_betas(ctx, valuation.hedged_positions, index, user_betas, request.as_of)
        hb = hedge_portfolio_beta(valuation, estimates)
        beta = hb.beta
        beta_meta = {**hb.to_dict(), "history": hist}
        warnings.extend(hb.warnings)

    # 3. price source and instrument
    if request.chain_path is not None:
        chain = _read_chain(Path(request.chain_path), contracts)
        as_of = chain.as_of.tz_convert("UTC").to_pydatetime()
        instrument = chain.underlying.upper()
        if request.instrument is not None and request.instrument.upper() != instrument:
            raise ValidationError.for_field(
                "instrument", f"the chain is on {instrument}, not {request.instrument.upper()}"
            )
        spec = chain.spec or get_contract_spec(instrument, contracts)
        if spec.underlying_index.upper() != index:
            raise ValidationError.for_field("chain", f"the chain's index is {spec.underlying_index}, not {index}")
        underlying_level = float(chain.spot)
        multiplier = float(request.multiplier or spec.multiplier)
        sizing = size_contracts(
            _notional(v0, beta, request).notional,
            underlying_level, multiplier, request.rounding)
        instrument_meta: dict[str, Any] = {"symbol": instrument, "reason": "the chain's underlying",
                                           "sizing": sizing.to_dict()}
        if request.index_level is not None:
            warnings.append("--index-level ignored: the chain gives the underlying level")
        index_level = underlying_level / spec.index_ratio
        pricing = PricingSource("chain", f"{chain.source}:{Path(request.chain_path).name}",
                                chain.as_of.isoformat(), False)
        vol_note = "vendor implied volatilities of the chain (implied from the mid where missing)"
    else:
        as_of = (request.as_of or _utc_now()).astimezone(dt.timezone.utc)
        index_level, level_meta, level_warn = _index_level(ctx, index, request, as_of)
        warnings.extend(level_warn)
        notional = _notional(v0, beta, request).notional
        specs = {s: get_contract_spec(SYNTHETIC_SPECS.get(s, s), contracts) for s in HEDGE_INSTRUMENTS[index]}
        cands = [InstrumentCandidate(s, index_level * sp.index_ratio, float(request.multiplier or sp.multiplier))
                 for s, sp in specs.items()]
        choice = choose_instrument(notional, cands, request.rounding, request.instrument)
        instrument = choice.symbol
        spec = specs[instrument]
        sizing = choice.sizing
        multiplier = sizing.multiplier
        underlying_level = sizing.underlying_level
        instrument_meta = choice.to_dict()
        if not spec.index_ratio_exact:
            warnings.append(f"{instrument} level taken as {spec.index_ratio:g} x {index} (approximate ratio)")
        chain = None
        pricing = None
        vol_note = ""
        instrument_meta["index_level"] = {"level": index_level, **level_meta}

    stale = sorted({p.price_as_of for p in valuation.positions
                    if p.price_as_of and (as_of.date() - dt.date.fromisoformat(p.price_as_of)).days
                    > settings.stale_price_days})
    if stale:
        names = [p.symbol for p in valuation.positions if p.price_as_of in stale]
        warnings.append(
            f"stale prices: {', '.join(names)} valued at closes as of "
            f"{stale[0] if len(stale) == 1 else stale[0] + '..' + stale[-1]}, older than the quote time "
            f"{as_of.date().isoformat()}"
        )

    rate_default = settings.risk_free_rate
    # the term is counted in the exchange's local calendar days
    local_start = pd.Timestamp(as_of).tz_convert(spec.timezone)
    term_end = (local_start + pd.Timedelta(days=request.term_days)).to_pydatetime()
    synthetic_meta: tuple[float, str] | None = None
    if chain is None:
        from floorguard.core.pricing import ModelSurface
        from floorguard.domain.chains import synthetic_expiries
        from floorguard.services._cache import context_cache

        rate0 = float(request.rate) if request.rate is not None else rate_default
        div0 = float(request.dividend_yield) if request.dividend_yield is not None else settings.index_dividend_yield
        atm, vol_src = _atm_vol(ctx, request, index, as_of.date())
        surface = ModelSurface(atm_vol=atm)
        synth_ts = pd.Timestamp(as_of)
        listing = _cached_listing(ctx)
        # the synthetic chain's expiries, then only the expiries tried are priced (_synthetic_expiry)
        synth_horizon = max(60, request.term_days + 60)
        synth_expiries = context_cache(ctx, "insurance.synthetic_expiries", ttl=SYNTHETIC_CACHE_SECONDS,
                                       size=256).get_or_compute(
            (_Same(spec), synth_ts, synth_horizon),
            lambda: tuple(synthetic_expiries(spec, synth_ts, horizon_days=synth_horizon, listing=listing)))
        synthetic_meta = (atm, vol_src)
        shape = ", ".join(f"{k} {getattr(surface, k):g}" for k in ("skew", "curvature", "term_slope")
                          if isinstance(getattr(surface, k, None), (int, float)))
        pricing = PricingSource("synthetic", f"synthetic chain, model surface (ATM vol {atm:.4f}: {vol_src}"
                                + (f"; {shape}" if shape else "") + ")", synth_ts.isoformat(), True)
        vol_note = f"SYNTHETIC model surface (ModelSurface), ATM vol {atm:.4f} from {vol_src}" + (
            f"; {shape} (pricing-engine defaults)" if shape else "")
        warnings.insert(0, "SYNTHETIC prices: model estimates from a volatility surface, not market quotes")
    qp = (float(request.portfolio_dividend_yield) if request.portfolio_dividend_yield is not None
          else settings.portfolio_dividend_yield)
    if request.multiplier is not None and request.multiplier != spec.multiplier:
        warnings.append(f"multiplier overridden to {request.multiplier:g} (listed {spec.multiplier:g})")

    # notional limits
    if sizing.achieved_notional > settings.max_insured_notional_per_index:
        from floorguard.exceptions import LimitExceededError

        raise LimitExceededError(
            f"quote refused: insured notional {sizing.achieved_notional:,.0f} exceeds the per-index limit "
            f"{settings.max_insured_notional_per_index:,.0f}"
        )
    if abs(sizing.over_hedge_pct) > 0.10:
        warnings.append(
            f"granularity: {sizing.contracts} contracts hedge {sizing.achieved_notional:,.0f} for a target "
            f"of {sizing.target_notional:,.0f} ({sizing.over_hedge_pct:+.1%})"
        )
    limits = LiquidityLimits(settings.max_spread_pct, settings.min_open_interest, settings.min_volume)

    all_expiries = chain.expiries() if synthetic_meta is None else synth_expiries
    live = [e for e in all_expiries if e > local_start.date()]
    expiry_choice = select_expiry(live, term_end.date())
    covering = [e for e in sorted(live) if e >= expiry_choice.expiry][:MAX_EXPIRY_TRIES]
    failures: list[str] = []
    result = None
    quotes: pd.DataFrame | QuoteRows
    for expiry in covering:
        if synthetic_meta is None:
            fwd = implied_forward_and_dividend(chain, expiry, request.rate, fallback_rate=rate_default,
                                               fallback_dividend=settings.index_dividend_yield)
            rate = float(request.rate) if request.rate is not None else fwd.rate
            div = float(request.dividend_yield) if request.dividend_yield is not None else fwd.dividend_yield
            rates_meta = {"rate": rate, "index_dividend_yield": div,
                          "source": "user" if request.rate is not None and request.dividend_yield is not None
                          else fwd.method, "forward": fwd.to_dict()}
        else:
            rate, div = rate0, div0
            rates_meta = {"rate": rate, "index_dividend_yield": div,
                          "source": "user" if request.rate is not None else "settings"}
        if synthetic_meta is None:
            quotes, root, t_years, end_utc = _chain_expiry(chain, expiry)
        else:
            # the expiry's read-only records, built once with its priced frame
            _, root, t_years, end_utc, quotes = _synthetic_expiry(
                ctx, spec, underlying_level, synth_ts, surface, rate0, div0, expiry, listing, synth_horizon)
        if t_years <= 0:
            failures.append(f"{expiry.isoformat()}: already settled at the quote time")
            continue
        market = MarketInputs(
            underlying_symbol=instrument, underlying_level=underlying_level, rate=rate, dividend_yield=div,
            expiry=expiry, t_years=t_years, multiplier=multiplier,
            tick=tick_size(spec, 1.0), tick_fn=lambda p: tick_size(spec, p), style=spec.style,
        )
        params = StrategyParams(
            floor_pct=float(request.floor_pct), portfolio_value=v0, beta=beta, contracts=sizing.contracts,
            rate=rate, portfolio_dividend_yield=qp, index_dividend_yield=div, t_years=t_years,
            compounding=request.compounding, cap=request.cap, lower_floor_pct=request.lower_floor_pct,
            tail_budget_pct=request.tail_budget_pct,
        )
        try:
            result = build_strategy(request.strategy, quotes, market, params, limits)
        except QuoteRefusedError as exc:
            failures.append(f"{expiry.isoformat()}: {exc}")
            continue
        break
    if result is None:
        raise QuoteRefusedError(
            f"quote refused: no listed expiry covering the term can implement the {request.strategy} "
            f"({'; '.join(failures)})"
        )
    if failures:
        warnings.append(
            f"expiry {expiry.isoformat()} used instead of an earlier covering expiry: " + "; ".join(failures)
        )
        expiry_choice = select_expiry(live, expiry)
    warnings.extend(result.warnings)
    if spec.style == "american":
        warnings.append(f"{instrument} options are American: greeks from the American pricer (finite differences)")
    for leg in result.legs:
        if leg.strike_reason and "liquidity" in leg.strike_reason:
            warnings.append(f"{leg.kind} {leg.side}: {leg.strike_reason}")

    start_utc = as_of.astimezone(dt.timezone.utc)
    if end_utc.date() > term_end.date():
        warnings.append(
            f"term runs past the requested {request.term_days} days to the option expiry "
            f"{expiry_choice.expiry.isoformat()} ({(end_utc - start_utc).days} days)"
        )
    assumptions = {
        "rate": rate,
        "index_dividend_yield": div,
        "portfolio_dividend_yield": qp,
        "rates_source": rates_meta,
        "compounding": request.compounding,
        "t_years": t_years,
        "floor_mapping": "CAPM, Hull 8th ed. section 17.4 (portfolio insurance for beta != 1)",
        "capm_mapping": result.floor_mapping.to_dict(),
        "volatility": vol_note,
        "pricing_model": (f"{'American (ALO, finite-difference)' if spec.style == 'american' else 'Black-Scholes-Merton'}"
                          " greeks; premiums at the ask (buy) and bid (sell), mid as estimate"),
        "liquidity_limits": {"max_spread_pct": limits.max_spread_pct,
                             "min_open_interest": limits.min_open_interest,
                             "min_volume": limits.min_volume},
        "rounding": request.rounding,
        "settlement_level": f"{instrument} settlement level (strike units)",
    }
    metadata = {
        "portfolio": name,
        "requested_term_days": request.term_days,
        "valuation": valuation.to_dict(),
        "beta": beta_meta,
        "instrument": instrument_meta,
        "sizing": sizing.to_dict(),
        "expiry": expiry_choice.to_dict(),
        "root": root,
        "index_level": index_level,
        "strike_choices": {k: v.to_dict() for k, v in result.strike_choices.items()},
    }
    return PolicyDraft(
        portfolio_value=v0,
        beta=beta,
        coverage_notional=sizing.target_notional,
        floor_pct=float(request.floor_pct),
        start_utc=start_utc,
        end_utc=end_utc,
        strategy=request.strategy,
        index_symbol=index,
        put_leg=result.put_leg,
        call_leg=result.call_leg,
        premium_net=result.premium_net,
        metadata=metadata,
        legs=list(result.legs),
        underlying_symbol=instrument,
        underlying_level=underlying_level,
        expiry=expiry_choice.expiry,
        contract_spec={**spec.to_dict(), "multiplier": multiplier},
        pricing_source=pricing,
        premium_net_mid=result.premium_net_mid,
        analytics=result.analytics,
        assumptions=assumptions,
        warnings=list(dict.fromkeys(warnings)),
        coverage_ratio=float(request.coverage),
    )


def compare_strategies(
    ctx: AppContext,
    portfolio: Portfolio | Sequence[Position] | str | Path,
    request: QuoteRequest,
    strategies: Sequence[str] = STRATEGIES,
) -> list[dict[str, Any]]:
    """Quote every strategy family and tabulate them (seed section 20.3).

    Each row: expiry, structure, put strike, call strike, premium (and % of
    the portfolio), coverage (the hedge ratio), breakeven, maximum loss and
    the score ``(expected shortfall reduction - premium) / residual risk`` of
    :func:`floorguard.domain.strategies.strategy_score` (lognormal index at the
    put leg's implied volatility, risk-neutral drift: an estimate). A strategy
    that cannot be quoted gets a row with ``refused`` and the reason.
    """
    from floorguard.domain.strategies import strategy_score

    if isinstance(portfolio, (str, Path)):
        from floorguard.services.portfolios import resolve_portfolio

        portfolio = resolve_portfolio(ctx, portfolio)
    rows: list[dict[str, Any]] = []
    for strategy in strategies:
        req = replace(request, strategy=strategy, cap=request.cap if strategy == "collar" else None)
        try:
            d = quote_policy(ctx, portfolio, req)
        except QuoteRefusedError as exc:
            rows.append({"strategy": strategy, "refused": str(exc)})
            continue
        a = d.assumptions
        market = MarketInputs(d.underlying_symbol, d.underlying_level, a["rate"], a["index_dividend_yield"],
                              d.expiry, a["t_years"], d.legs[0].multiplier)  # type: ignore[arg-type]
        params = StrategyParams(d.floor_pct, d.portfolio_value, d.beta, d.legs[0].contracts, a["rate"],
                                a["portfolio_dividend_yield"], a["index_dividend_yield"], a["t_years"],
                                a["compounding"])
        vol = d.put_leg.iv if d.put_leg is not None else float("nan")
        score = (strategy_score(d.legs, params, market, d.premium_net, vol) if math.isfinite(vol)
                 else {"score": float("nan")})
        rows.append({
            "strategy": strategy,
            "expiry": d.expiry.isoformat() if d.expiry else None,
            "underlying": d.underlying_symbol,
            "put_strike": d.put_leg.strike if d.put_leg else None,
            "call_strike": d.call_leg.strike if d.call_leg else None,
            "short_put_strike": next((x.strike for x in d.legs if x.kind == "put" and x.side == "short"), None),
            "premium": d.premium_net,
            "premium_pct": d.analytics["premium_pct"],
            "coverage": d.analytics["hedge_ratio"],
            "breakeven": d.analytics["breakeven_level"],
            "max_loss_pct": d.analytics["max_loss_pct"],
            "score": score["score"],
            "score_detail": score,
            "synthetic": bool(d.pricing_source and d.pricing_source.synthetic),
        })
    return rows


# --------------------------------------------------------------------------- settle


def load_draft(path: Path | str) -> PolicyDraft:
    """Read a draft JSON file (a bare draft or the CLI's ``{"ok": true, "draft": ...}``).

    Raises
    ------
    ValidationError
        Unreadable file, invalid JSON or a malformed draft.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValidationError.for_field("draft", f"cannot read {p}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError.for_field("draft", f"{p} is not valid JSON: {exc.msg} (line {exc.lineno})") from None
    return PolicyDraft.from_dict(data)


def settle_draft(
    draft: PolicyDraft,
    final_portfolio_value: float,
    final_index_level: float,
    terms: SettlementTerms | None = None,
) -> SettlementResult:
    """Settlement of a draft at expiry (see :func:`floorguard.domain.settlement.settle`).

    ``final_index_level`` is the settlement level of the draft's option
    underlying (``draft.underlying_symbol``), in strike units.
    """
    return settle_policy(draft, final_portfolio_value, final_index_level, terms)


def chain_quotes_for_draft(draft: PolicyDraft, chain: Any) -> dict[tuple[str, float], tuple[float, float]]:
    """``(kind, strike) -> (bid, ask)`` of the draft's legs from a chain at the draft's expiry.

    Raises
    ------
    ValidationError
        The chain is on another underlying or does not list the draft's expiry.
    """
    if chain.underlying.upper() != draft.underlying_symbol.upper():
        raise ValidationError.for_field(
            "chain", f"the chain is on {chain.underlying}, the draft on {draft.underlying_symbol}")
    if draft.expiry is None or draft.expiry not in chain.expiries():
        raise ValidationError.for_field("chain", f"the chain does not list the draft's expiry {draft.expiry}")
    quotes, _ = _pm_quotes(chain, draft.expiry)
    out: dict[tuple[str, float], tuple[float, float]] = {}
    for rec in quotes.to_dict(orient="records"):
        out[(str(rec["kind"]), float(rec["strike"]))] = (float(rec["bid"]), float(rec["ask"]))
    return out


def unwind_draft(draft: PolicyDraft, chain_path: Path | str, contracts_path: Path | str | None = None) -> Any:
    """Early termination: value of closing the hedge at a chain's quotes.

    Long legs are sold at the bid, short legs bought back at the ask
    (:func:`floorguard.domain.settlement.unwind_value`); the P&L is against
    the premium paid at the quote. ``contracts_path`` is a contracts file
    extending the bundled specifications (see :func:`contracts_path_for`).
    """
    from floorguard.domain.settlement import unwind_value

    p = Path(chain_path)
    if not p.is_file():
        raise ValidationError.for_field("chain", f"no such file: {p}")
    quotes = chain_quotes_for_draft(draft, _read_chain(p, None if contracts_path is None else Path(contracts_path)))
    return unwind_value(draft.legs, quotes, premium_paid=draft.premium_net)


def mark_draft(
    ctx: AppContext,
    draft: PolicyDraft,
    underlying_level: float,
    as_of: dt.datetime | None = None,
    vol: float | None = None,
    portfolio_value: float | None = None,
) -> Any:
    """Mark a draft to market before expiry with the pricing engine.

    Rates default to the draft's assumptions (else the settings); the
    volatility to each leg's implied volatility at the quote.
    """
    from floorguard.domain.settlement import mark_to_market

    a = draft.assumptions
    rate = float(a.get("rate", ctx.settings.risk_free_rate))
    div = float(a.get("index_dividend_yield", ctx.settings.index_dividend_yield))
    when = (as_of or _utc_now()).astimezone(dt.timezone.utc)
    return mark_to_market(draft, when, underlying_level, rate, div, vol, portfolio_value)


# --------------------------------------------------------------------------- multi-index


def multi_index_for_portfolio(
    ctx: AppContext,
    portfolio: Portfolio | str | Path,
    indices: Sequence[str] = ("SPX", "IXIC"),
    term_days: int = 30,
    lookback_days: int = BETA_LOOKBACK_DAYS,
) -> MultiIndexHedge:
    """Variance-minimising mix of index hedges for a portfolio (seed section 13).

    Portfolio returns are the constant-weight mix of its priced positions'
    returns (today's weights) over the last ``lookback_days`` common to every
    series; positions without history are left out and reported in the
    warnings.
    """
    if isinstance(portfolio, (str, Path)):
        from floorguard.services.portfolios import resolve_portfolio

        portfolio = resolve_portfolio(ctx, portfolio)
    primary, fallback = _price_positions(ctx, portfolio.positions)
    valuation = value_positions(list(portfolio.positions), primary, fallback)
    market = ctx.market_data()
    hist_syms: list[str] = []
    left_out: list[str] = []
    for p in valuation.hedged_positions:
        try:
            market.source_of(p.symbol)
            hist_syms.append(p.symbol)
        except (SymbolNotFoundError, DataError):
            left_out.append(p.symbol)
    if not hist_syms:
        raise QuoteRefusedError("no position has a price history: a multi-index hedge needs returns")
    idx = [s.upper() for s in indices]
    closes = market.price_history([*hist_syms, *idx]).dropna()
    closes = closes.tail(lookback_days + 1)
    rets = closes.pct_change(fill_method=None).iloc[1:]
    mv = {p.symbol: p.market_value for p in valuation.hedged_positions if p.symbol in hist_syms}
    total = sum(mv.values())
    w = np.array([mv[s] / total for s in hist_syms])
    y = rets[hist_syms].to_numpy() @ w
    res = multi_index_hedge(y, rets[idx].to_numpy(), idx, valuation.hedged_value, term_days / 365.0)
    window = f"{closes.index[0].date().isoformat()}..{closes.index[-1].date().isoformat()}"
    extra = [f"returns window {window} ({res.observations} days, common to all series)"]
    if left_out:
        extra.append(f"no history, left out of the regression: {', '.join(left_out)}")
    return replace(res, warnings=[*res.warnings, *extra])
