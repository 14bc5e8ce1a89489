"""Volatility regimes (Markov switching) and the correlation-regime signal.

* :func:`fit_vol_regimes` fits a 2- or 3-state Markov-switching model with a
  switching mean and variance (statsmodels ``MarkovRegression``) and reports
  the probability of the highest-variance regime.
* :func:`correlation_regime` computes the rolling average pairwise
  correlation of the holdings and flags its jumps.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from floorguard._typing import ArrayLike, FloatArray
from floorguard.exceptions import DataError, ValidationError

__all__ = [
    "CorrelationRegime",
    "RegimeFit",
    "correlation_regime",
    "fit_vol_regimes",
    "rolling_mean_correlation",
]

TRADING_DAYS = 252
SCALE = 100.0


@dataclass(frozen=True)
class RegimeFit:
    """A fitted Markov-switching variance model (estimates).

    Regimes are sorted by variance: regime 0 is the calmest, regime ``k-1``
    the most volatile.

    Attributes
    ----------
    k_regimes : int
    regime_vol_annual : ndarray, shape (k,)
        Annualised vol of each regime (decimal).
    regime_mean_daily : ndarray, shape (k,)
        Daily mean return of each regime (decimal).
    transition : ndarray, shape (k, k)
        ``transition[i, j] = P(s_t = j | s_{t-1} = i)`` (rows sum to 1).
    expected_duration_days : ndarray, shape (k,)
        ``1 / (1 − p_ii)``.
    filtered_probs, smoothed_probs : ndarray, shape (T, k)
        P(regime) given data up to t, and given all data.
    p_high_vol : float
        Filtered probability of the most volatile regime on the last day.
    p_high_vol_next : float
        One-step-ahead probability of the most volatile regime.
    loglik, aic : float
    converged : bool
    messages : tuple of str
        Warnings raised by the optimiser.
    """

    k_regimes: int
    regime_vol_annual: FloatArray
    regime_mean_daily: FloatArray
    transition: FloatArray
    expected_duration_days: FloatArray
    filtered_probs: FloatArray = field(repr=False)
    smoothed_probs: FloatArray = field(repr=False)
    p_high_vol: float
    p_high_vol_next: float
    loglik: float
    aic: float
    converged: bool
    messages: tuple[str, ...] = ()
    label: str = "estimate (Markov-switching model)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "k_regimes": self.k_regimes,
            "regime_vol_annual": self.regime_vol_annual.tolist(),
            "regime_mean_daily": self.regime_mean_daily.tolist(),
            "transition": self.transition.tolist(),
            "expected_duration_days": self.expected_duration_days.tolist(),
            "p_high_vol": self.p_high_vol,
            "p_high_vol_next": self.p_high_vol_next,
            "loglik": self.loglik,
            "aic": self.aic,
            "converged": self.converged,
            "messages": list(self.messages),
            "label": self.label,
        }


def fit_vol_regimes(returns: ArrayLike, k_regimes: int = 2, *, search_reps: int = 0) -> RegimeFit:
    """Fit a Markov-switching mean/variance model to daily returns.

    Parameters
    ----------
    returns : array_like, shape (T,)
        Daily decimal returns (T ≥ 100), no NaN. Scaled by 100 internally.
    k_regimes : {2, 3}
        Number of regimes.
    search_reps : int
        Random starting-value searches passed to statsmodels (0 = none).

    Returns
    -------
    RegimeFit
    """
    from statsmodels.tsa.regime_switching.markov_regression import MarkovRegression

    if k_regimes not in (2, 3):
        raise ValidationError.for_field("k_regimes", f"must be 2 or 3, got {k_regimes!r}")
    x = np.asarray(returns, dtype=np.float64).reshape(-1)
    if x.size < 100:
        raise ValidationError.for_field(
            "returns", f"needs at least 100 daily returns, got {x.size}"
        )
    if not np.all(np.isfinite(x)):
        raise ValidationError.for_field("returns", "contains NaN or infinite values")
    mod = MarkovRegression(x * SCALE, k_regimes=k_regimes, trend="c", switching_variance=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # the Hamilton filter takes logs of probabilities that can underflow to 0 on
        # the way; the estimates are checked for finiteness below.
        with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
            try:
                res = mod.fit(search_reps=search_reps, disp=False)
            except (ValueError, np.linalg.LinAlgError) as exc:
                raise DataError(f"Markov-switching fit failed: {exc}") from exc
    messages = tuple(str(w.message) for w in caught)
    names = list(res.model.param_names)
    params = np.asarray(res.params, dtype=np.float64)
    if not np.all(np.isfinite(params)) or not np.all(
        np.isfinite(res.filtered_marginal_probabilities)
    ):
        raise DataError("Markov-switching fit failed: non-finite estimates")
    sig2 = np.array([params[names.index(f"sigma2[{i}]")] for i in range(k_regimes)])
    const = np.array([params[names.index(f"const[{i}]")] for i in range(k_regimes)])
    order = np.argsort(sig2)
    # statsmodels: P[i, j] = P(s_t = i | s_{t-1} = j); transpose to row-stochastic
    p = np.asarray(res.model.regime_transition_matrix(res.params))[:, :, 0].T
    p = p[np.ix_(order, order)]
    filt = np.asarray(res.filtered_marginal_probabilities)[:, order]
    smooth = np.asarray(res.smoothed_marginal_probabilities)[:, order]
    last = filt[-1]
    stay = np.clip(np.diag(p), 0.0, 1.0 - 1e-12)
    mle = res.mle_retvals or {}
    return RegimeFit(
        k_regimes=k_regimes,
        regime_vol_annual=np.sqrt(sig2[order] * TRADING_DAYS) / SCALE,
        regime_mean_daily=const[order] / SCALE,
        transition=p,
        expected_duration_days=1.0 / (1.0 - stay),
        filtered_probs=filt,
        smoothed_probs=smooth,
        p_high_vol=float(last[-1]),
        p_high_vol_next=float((last @ p)[-1]),
        loglik=float(res.llf),
        aic=float(res.aic),
        converged=bool(mle.get("converged", True)),
        messages=messages,
    )


def rolling_mean_correlation(returns: ArrayLike, window: int = 63) -> FloatArray:
    """Rolling average pairwise correlation of the columns.

    Parameters
    ----------
    returns : array_like, shape (T, n)
        Daily returns of ``n ≥ 2`` holdings, no NaN.
    window : int
        Trailing window in days (≥ 3).

    Returns
    -------
    ndarray, shape (T,)
        Mean of the ``n(n−1)/2`` off-diagonal Pearson correlations over
        ``[t−window+1, t]``; NaN for the first ``window−1`` days. Pairs with a
        zero-variance column in the window are left out of the average.
    """
    x = np.asarray(returns, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] < 2:
        raise ValidationError.for_field(
            "returns", "must be a (days, holdings) array with >= 2 holdings"
        )
    if not np.all(np.isfinite(x)):
        raise ValidationError.for_field("returns", "contains NaN or infinite values")
    t, n = x.shape
    if int(window) != window or window < 3 or window > t:
        raise ValidationError.for_field("window", f"must be a whole number in [3, {t}]")
    w = int(window)
    xc = x - x.mean(axis=0)  # improves the conditioning of the running sums
    c1 = np.cumsum(np.vstack([np.zeros((1, n)), xc]), axis=0)
    outer = xc[:, :, None] * xc[:, None, :]
    c2 = np.cumsum(np.concatenate([np.zeros((1, n, n)), outer]), axis=0)
    s1 = c1[w:] - c1[:-w]  # (T-w+1, n)
    s2 = c2[w:] - c2[:-w]  # (T-w+1, n, n)
    cov = s2 - s1[:, :, None] * s1[:, None, :] / w
    var = np.diagonal(cov, axis1=1, axis2=2).copy()
    tol = 1e-14 * np.maximum(np.abs(s2).max(axis=(1, 2)), 1e-300)
    ok = var > tol[:, None]
    sd = np.sqrt(np.where(ok, var, 1.0))
    corr = cov / (sd[:, :, None] * sd[:, None, :])
    iu = np.triu_indices(n, k=1)
    pair = corr[:, iu[0], iu[1]]
    valid = ok[:, iu[0]] & ok[:, iu[1]]
    cnt = valid.sum(axis=1)
    total = np.where(valid, np.clip(pair, -1.0, 1.0), 0.0).sum(axis=1)
    mean = np.full(t - w + 1, np.nan)
    has = cnt > 0
    mean[has] = total[has] / cnt[has]
    return np.concatenate([np.full(w - 1, np.nan), mean])


@dataclass(frozen=True)
class CorrelationRegime:
    """Rolling average pairwise correlation and its jumps.

    Attributes
    ----------
    mean_corr : ndarray, shape (T,)
        Rolling average pairwise correlation (NaN before the first full window).
    change : ndarray, shape (T,)
        ``mean_corr[t] − mean_corr[t − lag]``.
    zscore : ndarray, shape (T,)
        ``change`` divided by the standard deviation of all past changes
        (expanding, NaN until 20 changes exist).
    jumps : ndarray of bool, shape (T,)
        ``zscore > threshold`` (a jump *up* to higher correlation).
    current : float
        Latest average correlation.
    high_correlation : bool
        Latest value is above the ``high_quantile`` of its own history.
    window, lag : int
    threshold : float
    """

    mean_corr: FloatArray = field(repr=False)
    change: FloatArray = field(repr=False)
    zscore: FloatArray = field(repr=False)
    jumps: np.ndarray = field(repr=False)
    current: float
    high_correlation: bool
    n_jumps: int
    window: int
    lag: int
    threshold: float
    label: str = "estimate"

    def to_dict(self) -> dict[str, Any]:
        return {
            "current": self.current,
            "high_correlation": self.high_correlation,
            "n_jumps": self.n_jumps,
            "window": self.window,
            "lag": self.lag,
            "threshold": self.threshold,
            "latest_jump": bool(self.jumps[-1]),
            "label": self.label,
        }


def correlation_regime(
    returns: ArrayLike,
    window: int = 63,
    *,
    lag: int = 5,
    threshold: float = 4.0,
    high_quantile: float = 0.8,
) -> CorrelationRegime:
    """Correlation-regime signal of a set of holdings.

    Parameters
    ----------
    returns : array_like, shape (T, n)
        Daily returns of the holdings (n ≥ 2).
    window : int
        Rolling window for the correlations (days).
    lag : int
        Days over which a change is measured.
    threshold : float
        z-score of the change above which a jump is flagged.
    high_quantile : float
        Quantile of the history above which the regime counts as high.

    Returns
    -------
    CorrelationRegime
    """
    if int(lag) != lag or lag < 1:
        raise ValidationError.for_field("lag", "must be a whole number >= 1")
    if not np.isfinite(threshold) or threshold <= 0:
        raise ValidationError.for_field("threshold", "must be a finite number > 0")
    if not 0 < high_quantile < 1:
        raise ValidationError.for_field("high_quantile", "must be in (0, 1)")
    mc = rolling_mean_correlation(returns, window)
    t = mc.size
    change = np.full(t, np.nan)
    change[lag:] = mc[lag:] - mc[:-lag]
    z = np.full(t, np.nan)
    finite = np.isfinite(change)
    vals = np.where(finite, change, 0.0)
    cnt = np.cumsum(finite)
    s1 = np.cumsum(vals)
    s2 = np.cumsum(vals * vals)
    # standard deviation of changes strictly before t (expanding)
    prev_cnt = np.concatenate([[0], cnt[:-1]])
    prev_s1 = np.concatenate([[0.0], s1[:-1]])
    prev_s2 = np.concatenate([[0.0], s2[:-1]])
    enough = (prev_cnt >= 20) & finite
    var = np.zeros(t)
    var[enough] = (prev_s2[enough] - prev_s1[enough] ** 2 / prev_cnt[enough]) / (
        prev_cnt[enough] - 1
    )
    enough &= var > 0
    z[enough] = change[enough] / np.sqrt(var[enough])
    jumps = np.zeros(t, dtype=bool)
    jumps[enough] = z[enough] > threshold
    hist = mc[np.isfinite(mc)]
    current = float(hist[-1]) if hist.size else math.nan
    high = bool(hist.size > 0 and current > float(np.quantile(hist, high_quantile)))
    return CorrelationRegime(
        mean_corr=mc,
        change=change,
        zscore=z,
        jumps=jumps,
        current=current,
        high_correlation=high,
        n_jumps=int(jumps.sum()),
        window=int(window),
        lag=int(lag),
        threshold=float(threshold),
    )
