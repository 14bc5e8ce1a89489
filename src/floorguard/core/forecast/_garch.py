"""GARCH(1,1) and GJR-GARCH volatility forecasts through ``arch``.

Returns go in as decimal daily returns (0.01 = 1 %). They are multiplied by
100 before fitting, as the ``arch`` documentation recommends, so the fitted
parameters (``mu``, ``omega``, ``alpha[1]``, ``gamma[1]``, ``beta[1]``, ``nu``)
are in *percent* units exactly as ``arch`` reports them; every volatility the
module returns is converted back to decimals (0.20 = 20 % a year).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from floorguard._typing import ArrayLike, FloatArray, Seed, as_generator
from floorguard.exceptions import DataError, ValidationError

__all__ = [
    "GarchFit",
    "VolForecast",
    "VolRiskPremium",
    "fit_garch",
    "forecast_vol",
    "garch_filter",
    "implied_vol_from_vix",
    "vol_risk_premium",
]

GarchKind = Literal["garch", "gjr"]
GarchDist = Literal["normal", "t"]
TRADING_DAYS = 252
SCALE = 100.0


def _returns_1d(
    returns: ArrayLike, name: str = "returns", min_obs: int = 100
) -> tuple[FloatArray, Any]:
    index = getattr(returns, "index", None)
    arr = np.asarray(returns, dtype=np.float64).reshape(-1)
    if arr.size < min_obs:
        raise ValidationError.for_field(
            name, f"needs at least {min_obs} daily returns, got {arr.size}"
        )
    if not np.all(np.isfinite(arr)):
        raise ValidationError.for_field(name, "contains NaN or infinite values; drop them first")
    if np.all(arr == arr[0]):
        raise ValidationError.for_field(name, "is constant; volatility cannot be estimated")
    return arr, index


@dataclass(frozen=True)
class GarchFit:
    """A fitted GARCH(1,1) or GJR-GARCH(1,1,1) model.

    Attributes
    ----------
    model : {"garch", "gjr"}
    dist : {"normal", "t"}
    params : dict of str to float
        ``arch`` parameter names and values in percent-return units.
    std_errors : dict of str to float
        Robust standard errors of ``params``.
    loglik, aic, bic : float
    nobs : int
    conditional_vol : ndarray, shape (nobs,)
        In-sample conditional daily volatility (decimal).
    std_resid : ndarray, shape (nobs,)
        Standardised residuals.
    persistence : float
        ``alpha + gamma/2 + beta`` (< 1 for a stationary model).
    long_run_vol_annual : float
        Unconditional annualised vol (decimal); NaN when not stationary.
    next_day_vol : float
        One-step-ahead conditional daily vol (decimal).
    converged : bool
        Whether the optimiser reported success.
    messages : tuple of str
        Optimiser and ``arch`` warnings raised during the fit.
    """

    model: GarchKind
    dist: GarchDist
    params: dict[str, float]
    std_errors: dict[str, float]
    loglik: float
    aic: float
    bic: float
    nobs: int
    conditional_vol: FloatArray = field(repr=False)
    std_resid: FloatArray = field(repr=False)
    persistence: float
    long_run_vol_annual: float
    next_day_vol: float
    converged: bool
    messages: tuple[str, ...] = ()
    result: Any = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "dist": self.dist,
            "params": dict(self.params),
            "std_errors": dict(self.std_errors),
            "loglik": self.loglik,
            "aic": self.aic,
            "bic": self.bic,
            "nobs": self.nobs,
            "persistence": self.persistence,
            "long_run_vol_annual": self.long_run_vol_annual,
            "next_day_vol": self.next_day_vol,
            "converged": self.converged,
            "messages": list(self.messages),
        }


def fit_garch(
    returns: ArrayLike,
    model: GarchKind = "garch",
    dist: GarchDist = "normal",
    *,
    mean: Literal["constant", "zero"] = "constant",
) -> GarchFit:
    """Fit GARCH(1,1) or GJR-GARCH(1,1,1) by maximum likelihood with ``arch``.

    Parameters
    ----------
    returns : array_like or pandas.Series, shape (T,)
        Daily decimal returns (T ≥ 100), no NaN.
    model : {"garch", "gjr"}
        ``gjr`` adds the leverage term ``gamma · ε² · 1[ε<0]``.
    dist : {"normal", "t"}
        Innovation distribution (Student-t estimates ``nu``).
    mean : {"constant", "zero"}
        Mean model.

    Returns
    -------
    GarchFit
    """
    from arch import arch_model

    if model not in ("garch", "gjr"):
        raise ValidationError.for_field("model", f"must be 'garch' or 'gjr', got {model!r}")
    if dist not in ("normal", "t"):
        raise ValidationError.for_field("dist", f"must be 'normal' or 't', got {dist!r}")
    if mean not in ("constant", "zero"):
        raise ValidationError.for_field("mean", f"must be 'constant' or 'zero', got {mean!r}")
    x, _ = _returns_1d(returns)
    am = arch_model(
        x * SCALE,
        mean="Constant" if mean == "constant" else "Zero",
        vol="GARCH",
        p=1,
        o=1 if model == "gjr" else 0,
        q=1,
        dist="normal" if dist == "normal" else "t",
        rescale=False,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = am.fit(disp="off")
        except (ValueError, np.linalg.LinAlgError) as exc:
            raise DataError(f"GARCH fit failed: {exc}") from exc
    messages = tuple(str(w.message) for w in caught)
    params = {str(k): float(v) for k, v in res.params.items()}
    if not all(math.isfinite(v) for v in params.values()):
        raise DataError("GARCH fit failed: non-finite parameter estimates")
    std_err = {str(k): float(v) for k, v in res.std_err.items()}
    alpha = params.get("alpha[1]", 0.0)
    gamma = params.get("gamma[1]", 0.0)
    beta = params.get("beta[1]", 0.0)
    omega = params["omega"]
    persistence = alpha + 0.5 * gamma + beta
    long_run = (
        math.sqrt(omega / (1.0 - persistence) * TRADING_DAYS) / SCALE
        if persistence < 1.0
        else float("nan")
    )
    f1 = res.forecast(horizon=1, reindex=False)
    next_var = float(np.asarray(f1.variance)[-1, 0])
    converged = int(getattr(res, "convergence_flag", 0)) == 0
    return GarchFit(
        model=model,
        dist=dist,
        params=params,
        std_errors=std_err,
        loglik=float(res.loglikelihood),
        aic=float(res.aic),
        bic=float(res.bic),
        nobs=int(res.nobs),
        conditional_vol=np.asarray(res.conditional_volatility, dtype=np.float64) / SCALE,
        std_resid=np.asarray(res.std_resid, dtype=np.float64),
        persistence=float(persistence),
        long_run_vol_annual=float(long_run),
        next_day_vol=math.sqrt(next_var) / SCALE,
        converged=converged,
        messages=messages,
        result=res,
    )


@dataclass(frozen=True)
class VolForecast:
    """Forecast volatility term structure with a confidence band (estimates).

    Attributes
    ----------
    days : ndarray of int, shape (h,)
        Trading days ahead, 1..h.
    daily_vol : ndarray, shape (h,)
        Expected conditional daily vol on each day (decimal, square root of
        the expected variance).
    term_vol_annual : ndarray, shape (h,)
        Annualised vol of the cumulative return from today to day ``d``:
        ``sqrt(252/d · Σ_{i≤d} E[σ²_i])``.
    lower, upper : ndarray, shape (h,)
        Band of ``term_vol_annual`` across simulated variance paths.
    band : tuple of float
        Quantile probabilities of ``lower`` and ``upper``.
    method : str
        ``analytic`` (central path from the closed-form recursion; band by
        simulation) or ``simulation`` (both from simulation).
    n_sims : int
    label : str
    """

    days: FloatArray
    daily_vol: FloatArray
    term_vol_annual: FloatArray
    lower: FloatArray
    upper: FloatArray
    band: tuple[float, float]
    method: str
    n_sims: int
    model: str
    label: str = "estimate (GARCH forecast)"

    def at(self, day: int) -> float:
        """Annualised term vol to ``day`` (1-based)."""
        if not 1 <= day <= self.days.size:
            raise ValidationError.for_field("horizon_days", f"must be in [1, {self.days.size}]")
        return float(self.term_vol_annual[day - 1])

    def to_dict(self) -> dict[str, Any]:
        return {
            "days": self.days.tolist(),
            "daily_vol": self.daily_vol.tolist(),
            "term_vol_annual": self.term_vol_annual.tolist(),
            "lower": self.lower.tolist(),
            "upper": self.upper.tolist(),
            "band": list(self.band),
            "method": self.method,
            "n_sims": self.n_sims,
            "model": self.model,
            "label": self.label,
        }


def _innovation_sampler(fit: GarchFit, gen: np.random.Generator) -> Any:
    if fit.dist == "t":
        nu = fit.params["nu"]
        scale = math.sqrt((nu - 2.0) / nu)
        return lambda size: gen.standard_t(nu, size=size) * scale
    return lambda size: gen.standard_normal(size)


def forecast_vol(
    fit: GarchFit,
    horizon_days: int = 21,
    *,
    method: Literal["analytic", "simulation"] = "analytic",
    n_sims: int = 2000,
    band: tuple[float, float] = (0.05, 0.95),
    seed: Seed = None,
) -> VolForecast:
    """Forecast the volatility term structure over ``horizon_days``.

    Parameters
    ----------
    fit : GarchFit
        From :func:`fit_garch`.
    horizon_days : int
        Trading days ahead (1..1000).
    method : {"analytic", "simulation"}
        Central path from the GARCH recursion or from the simulated mean.
    n_sims : int
        Simulated variance paths for the band (≥ 100).
    band : (float, float)
        Quantile probabilities of the band.
    seed : int, Generator or None
        Randomness of the simulation.

    Returns
    -------
    VolForecast
    """
    if fit.result is None:
        raise ValidationError.for_field("fit", "has no arch result attached; refit with fit_garch")
    if int(horizon_days) != horizon_days or not 1 <= horizon_days <= 1000:
        raise ValidationError.for_field("horizon_days", "must be a whole number in [1, 1000]")
    if n_sims < 100:
        raise ValidationError.for_field("n_sims", "must be >= 100")
    lo, hi = band
    if not 0 < lo < hi < 1:
        raise ValidationError.for_field("band", "must be two probabilities 0 < lo < hi < 1")
    if method not in ("analytic", "simulation"):
        raise ValidationError.for_field(
            "method", f"must be 'analytic' or 'simulation', got {method!r}"
        )
    h = int(horizon_days)
    gen = as_generator(seed)
    res = fit.result
    sim = res.forecast(
        horizon=h,
        method="simulation",
        simulations=int(n_sims),
        reindex=False,
        rng=_innovation_sampler(fit, gen),
    )
    paths = np.asarray(sim.simulations.variances)[-1] / SCALE**2  # (n_sims, h)
    days = np.arange(1, h + 1)
    cum_paths = np.cumsum(paths, axis=1) / days * TRADING_DAYS
    term_paths = np.sqrt(cum_paths)
    if method == "analytic":
        central = _analytic_variance(res, h)
    else:
        central = paths.mean(axis=0)
    term = np.sqrt(np.cumsum(central) / days * TRADING_DAYS)
    return VolForecast(
        days=days.astype(np.float64),
        daily_vol=np.sqrt(central),
        term_vol_annual=term,
        lower=np.quantile(term_paths, lo, axis=0),
        upper=np.quantile(term_paths, hi, axis=0),
        band=(float(lo), float(hi)),
        method=method,
        n_sims=int(n_sims),
        model=f"{fit.model}-{fit.dist}",
    )


def _analytic_variance(res: Any, h: int) -> FloatArray:
    """Daily variance (decimal) of the GARCH recursion for days 1..h ahead."""
    return np.asarray(res.forecast(horizon=h, reindex=False).variance)[-1] / SCALE**2


def garch_term_vols(fit: GarchFit, horizon_days: int) -> FloatArray:
    """Analytic annualised term vols for every horizon 1..``horizon_days`` (an estimate).

    Element ``h - 1`` is ``forecast_vol(fit, h).term_vol_annual[-1]`` (the
    analytic central path), without the simulated band: one recursion serves
    every shorter horizon, since the variance of day ``d`` ahead does not
    depend on how far the forecast runs.

    Parameters
    ----------
    fit : GarchFit
        From :func:`fit_garch`.
    horizon_days : int
        Longest horizon in trading days (1..1000).

    Returns
    -------
    ndarray, shape (horizon_days,)
    """
    if fit.result is None:
        raise ValidationError.for_field("fit", "has no arch result attached; refit with fit_garch")
    if int(horizon_days) != horizon_days or not 1 <= horizon_days <= 1000:
        raise ValidationError.for_field("horizon_days", "must be a whole number in [1, 1000]")
    h = int(horizon_days)
    days = np.arange(1, h + 1)
    return np.sqrt(np.cumsum(_analytic_variance(fit.result, h)) / days * TRADING_DAYS)


def implied_vol_from_vix(vix: float) -> float:
    """30-day implied vol (decimal) from a VIX level in index points (VIX 20 → 0.20)."""
    if not np.isfinite(vix) or vix <= 0:
        raise ValidationError.for_field("vix", "must be a finite number > 0")
    return float(vix) / 100.0


@dataclass(frozen=True)
class VolRiskPremium:
    """Implied versus forecast volatility over one horizon (estimates).

    Attributes
    ----------
    implied_vol, forecast_vol : float
        Annualised, decimal.
    horizon_days : int
    vol_premium : float
        ``implied − forecast`` in vol per 1.00 (0.03 = 3 vol points).
    variance_premium : float
        ``implied² − forecast²``.
    ratio : float
        ``implied / forecast``.
    signal : {"implied_rich", "implied_cheap", "fair"}
        Rich when the premium exceeds ``threshold`` (options cost more than
        forecast risk), cheap when below ``−threshold``.
    source : str
        Where the implied vol came from (``"VIX"``, ``"chain_atm"``, ...).
    forecast_band : tuple of float or None
        Band of the forecast vol at the horizon, if known.
    """

    implied_vol: float
    forecast_vol: float
    horizon_days: int
    vol_premium: float
    variance_premium: float
    ratio: float
    signal: str
    source: str
    forecast_band: tuple[float, float] | None = None
    label: str = "estimate"

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def vol_risk_premium(
    forecast: VolForecast | float,
    implied_vol: float,
    *,
    horizon_days: int = 21,
    source: str = "VIX",
    threshold: float = 0.02,
) -> VolRiskPremium:
    """Compare implied vol (VIX or a chain's ATM vol) with the GARCH forecast.

    Parameters
    ----------
    forecast : VolForecast or float
        Forecast term structure, or an annualised forecast vol.
    implied_vol : float
        Annualised implied vol (decimal) for the same horizon.
    horizon_days : int
        Horizon in trading days (VIX covers 30 calendar days ≈ 21 trading days).
    source : str
        Label of the implied vol's origin.
    threshold : float
        Vol points (per 1.00) beyond which the signal is rich or cheap.

    Returns
    -------
    VolRiskPremium
    """
    if not np.isfinite(implied_vol) or implied_vol <= 0:
        raise ValidationError.for_field("implied_vol", "must be a finite number > 0")
    band = None
    if isinstance(forecast, VolForecast):
        fv = forecast.at(int(horizon_days))
        band = (float(forecast.lower[horizon_days - 1]), float(forecast.upper[horizon_days - 1]))
    else:
        fv = float(forecast)
        if not np.isfinite(fv) or fv <= 0:
            raise ValidationError.for_field("forecast", "must be a finite number > 0")
    prem = implied_vol - fv
    signal = (
        "implied_rich" if prem > threshold else "implied_cheap" if prem < -threshold else "fair"
    )
    return VolRiskPremium(
        implied_vol=float(implied_vol),
        forecast_vol=fv,
        horizon_days=int(horizon_days),
        vol_premium=float(prem),
        variance_premium=float(implied_vol**2 - fv**2),
        ratio=float(implied_vol / fv),
        signal=signal,
        source=source,
        forecast_band=band,
    )


def garch_filter(returns: ArrayLike, model: GarchKind = "gjr", dist: GarchDist = "t") -> Any:
    """Fit one GARCH per column and build a Monte Carlo ``GarchFilter``.

    Parameters
    ----------
    returns : array_like, shape (T, n_assets)
        Daily decimal log returns, no NaN.
    model, dist
        As in :func:`fit_garch`.

    Returns
    -------
    floorguard.core.montecarlo.GarchFilter
        Parameters in decimal variance units, next-day variances as the start,
        and the jointly standardised residual rows for resampling.
    """
    from floorguard.core.montecarlo import GarchFilter

    x = np.asarray(returns, dtype=np.float64)
    if x.ndim != 2:
        raise ValidationError.for_field("returns", "must be a 2-D (days, assets) array")
    fits = [fit_garch(x[:, j], model, dist) for j in range(x.shape[1])]
    resid = np.column_stack([f.std_resid for f in fits])
    resid = resid[np.all(np.isfinite(resid), axis=1)]
    return GarchFilter(
        omega=np.array([f.params["omega"] for f in fits]) / SCALE**2,
        alpha=np.array([f.params.get("alpha[1]", 0.0) for f in fits]),
        gamma=np.array([f.params.get("gamma[1]", 0.0) for f in fits]),
        beta=np.array([f.params.get("beta[1]", 0.0) for f in fits]),
        sigma2_0=np.array([f.next_day_vol**2 for f in fits]),
        std_resid=resid,
    )
