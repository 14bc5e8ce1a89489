"""Weights-based portfolio measures: concentration, sectors, correlation, risk contributions.

Conventions:

* exposures are signed market values (currency; shorts negative);
* concentration uses absolute weights ``|e_i| / sum_j |e_j|`` (a short is as
  concentrated as a long), so it is unchanged when every position is scaled;
* sector weights are divided by the **gross** exposure: the gross weight of a
  sector is ``sum |e_i| / G``, the net weight ``sum e_i / G`` (shorts signed),
  so both stay bounded when longs and shorts offset;
* risk contributions take weights as fractions of the portfolio value, with
  portfolio return ``r_p = sum_i w_i r_i`` (constant weights each period).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from floorguard._typing import FloatArray
from floorguard.core.risk import _kernels as K
from floorguard.core.risk._validate import check_level, check_periods
from floorguard.exceptions import ValidationError

__all__ = [
    "Concentration",
    "ESContributions",
    "SectorExposure",
    "VolContributions",
    "concentration",
    "correlation_matrix",
    "diversification_ratio",
    "es_contributions",
    "herfindahl_index",
    "sector_exposure",
    "vol_contributions",
]

UNCLASSIFIED = "Unclassified"


def _exposure_arrays(exposures: Any, field: str = "exposures") -> tuple[list[str], FloatArray]:
    if isinstance(exposures, pd.Series):
        names = [str(k) for k in exposures.index]
        vals = exposures.to_numpy(dtype=np.float64)
    elif isinstance(exposures, Mapping):
        names = [str(k) for k in exposures]
        try:
            vals = np.array([float(v) for v in exposures.values()], dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValidationError.for_field(field, "values must be numbers") from exc
    else:
        try:
            vals = np.asarray(exposures, dtype=np.float64).ravel()
        except (TypeError, ValueError) as exc:
            raise ValidationError.for_field(field, "must be numeric") from exc
        names = [str(i) for i in range(vals.size)]
    if vals.size == 0:
        raise ValidationError.for_field(field, "has no positions")
    if not np.isfinite(vals).all():
        raise ValidationError.for_field(field, "must be finite numbers")
    return names, vals


# --------------------------------------------------------------------------- concentration
def herfindahl_index(exposures: Any) -> float:
    """Herfindahl–Hirschman index ``sum_i w_i^2`` of absolute weights (1/N for N equal positions)."""
    _, v = _exposure_arrays(exposures)
    g = np.abs(v).sum()
    if g == 0:
        raise ValidationError.for_field("exposures", "gross exposure is zero")
    w = np.abs(v) / g
    return float(w @ w)


@dataclass(frozen=True)
class Concentration:
    """Position concentration of a portfolio.

    Attributes
    ----------
    hhi : float
        Herfindahl–Hirschman index of absolute weights, in (0, 1].
    effective_positions : float
        ``1 / hhi`` (N for N equal positions).
    top_3, top_10 : float
        Share of gross exposure in the 3 (10) largest positions.
    positions : int
    largest : list of (str, float)
        Up to 10 largest positions and their absolute weights.
    """

    hhi: float
    effective_positions: float
    top_3: float
    top_10: float
    positions: int
    largest: list[tuple[str, float]]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["largest"] = [{"symbol": s, "weight": w} for s, w in self.largest]
        return d


def concentration(exposures: Any) -> Concentration:
    """HHI, effective number of positions and top-3 / top-10 shares.

    Parameters
    ----------
    exposures : mapping of symbol to float, Series or array, shape (N,)
        Signed market values. Zero positions count towards ``positions`` but
        carry no weight.
    """
    names, v = _exposure_arrays(exposures)
    a = np.abs(v)
    g = a.sum()
    if g == 0:
        raise ValidationError.for_field("exposures", "gross exposure is zero")
    w = a / g
    order = np.argsort(-w, kind="stable")
    hhi = float(w @ w)
    return Concentration(
        hhi=hhi,
        effective_positions=1.0 / hhi,
        top_3=float(w[order[:3]].sum()),
        top_10=float(w[order[:10]].sum()),
        positions=int(v.size),
        largest=[(names[i], float(w[i])) for i in order[:10]],
    )


# --------------------------------------------------------------------------- sectors
@dataclass(frozen=True)
class SectorExposure:
    """Sector weights of a portfolio against a benchmark.

    Attributes
    ----------
    net, gross : dict of str to float
        Net (shorts signed) and gross weight per sector, both divided by the
        portfolio's gross exposure. Unclassified positions are under
        ``"Unclassified"``.
    long, short : dict of str to float
        Long and (negative) short parts of the net weight.
    benchmark : dict of str to float
        Benchmark weight per sector (empty without a benchmark).
    active : dict of str to float
        ``net - benchmark`` over the union of sectors.
    unclassified : list of str
        Symbols without a sector.
    unclassified_weight : float
        Gross weight of the unclassified positions.
    gross_exposure, net_exposure : float
        In currency.
    """

    net: dict[str, float]
    gross: dict[str, float]
    long: dict[str, float]
    short: dict[str, float]
    benchmark: dict[str, float]
    active: dict[str, float]
    unclassified: list[str]
    unclassified_weight: float
    gross_exposure: float
    net_exposure: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sector_exposure(
    exposures: Mapping[str, float] | pd.Series,
    sectors: Mapping[str, str | None],
    benchmark: Mapping[str, float] | None = None,
) -> SectorExposure:
    """Net and gross sector weights, active weights against a benchmark, unclassified positions.

    Parameters
    ----------
    exposures : mapping of symbol to float
        Signed market values (shorts negative).
    sectors : mapping of symbol to str or None
        Sector of each symbol (GICS names); missing or empty means unclassified.
    benchmark : mapping of sector to float or None
        Benchmark sector weights (fractions summing to 1, e.g. the S&P 500).

    Returns
    -------
    SectorExposure
    """
    names, v = _exposure_arrays(exposures)
    g = float(np.abs(v).sum())
    if g == 0:
        raise ValidationError.for_field("exposures", "gross exposure is zero")
    net: dict[str, float] = {}
    gross: dict[str, float] = {}
    long: dict[str, float] = {}
    short: dict[str, float] = {}
    unclassified: list[str] = []
    for sym, e in zip(names, v, strict=True):
        sec = sectors.get(sym)
        if not sec or (isinstance(sec, float) and math.isnan(sec)):
            sec = UNCLASSIFIED
            unclassified.append(sym)
        net[sec] = net.get(sec, 0.0) + e / g
        gross[sec] = gross.get(sec, 0.0) + abs(e) / g
        long[sec] = long.get(sec, 0.0) + max(e, 0.0) / g
        short[sec] = short.get(sec, 0.0) + min(e, 0.0) / g
    bench: dict[str, float] = {}
    if benchmark is not None:
        bench = {str(k): float(x) for k, x in benchmark.items()}
        if any(not math.isfinite(x) or x < 0 for x in bench.values()):
            raise ValidationError.for_field("benchmark", "weights must be finite and non-negative")
        tot = sum(bench.values())
        if not 0.98 <= tot <= 1.02:
            raise ValidationError.for_field("benchmark", f"weights must sum to 1 (got {tot:.4f})")
    active = {}
    if bench:
        for sec in sorted(set(net) | set(bench)):
            active[sec] = net.get(sec, 0.0) - bench.get(sec, 0.0)
    order = sorted(gross, key=lambda s: (-gross[s], s))
    return SectorExposure(
        net={s: net[s] for s in order},
        gross={s: gross[s] for s in order},
        long={s: long[s] for s in order},
        short={s: short[s] for s in order},
        benchmark=bench,
        active=active,
        unclassified=unclassified,
        unclassified_weight=gross.get(UNCLASSIFIED, 0.0),
        gross_exposure=g,
        net_exposure=float(v.sum()),
    )


# --------------------------------------------------------------------------- correlation
def _returns_matrix(asset_returns: Any, field: str = "asset_returns") -> tuple[FloatArray, list[str] | None]:
    cols: list[str] | None = None
    if isinstance(asset_returns, pd.DataFrame):
        cols = [str(c) for c in asset_returns.columns]
        arr = asset_returns.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        try:
            arr = np.asarray(asset_returns, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValidationError.for_field(field, "must be numeric") from exc
    if arr.ndim != 2:
        raise ValidationError.for_field(field, f"must be 2-D (periods x assets), got shape {arr.shape}")
    if np.isinf(arr).any():
        raise ValidationError.for_field(field, "contains infinite values")
    arr = arr[~np.isnan(arr).any(axis=1)]
    if arr.shape[0] < 3:
        raise ValidationError.for_field(field, f"needs at least 3 complete rows, got {arr.shape[0]}")
    return arr, cols


def correlation_matrix(asset_returns: Any) -> Any:
    """Pearson correlation of the assets over the rows where all are observed.

    Parameters
    ----------
    asset_returns : pandas.DataFrame or ndarray, shape (T, N)

    Returns
    -------
    pandas.DataFrame or ndarray, shape (N, N)
        NaN for an asset with zero variance (and 1 on its diagonal).
    """
    arr, cols = _returns_matrix(asset_returns)
    Z = arr - arr.mean(axis=0)
    sd = np.sqrt(np.sum(Z * Z, axis=0))
    ok = sd > 0
    safe = np.where(ok, sd, 1.0)
    C = (Z.T @ Z) / np.outer(safe, safe)
    C[~ok, :] = np.nan
    C[:, ~ok] = np.nan
    np.fill_diagonal(C, 1.0)
    C = np.clip(C, -1.0, 1.0)
    if cols is not None:
        return pd.DataFrame(C, index=cols, columns=cols)
    return C


def _weights(weights: Any, n: int) -> FloatArray:
    try:
        w = np.asarray(weights, dtype=np.float64).ravel()
    except (TypeError, ValueError) as exc:
        raise ValidationError.for_field("weights", "must be numeric") from exc
    if w.size != n:
        raise ValidationError.for_field("weights", f"must have one weight per asset ({n}), got {w.size}")
    if not np.isfinite(w).all():
        raise ValidationError.for_field("weights", "must be finite")
    return w


def _cov(asset_returns: Any) -> tuple[FloatArray, FloatArray, list[str] | None]:
    arr, cols = _returns_matrix(asset_returns)
    return np.cov(arr, rowvar=False, ddof=1).reshape(arr.shape[1], arr.shape[1]), arr, cols


def diversification_ratio(weights: Any, asset_returns: Any) -> float:
    """Diversification ratio ``sum_i |w_i| sigma_i / sigma_p`` (Choueifaty & Coignard 2008).

    1 for a single asset or perfectly correlated assets; larger is more
    diversified. Uses the sample covariance (``ddof=1``) of the complete rows.
    """
    S, arr, _ = _cov(asset_returns)
    w = _weights(weights, arr.shape[1])
    var_p = float(w @ S @ w)
    if var_p <= 0:
        raise ValidationError.for_field("weights", "portfolio variance is zero")
    return float(np.abs(w) @ np.sqrt(np.diag(S)) / math.sqrt(var_p))


@dataclass(frozen=True)
class VolContributions:
    """Euler decomposition of annualised portfolio volatility.

    Attributes
    ----------
    volatility : float
        ``sqrt(w' S w) * sqrt(periods)``.
    marginal : ndarray, shape (N,)
        ``d sigma_p / d w_i = (S w)_i / sigma_p`` (annualised).
    component : ndarray, shape (N,)
        ``w_i * marginal_i``; sums to ``volatility``.
    percent : ndarray, shape (N,)
        ``component / volatility``; sums to 1.
    names : list of str or None
    """

    volatility: float
    marginal: FloatArray
    component: FloatArray
    percent: FloatArray
    names: list[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        names = self.names or [str(i) for i in range(self.marginal.size)]
        return {
            "volatility": self.volatility,
            "positions": [
                {"symbol": s, "marginal": float(m), "component": float(c), "percent": float(p)}
                for s, m, c, p in zip(names, self.marginal, self.component, self.percent, strict=True)
            ],
        }


def vol_contributions(weights: Any, asset_returns: Any, periods_per_year: float = 252) -> VolContributions:
    """Marginal and component contributions to annualised volatility.

    Parameters
    ----------
    weights : array_like, shape (N,)
        Fractions of portfolio value (signed).
    asset_returns : pandas.DataFrame or ndarray, shape (T, N)
        Periodic simple returns; rows with any NaN are dropped.
    periods_per_year : float
    """
    p = check_periods(periods_per_year)
    S, arr, cols = _cov(asset_returns)
    w = _weights(weights, arr.shape[1])
    Sw = S @ w
    var_p = float(w @ Sw)
    if var_p <= 0:
        raise ValidationError.for_field("weights", "portfolio variance is zero")
    sig = math.sqrt(var_p)
    ann = math.sqrt(p)
    marginal = Sw / sig * ann
    comp = w * marginal
    vol = sig * ann
    return VolContributions(vol, marginal, comp, comp / vol, cols)


@dataclass(frozen=True)
class ESContributions:
    """Decomposition of one-period Expected Shortfall (a positive loss fraction).

    Attributes
    ----------
    expected_shortfall : float
    marginal : ndarray, shape (N,)
        Historical: ``-E[r_i | tail]`` (mean asset return on the portfolio's
        tail days). Gaussian: ``-mu_i + (S w)_i / sigma_p * phi(z) / alpha``.
    component : ndarray, shape (N,)
        ``w_i * marginal_i``; sums to ``expected_shortfall``.
    percent : ndarray, shape (N,)
    tail_observations : int
        Days in the historical tail (0 for gaussian).
    method : str
    names : list of str or None
    """

    expected_shortfall: float
    marginal: FloatArray
    component: FloatArray
    percent: FloatArray
    tail_observations: int
    method: str
    names: list[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        names = self.names or [str(i) for i in range(self.marginal.size)]
        return {
            "expected_shortfall": self.expected_shortfall,
            "method": self.method,
            "tail_observations": self.tail_observations,
            "positions": [
                {"symbol": s, "marginal": float(m), "component": float(c), "percent": float(p)}
                for s, m, c, p in zip(names, self.marginal, self.component, self.percent, strict=True)
            ],
        }


def es_contributions(
    weights: Any, asset_returns: Any, level: float = 0.95, method: str = "historical"
) -> ESContributions:
    """Marginal and component contributions to Expected Shortfall (Euler allocation).

    Historical: the tail is the ``floor((T-1)(1-level)) + 1`` worst portfolio
    days (the same days :func:`~floorguard.core.risk.expected_shortfall`
    averages; ties broken by a stable sort), and each component is
    ``-w_i * mean(r_i on those days)``; they sum exactly to the portfolio ES.
    Gaussian: the analytic gradient of ``-(mu_p - sigma_p phi(z)/alpha)``.

    Parameters
    ----------
    weights : array_like, shape (N,)
    asset_returns : pandas.DataFrame or ndarray, shape (T, N)
    level : float
    method : {"historical", "gaussian"}
    """
    lv = check_level(level)
    alpha = 1.0 - lv
    arr, cols = _returns_matrix(asset_returns)
    w = _weights(weights, arr.shape[1])
    rp = arr @ w
    if method == "historical":
        k = K.es_tail_count(rp.size, alpha)
        tail = np.argsort(rp, kind="stable")[:k]
        marginal = -arr[tail].mean(axis=0)
        comp = w * marginal
        es = float(-rp[tail].mean())
        ntail = k
    elif method == "gaussian":
        S = np.cov(arr, rowvar=False, ddof=1).reshape(arr.shape[1], arr.shape[1])
        Sw = S @ w
        sig = math.sqrt(float(w @ Sw))
        if sig <= 0:
            raise ValidationError.for_field("weights", "portfolio variance is zero")
        z = float(special.ndtri(alpha))
        phi = math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
        marginal = -arr.mean(axis=0) + Sw / sig * phi / alpha
        comp = w * marginal
        es = float(comp.sum())
        ntail = 0
    else:
        raise ValidationError.for_field("method", f"must be historical or gaussian, got {method!r}")
    pct = comp / es if es != 0 else np.full_like(comp, np.nan)
    return ESContributions(es, marginal, comp, pct, ntail, method, cols)

