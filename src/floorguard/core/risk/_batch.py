"""Vectorised risk report over many portfolios at once.

Portfolio ``p`` holds constant weights ``W[p]`` over the assets (rebalanced
every period), so its periodic returns are ``R @ W[p]``. The kernels of
:mod:`floorguard.core.risk._kernels` run on a ``(T, chunk)`` block of portfolio
returns, so each measure has exactly the definition of its scalar twin.
Portfolio betas use linearity: ``beta_p = W[p] . beta_assets``, which equals
the OLS beta of the portfolio's own return series over the same rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from floorguard._typing import FloatArray
from floorguard.core.risk import _kernels as K
from floorguard.core.risk._validate import check_level, check_periods
from floorguard.exceptions import ValidationError

__all__ = ["BatchRiskReport", "batch_risk_report"]


@dataclass(frozen=True)
class BatchRiskReport:
    """Risk measures of ``P`` portfolios (every array has shape ``(P,)``).

    Attributes
    ----------
    volatility : annualised volatility (fraction)
    max_drawdown : maximum drawdown (negative fraction)
    value_at_risk, expected_shortfall : one-period losses (positive fractions), historical
    sharpe : annualised Sharpe ratio (risk-free 0)
    beta : market beta (NaN without market returns)
    hhi, effective_positions, top_3 : concentration of the absolute weights
    observations : int
        Periods used (rows with any NaN were dropped).
    level : float
    """

    volatility: FloatArray
    max_drawdown: FloatArray
    value_at_risk: FloatArray
    expected_shortfall: FloatArray
    sharpe: FloatArray
    beta: FloatArray
    hhi: FloatArray
    effective_positions: FloatArray
    top_3: FloatArray
    observations: int
    level: float

    def to_frame(self) -> pd.DataFrame:
        """One row per portfolio."""
        return pd.DataFrame({
            "volatility": self.volatility,
            "max_drawdown": self.max_drawdown,
            "value_at_risk": self.value_at_risk,
            "expected_shortfall": self.expected_shortfall,
            "sharpe": self.sharpe,
            "beta": self.beta,
            "hhi": self.hhi,
            "effective_positions": self.effective_positions,
            "top_3": self.top_3,
        })


def _lerp(a: FloatArray, b: FloatArray, t: float) -> FloatArray:
    """Linear interpolation exactly as ``np.quantile``'s ``_lerp`` (stable for t >= 0.5)."""
    diff = b - a
    if t >= 0.5:
        return b - diff * (1.0 - t)
    return a + diff * t


def _block(X: FloatArray, alpha: float, periods: float, buf: FloatArray, peak: FloatArray) -> tuple[FloatArray, ...]:
    """Volatility, max drawdown, historical VaR and ES, Sharpe of each row of ``X`` (c, T).

    Row-wise (contiguous) versions of the kernels in :mod:`._kernels`, fused so
    that VaR and ES share one partition and volatility and Sharpe share one
    mean and sum of squares; ``buf`` and ``peak`` are scratch arrays of the
    same shape, reused across blocks (no page faults). ``X`` is partitioned
    in place. Same definitions, checked against the scalar functions in tests.
    """
    c, T = X.shape
    mu = X.mean(axis=1)
    np.subtract(X, mu[:, None], out=buf)
    sd = np.sqrt(np.einsum("ij,ij->i", buf, buf) / (T - 1))
    ann = math.sqrt(periods)
    vol = sd * ann
    shp = np.full(c, np.nan)
    ok = sd > 0
    shp[ok] = mu[ok] / sd[ok] * ann
    # drawdown on compounded wealth, start (1.0) counted as a peak:
    # min_t W_t / max(1, peak_t) = min(min_t W_t / peak_t, min_t W_t) since W_t > 0
    np.add(X, 1.0, out=buf)
    np.cumprod(buf, axis=1, out=buf)
    np.maximum.accumulate(buf, axis=1, out=peak)
    lowest = buf.min(axis=1)
    np.divide(buf, peak, out=buf)
    mdd = np.minimum(np.minimum(buf.min(axis=1), lowest) - 1.0, 0.0)
    # one in-place partition for VaR (linear interpolation at (T-1) alpha) and ES (k smallest)
    pos = (T - 1) * alpha
    lo = int(math.floor(pos))
    hi = min(lo + 1, T - 1)
    k = K.es_tail_count(T, alpha)
    X.partition(sorted({lo, hi, k - 1}), axis=1)
    var = -_lerp(X[:, lo], X[:, hi], pos - lo)
    es = -X[:, :k].mean(axis=1)
    return vol, mdd, var, es, shp


def batch_risk_report(
    weights: Any,
    asset_returns: Any,
    market_returns: Any | None = None,
    *,
    level: float = 0.95,
    periods_per_year: float = 252,
    chunk_size: int = 128,
) -> BatchRiskReport:
    """Full risk report for many portfolios in one vectorised pass.

    Parameters
    ----------
    weights : array_like, shape (P, N)
        Weights of each portfolio as fractions of its value (signed).
    asset_returns : array_like or pandas.DataFrame, shape (T, N)
        Periodic simple returns of the assets.
    market_returns : array_like or pandas.Series, shape (T,), optional
        Market returns on the same rows (pandas inputs are aligned by index).
    level : float
        VaR/ES confidence level.
    periods_per_year : float
    chunk_size : int
        Portfolios per block (bounds memory to ``T * chunk_size`` floats).

    Returns
    -------
    BatchRiskReport
    """
    lv = check_level(level)
    p = check_periods(periods_per_year)
    alpha = 1.0 - lv
    if isinstance(asset_returns, pd.DataFrame) and isinstance(market_returns, pd.Series):
        joined = asset_returns.join(market_returns.rename("__m__"), how="inner")
        R = joined.drop(columns="__m__").to_numpy(dtype=np.float64, na_value=np.nan)
        m = joined["__m__"].to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        R = np.asarray(asset_returns.to_numpy(dtype=np.float64, na_value=np.nan)
                       if isinstance(asset_returns, pd.DataFrame) else asset_returns, dtype=np.float64)
        m = None if market_returns is None else np.asarray(
            market_returns.to_numpy(dtype=np.float64, na_value=np.nan)
            if isinstance(market_returns, pd.Series) else market_returns, dtype=np.float64)
    W = np.asarray(weights, dtype=np.float64)
    if W.ndim == 1:
        W = W[None, :]
    if R.ndim != 2 or W.ndim != 2 or W.shape[1] != R.shape[1]:
        raise ValidationError.for_field("weights", f"shape {W.shape} does not match asset returns {R.shape}")
    if not np.isfinite(W).all():
        raise ValidationError.for_field("weights", "must be finite")
    if m is not None and m.shape != (R.shape[0],):
        raise ValidationError.for_field("market_returns", f"must have shape ({R.shape[0]},), got {m.shape}")
    keep = ~np.isnan(R).any(axis=1)
    if m is not None:
        keep &= ~np.isnan(m)
    R = np.ascontiguousarray(R[keep])
    T = R.shape[0]
    if T < 3:
        raise ValidationError.for_field("asset_returns", f"needs at least 3 complete rows, got {T}")
    if np.isinf(R).any():
        raise ValidationError.for_field("asset_returns", "contains infinite values")
    P = W.shape[0]
    vol = np.empty(P)
    mdd = np.empty(P)
    var = np.empty(P)
    es = np.empty(P)
    shp = np.empty(P)
    chunk = max(1, min(int(chunk_size), P))
    Rt = np.ascontiguousarray(R.T)  # (N, T): each portfolio's returns become one contiguous row
    xbuf = np.empty((chunk, T))
    buf = np.empty((chunk, T))
    peak = np.empty((chunk, T))
    for s in range(0, P, chunk):
        c = min(chunk, P - s)
        X = xbuf[:c]
        np.matmul(W[s : s + c], Rt, out=X)
        if (X <= -1.0).any():
            raise ValidationError.for_field("weights", "a portfolio loses 100 % or more in one period")
        vol[s : s + c], mdd[s : s + c], var[s : s + c], es[s : s + c], shp[s : s + c] = _block(
            X, alpha, p, buf[:c], peak[:c]
        )
    if m is not None:
        mm = m[keep]
        dm = mm - mm.mean()
        sxx = float(dm @ dm)
        if sxx <= 0:
            raise ValidationError.for_field("market_returns", "has zero variance")
        asset_beta = ((R - R.mean(axis=0)).T @ dm) / sxx
        beta = W @ asset_beta
    else:
        beta = np.full(P, np.nan)
    A = np.abs(W)
    g = A.sum(axis=1)
    if (g == 0).any():
        raise ValidationError.for_field("weights", "a portfolio has zero gross weight")
    A = A / g[:, None]
    hhi = np.einsum("ij,ij->i", A, A)
    k3 = min(3, A.shape[1])
    top3 = -np.partition(-A, k3 - 1, axis=1)[:, :k3].sum(axis=1)
    return BatchRiskReport(vol, mdd, var, es, shp, beta, hhi, 1.0 / hhi, top3, T, lv)

