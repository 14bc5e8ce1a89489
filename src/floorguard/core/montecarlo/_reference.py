"""Slow, readable twins of the Monte Carlo kernels (tests check they agree).

They draw from the same spawned streams in the same order as the fast code,
one path at a time, with plain Python loops.
"""

from __future__ import annotations

import math

import numpy as np

from floorguard._typing import ArrayLike, FloatArray, Seed
from floorguard.core.montecarlo._paths import ReturnModel, spawn_streams

__all__ = ["path_values_reference", "terminal_values_reference"]


def terminal_values_reference(
    model: ReturnModel, horizon_days: int, n_paths: int, holdings: ArrayLike, seed: Seed
) -> FloatArray:
    """Portfolio value at the horizon, path by path, for normal innovations without jumps."""
    rng_z = spawn_streams(seed, 4)[0]
    h = np.asarray(holdings, dtype=np.float64)
    n = model.n_assets
    chol = model.chol
    scale = math.sqrt(horizon_days) * model.vol_multiplier
    shift = model.shift if model.shift is not None else np.zeros(n)
    out = np.empty(n_paths)
    for p in range(n_paths):
        z = rng_z.standard_normal(n)
        value = 0.0
        for i in range(n):
            x = model.mean[i] * horizon_days + shift[i]
            for j in range(i + 1):
                x += chol[i, j] * z[j] * scale
            value += h[i] * math.exp(x)
        out[p] = value
    return out


def path_values_reference(
    model: ReturnModel, n_steps: int, n_paths: int, holdings: ArrayLike, seed: Seed
) -> FloatArray:
    """Portfolio value after each daily step, shape (n_paths, n_steps), normal innovations."""
    rng_z = spawn_streams(seed, 4)[0]
    h = np.asarray(holdings, dtype=np.float64)
    n = model.n_assets
    chol = model.chol
    shift = model.shift if model.shift is not None else np.zeros(n)
    z_all = rng_z.standard_normal((n_paths, n_steps, n))
    out = np.empty((n_paths, n_steps))
    for p in range(n_paths):
        logs = [0.0] * n
        for t in range(n_steps):
            value = 0.0
            for i in range(n):
                step = model.mean[i] + shift[i] / n_steps
                for j in range(i + 1):
                    step += chol[i, j] * z_all[p, t, j] * model.vol_multiplier
                logs[i] += step
                value += h[i] * math.exp(logs[i])
            out[p, t] = value
    return out
