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

from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np
from scipy.special import ndtr

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
_MAX_ITER = 60
_STEP_TOL = 1e-4  # third-order steps: the error left after a step of 1e-4 s is ~(1e-4)^4 s


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


# --------------------------------------------------------------------------- initial guesses
# Two small lookup tables give starting points within ~1e-4 (relative) of the
# root for almost every input, so one or two third-order steps finish the job.
# Coordinates: a = sqrt|x| / (1 + sqrt|x|) in [0, _A_MAX];
# lower branch (b < b_c): w = 1/sqrt(1 - ln(b / b_c)) in (0, 1], table of s / s_c;
# upper branch (b >= b_c): w = 1/sqrt(1 - ln((e^{x/2} - b) / (e^{x/2} - b_c))),
# table of w * s (bounded: s_c at w = 1, sqrt(8) as w -> 0).
_NA, _NW, _A_MAX = 97, 257, 0.8


@lru_cache(maxsize=1)
def _guess_tables() -> FloatArray:
    """Build the lower and upper lookup tables (once, on first use), shape (2, _NA, _NW)."""
    a_grid = np.linspace(0.0, _A_MAX, _NA)
    w_grid = np.linspace(0.0, 1.0, _NW)
    lower = np.empty((_NA, _NW))
    upper = np.empty((_NA, _NW))
    t_fine = np.linspace(0.0, 1.0, 4001)[1:] ** 2  # s / s_c in (0, 1], dense near 0
    u_fine = np.linspace(0.0, 1.0, 4001)[:-1]  # s_c / s in [0, 1)
    for i, a in enumerate(a_grid):
        ax = max((a / (1.0 - a)) ** 2, 1e-10)
        x = -ax
        sc = np.sqrt(2.0 * ax)
        e_half = np.exp(0.5 * x)
        b_c = 0.5 * e_half - ndtr(-sc) / e_half
        with np.errstate(divide="ignore", invalid="ignore"):
            y = np.log(_b(np.full(t_fine.size, x), t_fine * sc)) - np.log(b_c)
        ok = np.isfinite(y)
        w = 1.0 / np.sqrt(1.0 - y[ok])
        lower[i] = np.interp(
            w_grid, np.concatenate([[0.0], w]), np.concatenate([[0.0], t_fine[ok]])
        )
        s_up = sc / np.maximum(u_fine, 1e-300)
        s_up = np.where(u_fine > 0.0, s_up, np.inf)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            h = x / s_up[1:]
            gap = e_half * ndtr(-h - 0.5 * s_up[1:]) + ndtr(h - 0.5 * s_up[1:]) / e_half
            yu = np.log(gap) - np.log(e_half - b_c)
        oku = np.isfinite(yu)
        wu = 1.0 / np.sqrt(1.0 - yu[oku])
        zu = wu * s_up[1:][oku]
        order = np.argsort(wu)
        upper[i] = np.interp(
            w_grid,
            np.concatenate([[0.0], wu[order], [1.0]]),
            np.concatenate([[np.sqrt(8.0)], zu[order], [sc]]),
        )
    return np.stack([lower, upper])


def _bilinear(table: FloatArray, a: FloatArray, w: FloatArray, offset: Any = 0) -> FloatArray:
    """Bilinear interpolation in a flat (…, _NA, _NW) table; ``offset`` selects the sub-table."""
    fa = np.clip(a * ((_NA - 1) / _A_MAX), 0.0, _NA - 1 - 1e-9)
    fw = np.clip(w * (_NW - 1), 0.0, _NW - 1 - 1e-9)
    ia = fa.astype(np.intp)
    iw = fw.astype(np.intp)
    da = fa - ia
    dw = fw - iw
    flat = table.ravel()
    base = ia * _NW + iw + offset
    v00 = flat[base]
    v01 = flat[base + 1]
    v10 = flat[base + _NW]
    v11 = flat[base + _NW + 1]
    return (v00 + (v01 - v00) * dw) * (1.0 - da) + (v10 + (v11 - v10) * dw) * da


def _solve_normalised(
    x: FloatArray, beta: FloatArray, e_half: FloatArray | None = None
) -> tuple[FloatArray, FloatArray]:
    """Solve ``b(x, s) = beta`` for s, with 0 < beta < e^{x/2}, x <= 0.

    Below the inflection value ``b_c = b(x, s_c)`` the objective is
    ``ln b - ln beta`` (increasing in s), above it ``ln(e^{x/2} - b) -
    ln(e^{x/2} - beta)`` (decreasing); ``sigma = +1 / -1`` marks the branch so
    both run in one array: ``val = e^{x/2} N(sigma h+) - sigma e^{-x/2} N(h-)``.
    Third-order Householder steps from the lookup-table guess, kept inside a
    bracket (bisection otherwise). An option stops once its Newton step is
    below ``_STEP_TOL`` of s: the error left after a third-order step is then
    of order ``_STEP_TOL^4`` relative.

    Returns the solution and a boolean "converged" mask.
    """
    n = x.size
    if n == 0:
        return np.full(0, np.nan), np.zeros(0, dtype=bool)
    if e_half is None:
        e_half = np.exp(0.5 * x)
    e_inv = 1.0 / e_half
    s_c = np.sqrt(-2.0 * x)
    b_c = 0.5 * e_half - ndtr(-s_c) * e_inv  # b at the inflection point (h+ = 0)
    low = beta < b_c
    sigma = np.where(low, 1.0, -1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        target = np.log(np.where(low, beta, e_half - beta))
        ref = np.log(np.where(low, b_c, e_half - b_c))
        w = 1.0 / np.sqrt(1.0 - (target - ref))
    sq = np.sqrt(-x)
    lut = _bilinear(_guess_tables(), sq / (1.0 + sq), w, np.where(low, 0, _NA * _NW))
    with np.errstate(divide="ignore", invalid="ignore"):
        s0 = np.where(low, lut * s_c, lut / w)
    lo = np.where(low, 0.0, s_c)
    hi = np.where(low, s_c, np.inf)
    fallback = np.where(low, 0.5 * s_c, s_c + 0.5 * np.maximum(s_c, 0.1))
    s = np.where(np.isfinite(s0) & (s0 > lo) & (s0 < hi), s0, fallback)

    s_out = np.full(n, np.nan)
    conv = np.zeros(n, dtype=bool)
    idx: Any = slice(None)
    m = n
    for _ in range(_MAX_ITER):
        xi, si, sg, ei, einv = x[idx], s[idx], sigma[idx], e_half[idx], e_inv[idx]
        h = xi / si
        hp = h + 0.5 * si
        hm = h - 0.5 * si
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            vega = _INV_SQRT_2PI * ei * np.exp(-0.5 * hp * hp)
            val = ei * ndtr(sg * hp) - sg * ndtr(hm) * einv
            lam = sg * vega / val
            f = np.log(val) - target[idx]
            x2 = xi * xi
            s2 = si * si
            c2 = x2 / (s2 * si) - 0.25 * si
            c3 = c2 * c2 - 3.0 * x2 / (s2 * s2) - 0.25
            h2 = c2 - lam
            h3 = c3 - 3.0 * lam * c2 + 2.0 * lam * lam
            nu = -f / lam
            # third-order correction only close to the root; a Newton step otherwise
            hn = h2 * nu
            close = (np.abs(hn) < 0.5) & (np.abs(h3 * nu * nu) < 1.0)
            step = np.where(close, nu * (1.0 + 0.5 * hn) / (1.0 + hn + h3 * nu * nu / 6.0), nu)
        too_low = sg * f < 0.0
        lo_i = np.where(too_low, si, lo[idx])
        hi_i = np.where(too_low, hi[idx], si)
        s_new = si + step
        bad = ~np.isfinite(s_new) | (s_new < lo_i) | (s_new > hi_i)
        exact = f == 0.0
        small = close & (np.abs(nu) <= _STEP_TOL * si)
        done = small | exact | (hi_i - lo_i <= _REL_TOL * si)
        if np.any(bad) or np.any(exact):
            bis = np.where(np.isfinite(hi_i), 0.5 * (lo_i + hi_i), 2.0 * np.maximum(lo_i, si))
            # a converged option keeps its last point; others bisect when a step leaves the bracket
            s_new = np.where(bad, np.where(done, si, bis), s_new)
            s_new = np.where(exact, si, s_new)
        if isinstance(idx, slice):
            lo, hi, s = lo_i, hi_i, s_new
            s_out = np.where(done, s_new, np.nan)
            conv = done.copy()
            idx = np.flatnonzero(~done)
        else:
            lo[idx] = lo_i
            hi[idx] = hi_i
            s[idx] = s_new
            finished = idx[done]
            s_out[finished] = s_new[done]
            conv[finished] = True
            idx = idx[~done]
        m = idx.size
        if m == 0:
            break
    return s_out, conv


_CHUNK = 16384  # options per block: keeps the ~30 temporaries of a block in cache


def _european_iv(
    price: FloatArray,
    theta: FloatArray,
    s: FloatArray,
    k: FloatArray,
    t: FloatArray,
    r: FloatArray,
    q: FloatArray,
) -> tuple[FloatArray, np.ndarray]:
    """Vectorised European IV on flat, broadcast arrays: (vol, integer reason code).

    Large batches are processed in blocks of ``_CHUNK`` options, which is
    faster than whole-array passes once the arrays outgrow the CPU caches.
    """
    n = price.size
    if n <= _CHUNK:
        return _european_iv_block(price, theta, s, k, t, r, q)
    vol = np.empty(n)
    code = np.empty(n, dtype=np.int8)
    for start in range(0, n, _CHUNK):
        sl = slice(start, start + _CHUNK)
        vol[sl], code[sl] = _european_iv_block(
            price[sl], theta[sl], s[sl], k[sl], t[sl], r[sl], q[sl]
        )
    return vol, code


def _european_iv_block(
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
    code = np.full(n, _OK, dtype=np.int8)
    with np.errstate(invalid="ignore", over="ignore"):
        # one pass for finiteness: a NaN or inf anywhere makes the sum non-finite
        # (an overflowing sum of huge finite values is re-checked one by one below)
        valid = np.isfinite(price + s + k + t + r + q)
        if not np.all(valid):
            valid = (
                np.isfinite(price)
                & np.isfinite(s)
                & np.isfinite(k)
                & np.isfinite(t)
                & np.isfinite(r)
                & np.isfinite(q)
            )
        valid &= (s > 0.0) & (k > 0.0) & (t >= 0.0) & (price >= 0.0)
    w: Any = slice(None)
    zero_t = t == 0.0
    if not np.all(valid) or np.any(zero_t):
        code[~valid] = _INVALID
        code[valid & zero_t] = _ZERO_T
        valid &= ~zero_t
        w = np.flatnonzero(valid)
        if w.size == 0:
            return np.full(n, np.nan), code
    pw, th, sw, kw, tw, rw, qw = (a[w] for a in (price, theta, s, k, t, r, q))
    x = np.log(sw / kw) + (rw - qw) * tw  # ln(F/K)
    # normalised price p / (df sqrt(F K)), df sqrt(F K) = sqrt(S K) e^{-(r+q) t / 2}
    beta = pw / (np.sqrt(sw) * np.sqrt(kw) * np.exp(-0.5 * (rw + qw) * tw))
    e_half = np.exp(0.5 * x)
    e_inv = 1.0 / e_half
    intrinsic = np.maximum(th * (e_half - e_inv), 0.0)
    upper = np.where(th > 0.0, e_half, e_inv)
    otm = beta - intrinsic
    tol = 4.0 * np.finfo(float).eps * np.maximum(beta, intrinsic)  # a few ulps
    below = otm < -tol
    # time value below ~1e-280 of sqrt(F K): nothing left to invert (subnormal range)
    at = ~below & ((otm <= tol) | (otm < 1e-280))
    above = ~below & ~at & (beta >= upper)
    bad = below | at | above
    ok: Any = slice(None)
    cw = np.full(beta.size, _OK, dtype=np.int8)
    if np.any(bad):
        cw[above] = _ABOVE
        cw[at] = _AT
        cw[below] = _BELOW
        ok = np.flatnonzero(~bad)
    xo = x[ok]
    sol, conv = _solve_normalised(-np.abs(xo), otm[ok], np.where(xo < 0.0, e_half[ok], e_inv[ok]))
    vol_ok = np.where(conv, sol / np.sqrt(tw[ok]), np.nan)
    if not np.all(conv):
        sub = cw[ok]
        sub[~conv] = _NOT_CONV
        cw[ok] = sub
    vw = np.full(beta.size, np.nan)
    vw[ok] = vol_ok
    if isinstance(w, slice):
        return vw, cw
    vol = np.full(n, np.nan)
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
    arrays = [
        as_float(a, f)
        for a, f in (
            (price, "price"),
            (spot, "spot"),
            (strike, "strike"),
            (t, "t"),
            (rate, "rate"),
            (dividend, "dividend"),
        )
    ]
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
