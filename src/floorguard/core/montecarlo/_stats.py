"""Monte Carlo estimates with standard errors, and the tail estimator.

Means and proportions use their textbook standard errors; quantiles, VaR and
ES use *batch means*: the paths are split (in simulation order) into ``B``
equal batches, the statistic is computed on each, and the standard error is
``std(batch statistics, ddof=1) / sqrt(B)``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from floorguard._typing import ArrayLike, FloatArray
from floorguard.exceptions import ValidationError

__all__ = [
    "Estimate",
    "TailComparison",
    "mc_mean",
    "mc_proportion",
    "mc_quantiles",
    "mc_statistic",
    "tail_comparison",
]


@dataclass(frozen=True)
class Estimate:
    """A Monte Carlo estimate and its standard error (same units as ``value``)."""

    value: float
    se: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    def within(self, reference: float, k: float = 3.0) -> bool:
        """True when ``|value - reference| <= k * se``."""
        return abs(self.value - reference) <= k * self.se


def _vec(x: ArrayLike, name: str) -> FloatArray:
    arr = np.asarray(x, dtype=np.float64).reshape(-1)
    if arr.size < 2:
        raise ValidationError.for_field(name, f"needs at least 2 samples, got {arr.size}")
    if not np.all(np.isfinite(arr)):
        raise ValidationError.for_field(name, "contains NaN or infinite values")
    return arr


def mc_mean(samples: ArrayLike) -> Estimate:
    """Sample mean with standard error ``sd / sqrt(n)`` (``ddof=1``)."""
    x = _vec(samples, "samples")
    return Estimate(float(x.mean()), float(x.std(ddof=1) / math.sqrt(x.size)))


def mc_proportion(flags: ArrayLike) -> Estimate:
    """Fraction of True flags with standard error ``sqrt(p (1-p) / n)``."""
    f = np.asarray(flags, dtype=bool).reshape(-1)
    if f.size < 2:
        raise ValidationError.for_field("flags", "needs at least 2 samples")
    p = float(f.mean())
    return Estimate(p, math.sqrt(max(p * (1.0 - p), 0.0) / f.size))


def _n_batches(n: int, wanted: int) -> int:
    return max(2, min(wanted, n // 50)) if n >= 100 else 2


def mc_statistic(samples: ArrayLike, stat: Any, n_batches: int = 20) -> Estimate:
    """``stat(samples)`` with a batch-means standard error.

    Parameters
    ----------
    samples : array_like, shape (n,)
        Simulated values in simulation order.
    stat : callable
        ``stat(ndarray) -> float`` (a quantile, a VaR, an ES ...).
    n_batches : int
        Number of batches (reduced for small ``n`` so each batch has ≥ 50 samples).
    """
    x = _vec(samples, "samples")
    b = _n_batches(x.size, n_batches)
    size = x.size // b
    per = np.array([float(stat(x[i * size : (i + 1) * size])) for i in range(b)])
    return Estimate(float(stat(x)), float(per.std(ddof=1) / math.sqrt(b)))


def mc_quantiles(samples: ArrayLike, probs: ArrayLike, n_batches: int = 20) -> list[Estimate]:
    """Quantiles of ``samples`` at ``probs`` with batch-means standard errors."""
    x = _vec(samples, "samples")
    p = np.asarray(probs, dtype=np.float64).reshape(-1)
    if np.any((p < 0) | (p > 1)):
        raise ValidationError.for_field("probs", "must lie in [0, 1]")
    b = _n_batches(x.size, n_batches)
    size = x.size // b
    per = np.quantile(x[: b * size].reshape(b, size), p, axis=1)  # (len(p), b)
    full = np.quantile(x, p)
    se = per.std(axis=1, ddof=1) / math.sqrt(b)
    return [Estimate(float(v), float(e)) for v, e in zip(full, se, strict=True)]


@dataclass(frozen=True)
class TailComparison:
    """Expected shortfall from the simulation and from Cornish–Fisher, side by side.

    All figures are positive loss fractions of the initial value at ``level``.

    Attributes
    ----------
    level : float
        Confidence level (0.95 looks at the worst 5 %).
    es_monte_carlo : Estimate
        Historical-style ES of the simulated returns, with batch-means SE.
    es_cornish_fisher : float
        ES from the Cornish–Fisher expansion using the simulated mean, sd,
        skewness and excess kurtosis (``floorguard.core.risk``).
    es_gaussian : float
        ES of a normal with the simulated mean and sd (for scale).
    var_monte_carlo : Estimate
        VaR of the simulated returns with SE.
    var_cornish_fisher : float
        Cornish–Fisher (modified) VaR.
    skewness, excess_kurtosis : float
        Population moments of the simulated returns.
    """

    level: float
    es_monte_carlo: Estimate
    es_cornish_fisher: float
    es_gaussian: float
    var_monte_carlo: Estimate
    var_cornish_fisher: float
    skewness: float
    excess_kurtosis: float
    label: str = "estimate"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def tail_comparison(returns: ArrayLike, level: float = 0.95, n_batches: int = 20) -> TailComparison:
    """Compare Monte Carlo and Cornish–Fisher expected shortfall on one sample.

    Parameters
    ----------
    returns : array_like, shape (n,)
        Simulated (or historical) returns as fractions of the initial value.
    level : float
        Confidence level in (0, 1).
    n_batches : int
        Batches for the standard errors.

    Returns
    -------
    TailComparison
    """
    from floorguard.core.risk import expected_shortfall, value_at_risk

    x = _vec(returns, "returns")
    es_mc = mc_statistic(x, lambda s: expected_shortfall(s, level, "historical"), n_batches)
    var_mc = mc_statistic(x, lambda s: value_at_risk(s, level, "historical"), n_batches)
    dev = x - x.mean()
    d2 = dev * dev
    m2 = float(d2.mean())
    skew = float(np.mean(d2 * dev) / m2**1.5) if m2 > 0 else 0.0
    exk = float(np.mean(d2 * d2) / (m2 * m2) - 3.0) if m2 > 0 else 0.0
    return TailComparison(
        level=float(level),
        es_monte_carlo=es_mc,
        es_cornish_fisher=float(expected_shortfall(x, level, "cornish_fisher")),
        es_gaussian=float(expected_shortfall(x, level, "gaussian")),
        var_monte_carlo=var_mc,
        var_cornish_fisher=float(value_at_risk(x, level, "cornish_fisher")),
        skewness=skew,
        excess_kurtosis=exk,
    )
