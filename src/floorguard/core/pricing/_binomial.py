"""Leisen–Reimer binomial trees, vectorised across options.

Leisen, D. and Reimer, M. (1996), "Binomial models for option valuation -
examining and improving convergence", Applied Mathematical Finance 3, 319-346:
node probabilities from the Peizer–Pratt inversion (method 2) of ``d1``/``d2``,
odd step counts. Every option in the batch gets the same number of steps; the
backward induction runs over a (n_options, steps + 1) array.
"""

from __future__ import annotations

import numpy as np

from floorguard._typing import FloatArray


def _peizer_pratt(z: FloatArray, n: int) -> FloatArray:
    """Peizer–Pratt method-2 inversion h(z) for an ``n``-step tree (n odd)."""
    a = z / (n + 1.0 / 3.0 + 0.1 / (n + 1.0))
    return 0.5 + np.copysign(0.5, z) * np.sqrt(-np.expm1(-a * a * (n + 1.0 / 6.0)))


def lr_tree(
    theta: FloatArray,
    s: FloatArray,
    k: FloatArray,
    t: FloatArray,
    r: FloatArray,
    v: FloatArray,
    q: FloatArray,
    steps: int = 501,
    american: bool = True,
) -> FloatArray:
    """Leisen–Reimer tree prices for flat arrays of options (t > 0, vol > 0).

    Parameters
    ----------
    theta : ndarray
        +1 call, -1 put, shape (m,).
    s, k, t, r, v, q : ndarray
        Spot, strike, years, rate, vol, dividend yield, shape (m,).
    steps : int
        Number of time steps (made odd).
    american : bool
        Allow early exercise.

    Returns
    -------
    ndarray
        Prices, shape (m,); NaN where the option is too far from the strike
        for the tree (Peizer–Pratt probability rounds to 0 or 1).
    """
    n = int(steps) | 1
    dt = t / n
    stdev = v * np.sqrt(t)
    d1 = (np.log(s / k) + (r - q + 0.5 * v * v) * t) / stdev
    d2 = d1 - stdev
    p = _peizer_pratt(d2, n)
    pp = _peizer_pratt(d1, n)
    # a tree cannot resolve options many standard deviations from the strike
    # (p rounds to 0 or 1): those come back as NaN for the caller to replace
    degenerate = ~((p > 1e-10) & (p < 1.0 - 1e-10) & (pp > 1e-10) & (pp < 1.0 - 1e-10))
    p = np.where(degenerate, 0.5, p)
    pp = np.where(degenerate, 0.5, pp)
    growth = np.exp((r - q) * dt)
    up = growth * pp / p
    down = (growth - p * up) / (1.0 - p)
    disc = np.exp(-r * dt)
    pu = (disc * p)[:, None]
    pd = (disc * (1.0 - p))[:, None]
    log_u = np.log(up)[:, None]
    log_d = np.log(down)[:, None]
    log_s = np.log(s)[:, None]
    th = theta[:, None]
    kk = k[:, None]
    j = np.arange(n + 1, dtype=np.float64)[None, :]
    # extreme nodes may overflow to inf: a put's payoff there is 0 (max with -inf)
    with np.errstate(over="ignore"):
        values = np.maximum(th * (np.exp(log_s + j * log_u + (n - j) * log_d) - kk), 0.0)
        for i in range(n - 1, -1, -1):
            values = pu * values[:, 1 : i + 2] + pd * values[:, : i + 1]
            if american:
                jj = j[:, : i + 1]
                exercise = th * (np.exp(log_s + jj * log_u + (i - jj) * log_d) - kk)
                np.maximum(values, exercise, out=values)
    return np.where(degenerate, np.nan, values[:, 0])
