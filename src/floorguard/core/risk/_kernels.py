"""Vectorised kernels along axis 0 of a ``(T, P)`` matrix of periodic returns.

Every kernel takes ``x`` of shape ``(T, P)`` (``T`` periods of ``P`` return
series with no NaN) and returns an array of shape ``(P,)``. The scalar public
functions in :mod:`floorguard.core.risk._measures`, the rolling versions and the
batch report all call these, so there is one definition of each measure. The
slow readable twins live in :mod:`floorguard.core.risk._reference`.

Conventions (shared with empyrical-reloaded, stated once here):

* sample standard deviation with ``ddof=1``; annualisation by
  ``sqrt(periods_per_year)`` (252 for daily data);
* drawdown on compounded wealth ``W_t = prod(1 + r)``, with the starting
  wealth 1 counted as a peak;
* historical VaR at level ``c`` is ``-quantile(r, 1 - c)`` with **linear
  interpolation**, as ``np.percentile`` (and empyrical's ``value_at_risk``);
* historical ES at level ``c`` is minus the mean of the ``k + 1`` smallest
  returns, ``k = floor((T - 1)(1 - c))`` (empyrical's
  ``conditional_value_at_risk``): no interpolation.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from floorguard._typing import FloatArray

__all__ = [
    "cornish_fisher_z",
    "downside_deviation_k",
    "es_cornish_fisher_k",
    "es_gaussian_k",
    "es_historical_k",
    "es_tail_count",
    "max_drawdown_k",
    "sharpe_k",
    "sortino_k",
    "var_cornish_fisher_k",
    "var_gaussian_k",
    "var_historical_k",
    "volatility_k",
]

_SQRT2 = math.sqrt(2.0)


def _ndtri(p: float) -> float:
    return float(special.ndtri(p))


def volatility_k(x: FloatArray, periods_per_year: float) -> FloatArray:
    """Annualised sample standard deviation (``ddof=1``), shape ``(P,)``."""
    return np.std(x, axis=0, ddof=1) * math.sqrt(periods_per_year)


def max_drawdown_k(x: FloatArray) -> FloatArray:
    """Most negative ``W_t / max(1, max_{s<=t} W_s) - 1``; ``0`` when never below a peak."""
    wealth = np.cumprod(1.0 + x, axis=0)
    peak = np.maximum.accumulate(wealth, axis=0)
    np.maximum(peak, 1.0, out=peak)
    dd = wealth / peak - 1.0
    return np.minimum(dd.min(axis=0), 0.0)


def var_historical_k(x: FloatArray, alpha: float) -> FloatArray:
    """``-quantile(x, alpha)`` with linear interpolation (np.percentile's default)."""
    return -np.quantile(x, alpha, axis=0)


def es_tail_count(n: int, alpha: float) -> int:
    """Number of worst observations averaged by the historical ES: ``floor((n-1) alpha) + 1``."""
    return int(math.floor((n - 1) * alpha + 1e-9)) + 1


def es_historical_k(x: FloatArray, alpha: float) -> FloatArray:
    """Minus the mean of the ``floor((T-1) alpha) + 1`` smallest returns of each column."""
    k = es_tail_count(x.shape[0], alpha)
    part = np.partition(x, k - 1, axis=0)[:k]
    return -part.mean(axis=0)


def var_gaussian_k(x: FloatArray, alpha: float) -> FloatArray:
    """``-(mean + z_alpha * sd)``, ``z_alpha = Phi^-1(alpha)``, sample ``sd`` (``ddof=1``)."""
    z = _ndtri(alpha)
    return -(x.mean(axis=0) + z * np.std(x, axis=0, ddof=1))


def es_gaussian_k(x: FloatArray, alpha: float) -> FloatArray:
    """``-(mean - sd * phi(z_alpha) / alpha)`` with sample ``sd`` (``ddof=1``)."""
    z = _ndtri(alpha)
    phi = math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return -(x.mean(axis=0) - np.std(x, axis=0, ddof=1) * phi / alpha)


def _moments(x: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Mean, sample sd (ddof=1), population skewness and population excess kurtosis."""
    mu = x.mean(axis=0)
    dev = x - mu
    m2 = np.mean(dev * dev, axis=0)
    m3 = np.mean(dev**3, axis=0)
    m4 = np.mean(dev**4, axis=0)
    sd = np.std(x, axis=0, ddof=1)
    safe = np.where(m2 > 0, m2, 1.0)
    skew = np.where(m2 > 0, m3 / safe**1.5, 0.0)
    exkurt = np.where(m2 > 0, m4 / (safe * safe) - 3.0, 0.0)
    return mu, sd, skew, exkurt


def cornish_fisher_z(z: float | FloatArray, skew: FloatArray, exkurt: FloatArray) -> FloatArray:
    """Cornish–Fisher quantile of a standardised variable.

    ``z + (z^2 - 1) S / 6 + (z^3 - 3 z) K / 24 - (2 z^3 - 5 z) S^2 / 36``
    with skewness ``S`` and excess kurtosis ``K``.
    """
    z = np.asarray(z, dtype=np.float64)
    return (
        z
        + (z * z - 1.0) * skew / 6.0
        + (z**3 - 3.0 * z) * exkurt / 24.0
        - (2.0 * z**3 - 5.0 * z) * skew * skew / 36.0
    )


def var_cornish_fisher_k(x: FloatArray, alpha: float) -> FloatArray:
    """Modified (Cornish–Fisher) VaR: ``-(mean + z_cf * sd)``.

    Skewness and excess kurtosis are the population moments (as
    PerformanceAnalytics' ``VaR(method="modified")``); ``sd`` uses ``ddof=1``.
    """
    mu, sd, skew, exkurt = _moments(x)
    zcf = cornish_fisher_z(_ndtri(alpha), skew, exkurt)
    return -(mu + zcf * sd)


# Gauss–Legendre nodes for the tail integral of the Cornish–Fisher quantile.
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(64)


def es_cornish_fisher_k(x: FloatArray, alpha: float) -> FloatArray:
    """Cornish–Fisher ES: ``-(1/alpha) * integral_0^alpha q_cf(u) du``.

    ``q_cf(u) = mean + z_cf(Phi^-1(u)) * sd``. The integral is evaluated by
    64-point Gauss–Legendre quadrature in ``t = Phi^-1(u)`` space,
    ``int_{-inf}^{z_alpha} z_cf(t) phi(t) dt``, truncated at ``t = -12``
    (tail mass below 1e-32).
    """
    mu, sd, skew, exkurt = _moments(x)
    z_a = _ndtri(alpha)
    lo = -12.0
    half = 0.5 * (z_a - lo)
    t = half * _GL_NODES + 0.5 * (z_a + lo)  # (64,)
    w = half * _GL_WEIGHTS * np.exp(-0.5 * t * t) / math.sqrt(2.0 * math.pi)
    # integral of z_cf(t) phi(t): expand the polynomial so it is linear in S, K, S^2.
    i0 = float(np.sum(w * t))
    i_s = float(np.sum(w * (t * t - 1.0))) / 6.0
    i_k = float(np.sum(w * (t**3 - 3.0 * t))) / 24.0
    i_s2 = -float(np.sum(w * (2.0 * t**3 - 5.0 * t))) / 36.0
    mean_z = (i0 + i_s * skew + i_k * exkurt + i_s2 * skew * skew) / alpha
    return -(mu + mean_z * sd)


def sharpe_k(x: FloatArray, periods_per_year: float, risk_free: float = 0.0) -> FloatArray:
    """``mean(r - rf) / sd(r - rf) * sqrt(periods)``; NaN where ``sd == 0``."""
    adj = x - risk_free
    sd = np.std(adj, axis=0, ddof=1)
    mu = adj.mean(axis=0)
    out = np.full(mu.shape, np.nan)
    ok = sd > 0
    out[ok] = mu[ok] / sd[ok] * math.sqrt(periods_per_year)
    return out


def downside_deviation_k(x: FloatArray, periods_per_year: float, required_return: float = 0.0) -> FloatArray:
    """``sqrt(mean(min(r - MAR, 0)^2)) * sqrt(periods)`` over **all** periods (empyrical's ``downside_risk``)."""
    d = np.minimum(x - required_return, 0.0)
    return np.sqrt(np.mean(d * d, axis=0)) * math.sqrt(periods_per_year)


def sortino_k(x: FloatArray, periods_per_year: float, required_return: float = 0.0) -> FloatArray:
    """``mean(r - MAR) * periods / downside_deviation``.

    Where the downside deviation is 0 the ratio is ``+inf`` for a positive
    mean excess return, ``-inf`` for a negative one and NaN for zero.
    """
    mu = (x - required_return).mean(axis=0) * periods_per_year
    dd = downside_deviation_k(x, periods_per_year, required_return)
    out = np.empty(mu.shape)
    ok = dd > 0
    out[ok] = mu[ok] / dd[ok]
    out[~ok] = np.where(mu[~ok] > 0, np.inf, np.where(mu[~ok] < 0, -np.inf, np.nan))
    return out
