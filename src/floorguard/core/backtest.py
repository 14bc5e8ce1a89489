"""Walk-forward backtest of rolling index hedges (protective put, collar).

Rules (after the Cboe benchmark indices; model-priced, so an approximation):

``pput`` — Cboe S&P 500 5% Put Protection Index (PPUT): hold the index and
buy a one-month put struck 5 % out of the money (95 % of the index, rounded
down to the strike grid) at each monthly roll (the standard monthly
expiration, the third Friday), hold it to expiry, repeat.

``collar`` — Cboe S&P 500 95-110 Collar Index (CLL): hold the index, buy a
three-month 95 % put every quarter (March, June, September, December
expirations) and sell a one-month 110 % call every month (rounded up to the
grid), each held to expiry. A start between quarterly rolls buys a put to the
next quarterly expiry.

Differences from the published indices, stated plainly: options are priced
with the model surface (Black–Scholes–Merton off
``floorguard.core.pricing.ModelSurface``: ATM implied vol from VIX where the
bundled VIX covers the day, otherwise realised 21-day vol × a proxy scale,
with the surface's skew and curvature), not at traded prices; settlement uses the
expiration-day close instead of the special opening quotation; the index is
the price index (no dividend reinvestment); rates and dividend yield are
constant assumptions. Every figure is an estimate, labelled with its pricing
source.

Accounting: option quantities equal the index units held when bought; each
roll is self-financing (payoffs and premiums move index units), so
``V_T − V_0 = Σ n_k (S_{k+1} − S_k) + Σ_legs (payoff − premium)`` exactly;
legs still open at the end are closed at their model value.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from floorguard._typing import ArrayLike, FloatArray, OptionKind
from floorguard.exceptions import ValidationError

__all__ = [
    "BacktestConfig",
    "BacktestResult",
    "LegRecord",
    "PerformanceMetrics",
    "drawdown_band",
    "model_vol",
    "monthly_expirations",
    "run_backtest",
]

Strategy = Literal["pput", "collar"]
TRADING_DAYS = 252


@dataclass(frozen=True)
class BacktestConfig:
    """Assumptions of the backtest (all shown in the result).

    Attributes
    ----------
    put_moneyness, call_moneyness : float
        Strikes as fractions of the index at the roll (0.95 and 1.10).
    strike_step : float
        Strike grid in index points (puts round down, calls round up).
    rate, dividend_yield : float
        Continuously compounded per year, for pricing.
    proxy_scale : float
        ATM implied vol = realised 21-day vol × ``proxy_scale`` where VIX is
        missing (VIX/realised averages about 1.2 over long samples).
    proxy_window : int
        Days of realised vol for the proxy.
    surface_skew, surface_curvature : float
        ``ModelSurface`` smile: d vol / d ln(K/F) and convexity at 30 days,
        both scaled by ``sqrt(30/365 / t)``.
    level : float
        Confidence level of ES in the cost-efficiency KPI.
    band : (float, float)
        Quantiles of the predicted drawdown band (hit rate).
    """

    put_moneyness: float = 0.95
    call_moneyness: float = 1.10
    strike_step: float = 5.0
    rate: float = 0.02
    dividend_yield: float = 0.015
    proxy_scale: float = 1.2
    proxy_window: int = 21
    surface_skew: float = -0.8
    surface_curvature: float = 0.4
    level: float = 0.95
    band: tuple[float, float] = (0.05, 0.95)

    def __post_init__(self) -> None:
        if not 0 < self.put_moneyness < 1.5:
            raise ValidationError.for_field("put_moneyness", "must be in (0, 1.5)")
        if not 0.5 < self.call_moneyness < 3:
            raise ValidationError.for_field("call_moneyness", "must be in (0.5, 3)")
        if not self.strike_step >= 0:
            raise ValidationError.for_field("strike_step", "must be >= 0")
        if not np.isfinite(self.rate) or not np.isfinite(self.dividend_yield):
            raise ValidationError.for_field("rate", "rate and dividend_yield must be finite")
        if not self.proxy_scale > 0:
            raise ValidationError.for_field("proxy_scale", "must be > 0")
        if int(self.proxy_window) != self.proxy_window or self.proxy_window < 5:
            raise ValidationError.for_field("proxy_window", "must be a whole number >= 5")
        if not 0 < self.level < 1:
            raise ValidationError.for_field("level", "must be in (0, 1)")
        lo, hi = self.band
        if not 0 < lo < hi < 1:
            raise ValidationError.for_field("band", "must be 0 < lo < hi < 1")


def model_vol(
    atm: FloatArray,
    strike: float,
    forward: FloatArray,
    t_years: FloatArray,
    *,
    skew: float = -0.8,
    curvature: float = 0.4,
) -> FloatArray:
    """``ModelSurface(atm_vol=atm, skew, curvature).vol(strike, t, forward)`` for many ATM levels.

    ``ModelSurface`` (term slope 0) is ``max(atm + smile(k, t), min_vol)``
    with a smile that does not depend on the ATM level, so the smile is
    evaluated once on a unit-ATM surface and shifted by each day's ATM vol.

    Parameters
    ----------
    atm : ndarray, shape (m,)
        ATM implied vol per day (decimal).
    strike : float
    forward, t_years : ndarray, shape (m,)
        Forward and remaining life (years, > 0) per day.
    """
    from floorguard.core.pricing import ModelSurface

    unit = ModelSurface(atm_vol=1.0, skew=skew, curvature=curvature, min_vol=1e-12)
    smile = np.asarray(unit.vol(np.full(np.shape(forward), strike), t_years, forward)) - 1.0
    return np.maximum(np.asarray(atm, dtype=np.float64) + smile, ModelSurface(atm_vol=1.0).min_vol)


def monthly_expirations(dates: Sequence[dt.date]) -> list[int]:
    """Positions in ``dates`` of the monthly expirations (third Friday, else the day before)."""
    if not dates:
        return []
    first, last = dates[0], dates[-1]
    out: list[int] = []
    y, m = first.year, first.month
    ords = np.array([d.toordinal() for d in dates])
    while (y, m) <= (last.year, last.month):
        d1 = dt.date(y, m, 1)
        third_friday = d1 + dt.timedelta(days=(4 - d1.weekday()) % 7 + 14)
        pos = int(np.searchsorted(ords, third_friday.toordinal(), side="right")) - 1
        if pos >= 0 and dates[pos].year == y and dates[pos].month == m and third_friday <= last:
            if not out or out[-1] != pos:
                out.append(pos)
        m += 1
        if m == 13:
            y, m = y + 1, 1
    return out


def drawdown_band(sigma: float, t_years: float, band: tuple[float, float]) -> tuple[float, float]:
    """Quantiles of the running minimum of ``ln(S_t/S_0)`` over ``t_years`` under GBM.

    With ``X_t = μ t + σ W_t`` and ``μ = −σ²/2`` (zero expected price drift),
    ``P(min X ≤ m) = Φ((m − μT)/(σ√T)) + exp(2μm/σ²) Φ((m + μT)/(σ√T))`` for
    ``m ≤ 0`` (reflection principle; Shreve, *Stochastic Calculus for Finance
    II*, Cor. 7.2.2). Returns the (lo, hi) quantiles as *simple* drawdowns
    (≤ 0).
    """
    from scipy.optimize import brentq
    from scipy.special import ndtr

    mu = -0.5 * sigma * sigma
    sd = sigma * math.sqrt(t_years)

    def cdf(m: float) -> float:
        return float(
            ndtr((m - mu * t_years) / sd)
            + math.exp(2 * mu * m / (sigma * sigma)) * ndtr((m + mu * t_years) / sd)
        )

    out = []
    for p in band:
        # P(min <= 0) = 1; cdf is increasing in m on (-inf, 0]
        lo = -12.0 * sd - 1.0
        if cdf(-1e-15) <= p:
            out.append(0.0)
            continue
        m = brentq(lambda x, p=p: cdf(x) - p, lo, -1e-15, xtol=1e-12)
        out.append(math.expm1(m))
    return out[0], out[1]


@dataclass(frozen=True)
class LegRecord:
    """One option leg of the backtest, from purchase (or sale) to expiry.

    Cash amounts are in the units of ``initial_value`` (signed from the
    portfolio's side): ``premium`` > 0 is paid, < 0 received; ``payoff`` > 0
    received, < 0 paid; ``pnl = payoff − premium``.
    """

    kind: OptionKind
    open_date: dt.date
    expiry: dt.date
    strike: float
    quantity: float
    price: float
    premium: float
    payoff: float
    pnl: float
    vol: float
    pricing_source: str
    spot_open: float
    realized_drawdown: float
    band_lo: float
    band_hi: float
    hit: bool
    closed_early: bool

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (ISO dates)."""
        out = asdict(self)
        out["open_date"] = self.open_date.isoformat()
        out["expiry"] = self.expiry.isoformat()
        return out


@dataclass(frozen=True)
class PerformanceMetrics:
    """Performance of one value series (daily).

    ``annual_return`` is the compound growth rate per 252 trading days,
    ``annual_vol`` the annualised sd of daily returns, ``max_drawdown`` and
    ``worst_month`` negative fractions, ``es_period`` the historical ES of
    roll-period returns at the configured level (positive loss).
    """

    annual_return: float
    annual_vol: float
    max_drawdown: float
    worst_month: float
    es_period: float
    total_return: float

    def to_dict(self) -> dict[str, float]:
        """Plain dict of the metrics."""
        return asdict(self)


@dataclass(frozen=True)
class BacktestResult:
    """Outcome of :func:`run_backtest` (estimates from model prices).

    Attributes
    ----------
    hedged, unhedged : PerformanceMetrics
    cost_of_protection : float
        ``unhedged.annual_return − hedged.annual_return``.
    premium_paid, payoffs_received : float
        Net premium paid (long premiums − short proceeds) and net payoffs
        received (put payoffs − call payoffs), currency.
    hedge_pnl : float
        ``payoffs_received − premium_paid``.
    gross_premium : float
        Premiums of the long puts only.
    hedge_cost_efficiency : float
        ``(ES_unhedged − ES_hedged) / mean put premium per period`` (both as
        fractions of the portfolio; §20.9).
    hit_rate : float
        Share of put legs whose realised drawdown fell in the predicted band.
    over_hedge_ratio : float
        Share of put premium spent on legs whose realised drawdown stayed
        shallower than the put's distance (``1 − put_moneyness``).
    pricing_sources : dict of str to int
        Legs priced from VIX and from the realised-vol proxy.
    """

    strategy: str
    start: dt.date
    end: dt.date
    initial_value: float
    config: BacktestConfig
    hedged: PerformanceMetrics
    unhedged: PerformanceMetrics
    cost_of_protection: float
    premium_paid: float
    payoffs_received: float
    hedge_pnl: float
    gross_premium: float
    hedge_cost_efficiency: float
    hit_rate: float
    over_hedge_ratio: float
    pricing_sources: dict[str, int]
    legs: list[LegRecord] = field(repr=False)
    dates: list[dt.date] = field(repr=False)
    hedged_value: FloatArray = field(repr=False)
    unhedged_value: FloatArray = field(repr=False)
    index_units: FloatArray = field(repr=False)
    label: str = (
        "estimate (model-priced backtest; past performance does not predict future results)"
    )

    def to_dict(self, *, include_series: bool = False) -> dict[str, Any]:
        """Summary as a JSON-ready dict; ``include_series`` adds legs and daily values."""
        out: dict[str, Any] = {
            "strategy": self.strategy,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "initial_value": self.initial_value,
            "config": asdict(self.config),
            "hedged": self.hedged.to_dict(),
            "unhedged": self.unhedged.to_dict(),
            "cost_of_protection": self.cost_of_protection,
            "premium_paid": self.premium_paid,
            "payoffs_received": self.payoffs_received,
            "hedge_pnl": self.hedge_pnl,
            "gross_premium": self.gross_premium,
            "hedge_cost_efficiency": self.hedge_cost_efficiency,
            "hit_rate": self.hit_rate,
            "over_hedge_ratio": self.over_hedge_ratio,
            "pricing_sources": dict(self.pricing_sources),
            "n_legs": len(self.legs),
            "label": self.label,
        }
        if include_series:
            out["legs"] = [leg.to_dict() for leg in self.legs]
            out["dates"] = [d.isoformat() for d in self.dates]
            out["hedged_value"] = self.hedged_value.tolist()
            out["unhedged_value"] = self.unhedged_value.tolist()
        return out


def _as_dates(dates: Sequence[Any]) -> list[dt.date]:
    out = []
    for d in dates:
        if isinstance(d, dt.datetime):
            out.append(d.date())
        elif isinstance(d, dt.date):
            out.append(d)
        elif hasattr(d, "date") and callable(d.date):
            out.append(d.date())
        else:
            out.append(dt.date.fromisoformat(str(d)[:10]))
    return out


def _atm_vol(
    closes: FloatArray, implied: FloatArray | None, cfg: BacktestConfig
) -> tuple[FloatArray, np.ndarray]:
    """ATM vol per day and whether it came from the implied series."""
    t = closes.size
    lr = np.diff(np.log(closes))
    w = int(cfg.proxy_window)
    c1 = np.concatenate([[0.0], np.cumsum(lr)])
    c2 = np.concatenate([[0.0], np.cumsum(lr * lr)])
    rv = np.full(t, np.nan)
    # realised vol over the w returns ending at day i (needs i >= w)
    s1 = c1[w:] - c1[:-w]
    s2 = c2[w:] - c2[:-w]
    rv[w:] = np.sqrt(np.maximum((s2 - s1 * s1 / w) / (w - 1), 0.0) * TRADING_DAYS)
    proxy = rv * cfg.proxy_scale
    from_implied = np.zeros(t, dtype=bool)
    atm = proxy.copy()
    if implied is not None:
        ok = np.isfinite(implied) & (implied > 0)
        atm[ok] = implied[ok]
        from_implied = ok
    return atm, from_implied


def run_backtest(
    dates: Sequence[Any],
    closes: ArrayLike,
    strategy: Strategy = "pput",
    *,
    implied_atm: ArrayLike | None = None,
    implied_source: str = "VIX",
    config: BacktestConfig | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    initial_value: float = 1_000_000.0,
    progress: Callable[[int, int], None] | None = None,
) -> BacktestResult:
    """Walk-forward backtest of a rolling protective put or collar on an index.

    Parameters
    ----------
    dates : sequence of date-like, shape (T,)
        Trading days, increasing.
    closes : array_like, shape (T,)
        Index closes (> 0).
    strategy : {"pput", "collar"}
    implied_atm : array_like, shape (T,), optional
        ATM implied vol per day in decimals (e.g. VIX/100), NaN where
        unavailable; the realised-vol proxy fills the gaps.
    implied_source : str
        Label of ``implied_atm``.
    config : BacktestConfig, optional
    start, end : date, optional
        Window; the backtest starts at the first monthly expiration on or
        after ``start`` (with enough history for the vol proxy).
    initial_value : float
        Portfolio value at the start (currency).
    progress : callable or None
        Called as ``progress(rolls_done, n_rolls)`` after each roll.

    Returns
    -------
    BacktestResult
    """
    from floorguard.core.pricing import bsm_price
    from floorguard.core.risk import annual_volatility, expected_shortfall, max_drawdown

    cfg = config or BacktestConfig()
    if strategy not in ("pput", "collar"):
        raise ValidationError.for_field("strategy", f"must be 'pput' or 'collar', got {strategy!r}")
    if not np.isfinite(initial_value) or initial_value <= 0:
        raise ValidationError.for_field("initial_value", "must be a finite number > 0")
    all_dates = _as_dates(dates)
    px_all = np.asarray(closes, dtype=np.float64).reshape(-1)
    if px_all.size != len(all_dates):
        raise ValidationError.for_field(
            "closes", f"has {px_all.size} values but dates has {len(all_dates)}"
        )
    if not np.all(np.isfinite(px_all)) or np.any(px_all <= 0):
        raise ValidationError.for_field("closes", "must be finite and > 0")
    if any(b <= a for a, b in zip(all_dates, all_dates[1:], strict=False)):
        raise ValidationError.for_field("dates", "must be strictly increasing")
    iv_all = None
    if implied_atm is not None:
        iv_all = np.asarray(implied_atm, dtype=np.float64).reshape(-1)
        if iv_all.size != px_all.size:
            raise ValidationError.for_field(
                "implied_atm", f"has {iv_all.size} values but closes has {px_all.size}"
            )
    atm_all, from_iv_all = _atm_vol(px_all, iv_all, cfg)
    ords = np.array([d.toordinal() for d in all_dates], dtype=np.int64)
    first_ok = int(cfg.proxy_window)
    lo = first_ok
    if start is not None:
        lo = max(lo, int(np.searchsorted(ords, start.toordinal())))
    hi = len(all_dates) - 1
    if end is not None:
        hi = min(hi, int(np.searchsorted(ords, end.toordinal(), side="right")) - 1)
    if hi - lo < 42:
        raise ValidationError.for_field(
            "end", "the window needs at least two months of trading days"
        )
    seg_dates = all_dates[lo : hi + 1]
    rolls = [p + lo for p in monthly_expirations(seg_dates)]
    rolls = [p for p in rolls if p >= first_ok]
    if len(rolls) < 2:
        raise ValidationError.for_field(
            "start", "the window must contain at least two monthly expirations"
        )
    t0, t_end = rolls[0], hi
    px = px_all
    atm = atm_all
    n_days = t_end - t0 + 1
    value = np.empty(n_days)
    units = np.empty(n_days)
    quarterly = {3, 6, 9, 12}

    # open legs: dict with kind, strike, qty, open pos, expiry pos (expiry may lie beyond t_end)
    open_legs: list[dict[str, Any]] = []
    records: list[LegRecord] = []
    sources = {implied_source: 0, "realised-vol proxy": 0}
    roll_set = rolls

    def leg_values(leg: dict[str, Any], pos: np.ndarray) -> FloatArray:
        """Model value per unit of ``leg`` on days ``pos`` (intrinsic on expiry day)."""
        days_left = (leg["expiry"].toordinal() - ords[pos]).astype(np.float64)
        s = px[pos]
        tau = days_left / 365.0
        live = tau > 0
        outv = np.where(
            leg["kind"] == "put",
            np.maximum(leg["strike"] - s, 0.0),
            np.maximum(s - leg["strike"], 0.0),
        ).astype(np.float64)
        if live.any():
            tl = tau[live]
            fwd = s[live] * np.exp((cfg.rate - cfg.dividend_yield) * tl)
            vol = model_vol(
                atm[pos][live],
                leg["strike"],
                fwd,
                tl,
                skew=cfg.surface_skew,
                curvature=cfg.surface_curvature,
            )
            outv[live] = bsm_price(
                leg["kind"], s[live], leg["strike"], tl, cfg.rate, vol, cfg.dividend_yield
            )
        return outv

    def expiry_date(k: int, months: int) -> tuple[dt.date, int | None]:
        j = k + months
        if j < len(roll_set):
            return all_dates[roll_set[j]], roll_set[j]
        # beyond the data: the calendar third Friday ``months`` later
        d = all_dates[roll_set[k]]
        y, m = d.year, d.month + months
        while m > 12:
            y, m = y + 1, m - 12
        d1 = dt.date(y, m, 1)
        return d1 + dt.timedelta(days=(4 - d1.weekday()) % 7 + 14), None

    n_units = initial_value / px[t0]
    v_now = initial_value
    for k, r in enumerate(rolls):
        if progress is not None and k > 0:
            progress(k, len(rolls))
        nxt = rolls[k + 1] if k + 1 < len(rolls) else t_end
        # settle legs expiring today
        if k > 0:
            v_now = n_units * px[r]
            still = []
            for leg in open_legs:
                if leg["expiry_pos"] == r:
                    pay = float(leg_values(leg, np.array([r]))[0])
                    _close_leg(leg, pay * leg["qty"], records, px, all_dates, r, closed_early=False)
                    v_now += pay * leg["qty"]
                else:
                    v_now += float(leg_values(leg, np.array([r]))[0]) * leg["qty"]
                    still.append(leg)
            open_legs = still
        # new legs
        s = px[r]
        d = all_dates[r]
        src = implied_source if from_iv_all[r] else "realised-vol proxy"
        new: list[dict[str, Any]] = []
        month = all_dates[r].month
        if strategy == "pput":
            new.append({"kind": "put", "months": 1})
        else:
            has_put = any(leg["kind"] == "put" for leg in open_legs)
            if not has_put:
                months = (
                    3
                    if month in quarterly
                    else next(i for i in (1, 2, 3) if ((month - 1 + i) % 12 + 1) in quarterly)
                )
                new.append({"kind": "put", "months": months})
            new.append({"kind": "call", "months": 1})
        per_unit = 0.0
        for leg in new:
            e_date, e_pos = expiry_date(k, leg["months"])
            if leg["kind"] == "put":
                kx = s * cfg.put_moneyness
                strike = (
                    math.floor(kx / cfg.strike_step) * cfg.strike_step
                    if cfg.strike_step > 0
                    else kx
                )
            else:
                kx = s * cfg.call_moneyness
                strike = (
                    math.ceil(kx / cfg.strike_step) * cfg.strike_step if cfg.strike_step > 0 else kx
                )
            leg.update(
                strike=float(strike), expiry=e_date, expiry_pos=e_pos, open_pos=r, source=src
            )
            price = float(leg_values(leg, np.array([r]))[0])
            tau = (e_date - d).days / 365.0
            fwd = s * math.exp((cfg.rate - cfg.dividend_yield) * tau)
            leg["vol"] = float(
                model_vol(
                    np.array([atm[r]]),
                    strike,
                    np.array([fwd]),
                    np.array([tau]),
                    skew=cfg.surface_skew,
                    curvature=cfg.surface_curvature,
                )[0]
            )
            leg["price"] = price
            sign = 1.0 if leg["kind"] == "put" else -1.0
            per_unit += sign * price
            leg["sign"] = sign
            sources[src] += 1
        cont = sum(float(leg_values(leg, np.array([r]))[0]) * leg["qty"] for leg in open_legs)
        n_units = (v_now - cont) / (s + per_unit)
        for leg in new:
            leg["qty"] = leg["sign"] * n_units
            leg["premium"] = leg["qty"] * leg["price"]
            leg["atm"] = float(atm[r])
            leg["band"] = cfg.band
            open_legs.append(leg)
        # mark the segment (r, nxt]
        seg = np.arange(r, nxt + 1)
        vals = n_units * px[seg]
        for leg in open_legs:
            vals = vals + leg["qty"] * leg_values(leg, seg)
        value[r - t0 : nxt - t0 + 1] = vals
        units[r - t0 : nxt - t0 + 1] = n_units
        if k + 1 == len(rolls) or nxt == t_end:
            if nxt == t_end:
                # settle or close what is open at the end
                for leg in open_legs:
                    pay = float(leg_values(leg, np.array([t_end]))[0]) * leg["qty"]
                    _close_leg(
                        leg,
                        pay,
                        records,
                        px,
                        all_dates,
                        t_end,
                        closed_early=leg["expiry_pos"] != t_end,
                    )
                open_legs = []
                break
    dates_out = all_dates[t0 : t_end + 1]
    unhedged = initial_value * px[t0 : t_end + 1] / px[t0]
    final_records = list(records)
    rets_h = value[1:] / value[:-1] - 1.0
    rets_u = unhedged[1:] / unhedged[:-1] - 1.0
    roll_idx = [r - t0 for r in rolls if r <= t_end]
    if roll_idx[-1] != n_days - 1:
        roll_idx.append(n_days - 1)
    per_h = np.array(
        [value[b] / value[a] - 1.0 for a, b in zip(roll_idx, roll_idx[1:], strict=False)]
    )
    per_u = np.array(
        [unhedged[b] / unhedged[a] - 1.0 for a, b in zip(roll_idx, roll_idx[1:], strict=False)]
    )

    def metrics(v: FloatArray, rets: FloatArray, per: FloatArray) -> PerformanceMetrics:
        n = rets.size
        me = _month_end_values(dates_out, v)
        monthly = me[1:] / me[:-1] - 1.0
        return PerformanceMetrics(
            annual_return=float((v[-1] / v[0]) ** (TRADING_DAYS / n) - 1.0),
            annual_vol=float(annual_volatility(rets)),
            max_drawdown=float(max_drawdown(rets)),
            worst_month=float(monthly.min()) if monthly.size else float("nan"),
            es_period=float(expected_shortfall(per, cfg.level)) if per.size >= 2 else float("nan"),
            total_return=float(v[-1] / v[0] - 1.0),
        )

    mh = metrics(value, rets_h, per_h)
    mu = metrics(unhedged, rets_u, per_u)
    premium_paid = float(sum(r.premium for r in records))
    payoffs = float(sum(r.payoff for r in records))
    puts = [r for r in records if r.kind == "put"]
    gross = float(sum(r.premium for r in puts))
    pos_of = {d: i for i, d in enumerate(dates_out)}
    put_prem_frac = np.array([r.premium / float(value[pos_of[r.open_date]]) for r in puts])
    mean_prem_frac = float(put_prem_frac.mean()) if put_prem_frac.size else float("nan")
    eff = (mu.es_period - mh.es_period) / mean_prem_frac if mean_prem_frac > 0 else float("nan")
    hits = [r.hit for r in puts if not r.closed_early]
    threshold = 1.0 - cfg.put_moneyness
    over = sum(r.premium for r in puts if -r.realized_drawdown < threshold)
    return BacktestResult(
        strategy=strategy,
        start=dates_out[0],
        end=dates_out[-1],
        initial_value=float(initial_value),
        config=cfg,
        hedged=mh,
        unhedged=mu,
        cost_of_protection=float(mu.annual_return - mh.annual_return),
        premium_paid=premium_paid,
        payoffs_received=payoffs,
        hedge_pnl=payoffs - premium_paid,
        gross_premium=gross,
        hedge_cost_efficiency=float(eff),
        hit_rate=float(np.mean(hits)) if hits else float("nan"),
        over_hedge_ratio=float(over / gross) if gross > 0 else float("nan"),
        pricing_sources={k: v for k, v in sources.items() if v},
        legs=final_records,
        dates=dates_out,
        hedged_value=value,
        unhedged_value=unhedged,
        index_units=units,
    )


def _month_end_values(dates: list[dt.date], v: FloatArray) -> FloatArray:
    """Values on the first day and on the last trading day of each month."""
    keep = [0]
    for i in range(1, len(dates)):
        if i == len(dates) - 1 or dates[i + 1].month != dates[i].month:
            keep.append(i)
    return v[np.array(sorted(set(keep)))]


def _close_leg(
    leg: dict[str, Any],
    payoff: float,
    records: list[LegRecord],
    px: FloatArray,
    dates: list[dt.date],
    pos: int,
    *,
    closed_early: bool,
) -> None:
    o = leg["open_pos"]
    s0 = float(px[o])
    path = px[o : pos + 1]
    dd = float(path.min() / s0 - 1.0)
    t = max((leg["expiry"] - dates[o]).days, 1) / 365.0
    if leg["kind"] == "put":
        b_lo, b_hi = drawdown_band(leg["atm"], t, leg["band"])
    else:
        b_lo, b_hi = float("nan"), float("nan")
    # band[0] is the deep (5 % probability) drawdown, band[1] the shallow one
    hit = bool(leg["kind"] == "put" and b_lo <= dd <= b_hi)
    records.append(
        LegRecord(
            kind=leg["kind"],
            open_date=dates[o],
            expiry=leg["expiry"],
            strike=leg["strike"],
            quantity=float(leg["qty"]),
            price=float(leg["price"]),
            premium=float(leg["premium"]),
            payoff=float(payoff),
            pnl=float(payoff - leg["premium"]),
            vol=float(leg["vol"]),
            pricing_source=leg["source"],
            spot_open=s0,
            realized_drawdown=dd,
            band_lo=float(b_lo),
            band_hi=float(b_hi),
            hit=hit,
            closed_early=closed_early,
        )
    )
