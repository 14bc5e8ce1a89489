"""Return-based risk measures of one series, and their rolling versions.

Definitions (the same as empyrical-reloaded's, so results agree with it):

* returns are simple periodic returns as fractions; NaN observations are
  dropped before computing (the count is visible through ``observations``);
* volatility is the sample standard deviation (``ddof=1``) times
  ``sqrt(periods_per_year)``; 252 periods per year for daily data;
* drawdowns are measured on compounded wealth ``W_t = prod_{s<=t}(1 + r_s)``
  starting from ``W_0 = 1``, and the starting value counts as a peak;
* VaR and ES are **losses as positive fractions** of the portfolio value over
  one period. Historical VaR interpolates linearly between order statistics,
  exactly like ``np.percentile`` (and empyrical); historical ES averages the
  ``floor((T-1)(1-level)) + 1`` worst returns without interpolation (as
  empyrical's ``conditional_value_at_risk``). Gaussian VaR/ES use the sample
  mean and sample sd; Cornish–Fisher VaR adjusts the normal quantile for the
  population skewness and excess kurtosis, and Cornish–Fisher ES integrates
  that adjusted quantile over the tail.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from floorguard._typing import FloatArray, VarMethod
from floorguard.core.risk import _kernels as K
from floorguard.core.risk._validate import as_returns_1d, check_level, check_periods, check_window
from floorguard.exceptions import ValidationError

__all__ = [
    "DrawdownInfo",
    "annual_volatility",
    "current_drawdown",
    "downside_deviation",
    "drawdown_details",
    "drawdown_series",
    "expected_shortfall",
    "log_returns",
    "max_drawdown",
    "rolling_downside_deviation",
    "rolling_expected_shortfall",
    "rolling_max_drawdown",
    "rolling_sharpe",
    "rolling_sortino",
    "rolling_value_at_risk",
    "rolling_volatility",
    "sharpe_ratio",
    "simple_returns",
    "sortino_ratio",
    "value_at_risk",
]

_METHODS = ("historical", "gaussian", "cornish_fisher")


# --------------------------------------------------------------------------- returns
def _prices(prices: Any) -> Any:
    if isinstance(prices, (pd.Series, pd.DataFrame)):
        values = prices.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        try:
            values = np.asarray(prices, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValidationError.for_field("prices", "must be numeric") from exc
    if values.ndim not in (1, 2):
        raise ValidationError.for_field("prices", f"must be 1-D or 2-D, got {values.ndim}-D")
    if values.shape[0] < 2:
        raise ValidationError.for_field("prices", "needs at least two prices")
    finite = values[np.isfinite(values)]
    if (finite <= 0).any():
        raise ValidationError.for_field("prices", "must be positive")
    return values


def simple_returns(prices: Any) -> Any:
    """Simple returns ``p_t / p_{t-1} - 1``.

    Parameters
    ----------
    prices : array_like, pandas.Series or pandas.DataFrame, shape (T,) or (T, N)
        Positive prices. NaN prices give NaN returns (no filling).

    Returns
    -------
    same type as ``prices``, shape (T-1,) or (T-1, N)
        The first row (which has no predecessor) is dropped.
    """
    values = _prices(prices)
    out = values[1:] / values[:-1] - 1.0
    if isinstance(prices, pd.Series):
        return pd.Series(out, index=prices.index[1:], name=prices.name)
    if isinstance(prices, pd.DataFrame):
        return pd.DataFrame(out, index=prices.index[1:], columns=prices.columns)
    return out


def log_returns(prices: Any) -> Any:
    """Log returns ``ln(p_t / p_{t-1})``; same shapes and types as :func:`simple_returns`."""
    values = _prices(prices)
    out = np.log(values[1:] / values[:-1])
    if isinstance(prices, pd.Series):
        return pd.Series(out, index=prices.index[1:], name=prices.name)
    if isinstance(prices, pd.DataFrame):
        return pd.DataFrame(out, index=prices.index[1:], columns=prices.columns)
    return out


# --------------------------------------------------------------------------- scalar measures
def annual_volatility(returns: Any, periods_per_year: float = 252) -> float:
    """Annualised volatility: sample sd (``ddof=1``) times ``sqrt(periods_per_year)``.

    Parameters
    ----------
    returns : array_like or pandas.Series, shape (T,)
        Periodic simple returns (fractions). NaNs are dropped.
    periods_per_year : float
        252 for daily, 52 weekly, 12 monthly.

    Returns
    -------
    float
        Annualised volatility as a fraction (0.2 = 20 %).
    """
    p = check_periods(periods_per_year)
    x, _ = as_returns_1d(returns, min_obs=2)
    return float(K.volatility_k(x[:, None], p)[0])


def drawdown_series(returns: Any) -> Any:
    """Underwater curve ``W_t / max(1, max_{s<=t} W_s) - 1`` (0 or negative).

    Parameters
    ----------
    returns : array_like or pandas.Series, shape (T,)
        Periodic simple returns; NaNs are dropped.

    Returns
    -------
    ndarray or pandas.Series, shape (T',)
    """
    x, index = as_returns_1d(returns)
    wealth = np.cumprod(1.0 + x)
    peak = np.maximum(np.maximum.accumulate(wealth), 1.0)
    dd = wealth / peak - 1.0
    if index is not None:
        return pd.Series(dd, index=index, name="drawdown")
    return dd


def max_drawdown(returns: Any) -> float:
    """Maximum drawdown as a **negative fraction** (``-0.25`` = a 25 % fall from a peak).

    Computed on compounded wealth with the starting value as a peak; ``0.0``
    when wealth never falls below a previous peak.

    Parameters
    ----------
    returns : array_like or pandas.Series, shape (T,)
        Periodic simple returns; NaNs are dropped.
    """
    x, _ = as_returns_1d(returns)
    return float(K.max_drawdown_k(x[:, None])[0])


def current_drawdown(returns: Any) -> float:
    """Drawdown at the last observation (0 at a new high, negative otherwise)."""
    x, _ = as_returns_1d(returns)
    wealth = np.cumprod(1.0 + x)
    peak = max(float(np.max(wealth)), 1.0)
    return float(min(wealth[-1] / peak - 1.0, 0.0))


@dataclass(frozen=True)
class DrawdownInfo:
    """The deepest drawdown of a series and where it happened.

    Attributes
    ----------
    max_drawdown : float
        Depth as a negative fraction (0 when there is no drawdown).
    peak, trough, recovery : label or None
        Index labels (dates for a Series, integer positions for arrays) of the
        last peak before the trough, the trough, and the first observation
        back at or above the peak's wealth (``None`` if not yet recovered).
        ``peak`` is ``None`` when the peak is the starting value (before the
        first observation).
    duration : int
        Periods from peak to recovery, or from peak to the last observation
        when not recovered.
    peak_to_trough : int
        Periods from peak to trough.
    recovered : bool
        Whether wealth came back to the peak.
    current_drawdown : float
        Drawdown at the last observation (0 or negative).
    observations : int
        Finite observations used.
    """

    max_drawdown: float
    peak: Any
    trough: Any
    recovery: Any
    duration: int
    peak_to_trough: int
    recovered: bool
    current_drawdown: float
    observations: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def drawdown_details(returns: Any) -> DrawdownInfo:
    """Depth, peak, trough, recovery and duration of the maximum drawdown.

    Positions: wealth ``W_0 = 1`` sits before the first observation (position
    ``-1``); observation ``t`` carries ``W_{t+1}``. Durations count periods.

    Parameters
    ----------
    returns : array_like or pandas.Series, shape (T,)
        Periodic simple returns; NaNs are dropped.
    """
    x, index = as_returns_1d(returns)
    wealth = np.concatenate([[1.0], np.cumprod(1.0 + x)])  # position p -> observation p-1
    peak_w = np.maximum.accumulate(wealth)
    dd = wealth / peak_w - 1.0
    n = x.size
    trough_pos = int(np.argmin(dd))
    depth = float(min(dd[trough_pos], 0.0))
    label = (lambda p: None if p == 0 else (index[p - 1] if index is not None else p - 1))
    if depth == 0.0:
        return DrawdownInfo(0.0, None, None, None, 0, 0, True, float(min(dd[-1], 0.0)), n)
    peak_pos = int(np.argmax(wealth[: trough_pos + 1]))  # first position reaching the running peak
    # the *last* position at that peak level before the trough
    level = wealth[peak_pos]
    at_peak = np.flatnonzero(wealth[: trough_pos + 1] >= level)
    peak_pos = int(at_peak[-1])
    after = np.flatnonzero(wealth[trough_pos:] >= level)
    if after.size:
        rec_pos = trough_pos + int(after[0])
        recovery = label(rec_pos)
        duration = rec_pos - peak_pos
        recovered = True
    else:
        recovery = None
        duration = n - peak_pos
        recovered = False
    return DrawdownInfo(
        max_drawdown=depth,
        peak=label(peak_pos),
        trough=label(trough_pos),
        recovery=recovery,
        duration=int(duration),
        peak_to_trough=int(trough_pos - peak_pos),
        recovered=recovered,
        current_drawdown=float(min(dd[-1], 0.0)),
        observations=n,
    )


def _tail(returns: Any, level: float, method: str, field: str) -> tuple[FloatArray, float, str]:
    lv = check_level(level)
    if method not in _METHODS:
        raise ValidationError.for_field("method", f"must be one of {', '.join(_METHODS)}, got {method!r}")
    x, _ = as_returns_1d(returns, field, min_obs=2)
    return x, 1.0 - lv, method


def value_at_risk(returns: Any, level: float = 0.95, method: VarMethod = "historical") -> float:
    """One-period Value at Risk as a **positive loss fraction**.

    Parameters
    ----------
    returns : array_like or pandas.Series, shape (T,)
        Periodic simple returns; NaNs are dropped; at least 2 observations.
    level : float
        Confidence level in (0, 1); 0.95 looks at the worst 5 %.
    method : {"historical", "gaussian", "cornish_fisher"}
        ``historical``: ``-percentile(r, 100 (1 - level))`` with linear
        interpolation, exactly like ``np.percentile`` and empyrical.
        ``gaussian``: ``-(mean + Phi^-1(1-level) sd)``, sample sd.
        ``cornish_fisher``: the Gaussian quantile corrected for population
        skewness and excess kurtosis (PerformanceAnalytics' "modified" VaR).

    Returns
    -------
    float
        Loss fraction (0.02 = a 2 % loss); negative when even the tail quantile is a gain.
    """
    x, alpha, m = _tail(returns, level, method, "returns")
    col = x[:, None]
    if m == "historical":
        return float(K.var_historical_k(col, alpha)[0])
    if m == "gaussian":
        return float(K.var_gaussian_k(col, alpha)[0])
    return float(K.var_cornish_fisher_k(col, alpha)[0])


def expected_shortfall(returns: Any, level: float = 0.95, method: VarMethod = "historical") -> float:
    """One-period Expected Shortfall (CVaR) as a **positive loss fraction**.

    Parameters
    ----------
    returns : array_like or pandas.Series, shape (T,)
        Periodic simple returns; NaNs are dropped; at least 2 observations.
    level : float
        Confidence level in (0, 1).
    method : {"historical", "gaussian", "cornish_fisher"}
        ``historical``: minus the mean of the ``floor((T-1)(1-level)) + 1``
        worst returns (no interpolation; empyrical's definition).
        ``gaussian``: ``-(mean - sd phi(z) / (1-level))``.
        ``cornish_fisher``: minus the average of the Cornish–Fisher quantile
        over the tail probabilities ``(0, 1-level]``.

    Returns
    -------
    float
        Average loss in the tail, as a fraction.
    """
    x, alpha, m = _tail(returns, level, method, "returns")
    col = x[:, None]
    if m == "historical":
        return float(K.es_historical_k(col, alpha)[0])
    if m == "gaussian":
        return float(K.es_gaussian_k(col, alpha)[0])
    return float(K.es_cornish_fisher_k(col, alpha)[0])


def sharpe_ratio(returns: Any, risk_free: float = 0.0, periods_per_year: float = 252) -> float:
    """Annualised Sharpe ratio ``mean(r - rf) / sd(r - rf) * sqrt(periods)``.

    ``risk_free`` is per period (a daily rate for daily returns). NaN when the
    excess returns have zero dispersion.
    """
    p = check_periods(periods_per_year)
    x, _ = as_returns_1d(returns, min_obs=2)
    return float(K.sharpe_k(x[:, None], p, float(risk_free))[0])


def downside_deviation(returns: Any, required_return: float = 0.0, periods_per_year: float = 252) -> float:
    """Annualised downside deviation below ``required_return`` (per period).

    ``sqrt(mean(min(r - MAR, 0)^2)) * sqrt(periods)``, the mean taken over all
    periods (empyrical's ``downside_risk``; Sortino & Price 1994).
    """
    p = check_periods(periods_per_year)
    x, _ = as_returns_1d(returns)
    return float(K.downside_deviation_k(x[:, None], p, float(required_return))[0])


def sortino_ratio(returns: Any, required_return: float = 0.0, periods_per_year: float = 252) -> float:
    """Annualised Sortino ratio ``mean(r - MAR) * periods / downside_deviation``.

    ``+inf`` when there is no downside and the mean excess return is positive.
    """
    p = check_periods(periods_per_year)
    x, _ = as_returns_1d(returns)
    return float(K.sortino_k(x[:, None], p, float(required_return))[0])


# --------------------------------------------------------------------------- rolling
def _rolling(returns: Any, window: int, kernel: Any, name: str, minimum: int = 2) -> Any:
    x, index = as_returns_1d(returns, min_obs=1)
    w = check_window(window, x.size, minimum=minimum)
    views = sliding_window_view(x, w).T  # (w, T - w + 1)
    out = np.asarray(kernel(np.ascontiguousarray(views)), dtype=np.float64)
    if index is not None:
        return pd.Series(out, index=index[w - 1 :], name=name)
    return out


def rolling_volatility(returns: Any, window: int, periods_per_year: float = 252) -> Any:
    """Annualised volatility over each trailing window of ``window`` observations.

    Returns an array (or a Series indexed by each window's last date) of
    length ``T - window + 1``.
    """
    p = check_periods(periods_per_year)
    return _rolling(returns, window, lambda v: K.volatility_k(v, p), "volatility")


def rolling_max_drawdown(returns: Any, window: int) -> Any:
    """Maximum drawdown within each trailing window (wealth restarted at 1 per window)."""
    return _rolling(returns, window, K.max_drawdown_k, "max_drawdown", minimum=1)


def rolling_value_at_risk(
    returns: Any, window: int, level: float = 0.95, method: VarMethod = "historical"
) -> Any:
    """:func:`value_at_risk` over each trailing window."""
    lv = check_level(level)
    if method not in _METHODS:
        raise ValidationError.for_field("method", f"must be one of {', '.join(_METHODS)}, got {method!r}")
    fn = {"historical": K.var_historical_k, "gaussian": K.var_gaussian_k, "cornish_fisher": K.var_cornish_fisher_k}[method]
    return _rolling(returns, window, lambda v: fn(v, 1.0 - lv), "value_at_risk")


def rolling_expected_shortfall(
    returns: Any, window: int, level: float = 0.95, method: VarMethod = "historical"
) -> Any:
    """:func:`expected_shortfall` over each trailing window."""
    lv = check_level(level)
    if method not in _METHODS:
        raise ValidationError.for_field("method", f"must be one of {', '.join(_METHODS)}, got {method!r}")
    fn = {"historical": K.es_historical_k, "gaussian": K.es_gaussian_k, "cornish_fisher": K.es_cornish_fisher_k}[method]
    return _rolling(returns, window, lambda v: fn(v, 1.0 - lv), "expected_shortfall")


def rolling_sharpe(returns: Any, window: int, risk_free: float = 0.0, periods_per_year: float = 252) -> Any:
    """:func:`sharpe_ratio` over each trailing window."""
    p = check_periods(periods_per_year)
    return _rolling(returns, window, lambda v: K.sharpe_k(v, p, float(risk_free)), "sharpe")


def rolling_sortino(
    returns: Any, window: int, required_return: float = 0.0, periods_per_year: float = 252
) -> Any:
    """:func:`sortino_ratio` over each trailing window."""
    p = check_periods(periods_per_year)
    return _rolling(returns, window, lambda v: K.sortino_k(v, p, float(required_return)), "sortino")


def rolling_downside_deviation(
    returns: Any, window: int, required_return: float = 0.0, periods_per_year: float = 252
) -> Any:
    """:func:`downside_deviation` over each trailing window."""
    p = check_periods(periods_per_year)
    return _rolling(
        returns, window, lambda v: K.downside_deviation_k(v, p, float(required_return)), "downside_deviation"
    )
