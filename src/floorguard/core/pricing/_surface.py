"""Volatility surfaces: raw SVI per expiry, total-variance interpolation, model fallback.

Raw SVI (Gatheral 2004) for one expiry, in log-moneyness ``k = ln(K / F)``::

    w(k) = a + b (rho (k - m) + sqrt((k - m)^2 + sigma^2)),    w = vol^2 t.

Calibration (quasi-explicit, Zeliade Systems 2009, "Quasi-explicit calibration
of Gatheral's SVI model"): for fixed ``(m, sigma)`` the model is linear in
``(a, b rho sigma, b sigma)``, so those come from a weighted 3x3 least-squares
solve. ``(m, sigma)`` are found by a coarse-to-fine grid search (three zoom
rounds) run for all expiries at once on numpy arrays. Weights turn the fit in
total variance into an approximate fit in vol (``dw = 2 vol t dvol``), times
optional caller weights (e.g. inverse bid/ask spread).

Checks:

* butterfly: Gatheral's density factor ``g(k) = (1 - k w'/(2w))^2 - w'^2/4
  (1/w + 1/4) + w''/2 >= 0`` (Gatheral and Jacquier 2014, "Arbitrage-free
  SVI volatility surfaces", eq. 2.1) on the quoted k-range of the expiry,
  widened by 10 %; the calibration penalises candidates that violate it;
* calendar: total variance non-decreasing in t at every k both adjacent
  expiries quote.

Between expiries the surface interpolates total variance linearly in t at
fixed k. Slices that would cross (a calendar violation flagged in the fit
report) are repaired for interpolation by a running maximum over expiries,
so the interpolated total variance never decreases with t. Before the first
expiry and after the last, vol is held at the nearest slice's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from floorguard._typing import ArrayLike, FloatArray
from floorguard.core.pricing._inputs import as_float, out
from floorguard.exceptions import ValidationError

__all__ = [
    "ModelSurface",
    "SviParams",
    "VolSurface",
    "fit_surface",
    "fit_svi",
    "svi_butterfly_g",
    "svi_total_variance",
]

_G_TOL = -1e-9
_CAL_TOL = 1e-10
_ROUNDS = 12


def _min_g(
    a: FloatArray, d: FloatArray, c: FloatArray, m: FloatArray, sig: FloatArray, kg: FloatArray
) -> FloatArray:
    """Min over the points kg (L, G) of Gatheral's g for candidate slices (P, G)."""
    y = (kg[None, :, :] - m[:, None, :]) / sig[:, None, :]  # (P, L, G)
    root = np.sqrt(y * y + 1.0)
    aa, dd, cc, ss = a[:, None, :], d[:, None, :], c[:, None, :], sig[:, None, :]
    w = aa + dd * y + cc * root
    w1 = (dd + cc * y / root) / ss
    w2 = cc / (ss * ss * root**3)
    k = kg[None, :, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        g = (1.0 - k * w1 / (2.0 * w)) ** 2 - 0.25 * w1 * w1 * (1.0 / w + 0.25) + 0.5 * w2
    g = np.where(w > 0.0, g, -1.0)
    return np.min(g, axis=1)


@dataclass(frozen=True)
class SviParams:
    """Raw SVI parameters of one expiry (total variance in log-moneyness)."""

    a: float
    b: float
    rho: float
    m: float
    sigma: float

    def to_dict(self) -> dict[str, float]:
        return {"a": self.a, "b": self.b, "rho": self.rho, "m": self.m, "sigma": self.sigma}


def svi_total_variance(params: SviParams, k: ArrayLike) -> FloatArray:
    """Raw SVI total variance ``w(k)`` for log-moneyness ``k`` (any shape)."""
    kk = np.asarray(k, dtype=np.float64)
    d = kk - params.m
    return params.a + params.b * (params.rho * d + np.sqrt(d * d + params.sigma**2))


def _svi_derivs(params: SviParams, k: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    d = k - params.m
    root = np.sqrt(d * d + params.sigma**2)
    w = params.a + params.b * (params.rho * d + root)
    w1 = params.b * (params.rho + d / root)
    w2 = params.b * params.sigma**2 / root**3
    return w, w1, w2


def svi_butterfly_g(params: SviParams, k: ArrayLike) -> FloatArray:
    """Gatheral's ``g(k)``; the slice is free of butterfly arbitrage iff g >= 0 (and w > 0)."""
    kk = np.asarray(k, dtype=np.float64)
    w, w1, w2 = _svi_derivs(params, kk)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = (1.0 - kk * w1 / (2.0 * w)) ** 2 - 0.25 * w1 * w1 * (1.0 / w + 0.25) + 0.5 * w2
    return np.where(w > 0.0, g, -np.inf)


def _moments(
    y: FloatArray, z: FloatArray, v: FloatArray, wt: FloatArray, starts: np.ndarray
) -> dict[str, FloatArray]:
    """Weighted sums per (grid point, group): y, z, v are (P, n) with groups contiguous in n."""
    red = np.add.reduceat
    wy = wt * y
    wz = wt * z
    return {
        "s1": red(np.broadcast_to(wt, y.shape), starts, axis=1),
        "sy": red(wy, starts, axis=1),
        "sz": red(wz, starts, axis=1),
        "syy": red(wy * y, starts, axis=1),
        "szz": red(wz * z, starts, axis=1),
        "syz": red(wy * z, starts, axis=1),
        "sv": red(np.broadcast_to(wt * v, y.shape), starts, axis=1),
        "syv": red(wy * v, starts, axis=1),
        "szv": red(wz * v, starts, axis=1),
        "svv": red(np.broadcast_to(wt * v * v, y.shape), starts, axis=1),
    }


def _solve_inner(
    mo: dict[str, FloatArray], sig: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Best (a, d, c) for each (m, sigma) and the objective.

    With ``c = b sigma`` and ``d = b rho sigma``: c >= 0, |d| <= c (|rho| <= 1),
    c + |d| <= 2 sigma (Lee's moment bound on the wings, b (1 + |rho|) <= 2)
    and min w = a + sqrt(c^2 - d^2) >= 0. An unconstrained optimum outside
    that set is projected onto it and ``a`` re-fitted.
    """
    s1, sy, sz = mo["s1"], mo["sy"], mo["sz"]
    syy, szz, syz = mo["syy"], mo["szz"], mo["syz"]
    sv, syv, szv = mo["sv"], mo["syv"], mo["szv"]
    mat = np.stack(
        [np.stack([s1, sy, sz], -1), np.stack([sy, syy, syz], -1), np.stack([sz, syz, szz], -1)], -2
    )
    rhs = np.stack([sv, syv, szv], -1)
    det = np.linalg.det(mat)
    good = np.abs(det) > 1e-14 * np.abs(s1 * syy * szz + 1e-300)
    mat = np.where(good[..., None, None], mat, np.eye(3))
    sol = np.linalg.solve(mat, rhs[..., None])[..., 0]
    a, d, c = sol[..., 0], sol[..., 1], sol[..., 2]
    a = np.where(good, a, sv / s1)
    d = np.where(good, d, 0.0)
    c = np.where(good, c, 0.0)
    infeasible = (c < 0.0) | (np.abs(d) > c)
    c = np.maximum(c, 0.0)
    d = np.clip(d, -c, c)
    excess = (c + np.abs(d)) / (2.0 * sig)
    over = excess > 1.0
    infeasible |= over
    scale = np.where(over, 1.0 / np.where(over, excess, 1.0), 1.0)
    c = c * scale
    d = d * scale
    a = np.where(infeasible, (sv - d * sy - c * sz) / s1, a)
    a = np.maximum(a, -np.sqrt(np.maximum(c * c - d * d, 0.0)))
    obj = (
        a * a * s1
        + d * d * syy
        + c * c * szz
        + mo["svv"]
        + 2.0 * (a * d * sy + a * c * sz + d * c * syz - a * sv - d * syv - c * szv)
    )
    return a, d, c, obj


def _fit_groups(
    k: FloatArray, v: FloatArray, wt: FloatArray, starts: np.ndarray, n_groups: int
) -> list[SviParams]:
    """Grid search over (m, sigma) with the exact inner solve, all groups at once."""
    ends = np.append(starts[1:], k.size)
    kmin = np.minimum.reduceat(k, starts)
    kmax = np.maximum.reduceat(k, starts)
    span = np.maximum(kmax - kmin, 0.05)
    grp = np.repeat(np.arange(n_groups), ends - starts)
    # round 0: m over the quoted range (+-25 %), log sigma over [1e-3, 2]
    nm, ns = 13, 11
    m_axis = (
        kmin[None, :]
        - 0.25 * span[None, :]
        + np.linspace(0.0, 1.0, nm)[:, None] * 1.5 * span[None, :]
    )
    ls_axis = np.repeat(np.linspace(np.log(1e-3), np.log(2.0), ns)[:, None], n_groups, axis=1)
    dm = 1.5 * span / (nm - 1)
    dls = (np.log(2.0) - np.log(1e-3)) / (ns - 1)
    best_m = best_ls = None
    # k points (per expiry) where the butterfly condition is enforced
    kg = (
        kmin[None, :]
        - 0.1 * span[None, :]
        + np.linspace(0.0, 1.0, 49)[:, None] * 1.2 * span[None, :]
    )
    for _round in range(_ROUNDS):
        m_grid = np.repeat(m_axis, ls_axis.shape[0], axis=0)  # (P, G)
        ls_grid = np.tile(ls_axis, (m_axis.shape[0], 1))
        sig_grid = np.exp(ls_grid)
        y = (k[None, :] - m_grid[:, grp]) / sig_grid[:, grp]
        z = np.sqrt(y * y + 1.0)
        mo = _moments(y, z, v[None, :], wt[None, :], starts)
        a, d, c, obj = _solve_inner(mo, sig_grid)
        # butterfly penalty: Gatheral's g on the quoted k-range of each expiry
        min_g = _min_g(a, d, c, m_grid, sig_grid, kg)
        obj = obj + 100.0 * mo["svv"] * np.maximum(-min_g, 0.0)
        pick = np.argmin(obj, axis=0)  # (G,)
        cols = np.arange(n_groups)
        best_m = m_grid[pick, cols]
        best_ls = ls_grid[pick, cols]
        # zoom: halve the spacing, +-1 old cell around the best point
        dm = dm * 0.5
        dls = dls * 0.5
        offs = np.linspace(-2.0, 2.0, 5)
        m_axis = best_m[None, :] + offs[:, None] * dm
        ls_axis = best_ls[None, :] + offs[:, None] * dls
    assert best_m is not None and best_ls is not None
    sig = np.exp(best_ls)
    y = (k - best_m[grp]) / sig[grp]
    z = np.sqrt(y * y + 1.0)
    mo = _moments(y[None, :], z[None, :], v[None, :], wt[None, :], starts)
    a, d, c, _ = _solve_inner(mo, sig[None, :])
    params = []
    for g in range(n_groups):
        cg = float(c[0, g])
        b = cg / sig[g]
        rho = float(d[0, g] / cg) if cg > 0.0 else 0.0
        params.append(SviParams(float(a[0, g]), float(b), rho, float(best_m[g]), float(sig[g])))
    return params


def fit_svi(k: ArrayLike, total_variance: ArrayLike, weights: ArrayLike | None = None) -> SviParams:
    """Fit raw SVI to one expiry's (log-moneyness, total variance) points.

    Parameters
    ----------
    k : array_like, shape (n,)
        Log-moneyness ``ln(K / F)``; n >= 5.
    total_variance : array_like, shape (n,)
        ``vol^2 t`` of each quote, > 0.
    weights : array_like, optional
        Weights of the squared total-variance errors (default 1).

    Returns
    -------
    SviParams
    """
    kk = as_float(k, "k").ravel()
    vv = as_float(total_variance, "total_variance").ravel()
    if kk.size != vv.size:
        raise ValidationError.for_field("total_variance", "must have the same length as k")
    if kk.size < 5:
        raise ValidationError.for_field("k", "SVI needs at least 5 quotes")
    if not (np.all(np.isfinite(kk)) and np.all(np.isfinite(vv)) and np.all(vv > 0.0)):
        raise ValidationError.for_field("total_variance", "must be finite and > 0, with finite k")
    wt = np.ones_like(kk) if weights is None else as_float(weights, "weights").ravel()
    order = np.argsort(kk)
    return _fit_groups(kk[order], vv[order], wt[order], np.array([0]), 1)[0]


@dataclass
class VolSurface:
    """Implied-vol surface from per-expiry SVI slices (see module docstring).

    Attributes
    ----------
    t : ndarray, shape (n_expiries,)
        Expiry times in years, increasing.
    forwards : ndarray, shape (n_expiries,)
        Forward of each expiry.
    params : list of SviParams
        One raw SVI slice per expiry.
    fit_report : list of dict
        Per expiry: ``t`` (years), ``forward``, ``n_quotes``, ``atm_vol``
        (vol at k = 0), ``skew`` (d vol / d k at k = 0, vol per unit of
        log-moneyness; negative for equity indices), ``rmse`` (root mean
        square vol error of the fit in **vol points**, 1 = 0.01 of vol),
        ``max_abs_err`` (vol points), ``butterfly_ok`` and ``min_g``
        (Gatheral's g on the quoted k-range widened by 10 %), ``calendar_ok``
        (total variance >= the previous expiry's where both are quoted) and
        ``calendar_max_dw`` (largest shortfall of total variance vs the
        previous expiry there, 0 when ok), ``params``.
    skipped : list of dict
        Expiries not fitted (fewer than 5 usable quotes), with the reason.
    """

    t: FloatArray
    forwards: FloatArray
    params: list[SviParams]
    fit_report: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)

    @property
    def arbitrage_free(self) -> bool:
        """True when every slice passes the butterfly and calendar checks."""
        return all(r["butterfly_ok"] and r["calendar_ok"] for r in self.fit_report)

    def forward(self, t_years: ArrayLike) -> FloatArray:
        """Forward at ``t_years``: log-linear interpolation of the slice forwards (flat outside)."""
        tt = np.asarray(t_years, dtype=np.float64)
        return np.exp(np.interp(tt, self.t, np.log(self.forwards)))

    def total_variance(self, k: ArrayLike, t_years: ArrayLike) -> FloatArray:
        """Total variance at log-moneyness ``k`` and time ``t_years`` (broadcast)."""
        kk, tt = np.broadcast_arrays(
            np.asarray(k, dtype=np.float64), np.asarray(t_years, dtype=np.float64)
        )
        slices = np.stack([svi_total_variance(p, kk) for p in self.params])  # (n_exp, ...)
        # calendar repair: total variance never decreases with t (a running max over slices)
        slices = np.maximum.accumulate(slices, axis=0)
        n = self.t.size
        if n == 1:
            return np.maximum(slices[0] * tt / self.t[0], 0.0)
        i = np.clip(np.searchsorted(self.t, tt, side="right") - 1, 0, n - 2)
        t0 = self.t[i]
        t1 = self.t[i + 1]
        w0 = np.take_along_axis(slices, i[None, ...], axis=0)[0]
        w1 = np.take_along_axis(slices, (i + 1)[None, ...], axis=0)[0]
        frac = (tt - t0) / (t1 - t0)
        inside = np.clip(frac, 0.0, 1.0)
        w = w0 + (w1 - w0) * inside
        # outside the quoted expiries: constant vol of the nearest slice
        w = np.where(tt < self.t[0], w0 * tt / self.t[0], w)
        w = np.where(tt > self.t[-1], w1 * tt / self.t[-1], w)
        return np.maximum(w, 0.0)

    def vol(
        self, strike: ArrayLike, t_years: ArrayLike, forward: ArrayLike | None = None
    ) -> FloatArray | float:
        """Implied vol at ``strike`` and ``t_years`` (broadcast; a float for scalars).

        Parameters
        ----------
        strike : array_like
            Strikes, > 0.
        t_years : array_like
            Times to expiry in years, > 0.
        forward : array_like, optional
            Forward for each ``t_years``; default: interpolated from the slices.

        Returns
        -------
        ndarray or float
            Vol per sqrt(year).
        """
        k_arr = as_float(strike, "strike")
        t_arr = as_float(t_years, "t_years")
        if not np.all(k_arr > 0.0) or not np.all(t_arr > 0.0):
            raise ValidationError.for_field("strike", "strike and t_years must be > 0")
        f_arr = self.forward(t_arr) if forward is None else as_float(forward, "forward")
        if not np.all(f_arr > 0.0):
            raise ValidationError.for_field("forward", "must be > 0")
        k = np.log(k_arr / f_arr)
        w = self.total_variance(k, t_arr)
        res = np.sqrt(w / np.broadcast_to(t_arr, w.shape))
        scalar = np.ndim(strike) == 0 and np.ndim(t_years) == 0 and np.ndim(forward) == 0
        return out(res, scalar)


def fit_surface(
    expiry_t: ArrayLike,
    strikes: ArrayLike,
    ivs: ArrayLike,
    forwards: ArrayLike,
    weights: ArrayLike | None = None,
) -> VolSurface:
    """Calibrate a :class:`VolSurface` to flat arrays of quotes.

    Parameters
    ----------
    expiry_t : array_like, shape (n,)
        Time to expiry of each quote in years (> 0); quotes with equal values
        form one expiry.
    strikes : array_like, shape (n,)
        Strikes (> 0).
    ivs : array_like, shape (n,)
        Implied vols of the quotes (e.g. from chain mids), > 0.
    forwards : array_like, shape (n,) or scalar
        Forward of each quote's expiry.
    weights : array_like, optional
        Relative weight of each quote (e.g. 1 / bid-ask spread); default 1.

    Returns
    -------
    VolSurface
        Slices for expiries with at least 5 quotes; the others are listed in
        ``skipped``.

    Raises
    ------
    ValidationError
        Mismatched lengths, non-finite or non-positive inputs, or no expiry
        with enough quotes.
    """
    t = as_float(expiry_t, "expiry_t").ravel()
    n = t.size
    try:
        kk = np.broadcast_to(as_float(strikes, "strikes"), (n,)).astype(np.float64).ravel()
        iv = np.broadcast_to(as_float(ivs, "ivs"), (n,)).astype(np.float64).ravel()
        fw = np.broadcast_to(as_float(forwards, "forwards"), (n,)).astype(np.float64).ravel()
        wt = (
            np.ones(n)
            if weights is None
            else np.broadcast_to(as_float(weights, "weights"), (n,)).astype(np.float64).ravel()
        )
    except ValueError as exc:
        raise ValidationError.for_field(
            "shape", "expiry_t, strikes, ivs, forwards, weights must match"
        ) from exc
    for arr, name in ((t, "expiry_t"), (kk, "strikes"), (iv, "ivs"), (fw, "forwards")):
        if not (np.all(np.isfinite(arr)) and np.all(arr > 0.0)):
            raise ValidationError.for_field(name, "must be finite and > 0")
    if not (np.all(np.isfinite(wt)) and np.all(wt >= 0.0)):
        raise ValidationError.for_field("weights", "must be finite and >= 0")
    if n == 0:
        raise ValidationError.for_field("expiry_t", "no quotes")
    k = np.log(kk / fw)
    order = np.lexsort((k, t))
    t, k, iv, fw, wt = t[order], k[order], iv[order], fw[order], wt[order]
    uniq, starts, counts = np.unique(t, return_index=True, return_counts=True)
    enough = counts >= 5
    skipped = [
        {"t": float(uniq[i]), "n_quotes": int(counts[i]), "reason": "fewer than 5 quotes"}
        for i in np.flatnonzero(~enough)
    ]
    if not np.any(enough):
        raise ValidationError.for_field("expiry_t", "no expiry has the 5 quotes SVI needs")
    keep = np.repeat(enough, counts)
    t, k, iv, fw, wt = t[keep], k[keep], iv[keep], fw[keep], wt[keep]
    uniq, starts, counts = np.unique(t, return_index=True, return_counts=True)
    v = iv * iv * t
    fit_w = wt / (2.0 * iv * t) ** 2  # total-variance errors -> vol errors
    params = _fit_groups(k, v, fit_w, starts, uniq.size)
    forwards = fw[starts]
    surface = VolSurface(t=uniq, forwards=forwards, params=params, skipped=skipped)
    prev: tuple[SviParams, float, float] | None = None
    for g, p in enumerate(params):
        sl = slice(starts[g], starts[g] + counts[g])
        tg = float(uniq[g])
        model_vol = np.sqrt(np.maximum(svi_total_variance(p, k[sl]), 0.0) / tg)
        err = (model_vol - iv[sl]) * 100.0
        w0, w1, _ = _svi_derivs(p, np.array([0.0]))
        atm = float(np.sqrt(max(w0[0], 0.0) / tg))
        skew = float(w1[0] / (2.0 * np.sqrt(max(w0[0], 1e-300) * tg)))
        # checks on the quoted log-moneyness range, widened by 10 % on each side
        lo_k, hi_k = float(k[sl].min()), float(k[sl].max())
        pad = 0.1 * max(hi_k - lo_k, 0.05)
        k_chk = np.linspace(lo_k - pad, hi_k + pad, 201)
        g_vals = svi_butterfly_g(p, k_chk)
        cal_ok = True
        cal_gap = 0.0
        if prev is not None:
            # calendar: on the k-range both slices cover
            lo_c, hi_c = max(lo_k, prev[1]), min(hi_k, prev[2])
            if hi_c > lo_c:
                kc = np.linspace(lo_c, hi_c, 201)
                gap = svi_total_variance(prev[0], kc) - svi_total_variance(p, kc)
                cal_gap = float(max(np.max(gap), 0.0))
                cal_ok = cal_gap <= _CAL_TOL
        prev = (p, lo_k, hi_k)
        surface.fit_report.append(
            {
                "t": tg,
                "forward": float(forwards[g]),
                "n_quotes": int(counts[g]),
                "atm_vol": atm,
                "skew": skew,
                "rmse": float(np.sqrt(np.mean(err * err))),
                "max_abs_err": float(np.max(np.abs(err))),
                "butterfly_ok": bool(np.min(g_vals) >= _G_TOL),
                "min_g": float(np.min(g_vals)),
                "calendar_ok": cal_ok,
                "calendar_max_dw": cal_gap,
                "params": p.to_dict(),
            }
        )
    return surface


@dataclass(frozen=True)
class ModelSurface:
    """Parametric fallback surface when no option chain is available (an estimate).

    ``vol(k, t) = max(atm(t) + skew(t) k + curvature(t) k^2, min_vol)`` with
    ``k = ln(K / F)`` and

    * ``atm(t) = atm_vol + term_slope (t - ref_t)``: the ATM level at ``ref_t``
      comes from the caller (realised vol, a GARCH forecast or VIX / 100 for
      ``ref_t = 30/365``); ``term_slope`` is the change of ATM vol per year of
      maturity (positive in calm markets, negative in stressed ones);
    * ``skew(t) = skew sqrt(ref_t / t)``: d vol / d k at the money, per unit of
      log-moneyness (S&P 500 one-month values are typically -0.5 to -1.2),
      flattening like 1 / sqrt(t) with maturity;
    * ``curvature(t) = curvature sqrt(ref_t / t)``: the smile's convexity.

    Parameters
    ----------
    atm_vol : float
        ATM vol at ``ref_t`` (> 0).
    skew : float, default -0.8
    term_slope : float, default 0.0
    curvature : float, default 0.4
    ref_t : float, default 30/365
    min_vol : float, default 0.01
        Floor of the returned vol.
    forward : float, optional
        Default forward for :meth:`vol` when none is passed.

    Notes
    -----
    Unlike a calibrated :class:`VolSurface` this surface is not fitted to
    prices and is not checked for arbitrage; label its outputs as estimates.
    """

    atm_vol: float
    skew: float = -0.8
    term_slope: float = 0.0
    curvature: float = 0.4
    ref_t: float = 30.0 / 365.0
    min_vol: float = 0.01
    forward: float | None = None

    def __post_init__(self) -> None:
        if not (np.isfinite(self.atm_vol) and self.atm_vol > 0.0):
            raise ValidationError.for_field("atm_vol", "must be finite and > 0")
        if not (np.isfinite(self.ref_t) and self.ref_t > 0.0):
            raise ValidationError.for_field("ref_t", "must be finite and > 0")
        if not (np.isfinite(self.min_vol) and self.min_vol > 0.0):
            raise ValidationError.for_field("min_vol", "must be finite and > 0")
        for name in ("skew", "term_slope", "curvature"):
            if not np.isfinite(getattr(self, name)):
                raise ValidationError.for_field(name, "must be finite")

    @property
    def fit_report(self) -> list[dict[str, Any]]:
        """Empty: a model surface is not fitted to quotes."""
        return []

    def vol(
        self, strike: ArrayLike, t_years: ArrayLike, forward: ArrayLike | None = None
    ) -> FloatArray | float:
        """Model vol at ``strike`` and ``t_years`` (broadcast; float for scalars)."""
        k_arr = as_float(strike, "strike")
        t_arr = as_float(t_years, "t_years")
        if forward is None:
            if self.forward is None:
                raise ValidationError.for_field("forward", "pass a forward (the surface has none)")
            f_arr = np.asarray(self.forward, dtype=np.float64)
        else:
            f_arr = as_float(forward, "forward")
        if not (np.all(k_arr > 0.0) and np.all(t_arr > 0.0) and np.all(f_arr > 0.0)):
            raise ValidationError.for_field("strike", "strike, t_years and forward must be > 0")
        k = np.log(k_arr / f_arr)
        scale = np.sqrt(self.ref_t / t_arr)
        atm = self.atm_vol + self.term_slope * (t_arr - self.ref_t)
        v = atm + self.skew * scale * k + self.curvature * scale * k * k
        res = np.maximum(v, self.min_vol)
        scalar = np.ndim(strike) == 0 and np.ndim(t_years) == 0 and np.ndim(forward) == 0
        return out(res, scalar)
