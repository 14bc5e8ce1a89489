"""Uncertainty windows and hedge opportunities (seed section 20): pure logic, no I/O.

This module fuses the forward-looking signals of :mod:`floorguard.core.forecast`
into *risk windows* ``[T0, T1]`` (section 20.8 "Uncertainty" panel), chooses
the listed expiries to test for each window (section 20.3 step 2), scores each
candidate hedge (section 20.3 step 3) and computes the section 20.9 KPIs from
stored records. The service layer (:mod:`floorguard.services.opportunities`)
loads the data, fits the models, prices the hedges through the insurance
engine and runs the Monte Carlo engine; everything here takes plain values.

Every figure is a model estimate and is labelled as such.

Score (section 20.3)
--------------------
``Score = (ES reduction − premium) / residual risk`` with, at the coverage
horizon and confidence level ``level``:

* ``ES_u``: expected shortfall of the unhedged portfolio (currency, loss > 0);
* ``ES_g``: expected shortfall of the holdings plus the hedge's value at the
  horizon, *before* the premium (the gross hedged position);
* ``ES reduction = ES_u − ES_g``; ``premium`` = net premium paid today
  (negative for a credit);
* ``residual risk = ES_h = ES_g + premium``, the expected shortfall of the
  hedged portfolio net of premium, floored at ``1e-6 × V0`` so a perfect
  hedge does not divide by zero.

Since the premium is a constant shift of every path, ``ES_h = ES_g + premium``
exactly, so the numerator equals ``ES_u − ES_h``: the score is the net ES
improvement per unit of remaining tail risk (dimensionless).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from floorguard.exceptions import ValidationError

__all__ = [
    "ESTIMATE_LABEL",
    "STRUCTURES",
    "CandidateScore",
    "Driver",
    "DrawdownDistribution",
    "EventInput",
    "HedgeKpis",
    "RiskWindow",
    "SignalInputs",
    "build_risk_windows",
    "candidate_expiries",
    "hedge_cost_efficiency",
    "hedge_kpis",
    "hit_rate",
    "over_hedge_ratio",
    "projected_variance",
    "rank_candidates",
    "recommendation_table",
    "score_hedge",
    "structure_note",
    "theta_decay",
]

ESTIMATE_LABEL = "estimate (model output; not a guarantee)"
#: Strategy families ranked (section 20.3 step 4).
STRUCTURES: tuple[str, ...] = ("protective_put", "collar", "put_spread", "tail_hedge")
TRADING_DAYS = 252


# ----------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class EventInput:
    """An upcoming event with its historical expected absolute index move.

    Attributes
    ----------
    date : date
    type : str
        ``fomc``, ``cpi``, ``jobs``, ``earnings`` or ``other``.
    name : str
    expected_abs_move : float or None
        Historical mean absolute index move on such events (decimal), if known.
    move_ratio : float or None
        That move relative to ordinary days (1.0 = no different).
    symbol : str or None
        Holding the event concerns (earnings).
    """

    date: dt.date
    type: str
    name: str
    expected_abs_move: float | None = None
    move_ratio: float | None = None
    symbol: str | None = None


@dataclass(frozen=True)
class SignalInputs:
    """The current state of every forecast signal (estimates), as plain numbers.

    Attributes
    ----------
    as_of : date
        Last date of the data the signals were computed on.
    horizon_days : int
        Trading days covered by the forecast (the base window's length).
    term_vol : sequence of float, shape (horizon_days,)
        Forecast annualised index vol to day ``d`` (``VolForecast.term_vol_annual``).
    term_vol_lower, term_vol_upper : sequence of float, shape (horizon_days,)
        Its band.
    band : (float, float)
        Quantile probabilities of the band.
    long_run_vol : float
        Unconditional annualised vol of the fitted GARCH (NaN if not stationary).
    realised_vol : float
        Trailing 21-day realised annualised vol.
    implied_vol : float or None
        VIX / chain implied vol (decimal) when available.
    p_high_vol : float or None
        Filtered probability of the high-volatility regime.
    corr_current : float or None
        Current rolling mean pairwise correlation of the holdings.
    corr_high : bool
        Correlation above its historical high quantile.
    corr_jump : bool
        A correlation jump among the last few days.
    anomaly_latest : bool
        IsolationForest flags the latest day.
    dispersion_flag : bool
        Abnormal cross-sectional dispersion on the latest day.
    tail_xi : float or None
        Generalised Pareto shape of daily losses (> 0: fat tail).
    tail_heavy : bool
    credit_multiplier : float
        Tail-risk multiplier from the credit spread (1.0 = neutral).
    credit_regime : str or None
    sentiment : dict of str to float
        Mean lexicon sentiment per holding (negative = bad news).
    """

    as_of: dt.date
    horizon_days: int
    term_vol: Sequence[float]
    term_vol_lower: Sequence[float]
    term_vol_upper: Sequence[float]
    band: tuple[float, float] = (0.05, 0.95)
    long_run_vol: float = float("nan")
    realised_vol: float = float("nan")
    implied_vol: float | None = None
    p_high_vol: float | None = None
    corr_current: float | None = None
    corr_high: bool = False
    corr_jump: bool = False
    anomaly_latest: bool = False
    dispersion_flag: bool = False
    tail_xi: float | None = None
    tail_heavy: bool = False
    credit_multiplier: float = 1.0
    credit_regime: str | None = None
    sentiment: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        h = int(self.horizon_days)
        if h != self.horizon_days or h < 1:
            raise ValidationError.for_field("horizon_days", "must be a whole number >= 1")
        for name in ("term_vol", "term_vol_lower", "term_vol_upper"):
            v = list(getattr(self, name))
            if len(v) < h or not all(math.isfinite(x) and x > 0 for x in v[:h]):
                raise ValidationError.for_field(name, f"needs {h} finite positive vols")
        if not (math.isfinite(self.credit_multiplier) and self.credit_multiplier > 0):
            raise ValidationError.for_field("credit_multiplier", "must be a finite number > 0")

    def vol_to(self, days: int) -> tuple[float, float, float]:
        """(lower, central, upper) forecast annual vol to ``days`` (clamped to the horizon)."""
        d = min(max(int(days), 1), int(self.horizon_days))
        return (float(self.term_vol_lower[d - 1]), float(self.term_vol[d - 1]), float(self.term_vol_upper[d - 1]))


# ----------------------------------------------------------------------------- windows


@dataclass(frozen=True)
class Driver:
    """One reason for a window: ``kind``, a sentence and a severity in [0, 1]."""

    kind: str
    detail: str
    severity: float
    value: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DrawdownDistribution:
    """Projected portfolio return to the window end (Monte Carlo estimates, fractions).

    ``p5``/``median``/``p95`` of the simple return; ``es`` the expected shortfall
    (loss > 0) at ``level``; ``p_loss_5``/``p_loss_10`` the probabilities of
    losing more than 5 % and 10 %; ``*_se`` their Monte Carlo standard errors.
    """

    p5: float
    median: float
    p95: float
    es: float
    level: float
    p_loss_5: float
    p_loss_10: float
    p5_se: float = float("nan")
    es_se: float = float("nan")
    n_paths: int = 0
    label: str = "estimate (Monte Carlo)"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RiskWindow:
    """An uncertainty window ``[start, end]`` with drivers and probability bands (estimates).

    Attributes
    ----------
    id : str
        Stable id (``"w1"``, ``"w2"``, ...) in date order.
    start, end : date
    trading_days : int
        Trading days from ``as_of`` to ``end`` (the coverage horizon).
    drivers : list of Driver
        Most severe first.
    severity : float
        In [0, 1]: ``1 − Π(1 − severity_i)`` over the drivers.
    reason : str
        Short human reason (for the narrative).
    vol_band : (float, float, float)
        Forecast annualised vol to ``end``: lower, central, upper.
    move_band : (float, float)
        Index simple-return quantiles to ``end`` at the band probabilities
        (lognormal with the central forecast vol, scaled by the credit multiplier).
    drawdown_band : (float, float)
        Quantiles of the index's running-minimum drawdown to ``end`` (GBM,
        reflection principle), the band the hit-rate KPI checks.
    p_high_vol : float or None
    events : list of EventInput
    drawdown : DrawdownDistribution or None
        Projected portfolio distribution, attached by the service.
    """

    id: str
    start: dt.date
    end: dt.date
    trading_days: int
    drivers: list[Driver]
    severity: float
    reason: str
    vol_band: tuple[float, float, float]
    move_band: tuple[float, float]
    drawdown_band: tuple[float, float]
    band: tuple[float, float]
    p_high_vol: float | None
    events: list[EventInput] = field(default_factory=list)
    drawdown: DrawdownDistribution | None = None
    label: str = ESTIMATE_LABEL

    def with_drawdown(self, dist: DrawdownDistribution) -> RiskWindow:
        return replace(self, drawdown=dist)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "trading_days": self.trading_days,
            "reason": self.reason,
            "severity": self.severity,
            "drivers": [d.to_dict() for d in self.drivers],
            "vol_band": {"lower": self.vol_band[0], "central": self.vol_band[1], "upper": self.vol_band[2]},
            "move_band": {"lower": self.move_band[0], "upper": self.move_band[1]},
            "drawdown_band": {"lower": self.drawdown_band[0], "upper": self.drawdown_band[1]},
            "band_probabilities": list(self.band),
            "p_high_vol": self.p_high_vol,
            "events": [
                {**asdict(e), "date": e.date.isoformat()} for e in self.events
            ],
            "drawdown": None if self.drawdown is None else self.drawdown.to_dict(),
            "label": self.label,
        }


def _business_days_between(a: dt.date, b: dt.date) -> int:
    """Weekdays in (a, b] (a trading-day approximation; holidays ignored)."""
    if b <= a:
        return 0
    days = (b - a).days
    weeks, rem = divmod(days, 7)
    count = weeks * 5
    wd = a.weekday()
    for i in range(1, rem + 1):
        if (wd + i) % 7 < 5:
            count += 1
    return count


def _add_business_days(a: dt.date, n: int) -> dt.date:
    d = a
    step = 1 if n >= 0 else -1
    left = abs(n)
    while left:
        d += dt.timedelta(days=step)
        if d.weekday() < 5:
            left -= 1
    return d


def _phi_inv(p: float) -> float:
    from scipy.special import ndtri

    return float(ndtri(p))


def _move_band(sigma: float, t_years: float, band: tuple[float, float]) -> tuple[float, float]:
    sd = sigma * math.sqrt(t_years)
    mu = -0.5 * sd * sd
    return (math.expm1(mu + sd * _phi_inv(band[0])), math.expm1(mu + sd * _phi_inv(band[1])))


def _state_drivers(s: SignalInputs) -> list[Driver]:
    out: list[Driver] = []
    lo, mid, hi = s.vol_to(s.horizon_days)
    ref = s.long_run_vol if math.isfinite(s.long_run_vol) and s.long_run_vol > 0 else s.realised_vol
    if math.isfinite(ref) and ref > 0:
        ratio = mid / ref
        if ratio > 1.1:
            out.append(Driver("volatility", f"forecast volatility {mid:.1%} above its long-run level {ref:.1%}",
                              min(1.0, (ratio - 1.0)), mid))
    if s.p_high_vol is not None and s.p_high_vol >= 0.5:
        out.append(Driver("regime", f"high-volatility regime probability {s.p_high_vol:.0%}",
                          float(s.p_high_vol), float(s.p_high_vol)))
    if s.implied_vol is not None and math.isfinite(s.implied_vol):
        vrp = s.implied_vol - mid
        if vrp < -0.02:
            out.append(Driver("implied_vol", f"implied volatility {s.implied_vol:.1%} below the forecast "
                              f"{mid:.1%}: protection looks cheap", 0.3, s.implied_vol))
    if s.corr_high or s.corr_jump:
        what = "a jump in" if s.corr_jump else "high"
        c = f" ({s.corr_current:.2f})" if s.corr_current is not None and math.isfinite(s.corr_current) else ""
        out.append(Driver("correlation", f"{what} average correlation of the holdings{c}",
                          0.5 if s.corr_jump else 0.35, s.corr_current))
    if s.anomaly_latest or s.dispersion_flag:
        out.append(Driver("anomaly", "abnormal return or dispersion on the latest day (IsolationForest/dispersion)",
                          0.4, None))
    if s.tail_heavy and s.tail_xi is not None:
        out.append(Driver("tail", f"fat loss tail (generalised Pareto shape {s.tail_xi:.2f})",
                          min(1.0, max(0.2, float(s.tail_xi))), float(s.tail_xi)))
    if s.credit_multiplier > 1.05:
        out.append(Driver("credit", f"credit spreads wide ({s.credit_regime or 'elevated'}): tail risk x"
                          f"{s.credit_multiplier:.2f}", min(1.0, s.credit_multiplier - 1.0), s.credit_multiplier))
    neg = {k: v for k, v in s.sentiment.items() if v < -0.1}
    if neg:
        worst = sorted(neg.items(), key=lambda kv: kv[1])[:3]
        out.append(Driver("sentiment", "negative news sentiment on " + ", ".join(f"{k} ({v:+.2f})" for k, v in worst),
                          min(1.0, -worst[0][1]), worst[0][1]))
    return out


def _event_driver(e: EventInput) -> Driver:
    move = f", typical move {e.expected_abs_move:.2%}" if e.expected_abs_move is not None else ""
    ratio = e.move_ratio if e.move_ratio is not None and math.isfinite(e.move_ratio) else 1.0
    sev = min(1.0, max(0.1, 0.5 * ratio - 0.2))
    return Driver(f"event:{e.type}", f"{e.name} on {e.date.isoformat()}{move}", sev, e.expected_abs_move)


def _combine(drivers: Iterable[Driver]) -> float:
    keep = 1.0
    for d in drivers:
        keep *= 1.0 - min(max(d.severity, 0.0), 1.0)
    return 1.0 - keep


def build_risk_windows(
    signals: SignalInputs,
    events: Sequence[EventInput],
    *,
    pre_days: int = 1,
    post_days: int = 2,
    merge_gap_days: int = 3,
    max_windows: int = 4,
) -> list[RiskWindow]:
    """Fuse the signals and the upcoming events into risk windows.

    Each event inside the forecast horizon opens a window from ``pre_days``
    business days before to ``post_days`` after it; windows closer than
    ``merge_gap_days`` merge. The signals of the current state (vol forecast,
    regime, correlation, anomalies, tail, credit, sentiment) are drivers of
    every window. With no event in the horizon, one window covers the whole
    horizon when any state driver is present (otherwise a quiet window is
    still returned so the baseline is always shown).

    Parameters
    ----------
    signals : SignalInputs
    events : sequence of EventInput
        Any dates; those after ``signals.as_of`` within the horizon are used.
    pre_days, post_days, merge_gap_days : int
        Business days.
    max_windows : int
        Keep the most severe ones (returned in date order).

    Returns
    -------
    list of RiskWindow
        Sorted by start date; ids ``w1..``.
    """
    if pre_days < 0 or post_days < 0 or merge_gap_days < 0 or max_windows < 1:
        raise ValidationError.for_field("windows", "day counts must be >= 0 and max_windows >= 1")
    as_of = signals.as_of
    horizon_end = _add_business_days(as_of, int(signals.horizon_days))
    upcoming = sorted((e for e in events if as_of < e.date <= horizon_end), key=lambda e: e.date)
    state = _state_drivers(signals)
    spans: list[tuple[dt.date, dt.date, list[EventInput]]] = []
    for e in upcoming:
        s0 = max(_add_business_days(e.date, -pre_days), _add_business_days(as_of, 1))
        s1 = min(_add_business_days(e.date, post_days), horizon_end)
        if spans and _business_days_between(spans[-1][1], s0) <= merge_gap_days:
            a, b, evs = spans[-1]
            spans[-1] = (a, max(b, s1), [*evs, e])
        else:
            spans.append((s0, s1, [e]))
    if not spans:
        spans.append((_add_business_days(as_of, 1), horizon_end, []))
    lo_p, hi_p = signals.band
    windows: list[RiskWindow] = []
    for start, end, evs in spans:
        days = max(1, _business_days_between(as_of, end))
        vlo, vmid, vhi = signals.vol_to(days)
        sigma = vmid * math.sqrt(signals.credit_multiplier)
        t = days / TRADING_DAYS
        drivers = sorted([*(_event_driver(e) for e in evs), *state], key=lambda d: -d.severity)
        from floorguard.core.backtest import drawdown_band

        dd = drawdown_band(sigma, t, (lo_p, hi_p))
        reason = " + ".join(dict.fromkeys(_reason_word(d) for d in drivers[:3])) if drivers else \
            "no elevated signal (baseline volatility)"
        windows.append(RiskWindow(
            id="", start=start, end=end, trading_days=days, drivers=drivers, severity=_combine(drivers),
            reason=reason, vol_band=(vlo, vmid, vhi), move_band=_move_band(sigma, t, (lo_p, hi_p)),
            drawdown_band=(min(dd), max(dd)), band=(lo_p, hi_p), p_high_vol=signals.p_high_vol, events=list(evs),
        ))
    if len(windows) > max_windows:
        windows = sorted(sorted(windows, key=lambda w: -w.severity)[:max_windows], key=lambda w: w.start)
    return [replace(w, id=f"w{i + 1}") for i, w in enumerate(windows)]


def _reason_word(d: Driver) -> str:
    if d.kind.startswith("event:"):
        kind = d.kind.split(":", 1)[1]
        return {"fomc": "FOMC", "cpi": "CPI release", "jobs": "jobs report", "earnings": "earnings"}.get(kind, kind)
    return {
        "volatility": "elevated volatility forecast",
        "regime": "high-volatility regime",
        "implied_vol": "cheap implied volatility",
        "correlation": "rising correlation",
        "anomaly": "abnormal market moves",
        "tail": "fat loss tail",
        "credit": "wide credit spreads",
        "sentiment": "negative news",
    }.get(d.kind, d.kind)


# ----------------------------------------------------------------------------- expiries


def candidate_expiries(listed: Iterable[dt.date], as_of: dt.date, window_end: dt.date) -> list[dt.date]:
    """Listed expiries to test for a window (section 20.3 step 2).

    The nearest listed expiry on or after ``window_end`` (it covers the
    window), plus the one before it (early exit, cheaper carry) and the one
    after it (carry efficiency), all after ``as_of``.

    Returns
    -------
    list of date
        Sorted, 1 to 3 dates.

    Raises
    ------
    ValidationError
        No listed expiry after ``as_of`` reaches ``window_end``.
    """
    live = sorted({d for d in listed if d > as_of})
    covering = [d for d in live if d >= window_end]
    if not covering:
        raise ValidationError.for_field("expiries", f"no listed expiry on or after the window end {window_end}")
    first = covering[0]
    i = live.index(first)
    out = [first]
    if i > 0:
        out.insert(0, live[i - 1])
    if i + 1 < len(live):
        out.append(live[i + 1])
    return out


def projected_variance(sigma_annual: float, t_years: float) -> float:
    """Projected variance of the portfolio's log return over ``t_years`` (``σ² t``)."""
    if not (math.isfinite(sigma_annual) and sigma_annual >= 0 and math.isfinite(t_years) and t_years >= 0):
        raise ValidationError.for_field("sigma_annual", "vol and time must be finite and >= 0")
    return sigma_annual * sigma_annual * t_years


def theta_decay(premium: float, value_at_horizon: float) -> dict[str, float]:
    """Hedge time decay against the coverage horizon.

    Parameters
    ----------
    premium : float
        Net premium paid today (currency).
    value_at_horizon : float
        Model value of the same legs at the window end with the index and
        volatility unchanged (currency; intrinsic value if already expired).

    Returns
    -------
    dict
        ``decay`` (currency lost to time by the window end), ``decay_share``
        (of the premium; NaN for a zero premium) and ``residual_value``.
    """
    decay = premium - value_at_horizon
    share = decay / premium if abs(premium) > 1e-12 else float("nan")
    return {"decay": float(decay), "decay_share": float(share), "residual_value": float(value_at_horizon)}


# ----------------------------------------------------------------------------- scoring


@dataclass(frozen=True)
class CandidateScore:
    """One (expiry, structure) candidate with its score (estimates).

    Attributes
    ----------
    expiry : date
    structure : str
    put_strike, call_strike : float or None
        In the option instrument's strike units.
    instrument : str
    premium : float
        Net premium (currency; negative = credit).
    coverage_pct : float
        Long-put notional / beta-adjusted exposure, in percent.
    breakeven : float or None
        Underlying level at which the hedged portfolio is back to today's value.
    es_unhedged, es_gross, es_hedged : float
        Expected shortfalls at the horizon (currency, loss > 0).
    score : float
    projected_variance : float
    theta : dict
        From :func:`theta_decay`.
    role : str
        ``"before"``, ``"covering"`` or ``"after"`` the window end.
    draft : dict or None
        The insurance engine's draft (for "Hedge now").
    pricing_source : str
        Where the premiums came from (a chain file, or the SYNTHETIC model chain).
    synthetic : bool
        True when the premiums are model prices, not market quotes.
    """

    expiry: dt.date
    structure: str
    put_strike: float | None
    call_strike: float | None
    instrument: str
    premium: float
    coverage_pct: float
    breakeven: float | None
    es_unhedged: float
    es_gross: float
    es_hedged: float
    es_reduction: float
    residual_risk: float
    score: float
    projected_variance: float
    theta: dict[str, float]
    role: str
    term_days: int
    floor_pct: float
    draft: dict[str, Any] | None = None
    pricing_source: str = ""
    synthetic: bool = False
    label: str = ESTIMATE_LABEL

    def row(self) -> dict[str, Any]:
        """The section 20.3 table row."""
        return {
            "Expiry": self.expiry.isoformat(),
            "Structure": self.structure,
            "Put Strike": self.put_strike,
            "Call Strike": self.call_strike,
            "Premium": self.premium,
            "Coverage%": self.coverage_pct,
            "Breakeven": self.breakeven,
            "Score": self.score,
        }

    def to_dict(self, *, include_draft: bool = False) -> dict[str, Any]:
        out = asdict(self)
        out["expiry"] = self.expiry.isoformat()
        if not include_draft:
            out.pop("draft", None)
        return out


def score_hedge(es_unhedged: float, es_hedged: float, premium: float, portfolio_value: float) -> dict[str, float]:
    """Section 20.3 score of one hedge.

    Parameters
    ----------
    es_unhedged : float
        ES of the unhedged portfolio at the horizon (currency, loss > 0).
    es_hedged : float
        ES of the hedged portfolio *net of* the premium (currency).
    premium : float
        Net premium paid today (currency; negative = credit).
    portfolio_value : float
        Today's value (currency), for the residual-risk floor.

    Returns
    -------
    dict
        ``es_gross = es_hedged − premium``, ``es_reduction = es_unhedged −
        es_gross``, ``residual_risk = max(es_hedged, 1e-6·V0)`` and
        ``score = (es_reduction − premium) / residual_risk``.
    """
    for name, v in (("es_unhedged", es_unhedged), ("es_hedged", es_hedged), ("premium", premium)):
        if not math.isfinite(v):
            raise ValidationError.for_field(name, "must be finite")
    if not (math.isfinite(portfolio_value) and portfolio_value > 0):
        raise ValidationError.for_field("portfolio_value", "must be a finite number > 0")
    es_gross = es_hedged - premium
    reduction = es_unhedged - es_gross
    residual = max(es_hedged, 1e-6 * portfolio_value)
    return {
        "es_gross": es_gross,
        "es_reduction": reduction,
        "residual_risk": residual,
        "score": (reduction - premium) / residual,
    }


def structure_note(structure: str, p_loss_10: float | None, tail_heavy: bool) -> str:
    """Section 20.3 step 4: when each family fits the window's estimated risk.

    ``p_loss_10`` is the estimated probability of losing more than 10 % by the
    window end (the severe tail); ``tail_heavy`` the fat-tail flag of the EVT fit.
    """
    severe = p_loss_10 is not None and math.isfinite(p_loss_10) and p_loss_10 >= 0.10
    if structure == "protective_put":
        return "floor at 1 - target drawdown; full protection below the put strike"
    if structure == "collar":
        return "the short call finances the put: cheapest, gives up upside above the call strike"
    if structure == "put_spread":
        return ("severe-tail probability is elevated: protection stops at the lower strike" if severe
                else "severe-tail probability is low: the short lower put cuts the premium")
    if structure == "tail_hedge":
        return ("fat loss tail estimated: far out-of-the-money convexity" if tail_heavy
                else "no fat tail estimated: cheap convexity for a crash only")
    return ""


def rank_candidates(cands: Sequence[CandidateScore], feedback: dict[str, float] | None = None) -> list[CandidateScore]:
    """Sort by score (descending), breaking ties by premium, after feedback nudges.

    ``feedback`` maps a structure to its net acceptance share in [−1, 1]
    (accepts − rejects over all answers); each structure's score is multiplied
    by ``1 + 0.1·share`` for the ordering only (the reported score is the
    model's). An empty feedback map leaves the model ordering unchanged.
    """
    fb = feedback or {}

    def key(c: CandidateScore) -> tuple[float, float]:
        nudge = 1.0 + 0.1 * max(-1.0, min(1.0, fb.get(c.structure, 0.0)))
        s = c.score * nudge if c.score >= 0 else c.score / nudge
        return (-s, c.premium)

    return sorted(cands, key=key)


def recommendation_table(cands: Sequence[CandidateScore]) -> list[dict[str, Any]]:
    """Rows ``Expiry | Structure | Put Strike | Call Strike | Premium | Coverage% | Breakeven | Score``."""
    return [c.row() for c in cands]


# ----------------------------------------------------------------------------- KPIs


def hedge_cost_efficiency(es_unhedged: float, es_hedged: float, premium: float) -> float:
    """``(Unhedged ES − Hedged ES) / Premium`` (section 20.9); NaN for a non-positive premium."""
    if not (premium > 0 and math.isfinite(premium)):
        return float("nan")
    return (es_unhedged - es_hedged) / premium


def hit_rate(outcomes: Sequence[tuple[float, float, float]]) -> float:
    """Share of windows whose realised drawdown fell inside the predicted band.

    ``outcomes``: (realised drawdown, band lower, band upper), drawdowns ≤ 0.
    NaN when there is no settled window.
    """
    if not outcomes:
        return float("nan")
    hits = sum(1 for r, lo, hi in outcomes if min(lo, hi) - 1e-12 <= r <= max(lo, hi) + 1e-12)
    return hits / len(outcomes)


def over_hedge_ratio(legs: Sequence[tuple[float, float]], threshold: float) -> float:
    """Share of premium spent when the realised drawdown stayed shallower than ``threshold``.

    ``legs``: (premium paid, realised drawdown ≤ 0); ``threshold`` a positive
    depth (0.05 = 5 %). NaN when no premium was spent.
    """
    total = sum(p for p, _ in legs if p > 0)
    if total <= 0:
        return float("nan")
    wasted = sum(p for p, dd in legs if p > 0 and -dd < threshold)
    return wasted / total


@dataclass(frozen=True)
class HedgeKpis:
    """Section 20.9 KPIs (estimates), with the counts behind them."""

    hedge_cost_efficiency: float
    hit_rate: float
    over_hedge_ratio: float
    user_adoption: float
    drift_alerts: int
    n_windows_settled: int
    n_recommendations: int
    n_accepted: int
    n_rejected: int
    n_bound: int
    sources: dict[str, str] = field(default_factory=dict)
    label: str = ESTIMATE_LABEL

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def hedge_kpis(
    *,
    top_candidate: CandidateScore | None,
    window_outcomes: Sequence[tuple[float, float, float]],
    premium_outcomes: Sequence[tuple[float, float]],
    over_hedge_threshold: float,
    n_recommendations: int,
    n_accepted: int,
    n_rejected: int,
    n_bound: int,
    drift_alerts: int,
    sources: dict[str, str] | None = None,
) -> HedgeKpis:
    """Assemble the KPIs.

    ``user_adoption`` = policies bound from a recommendation / recommendations
    served (NaN when none was served).
    """
    eff = float("nan")
    if top_candidate is not None:
        # protection bought per unit of premium: ES before the premium is paid
        eff = hedge_cost_efficiency(top_candidate.es_unhedged, top_candidate.es_gross, top_candidate.premium)
    return HedgeKpis(
        hedge_cost_efficiency=eff,
        hit_rate=hit_rate(window_outcomes),
        over_hedge_ratio=over_hedge_ratio(premium_outcomes, over_hedge_threshold),
        user_adoption=(n_bound / n_recommendations) if n_recommendations > 0 else float("nan"),
        drift_alerts=int(drift_alerts),
        n_windows_settled=len(window_outcomes),
        n_recommendations=int(n_recommendations),
        n_accepted=int(n_accepted),
        n_rejected=int(n_rejected),
        n_bound=int(n_bound),
        sources=dict(sources or {}),
    )
