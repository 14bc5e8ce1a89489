"""Black–Scholes–Merton and Black-76 prices and greeks, vectorised.

Conventions (also in every docstring):

* ``t`` is the time to expiry in years (ACT/365F when it comes from dates);
  ``rate`` and ``dividend`` are continuously compounded, per year.
* vega is per 1.00 of vol (divide by 100 for "per vol point"), theta is
  ``dV/d(calendar time)`` per year (divide by 365 for "per day"), rho and
  dividend rho are per 1.00 of rate.
* Edges are exact limits, never NaN: at ``t == 0`` or ``vol == 0`` the price is
  the discounted intrinsic value of the forward, ``df * max(theta (F - K), 0)``;
  gamma is 0 there, delta is the limit of ``N(d1)`` (1/2 at the money forward),
  and the ``-S e^{-qt} phi(d1) sigma / (2 sqrt t)`` part of theta is taken as 0.

Both prices use the own-side formula ``df * theta * (F N(theta d1) - K N(theta d2))``
for calls (theta=+1) and puts (theta=-1), never put-call parity, so
out-of-the-money prices keep their relative accuracy.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import ndtr

from floorguard._typing import ArrayLike, FloatArray
from floorguard.core.pricing._inputs import (
    all_scalar,
    as_float,
    broadcast,
    check_finite,
    check_nonnegative,
    check_positive,
    kind_sign,
    out,
)

__all__ = [
    "black76_greeks",
    "black76_price",
    "bsm_greeks",
    "bsm_price",
    "put_call_parity_residual",
]

_INV_SQRT_2PI = 0.3989422804014326779399460599343818684758586311649


def _validate_bsm(
    kind: Any, spot: Any, strike: Any, t: Any, rate: Any, vol: Any, dividend: Any
) -> tuple[FloatArray, ...]:
    theta = kind_sign(kind)
    s = as_float(spot, "spot")
    k = as_float(strike, "strike")
    tt = as_float(t, "t")
    r = as_float(rate, "rate")
    v = as_float(vol, "vol")
    q = as_float(dividend, "dividend")
    check_positive(s, "spot")
    check_positive(k, "strike")
    check_nonnegative(tt, "t")
    check_nonnegative(v, "vol")
    check_finite(r, "rate")
    check_finite(q, "dividend")
    return broadcast(kind=theta, spot=s, strike=k, t=tt, rate=r, vol=v, dividend=q)


_CHUNK = 32768  # 1-D batches larger than this are processed block by block (cache-friendly)


def _blocked(fn, arrays: tuple[FloatArray, ...]) -> dict[str, FloatArray]:
    """Apply ``fn`` (arrays -> dict of arrays) block-wise along a 1-D batch."""
    n = arrays[0].shape[0]
    out_arrays: dict[str, FloatArray] | None = None
    for start in range(0, n, _CHUNK):
        sl = slice(start, start + _CHUNK)
        part = fn(*(a[sl] for a in arrays))
        if out_arrays is None:
            out_arrays = {key: np.empty(n) for key in part}
        for key, val in part.items():
            out_arrays[key][sl] = val
    assert out_arrays is not None
    return out_arrays


def _d1_d2(log_fk: FloatArray, stdev: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """d1, d2 and the mask ``stdev > 0``; degenerate entries get their limits."""
    pos = stdev > 0.0
    sd = np.where(pos, stdev, 1.0)
    with np.errstate(over="ignore"):  # log_fk / tiny stdev -> +-inf, handled by ndtr
        d1 = log_fk / sd + 0.5 * sd
    d2 = d1 - sd
    if not np.all(pos):
        lim = np.where(log_fk > 0.0, np.inf, np.where(log_fk < 0.0, -np.inf, 0.0))
        d1 = np.where(pos, d1, lim)
        d2 = np.where(pos, d2, lim)
    return d1, d2, pos


def _pdf(d: FloatArray) -> FloatArray:
    with np.errstate(over="ignore"):  # d*d may overflow to inf -> exp(-inf) = 0
        return _INV_SQRT_2PI * np.exp(-0.5 * d * d)


def bsm_price(
    kind: Any,
    spot: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    rate: ArrayLike,
    vol: ArrayLike,
    dividend: ArrayLike = 0.0,
) -> FloatArray | float:
    """Black–Scholes–Merton price of European options with a continuous dividend yield.

    Parameters
    ----------
    kind : {"call", "put"} or array_like of those (or +1/-1)
        Option type, broadcast with the other inputs.
    spot : array_like
        Spot price of the underlying, > 0.
    strike : array_like
        Strike, > 0, same currency as ``spot``.
    t : array_like
        Time to expiry in years, >= 0.
    rate : array_like
        Continuously compounded risk-free rate per year (may be negative).
    vol : array_like
        Black–Scholes volatility per sqrt(year), >= 0 (0.20 means 20 %).
    dividend : array_like, default 0.0
        Continuous dividend yield per year (may exceed ``rate`` or be negative).

    Returns
    -------
    ndarray or float
        Price in the currency of ``spot``, shape of the broadcast inputs; a
        Python float when every input is a scalar.

    Raises
    ------
    floorguard.exceptions.ValidationError
        Unknown kind, non-finite or out-of-domain inputs, shapes that do not broadcast.

    Examples
    --------
    Hull, *Options, Futures, and Other Derivatives*, 10th ed., Example 15.6:
    S=42, K=40, r=10 %, sigma=20 %, T=0.5 (d1 = 0.7693, d2 = 0.6278).

    >>> round(bsm_price("call", 42, 40, 0.5, 0.10, 0.20), 2)
    4.76
    >>> round(bsm_price("put", 42, 40, 0.5, 0.10, 0.20), 2)
    0.81
    """
    arrays = _validate_bsm(kind, spot, strike, t, rate, vol, dividend)
    if arrays[0].ndim == 1 and arrays[0].size > _CHUNK:
        price = _blocked(lambda *a: {"price": _bsm_price_arrays(*a)}, arrays)["price"]
    else:
        price = _bsm_price_arrays(*arrays)
    return out(price, all_scalar(kind, spot, strike, t, rate, vol, dividend))


def _bsm_price_arrays(
    theta: FloatArray,
    s: FloatArray,
    k: FloatArray,
    t: FloatArray,
    r: FloatArray,
    v: FloatArray,
    q: FloatArray,
) -> FloatArray:
    """Unvalidated BSM price on broadcast float arrays (internal fast path)."""
    stdev = v * np.sqrt(t)
    log_fk = np.log(s / k) + (r - q) * t
    d1, d2, _ = _d1_d2(log_fk, stdev)
    fwd_df = s * np.exp(-q * t)  # F * df
    k_df = k * np.exp(-r * t)
    return theta * (fwd_df * ndtr(theta * d1) - k_df * ndtr(theta * d2))


def bsm_greeks(
    kind: Any,
    spot: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    rate: ArrayLike,
    vol: ArrayLike,
    dividend: ArrayLike = 0.0,
) -> dict[str, FloatArray | float]:
    """Black–Scholes–Merton price and greeks, vectorised.

    Parameters are those of :func:`bsm_price`.

    Returns
    -------
    dict of str to ndarray or float
        Each value has the broadcast shape (floats for all-scalar input):

        ``price``
            option value.
        ``delta``
            dV/dS.
        ``gamma``
            d2V/dS2.
        ``vega``
            dV/dsigma per 1.00 of vol.
        ``theta``
            dV/d(calendar time) per year (the usual negative time decay).
        ``rho``
            dV/dr per 1.00 of rate (dividend yield held fixed).
        ``dividend_rho``
            dV/dq per 1.00 of dividend yield.

    Examples
    --------
    Hull, *Options, Futures, and Other Derivatives*, 10th ed., chapter 19 (The
    Greek Letters), the running example S=49, K=50, r=5 %, sigma=20 %,
    T=20 weeks (0.3846 y): delta 0.522, gamma 0.066, vega 12.1, theta -4.31
    per year, rho 8.91.

    >>> g = bsm_greeks("call", 49, 50, 0.3846, 0.05, 0.20)
    >>> round(g["delta"], 3), round(g["gamma"], 3), round(g["vega"], 1)
    (0.522, 0.066, 12.1)
    >>> round(g["theta"], 2), round(g["rho"], 2)
    (-4.31, 8.91)
    """
    arrays = _validate_bsm(kind, spot, strike, t, rate, vol, dividend)
    if arrays[0].ndim == 1 and arrays[0].size > _CHUNK:
        res = _blocked(_bsm_greeks_arrays, arrays)
    else:
        res = _bsm_greeks_arrays(*arrays)
    scalar = all_scalar(kind, spot, strike, t, rate, vol, dividend)
    return {name: out(val, scalar) for name, val in res.items()}


def _bsm_greeks_arrays(
    theta: FloatArray,
    s: FloatArray,
    k: FloatArray,
    t: FloatArray,
    r: FloatArray,
    v: FloatArray,
    q: FloatArray,
) -> dict[str, FloatArray]:
    sqrt_t = np.sqrt(t)
    stdev = v * sqrt_t
    log_fk = np.log(s / k) + (r - q) * t
    d1, d2, pos = _d1_d2(log_fk, stdev)
    dq = np.exp(-q * t)
    dr = np.exp(-r * t)
    s_dq = s * dq
    k_dr = k * dr
    n1 = ndtr(theta * d1)
    n2 = ndtr(theta * d2)
    pdf1 = _pdf(d1)
    s_dq_pdf = s_dq * pdf1
    a = s_dq * n1  # theta-side asset leg
    b = k_dr * n2  # theta-side cash leg
    price = theta * (a - b)
    all_pos = bool(np.all(pos))
    if all_pos:
        gamma = s_dq_pdf / (s * s * stdev)
        decay = s_dq_pdf * v / (2.0 * sqrt_t)
    else:
        safe_sd = np.where(pos, stdev, 1.0)
        safe_st = np.where(pos, sqrt_t, 1.0)
        gamma = np.where(pos, s_dq_pdf / (s * s * safe_sd), 0.0)
        decay = np.where(pos, s_dq_pdf * v / (2.0 * safe_st), 0.0)
    return {
        "price": price,
        "delta": theta * dq * n1,
        "gamma": gamma,
        "vega": s_dq_pdf * sqrt_t,
        "theta": theta * (q * a - r * b) - decay,
        "rho": theta * t * b,
        "dividend_rho": -theta * t * a,
    }


def _validate_b76(
    kind: Any, forward: Any, strike: Any, t: Any, rate: Any, vol: Any
) -> tuple[FloatArray, ...]:
    theta = kind_sign(kind)
    f = as_float(forward, "forward")
    k = as_float(strike, "strike")
    tt = as_float(t, "t")
    r = as_float(rate, "rate")
    v = as_float(vol, "vol")
    check_positive(f, "forward")
    check_positive(k, "strike")
    check_nonnegative(tt, "t")
    check_nonnegative(v, "vol")
    check_finite(r, "rate")
    return broadcast(kind=theta, forward=f, strike=k, t=tt, rate=r, vol=v)


def black76_price(
    kind: Any,
    forward: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    rate: ArrayLike,
    vol: ArrayLike,
) -> FloatArray | float:
    """Black-76 price of European options on a forward (or future).

    Parameters
    ----------
    kind : {"call", "put"} or array_like
        Option type.
    forward : array_like
        Forward price for the option's expiry, > 0.
    strike : array_like
        Strike, > 0.
    t : array_like
        Time to expiry in years, >= 0.
    rate : array_like
        Continuously compounded discount rate per year.
    vol : array_like
        Volatility per sqrt(year), >= 0.

    Returns
    -------
    ndarray or float
        ``exp(-rate t) * theta * (F N(theta d1) - K N(theta d2))``.

    Examples
    --------
    Hull, *Options, Futures, and Other Derivatives*, 10th ed., chapter 18
    (Futures Options), the crude-oil example: F=20, K=20, r=9 %, sigma=25 %,
    T=4/12 -> European put 1.12.

    >>> round(black76_price("put", 20, 20, 4 / 12, 0.09, 0.25), 2)
    1.12
    """
    theta, f, k, t_, r, v = _validate_b76(kind, forward, strike, t, rate, vol)
    stdev = v * np.sqrt(t_)
    d1, d2, _ = _d1_d2(np.log(f / k), stdev)
    price = np.exp(-r * t_) * theta * (f * ndtr(theta * d1) - k * ndtr(theta * d2))
    return out(price, all_scalar(kind, forward, strike, t, rate, vol))


def black76_greeks(
    kind: Any,
    forward: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    rate: ArrayLike,
    vol: ArrayLike,
) -> dict[str, FloatArray | float]:
    """Black-76 price and greeks with respect to the forward.

    Parameters are those of :func:`black76_price`.

    Returns
    -------
    dict of str to ndarray or float
        ``price``; ``delta`` = dV/dF; ``gamma`` = d2V/dF2; ``vega`` per 1.00 vol;
        ``theta`` = dV/d(calendar time) per year with the forward held fixed;
        ``rho`` = dV/dr per 1.00 of rate with the forward held fixed (= -t V).
    """
    theta, f, k, t_, r, v = _validate_b76(kind, forward, strike, t, rate, vol)
    sqrt_t = np.sqrt(t_)
    stdev = v * sqrt_t
    d1, d2, pos = _d1_d2(np.log(f / k), stdev)
    df = np.exp(-r * t_)
    n1 = ndtr(theta * d1)
    n2 = ndtr(theta * d2)
    price = df * theta * (f * n1 - k * n2)
    df_f_pdf = df * f * _pdf(d1)
    safe_sd = np.where(pos, stdev, 1.0)
    safe_st = np.where(pos, sqrt_t, 1.0)
    gamma = np.where(pos, df_f_pdf / (f * f * safe_sd), 0.0)
    decay = np.where(pos, df_f_pdf * v / (2.0 * safe_st), 0.0)
    res = {
        "price": price,
        "delta": theta * df * n1,
        "gamma": gamma,
        "vega": df_f_pdf * sqrt_t,
        "theta": r * price - decay,
        "rho": -t_ * price,
    }
    scalar = all_scalar(kind, forward, strike, t, rate, vol)
    return {name: out(val, scalar) for name, val in res.items()}


def put_call_parity_residual(
    call_price: ArrayLike,
    put_price: ArrayLike,
    spot: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    rate: ArrayLike,
    dividend: ArrayLike = 0.0,
) -> FloatArray | float:
    """European put-call parity residual ``C - P - (S e^{-qt} - K e^{-rt})``.

    Zero (to rounding) for consistent European prices; for American options
    the residual is bounded but not zero.

    Parameters
    ----------
    call_price, put_price : array_like
        Option prices for the same strike and expiry.
    spot, strike, t, rate, dividend : array_like
        As in :func:`bsm_price`.

    Returns
    -------
    ndarray or float
        Residual in currency units.
    """
    c = as_float(call_price, "call_price")
    p = as_float(put_price, "put_price")
    s = as_float(spot, "spot")
    k = as_float(strike, "strike")
    t_ = as_float(t, "t")
    r = as_float(rate, "rate")
    q = as_float(dividend, "dividend")
    for arr, name in ((c, "call_price"), (p, "put_price"), (r, "rate"), (q, "dividend")):
        check_finite(arr, name)
    check_positive(s, "spot")
    check_positive(k, "strike")
    check_nonnegative(t_, "t")
    res = c - p - (s * np.exp(-q * t_) - k * np.exp(-r * t_))
    return out(res, all_scalar(call_price, put_price, spot, strike, t, rate, dividend))
