"""Slow, readable twins of the forecast kernels (tests check they agree)."""

from __future__ import annotations

import numpy as np

from floorguard._typing import ArrayLike, FloatArray

__all__ = ["rolling_mean_correlation_reference", "trailing_zscore_reference"]


def rolling_mean_correlation_reference(returns: ArrayLike, window: int) -> FloatArray:
    """Average pairwise Pearson correlation over each trailing window, with ``np.corrcoef``."""
    x = np.asarray(returns, dtype=np.float64)
    t, n = x.shape
    out = np.full(t, np.nan)
    for end in range(window - 1, t):
        block = x[end - window + 1 : end + 1]
        vals = []
        for i in range(n):
            for j in range(i + 1, n):
                a, b = block[:, i], block[:, j]
                if a.std() == 0 or b.std() == 0:
                    continue
                vals.append(float(np.corrcoef(a, b)[0, 1]))
        if vals:
            out[end] = sum(vals) / len(vals)
    return out


def trailing_zscore_reference(x: ArrayLike, window: int) -> FloatArray:
    """z-score of each value against the ``window`` values before it (sd with ddof=1)."""
    v = np.asarray(x, dtype=np.float64)
    out = np.full(v.size, np.nan)
    for t in range(window, v.size):
        hist = v[t - window : t]
        sd = float(np.std(hist, ddof=1))
        if sd > 0:
            out[t] = (v[t] - float(np.mean(hist))) / sd
    return out
