"""Scenario engine: presets, shocks, pathwise repricing of portfolio and hedge.

The portfolio is a vector of current market values, one per modelled asset;
the hedge is a list of European options on one of those assets (the index,
column ``index``). Under a :class:`ScenarioSpec` the engine simulates
correlated log returns (:mod:`._paths`), revalues holdings at the horizon,
reprices every option leg at its *remaining* life off a volatility surface
with a volatility response to the move, and reports distribution statistics
with Monte Carlo standard errors. Values at the horizon are not discounted.

Every figure is a model estimate, labelled as such in the result.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

import numpy as np

from floorguard._typing import ArrayLike, FloatArray, OptionKind, Seed
from floorguard.core.montecarlo._paths import (
    TRADING_DAYS,
    MertonJumps,
    ReturnModel,
    iter_path_chunks,
    iter_terminal_values,
    spawn_streams,
)
from floorguard.core.montecarlo._stats import (
    Estimate,
    TailComparison,
    mc_mean,
    mc_proportion,
    mc_quantiles,
    tail_comparison,
)
from floorguard.exceptions import ValidationError

__all__ = [
    "PRESETS",
    "FlatVol",
    "OptionLeg",
    "ScenarioResult",
    "ScenarioSpec",
    "VolSurfaceLike",
    "custom_shock",
    "mc_european_price",
    "preset",
    "reprice_legs",
    "run_scenario",
]

#: Bounds on repriced implied volatility (per 1.00).
VOL_FLOOR, VOL_CAP = 0.01, 5.0
#: Upper bound on the floats of one chunk of daily paths in ``run_scenario``.
PATH_CHUNK_FLOATS = 4_000_000


@runtime_checkable
class VolSurfaceLike(Protocol):
    """Anything with ``vol(strike, t_years, forward)`` returning implied vol per 1.00."""

    def vol(self, strike: Any, t_years: Any, forward: Any) -> Any: ...


@dataclass(frozen=True)
class FlatVol:
    """A flat implied-volatility surface (``sigma`` per 1.00 at every strike and life)."""

    sigma: float

    def __post_init__(self) -> None:
        if not np.isfinite(self.sigma) or self.sigma <= 0:
            raise ValidationError.for_field("sigma", "must be a finite number > 0")

    def vol(self, strike: Any, t_years: Any, forward: Any) -> FloatArray:
        shape = np.broadcast(np.asarray(strike), np.asarray(t_years), np.asarray(forward)).shape
        return np.full(shape, float(self.sigma))


@dataclass(frozen=True)
class OptionLeg:
    """One European option leg on the hedge underlying.

    Attributes
    ----------
    kind : {"call", "put"}
    strike : float
        Strike in index points.
    expiry_years : float
        Time to expiry from today in years (> 0).
    quantity : float
        Signed number of index units (contracts × multiplier); + long, − short.
    premium : float or None
        Price per index unit paid (long) or received (short) today. None:
        priced off the surface at today's spot.
    """

    kind: OptionKind
    strike: float
    expiry_years: float
    quantity: float
    premium: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("call", "put"):
            raise ValidationError.for_field(
                "legs.kind", f"must be 'call' or 'put', got {self.kind!r}"
            )
        if not np.isfinite(self.strike) or self.strike <= 0:
            raise ValidationError.for_field("legs.strike", "must be a finite number > 0")
        if not np.isfinite(self.expiry_years) or self.expiry_years <= 0:
            raise ValidationError.for_field("legs.expiry_years", "must be a finite number > 0")
        if not np.isfinite(self.quantity):
            raise ValidationError.for_field("legs.quantity", "must be finite")
        if self.premium is not None and (not np.isfinite(self.premium) or self.premium < 0):
            raise ValidationError.for_field("legs.premium", "must be a finite number >= 0")


@dataclass(frozen=True)
class ScenarioSpec:
    """A scenario: shock, volatility stress and horizon.

    Attributes
    ----------
    name : str
    index_move : float or None
        Median simple return of the index over the horizon (−0.12 = −12 %).
        Other assets move by their beta to the index. None: no shock, the
        model drift applies.
    vol_multiplier : float
        Multiplies the diffusive return volatility and the implied vols used
        for repricing.
    horizon_days : int
        Trading days to the horizon.
    jumps : MertonJumps or None
        Optional jump overlay (replaces the model's).
    spot_vol_slope : float
        Implied-vol change (per 1.00) per unit index log return: −1.0 adds
        ten vol points after a −10 % move.
    """

    name: str
    index_move: float | None
    vol_multiplier: float
    horizon_days: int
    jumps: MertonJumps | None = None
    spot_vol_slope: float = -1.0

    def __post_init__(self) -> None:
        if self.index_move is not None and (
            not np.isfinite(self.index_move) or self.index_move <= -1
        ):
            raise ValidationError.for_field("index_move", "must be a finite number > -1")
        if not np.isfinite(self.vol_multiplier) or self.vol_multiplier <= 0:
            raise ValidationError.for_field("vol_multiplier", "must be a finite number > 0")
        if int(self.horizon_days) != self.horizon_days or self.horizon_days < 1:
            raise ValidationError.for_field("horizon_days", "must be a whole number of days >= 1")
        if not np.isfinite(self.spot_vol_slope):
            raise ValidationError.for_field("spot_vol_slope", "must be finite")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: Scenario presets (illustrative stresses, one month = 21 trading days).
PRESETS: dict[str, ScenarioSpec] = {
    "mild": ScenarioSpec("mild", index_move=-0.05, vol_multiplier=1.25, horizon_days=21),
    "base": ScenarioSpec(
        "base", index_move=None, vol_multiplier=1.0, horizon_days=21, spot_vol_slope=-1.0
    ),
    "severe": ScenarioSpec("severe", index_move=-0.12, vol_multiplier=1.75, horizon_days=21),
    "tail": ScenarioSpec(
        "tail",
        index_move=-0.25,
        vol_multiplier=2.5,
        horizon_days=21,
        jumps=MertonJumps(intensity=3.0, mean=-0.05, vol=0.05, compensate=False),
    ),
}


def preset(name: str) -> ScenarioSpec:
    """The preset scenario ``name`` (``mild``, ``base``, ``severe`` or ``tail``)."""
    key = str(name).strip().lower()
    if key not in PRESETS:
        raise ValidationError.for_field(
            "preset", f"must be one of {', '.join(PRESETS)}, got {name!r}"
        )
    return PRESETS[key]


def custom_shock(
    index_move: float,
    vol_multiplier: float = 1.0,
    horizon_days: int = 21,
    *,
    jumps: MertonJumps | None = None,
    spot_vol_slope: float = -1.0,
) -> ScenarioSpec:
    """A user-defined scenario (index move, vol multiplier, horizon in trading days)."""
    return ScenarioSpec(
        "custom", index_move, vol_multiplier, int(horizon_days), jumps, spot_vol_slope
    )


# --------------------------------------------------------------------------- pricing


def _bsm(
    is_call: bool,
    spot: FloatArray,
    strike: float,
    tau: float,
    rate: float,
    q: float,
    vol: FloatArray,
) -> FloatArray:
    """Black–Scholes–Merton prices (vectorised over ``spot`` and ``vol``)."""
    from floorguard.core.pricing import bsm_price

    return np.asarray(
        bsm_price("call" if is_call else "put", spot, strike, tau, rate, vol, q),
        dtype=np.float64,
    )


def _surface_vol(
    surface: VolSurfaceLike, strike: float, tau: float, forward: FloatArray
) -> FloatArray:
    out = np.asarray(surface.vol(strike, tau, forward), dtype=np.float64)
    return np.broadcast_to(out, np.shape(forward)).astype(np.float64, copy=False)


def reprice_legs(
    legs: Sequence[OptionLeg],
    spot: ArrayLike,
    elapsed_years: float,
    *,
    spot0: float,
    surface: VolSurfaceLike,
    rate: float = 0.0,
    dividend_yield: float = 0.0,
    vol_multiplier: float = 1.0,
    spot_vol_slope: float = 0.0,
    grid: int | None = None,
    out: FloatArray | None = None,
    _work: tuple[FloatArray, FloatArray] | None = None,
) -> FloatArray:
    """Value of the hedge (sum of ``quantity × price``) at ``elapsed_years``.

    Parameters
    ----------
    legs : sequence of OptionLeg
    spot : array_like, shape (m,)
        Index level on each path.
    elapsed_years : float
        Time since today; each leg has ``expiry_years − elapsed_years`` left
        (expired legs are worth their intrinsic value).
    spot0 : float
        Today's index level (for the vol response).
    surface : VolSurfaceLike
        Implied vol as a function of strike, remaining life and forward
        (sticky moneyness when the surface is quoted in moneyness).
    rate, dividend_yield : float
        Continuously compounded, per year.
    vol_multiplier : float
        Multiplies the surface vol.
    spot_vol_slope : float
        Added vol per unit index log return since today.
    grid : int or None
        If set (≥ 64) and there are more than ``4 · grid`` paths, price the
        hedge exactly on ``grid`` evenly spaced index levels spanning the
        paths and interpolate linearly. The hedge value depends on the path
        only through the index level (the vol is a function of it), so this is
        exact at the nodes and off by at most ``max|Γ|·h²/8`` per unit between
        them (``h`` = grid spacing).
    out : ndarray, shape (m,), optional
        Where to write the result when the grid is used (no fresh array).

    Returns
    -------
    ndarray, shape (m,)
        Hedge value per path in currency units.
    """
    s = np.asarray(spot, dtype=np.float64).reshape(-1)
    if grid is not None and s.size > 4 * grid and legs:
        if grid < 64:
            raise ValidationError.for_field("grid", "must be >= 64")
        lo, hi = float(s.min()), float(s.max())
        if hi > lo:
            nodes = np.linspace(lo, hi, int(grid))
            vals = reprice_legs(
                legs,
                nodes,
                elapsed_years,
                spot0=spot0,
                surface=surface,
                rate=rate,
                dividend_yield=dividend_yield,
                vol_multiplier=vol_multiplier,
                spot_vol_slope=spot_vol_slope,
            )
            fwork, iwork = _work if _work is not None else (None, None)
            return _interp_uniform(s, lo, hi, vals, out=out, fwork=fwork, iwork=iwork)
    total = np.zeros_like(s)
    log_move = None
    for leg in legs:
        tau = leg.expiry_years - elapsed_years
        if tau <= 1e-10:
            intrinsic = (
                np.maximum(s - leg.strike, 0.0)
                if leg.kind == "call"
                else np.maximum(leg.strike - s, 0.0)
            )
            total += leg.quantity * intrinsic
            continue
        fwd = s * math.exp((rate - dividend_yield) * tau)
        vol = _surface_vol(surface, leg.strike, tau, fwd) * vol_multiplier
        if spot_vol_slope != 0.0:
            if log_move is None:
                log_move = np.log(s / spot0)
            vol = vol + spot_vol_slope * log_move
        vol = np.clip(vol, VOL_FLOOR, VOL_CAP)
        total += leg.quantity * _bsm(
            leg.kind == "call", s, leg.strike, tau, rate, dividend_yield, vol
        )
    return total


def _interp_uniform(
    x: FloatArray,
    lo: float,
    hi: float,
    values: FloatArray,
    *,
    out: FloatArray | None = None,
    fwork: FloatArray | None = None,
    iwork: FloatArray | None = None,
) -> FloatArray:
    """Linear interpolation on evenly spaced nodes over [lo, hi] (no binary search).

    ``out``, ``fwork`` (float64) and ``iwork`` (intp), each of ``x``'s shape,
    are optional preallocated buffers (fresh arrays of 10⁵ floats cost page
    faults on every call).
    """
    n = values.size
    pos = np.subtract(x, lo, out=fwork)
    pos *= (n - 1) / (hi - lo)
    np.clip(pos, 0.0, n - 1.0, out=pos)
    if iwork is None:
        idx = pos.astype(np.intp)
    else:
        idx = iwork
        np.copyto(idx, pos, casting="unsafe")  # truncation, as astype
    np.minimum(idx, n - 2, out=idx)
    pos -= idx
    slope = np.diff(values)  # slope[i] == values[i + 1] - values[i], bit for bit
    res = np.take(slope, idx, out=out, mode="clip")  # idx already lies in [0, n - 2]
    res *= pos
    res += np.take(values, idx, out=pos, mode="clip")
    return res


def _initial_premiums(
    legs: Sequence[OptionLeg], spot0: float, surface: VolSurfaceLike, rate: float, q: float
) -> list[float]:
    out = []
    for leg in legs:
        if leg.premium is not None:
            out.append(float(leg.premium))
            continue
        fwd = np.array([spot0 * math.exp((rate - q) * leg.expiry_years)])
        vol = np.clip(_surface_vol(surface, leg.strike, leg.expiry_years, fwd), VOL_FLOOR, VOL_CAP)
        out.append(
            float(
                _bsm(
                    leg.kind == "call",
                    np.array([spot0]),
                    leg.strike,
                    leg.expiry_years,
                    rate,
                    q,
                    vol,
                )[0]
            )
        )
    return out


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class DistributionSummary:
    """P5 / median / P95 and mean of simulated final values (currency units), with SEs."""

    p5: Estimate
    median: Estimate
    p95: Estimate
    mean: Estimate

    def to_dict(self) -> dict[str, Any]:
        return {
            k: v.to_dict()
            for k, v in (
                ("p5", self.p5),
                ("median", self.median),
                ("p95", self.p95),
                ("mean", self.mean),
            )
        }


@dataclass(frozen=True)
class ScenarioResult:
    """Outcome of :func:`run_scenario`. All figures are Monte Carlo estimates.

    Attributes
    ----------
    scenario : ScenarioSpec
    n_paths : int
    level : float
        Confidence level of VaR and ES.
    initial_value : float
        Holdings value today (currency).
    hedge_premium : float
        Net premium paid today for the hedge (negative = credit received).
    unhedged, hedged : DistributionSummary
        Final value at the horizon (currency). ``hedged`` = holdings value +
        hedge value at the horizon − net premium paid today, so both start
        from the same capital (``initial_value``).
    expected_net_payoff : Estimate
        Mean of (hedge value at horizon − premium paid).
    var_unhedged, var_hedged, es_unhedged, es_hedged : Estimate
        Loss fractions of ``initial_value`` at ``level`` (positive = loss).
    floor : float or None
        Floor value monitored (currency).
    p_floor_breach_unhedged, p_floor_breach_hedged : Estimate or None
        Probability that value falls below ``floor`` (at the horizon, or at any
        step when ``monitor_path`` was set).
    tail_unhedged, tail_hedged : TailComparison
        Monte Carlo ES next to Cornish–Fisher ES.
    monitored_path : bool
    label : str
        ``"estimate"``; the figures are model outputs, not guarantees.
    """

    scenario: ScenarioSpec
    n_paths: int
    level: float
    initial_value: float
    hedge_premium: float
    unhedged: DistributionSummary
    hedged: DistributionSummary
    expected_net_payoff: Estimate
    var_unhedged: Estimate
    var_hedged: Estimate
    es_unhedged: Estimate
    es_hedged: Estimate
    floor: float | None
    p_floor_breach_unhedged: Estimate | None
    p_floor_breach_hedged: Estimate | None
    tail_unhedged: TailComparison
    tail_hedged: TailComparison
    monitored_path: bool
    label: str = "estimate (Monte Carlo; not a guarantee)"
    final_unhedged: FloatArray | None = field(default=None, repr=False, compare=False)
    final_hedged: FloatArray | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in self.__dict__.items():
            if k in ("final_unhedged", "final_hedged"):
                continue
            out[k] = v.to_dict() if hasattr(v, "to_dict") else v
        return out


# --------------------------------------------------------------------------- engine


def _scenario_model(model: ReturnModel, spec: ScenarioSpec, index: int) -> ReturnModel:
    kwargs: dict[str, Any] = {"vol_multiplier": model.vol_multiplier * spec.vol_multiplier}
    if spec.jumps is not None:
        kwargs["jumps"] = spec.jumps
    if spec.index_move is not None:
        var_idx = float(model.cov[index, index])
        if var_idx <= 0:
            raise ValidationError.for_field(
                "cov", "index variance must be > 0 for a shocked scenario"
            )
        beta = model.cov[:, index] / var_idx
        kwargs["shift"] = beta * math.log1p(spec.index_move)
        kwargs["mean"] = np.zeros(model.n_assets)
    return replace(model, **kwargs)


def _check_inputs(
    holdings: ArrayLike, model: ReturnModel, index: int, index_spot: float
) -> FloatArray:
    h = np.asarray(holdings, dtype=np.float64).reshape(-1)
    if h.shape[0] != model.n_assets:
        raise ValidationError.for_field(
            "holdings", f"needs {model.n_assets} values, got {h.shape[0]}"
        )
    if not np.all(np.isfinite(h)):
        raise ValidationError.for_field("holdings", "must be finite")
    if not 0 <= index < model.n_assets:
        raise ValidationError.for_field("index", f"must be a column in [0, {model.n_assets})")
    if not np.isfinite(index_spot) or index_spot <= 0:
        raise ValidationError.for_field("index_spot", "must be a finite number > 0")
    if h.sum() <= 0:
        raise ValidationError.for_field("holdings", "total value must be > 0")
    return h


def run_scenario(
    holdings: ArrayLike,
    model: ReturnModel,
    scenario: ScenarioSpec,
    *,
    index: int,
    index_spot: float,
    legs: Sequence[OptionLeg] = (),
    surface: VolSurfaceLike | float = 0.2,
    rate: float = 0.0,
    dividend_yield: float = 0.0,
    floor: float | None = None,
    level: float = 0.95,
    n_paths: int = 100_000,
    seed: Seed = None,
    chunk_size: int = 100_000,
    monitor_path: bool = False,
    keep_paths: bool = False,
    repricing_grid: int | None = 4097,
    progress: Callable[[int, int], None] | None = None,
) -> ScenarioResult:
    """Simulate a scenario and compare the hedged and unhedged portfolio.

    Parameters
    ----------
    holdings : array_like, shape (n_assets,)
        Current market value of each modelled asset (currency units).
    model : ReturnModel
        Daily log-return model of the same assets (column ``index`` is the
        hedge underlying; hold 0 of it if it is only the hedge reference).
    scenario : ScenarioSpec
        Preset (:func:`preset`) or :func:`custom_shock`.
    index : int
        Column of the hedge underlying.
    index_spot : float
        Index level today (index points).
    legs : sequence of OptionLeg
        The hedge (empty: unhedged only).
    surface : VolSurfaceLike or float
        Implied-vol surface (``.vol(strike, t_years, forward)``) or a flat vol.
    rate, dividend_yield : float
        Continuously compounded per year, for option pricing.
    floor : float or None
        Floor value (currency) for the breach probability.
    level : float
        Confidence level for VaR and ES.
    n_paths : int
        Number of Monte Carlo paths.
    seed : int, Generator or None
        Same seed, same numbers.
    chunk_size : int
        Paths simulated at once (bounds memory). In path mode a chunk is
        further capped at ``PATH_CHUNK_FLOATS / (days · n_assets)`` paths.
    monitor_path : bool
        Simulate daily steps and count a floor breach if the value is below
        ``floor`` on any day (hedge repriced every day); otherwise terminal only.
    keep_paths : bool
        Keep per-path final values in the result (``final_unhedged``/``final_hedged``).
    repricing_grid : int or None
        Index-level nodes for hedge repricing (see :func:`reprice_legs`; at
        most 1025 per daily step in path mode); None reprices every path
        exactly with Black–Scholes–Merton.
    progress : callable or None
        Called as ``progress(paths_done, n_paths)`` after each chunk (for a
        progress bar).

    Returns
    -------
    ScenarioResult
    """
    h = _check_inputs(holdings, model, index, index_spot)
    if not 0 < level < 1:
        raise ValidationError.for_field("level", "must be in (0, 1)")
    if floor is not None and (not np.isfinite(floor) or floor < 0):
        raise ValidationError.for_field("floor", "must be a finite number >= 0")
    surf: VolSurfaceLike = FlatVol(float(surface)) if isinstance(surface, (int, float)) else surface
    spec_model = _scenario_model(model, scenario, index)
    days = int(scenario.horizon_days)
    horizon_years = days / TRADING_DAYS
    legs = list(legs)
    premiums = _initial_premiums(legs, index_spot, surf, rate, dividend_yield)
    premium = float(sum(leg.quantity * p for leg, p in zip(legs, premiums, strict=True)))
    v0 = float(h.sum())
    reprice = {
        "spot0": index_spot,
        "surface": surf,
        "rate": rate,
        "dividend_yield": dividend_yield,
        "vol_multiplier": scenario.vol_multiplier,
        "spot_vol_slope": scenario.spot_vol_slope,
        "grid": repricing_grid,
    }
    fin_u = np.empty(n_paths)
    fin_h = np.empty(n_paths)
    breach_u = np.zeros(n_paths, dtype=bool)
    breach_h = np.zeros(n_paths, dtype=bool)
    pos = 0
    if not monitor_path:
        _terminal_finals(
            spec_model,
            days,
            h,
            index=index,
            index_spot=index_spot,
            legs=legs,
            premium=premium,
            reprice=reprice,
            seed=seed,
            chunk_size=chunk_size,
            fin_u=fin_u,
            fin_h=fin_h,
            progress=progress,
        )
        if floor is not None:
            breach_u = fin_u < floor
            breach_h = fin_h < floor
    else:
        # cache-friendly chunks: at most ~4M floats of path data at once
        path_chunk = min(chunk_size, max(256, PATH_CHUNK_FLOATS // (days * model.n_assets)))
        for x in iter_path_chunks(spec_model, days, n_paths, seed=seed, chunk_size=path_chunk):
            m = x.shape[0]
            np.exp(x, out=x)
            vals = x @ h  # (m, days)
            sl = slice(pos, pos + m)
            if floor is not None:
                breach_u[sl] = vals.min(axis=1) < floor
            hedged_min = np.full(m, np.inf)
            hedge_t = np.zeros(m)
            step_kw = dict(reprice)
            if repricing_grid is not None:
                step_kw["grid"] = min(int(repricing_grid), 1025)  # path chunks are smaller
            for t in range(days):
                if legs:
                    hedge_t = reprice_legs(
                        legs, index_spot * x[:, t, index], (t + 1) / TRADING_DAYS, **step_kw
                    )
                np.minimum(hedged_min, vals[:, t] + hedge_t - premium, out=hedged_min)
            if floor is not None:
                breach_h[sl] = hedged_min < floor
            fin_u[sl] = vals[:, -1]
            fin_h[sl] = vals[:, -1] + hedge_t - premium
            pos += m
            if progress is not None:
                progress(pos, n_paths)
    ret_u = fin_u / v0 - 1.0
    ret_h = fin_h / v0 - 1.0
    return _summarise(
        scenario,
        n_paths,
        level,
        v0,
        premium,
        fin_u,
        fin_h,
        ret_u,
        ret_h,
        floor,
        breach_u,
        breach_h,
        monitor_path,
        keep_paths,
    )


def _terminal_finals(
    model: ReturnModel,
    days: int,
    h: FloatArray,
    *,
    index: int,
    index_spot: float,
    legs: Sequence[OptionLeg],
    premium: float,
    reprice: dict[str, Any],
    seed: Seed,
    chunk_size: int,
    fin_u: FloatArray,
    fin_h: FloatArray,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Terminal kernel of :func:`run_scenario`: fill ``fin_u``/``fin_h`` (shape (n_paths,)).

    Holdings values come from the fused :func:`iter_terminal_values`; the hedge
    is repriced once per chunk on the index level, written straight into
    ``fin_h`` with preallocated work buffers.
    """
    n_paths = fin_u.shape[0]
    horizon_years = days / TRADING_DAYS
    pos = 0
    chunks = iter_terminal_values(
        model, days, n_paths, h, index=index, seed=seed, chunk_size=chunk_size, out=fin_u
    )
    cap = max(1, min(chunk_size, n_paths))
    spot_buf = np.empty(cap)
    work = (np.empty(cap), np.empty(cap, dtype=np.intp))
    for vals, growth in chunks:
        m = vals.shape[0]
        out_h = fin_h[pos : pos + m]  # vals is already fin_u[pos : pos + m]
        if legs:
            spot_t = np.multiply(growth, index_spot, out=spot_buf[:m])
            hedge = reprice_legs(
                legs,
                spot_t,
                horizon_years,
                out=out_h,
                _work=(work[0][:m], work[1][:m]),
                **reprice,
            )
            if hedge is not out_h:  # exact repricing (no grid) returns a new array
                out_h[...] = hedge
            out_h += vals
            out_h -= premium
        else:
            np.subtract(vals, premium, out=out_h)
        pos += m
        if progress is not None:
            progress(pos, n_paths)


def _distribution(final: FloatArray) -> DistributionSummary:
    p5, med, p95 = mc_quantiles(final, (0.05, 0.5, 0.95))
    return DistributionSummary(p5=p5, median=med, p95=p95, mean=mc_mean(final))


def _summarise(
    scenario: ScenarioSpec,
    n_paths: int,
    level: float,
    v0: float,
    premium: float,
    fin_u: FloatArray,
    fin_h: FloatArray,
    ret_u: FloatArray,
    ret_h: FloatArray,
    floor: float | None,
    breach_u: FloatArray,
    breach_h: FloatArray,
    monitor_path: bool,
    keep_paths: bool,
) -> ScenarioResult:
    tail_u = tail_comparison(ret_u, level)
    tail_h = tail_comparison(ret_h, level)
    # hedge value at the horizon minus premium == hedged minus unhedged final value
    net = mc_mean(fin_h - fin_u)
    return ScenarioResult(
        scenario=scenario,
        n_paths=int(n_paths),
        level=float(level),
        initial_value=v0,
        hedge_premium=premium,
        unhedged=_distribution(fin_u),
        hedged=_distribution(fin_h),
        expected_net_payoff=net,
        var_unhedged=tail_u.var_monte_carlo,
        var_hedged=tail_h.var_monte_carlo,
        es_unhedged=tail_u.es_monte_carlo,
        es_hedged=tail_h.es_monte_carlo,
        floor=None if floor is None else float(floor),
        p_floor_breach_unhedged=None if floor is None else mc_proportion(breach_u),
        p_floor_breach_hedged=None if floor is None else mc_proportion(breach_h),
        tail_unhedged=tail_u,
        tail_hedged=tail_h,
        monitored_path=bool(monitor_path),
        final_unhedged=fin_u if keep_paths else None,
        final_hedged=fin_h if keep_paths else None,
    )


# --------------------------------------------------------------------------- single-asset pricer


def mc_european_price(
    spot: float,
    strike: float,
    t_years: float,
    rate: float,
    vol: float,
    kind: OptionKind = "put",
    *,
    dividend_yield: float = 0.0,
    jumps: MertonJumps | None = None,
    n_paths: int = 100_000,
    seed: Seed = None,
    antithetic: bool = True,
) -> Estimate:
    """Risk-neutral Monte Carlo price of a European option (check against closed forms).

    Parameters
    ----------
    spot, strike : float
        Index points.
    t_years : float
        Time to expiry in years.
    rate, dividend_yield : float
        Continuously compounded per year.
    vol : float
        Diffusive volatility per 1.00, per year.
    kind : {"call", "put"}
    jumps : MertonJumps or None
        Merton jumps (``intensity`` per year); the drift is compensated so the
        discounted price is a martingale.
    n_paths : int
        Paths (pairs when ``antithetic``).
    seed : int, Generator or None
    antithetic : bool
        Use antithetic normals (the SE is computed on pair averages).

    Returns
    -------
    Estimate
        Discounted price and its standard error.
    """
    for name, v in (("spot", spot), ("strike", strike), ("t_years", t_years), ("vol", vol)):
        if not np.isfinite(v) or v <= 0:
            raise ValidationError.for_field(name, "must be a finite number > 0")
    if kind not in ("call", "put"):
        raise ValidationError.for_field("kind", f"must be 'call' or 'put', got {kind!r}")
    if n_paths < 2:
        raise ValidationError.for_field("n_paths", "must be >= 2")
    rng_z, rng_c, rng_s = spawn_streams(seed, 3)
    drift = (rate - dividend_yield - 0.5 * vol * vol) * t_years
    z = rng_z.standard_normal(n_paths)
    jump = np.zeros(n_paths)
    if jumps is not None:
        k = math.expm1(jumps.mean + 0.5 * jumps.vol**2)
        drift -= jumps.intensity * k * t_years
        counts = rng_c.poisson(jumps.intensity * t_years, size=n_paths)
        jump = counts * jumps.mean + np.sqrt(counts) * jumps.vol * rng_s.standard_normal(n_paths)
    disc = math.exp(-rate * t_years)
    sd = vol * math.sqrt(t_years)

    def payoff(zz: FloatArray) -> FloatArray:
        st = spot * np.exp(drift + sd * zz + jump)
        return np.maximum(st - strike, 0.0) if kind == "call" else np.maximum(strike - st, 0.0)

    pay = 0.5 * (payoff(z) + payoff(-z)) if antithetic else payoff(z)
    est = mc_mean(pay * disc)
    return est
