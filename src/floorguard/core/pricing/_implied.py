"""Implied volatility, vectorised, with reason codes instead of exceptions.

European: the price is normalised (Jäckel 2015, "Let's be rational") to an
out-of-the-money call on the forward, ``b(x, s) = e^{x/2} N(x/s + s/2) -
e^{-x/2} N(x/s - s/2)`` with ``x = -|ln(F/K)| <= 0`` and ``s = sigma sqrt(t)``,
which is strictly increasing in ``s`` from 0 to ``e^{x/2}``. It has a single
inflection point at ``s_c = sqrt(2|x|)``. Below ``b(s_c)`` the solver works on
``ln b`` and above it on ``ln(e^{x/2} - b)`` (computed from the tails without
cancellation), with Halley steps kept inside a shrinking bracket (bisection
when a step leaves it). Only unconverged options are iterated.

American: a bracketed secant/Newton search on :func:`american_price`, started
from the European implied vol of the same price.

Reason codes (``ImpliedVolResult.reason``):

``ok``                converged;
``below_intrinsic``   price below the no-arbitrage lower bound (NaN);
``at_intrinsic``      price equal to the lower bound, vol not identified (NaN);
``above_upper_bound`` price at or above ``S e^{-qt}`` (call) / ``K e^{-rt}`` (put) (NaN);
``zero_time``         ``t == 0``: no time value to invert (NaN);
``invalid_input``     non-finite or non-positive price/spot/strike, negative t (NaN);
``not_converged``     iteration limit reached (NaN; should not happen).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from scipy.special import ndtr, ndtri

from floorguard._typing import ArrayLike, FloatArray
from floorguard.core.pricing._inputs import all_scalar, as_float, kind_sign
from floorguard.exceptions import ValidationError

__all__ = ["REASONS", "ImpliedVolResult", "implied_vol", "implied_vol_details"]

#: Reason codes, indexed by the integer codes used internally.
REASONS: tuple[str, ...] = (
    "ok",
    "below_intrinsic",
    "at_intrinsic",
    "above_upper_bound",
    "zero_time",
    "invalid_input",
    "not_converged",
)
_OK, _BELOW, _AT, _ABOVE, _ZERO_T, _INVALID, _NOT_CONV = range(len(REASONS))

_INV_SQRT_2PI = 0.3989422804014326779399460599343818684758586311649
_REL_TOL = 1e-13
_MAX_ITER = 100


class ImpliedVolResult(NamedTuple):
    """Implied vols and why any is NaN.

    Attributes
    ----------
    vol : ndarray or float
        Implied volatility per sqrt(year); NaN where ``reason != "ok"``.
    reason : ndarray of str or str
        One of :data:`REASONS` per option.
    """

    vol: FloatArray | float
    reason: Any


def _b(x: FloatArray, s: FloatArray) -> FloatArray:
    """Normalised OTM call ``b(x, s)``, x <= 0, s > 0."""
    h = x / s
    return np.exp(0.5 * x) * ndtr(h + 0.5 * s) - np.exp(-0.5 * x) * ndtr(h - 0.5 * s)


def _b_complement(x: FloatArray, s: FloatArray) -> FloatArray:
    """``e^{x/2} - b(x, s)`` from the tails, accurate when b is near its maximum."""
    h = x / s
    return np.exp(0.5 * x) * ndtr(-h - 0.5 * s) + np.exp(-0.5 * x) * ndtr(h - 0.5 * s)


def _vega_n(x: FloatArray, s: FloatArray) -> FloatArray:
    """db/ds = phi(x/s + s/2) e^{x/2} = phi(x/s)·e^{-s^2/8}."""
    h = x / s
    with np.errstate(over="ignore"):
        return _INV_SQRT_2PI * np.exp(-0.5 * (h * h + 0.25 * s * s))


def _solve_normalised(x: FloatArray, beta: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Solve ``b(x, s) = beta`` for s, with 0 < beta < e^{x/2}, x <= 0.

    Returns the solution and a boolean "converged" mask.
    """
    n = x.size
    s_out = np.full(n, np.nan)
    conv = np.zeros(n, dtype=bool)
    if n == 0:
        return s_out, conv
    b_max = np.exp(0.5 * x)
    s_c = np.sqrt(-2.0 * x)
    b_c = np.where(s_c > 0.0, _b(x, np.where(s_c > 0.0, s_c, 1.0)), 0.0)
    low = beta < b_c  # lower region: objective ln b; else ln(b_max - b)
    # initial guesses
    with np.errstate(divide="ignore", invalid="ignore"):
        # lower: b ~ tail of the normal; s such that x/s + s/2 gives that tail level
        lb = np.log(beta)
        s_low = np.where(lb < 0.0, -x / np.sqrt(np.maximum(-2.0 * lb, 1e-300)), s_c)
        # upper: at x=0, b_max - b = 2 N(-s/2); use the same form with the normalised gap
        gap = (b_max - beta) / b_max
        s_up = -2.0 * ndtri(0.5 * np.clip(gap, 1e-300, 1.0))
    s = np.where(low, np.clip(s_low, 0.0, s_c), np.maximum(s_up, s_c))
    lo = np.where(low, 0.0, s_c)
    hi = np.where(low, s_c, np.inf)
    s = np.where((s <= lo) | (s >= hi) | ~np.isfinite(s), np.where(low, 0.5 * s_c, s_c + 1.0), s)
    s = np.where(s > 0.0, s, 1e-3)
    with np.errstate(divide="ignore"):
        target_low = np.log(beta)
        target_up = np.log(b_max - beta)
    idx = np.arange(n)
    for _ in range(_MAX_ITER):
        xi = x[idx]
        si = s[idx]
        li = low[idx]
        vega = _vega_n(xi, si)
        curv = xi * xi / (si * si * si) - 0.25 * si  # b''/b'
        with np.errstate(divide="ignore", invalid="ignore"):
            b_low = _b(xi, si)
            comp = _b_complement(xi, si)
            # lower branch: f = ln b - ln beta; f' = v/b; f''/f' = curv - v/b
            f_l = np.log(b_low) - target_low[idx]
            fp_l = vega / b_low
            # upper branch: f = ln(b_max - b) - ln(b_max - beta); f' = -v/comp
            f_u = np.log(comp) - target_up[idx]
            fp_u = -vega / comp
            f = np.where(li, f_l, f_u)
            fp = np.where(li, fp_l, fp_u)
            fpp_over_fp = curv - fp
            newton = -f / fp
            halley = newton / (1.0 - 0.5 * newton * fpp_over_fp)
            step = np.where(np.abs(0.5 * newton * fpp_over_fp) < 0.5, halley, newton)
        # update bracket from the sign of f (objective increasing in s for lower, decreasing upper)
        too_low = np.where(li, f < 0.0, f > 0.0)
        lo_i = np.where(too_low, si, lo[idx])
        hi_i = np.where(too_low, hi[idx], si)
        lo[idx] = lo_i
        hi[idx] = hi_i
        s_new = si + step
        bad = ~np.isfinite(s_new) | (s_new <= lo_i) | (s_new >= hi_i)
        bis = np.where(np.isfinite(hi_i), 0.5 * (lo_i + hi_i), 2.0 * np.maximum(lo_i, si))
        s_new = np.where(bad, bis, s_new)
        s_new = np.where(f == 0.0, si, s_new)
        done = (np.abs(s_new - si) <= _REL_TOL * si) | (f == 0.0) | (hi_i - lo_i <= _REL_TOL * si)
        s[idx] = s_new
        finished = idx[done]
        s_out[finished] = s_new[done]
        conv[finished] = True
        idx = idx[~done]
        if idx.size == 0:
            break
    return s_out, conv


def _european_iv(
    price: FloatArray,
    theta: FloatArray,
    s: FloatArray,
    k: FloatArray,
    t: FloatArray,
    r: FloatArray,
    q: FloatArray,
) -> tuple[FloatArray, np.ndarray]:
    """Vectorised European IV on flat, broadcast arrays: (vol, integer reason code)."""
    n = price.size
    vol = np.full(n, np.nan)
    code = np.full(n, _OK, dtype=np.int8)
    valid = (
        np.isfinite(price)
        & np.isfinite(s)
        & np.isfinite(k)
        & np.isfinite(t)
        & np.isfinite(r)
        & np.isfinite(q)
        & (s > 0.0)
        & (k > 0.0)
        & (t >= 0.0)
        & (price >= 0.0)
    )
    code[~valid] = _INVALID
    zero_t = valid & (t == 0.0)
    code[zero_t] = _ZERO_T
    work = valid & ~zero_t
    w = np.flatnonzero(work)
    if w.size == 0:
        return vol, code
    pw, th, sw, kw, tw, rw, qw = (a[w] for a in (price, theta, s, k, t, r, q))
    x = np.log(sw / kw) + (rw - qw) * tw  # ln(F/K)
    df = np.exp(-rw * tw)
    norm = df * np.sqrt(sw * kw) * np.exp(0.5 * (rw - qw) * tw)  # df sqrt(F K)
    beta = pw / norm
    half = 0.5 * x
    intrinsic = np.maximum(th * (np.exp(half) - np.exp(-half)), 0.0)
    upper = np.exp(th * half)
    otm = beta - intrinsic
    # tolerance: a few ulps of the larger of the price and the intrinsic value
    tol = 4.0 * np.finfo(float).eps * np.maximum(beta, intrinsic)
    below = otm < -tol
    at = ~below & (otm <= tol)
    above = ~below & ~at & (beta >= upper)
    cw = np.full(w.size, _OK, dtype=np.int8)
    cw[below] = _BELOW
    cw[at] = _AT
    cw[above] = _ABOVE
    ok = cw == _OK
    xs = -np.abs(x[ok])
    sol, conv = _solve_normalised(xs, otm[ok])
    vw = np.full(w.size, np.nan)
    vw_ok = sol / np.sqrt(tw[ok])
    vw_ok[~conv] = np.nan
    vw[ok] = vw_ok
    sub = cw[ok]
    sub[~conv] = _NOT_CONV
    cw[ok] = sub
    vol[w] = vw
    code[w] = cw
    return vol, code


def implied_vol_details(
    price: ArrayLike,
    kind: Any,
    spot: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    rate: ArrayLike,
    dividend: ArrayLike = 0.0,
    style: str = "european",
) -> ImpliedVolResult:
    """Implied volatility with a reason code per option (never raises per option).

    Parameters
    ----------
    price : array_like
        Option prices (currency of ``spot``).
    kind : {"call", "put"} or array_like
        Option type.
    spot, strike : array_like
        Spot and strike, > 0.
    t : array_like
        Time to expiry in years.
    rate, dividend : array_like
        Continuously compounded rate and dividend yield per year.
    style : {"european", "american"}
        Exercise style; ``"american"`` inverts :func:`american_price`.

    Returns
    -------
    ImpliedVolResult
        ``(vol, reason)``; vol per sqrt(year), NaN unless reason is ``"ok"``.
        Scalars when every input is scalar.

    Raises
    ------
    ValidationError
        Only for batch-level problems: unknown ``kind`` or ``style``, shapes
        that do not broadcast, non-numeric input.
    """
    if style not in ("european", "american"):
        raise ValidationError.for_field("style", f"must be 'european' or 'american', got {style!r}")
    theta = kind_sign(kind)
    arrays = [as_float(a, f) for a, f in ((price, "price"), (spot, "spot"), (strike, "strike"), (t, "t"), (rate, "rate"), (dividend, "dividend"))]
    try:
        b = np.broadcast_arrays(theta, *arrays)
    except ValueError as exc:
        raise ValidationError.for_field("shape", "inputs do not broadcast") from exc
    shape = b[0].shape
    th, p, s, k, tt, r, q = (np.ascontiguousarray(a, dtype=np.float64).ravel() for a in b)
    if style == "european":
        vol, code = _european_iv(p, th, s, k, tt, r, q)
    else:
        from floorguard.core.pricing._american import _american_iv

        vol, code = _american_iv(p, th, s, k, tt, r, q)
    reasons = np.asarray(REASONS)[code].reshape(shape)
    vol = vol.reshape(shape)
    if all_scalar(price, kind, spot, strike, t, rate, dividend):
        return ImpliedVolResult(float(vol), str(reasons))
    return ImpliedVolResult(vol, reasons)


def implied_vol(
    price: ArrayLike,
    kind: Any,
    spot: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    rate: ArrayLike,
    dividend: ArrayLike = 0.0,
    style: str = "european",
) -> FloatArray | float:
    """Implied volatility (NaN where the price has none); see :func:`implied_vol_details`.

    Examples
    --------
    Round trip of Hull's Example 15.6 call (S=42, K=40, r=10 %, T=0.5):

    >>> from floorguard.core.pricing import bsm_price
    >>> p = bsm_price("call", 42, 40, 0.5, 0.10, 0.20)
    >>> round(implied_vol(p, "call", 42, 40, 0.5, 0.10), 12)
    0.2
    """
    return implied_vol_details(price, kind, spot, strike, t, rate, dividend, style).vol
