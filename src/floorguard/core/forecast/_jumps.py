"""Jumps and anomalies: IsolationForest flags, EVT tail fit, abnormal dispersion.

* :func:`detect_anomalies` scores days with scikit-learn's IsolationForest on
  return and volume features.
* :func:`fit_tail` fits a generalised Pareto distribution to losses above a
  threshold (peaks over threshold, ``scipy.stats.genpareto``) and derives the
  tail index, VaR and ES (McNeil, Frey & Embrechts, *Quantitative Risk
  Management*, 2nd ed., §5.2.3, eqs. 5.18–5.19).
* :func:`dispersion_flags` flags days whose cross-sectional return dispersion
  is abnormal against its own trailing history.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from floorguard._typing import ArrayLike, FloatArray, Seed, as_generator
from floorguard.exceptions import ValidationError

__all__ = [
    "AnomalyResult",
    "DispersionFlags",
    "TailFit",
    "anomaly_features",
    "detect_anomalies",
    "dispersion_flags",
    "fit_tail",
]


def _vec(x: ArrayLike, name: str, min_obs: int) -> FloatArray:
    arr = np.asarray(x, dtype=np.float64).reshape(-1)
    if arr.size < min_obs:
        raise ValidationError.for_field(
            name, f"needs at least {min_obs} observations, got {arr.size}"
        )
    if not np.all(np.isfinite(arr)):
        raise ValidationError.for_field(name, "contains NaN or infinite values")
    return arr


def _trailing_mean_std(x: FloatArray, window: int) -> tuple[FloatArray, FloatArray]:
    """Mean and sd (ddof=1) of the ``window`` values *before* each day (NaN until full)."""
    t = x.size
    c1 = np.concatenate([[0.0], np.cumsum(x)])
    c2 = np.concatenate([[0.0], np.cumsum(x * x)])
    mean = np.full(t, np.nan)
    sd = np.full(t, np.nan)
    if t > window:
        s1 = c1[window:t] - c1[: t - window]
        s2 = c2[window:t] - c2[: t - window]
        mean[window:] = s1 / window
        var = np.maximum((s2 - s1 * s1 / window) / (window - 1), 0.0)
        sd[window:] = np.sqrt(var)
    return mean, sd


def anomaly_features(
    returns: ArrayLike, volume: ArrayLike | None = None, *, window: int = 20
) -> tuple[FloatArray, list[str]]:
    """Feature matrix for anomaly detection.

    Features per day: the return, the absolute return divided by the
    trailing ``window``-day volatility, and (with ``volume``) the log volume
    relative to its trailing mean. The first ``window`` days are dropped.

    Returns
    -------
    features : ndarray, shape (T − window, n_features)
    names : list of str
    """
    r = _vec(returns, "returns", window + 10)
    _, sd = _trailing_mean_std(r, window)
    sd_ok = np.where(np.isfinite(sd) & (sd > 0), sd, np.nan)
    cols = [r, np.abs(r) / sd_ok]
    names = ["return", "abs_return_over_vol"]
    if volume is not None:
        v = _vec(volume, "volume", window + 10)
        if v.size != r.size:
            raise ValidationError.for_field(
                "volume", f"has {v.size} values but returns has {r.size}"
            )
        if np.any(v <= 0):
            raise ValidationError.for_field("volume", "must be > 0 on every day")
        lv = np.log(v)
        m, _ = _trailing_mean_std(lv, window)
        cols.append(lv - m)
        names.append("log_volume_vs_trailing")
    feats = np.column_stack(cols)[window:]
    feats = np.where(np.isfinite(feats), feats, 0.0)
    return feats, names


@dataclass(frozen=True)
class AnomalyResult:
    """IsolationForest anomaly flags (estimates).

    Attributes
    ----------
    scores : ndarray, shape (T,)
        ``-score_samples`` (higher = more anomalous); NaN for the warm-up days.
    flags : ndarray of bool, shape (T,)
        Days flagged as anomalies.
    threshold : float
        Score above which a day is flagged.
    feature_names : list of str
    contamination : float
    """

    scores: FloatArray = field(repr=False)
    flags: np.ndarray = field(repr=False)
    threshold: float
    feature_names: list[str]
    contamination: float
    n_flagged: int
    latest_flag: bool
    label: str = "estimate (IsolationForest)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "feature_names": list(self.feature_names),
            "contamination": self.contamination,
            "n_flagged": self.n_flagged,
            "latest_flag": self.latest_flag,
            "label": self.label,
        }


def detect_anomalies(
    returns: ArrayLike,
    volume: ArrayLike | None = None,
    *,
    window: int = 20,
    contamination: float = 0.01,
    n_estimators: int = 200,
    seed: Seed = None,
) -> AnomalyResult:
    """Flag anomalous days with an IsolationForest on return and volume features.

    Parameters
    ----------
    returns : array_like, shape (T,)
        Daily decimal returns.
    volume : array_like, shape (T,), optional
        Daily traded volume (> 0).
    window : int
        Trailing window of the normalising statistics.
    contamination : float
        Expected share of anomalies in (0, 0.5].
    n_estimators : int
        Trees in the forest.
    seed : int, Generator or None
        Randomness of the forest.

    Returns
    -------
    AnomalyResult
    """
    from sklearn.ensemble import IsolationForest

    if not 0 < contamination <= 0.5:
        raise ValidationError.for_field("contamination", "must be in (0, 0.5]")
    if int(window) != window or window < 5:
        raise ValidationError.for_field("window", "must be a whole number >= 5")
    feats, names = anomaly_features(returns, volume, window=int(window))
    rs = int(as_generator(seed).integers(0, 2**31 - 1))
    forest = IsolationForest(
        n_estimators=n_estimators, contamination=contamination, random_state=rs
    ).fit(feats)
    raw = -forest.score_samples(feats)
    thr = float(-forest.offset_)
    t = feats.shape[0] + int(window)
    scores = np.full(t, np.nan)
    scores[window:] = raw
    flags = np.zeros(t, dtype=bool)
    flags[window:] = raw > thr
    return AnomalyResult(
        scores=scores,
        flags=flags,
        threshold=thr,
        feature_names=names,
        contamination=float(contamination),
        n_flagged=int(flags.sum()),
        latest_flag=bool(flags[-1]),
    )


@dataclass(frozen=True)
class TailFit:
    """Generalised Pareto fit to losses above a threshold (peaks over threshold).

    Losses are positive numbers (a −3 % return is a loss of 0.03).

    Attributes
    ----------
    threshold : float
        ``u``, the loss threshold.
    xi : float
        GPD shape = tail index (ξ > 0: heavy, power-law tail with ``1/ξ``
        finite moments; ξ = 0: exponential; ξ < 0: bounded).
    scale : float
        GPD scale β.
    n_exceed, n_obs : int
        Exceedances and total observations.
    var, es : dict of float to float
        VaR and ES of the loss at each requested level (NaN for ES when ξ ≥ 1).
    tail_heavy : bool
        ξ significantly above zero (``xi − 2·se > 0`` with the asymptotic
        ML standard error ``(1+ξ)/sqrt(n_exceed)``).
    """

    threshold: float
    xi: float
    scale: float
    xi_se: float
    n_exceed: int
    n_obs: int
    var: dict[float, float]
    es: dict[float, float]
    tail_heavy: bool
    label: str = "estimate (EVT, generalised Pareto)"

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["var"] = {str(k): v for k, v in self.var.items()}
        out["es"] = {str(k): v for k, v in self.es.items()}
        return out


def fit_tail(
    losses: ArrayLike,
    *,
    threshold_quantile: float = 0.95,
    levels: tuple[float, ...] = (0.99, 0.995),
) -> TailFit:
    """Fit a generalised Pareto distribution to losses above a threshold.

    Parameters
    ----------
    losses : array_like, shape (T,)
        Loss observations (e.g. ``-returns``); ≥ 200 needed.
    threshold_quantile : float
        The threshold ``u`` is this empirical quantile of the losses.
    levels : tuple of float
        Levels ``q`` (> ``threshold_quantile``) for the VaR and ES.

    Returns
    -------
    TailFit

    Notes
    -----
    ``VaR_q = u + β/ξ · ((n/N_u · (1−q))^(−ξ) − 1)`` and
    ``ES_q = VaR_q/(1−ξ) + (β − ξ u)/(1−ξ)`` (QRM eqs. 5.18–5.19); the ξ → 0
    limits are used when ``|ξ| < 1e-9``.
    """
    from scipy.stats import genpareto

    x = _vec(losses, "losses", 200)
    if not 0.5 <= threshold_quantile < 1:
        raise ValidationError.for_field("threshold_quantile", "must be in [0.5, 1)")
    for q in levels:
        if not threshold_quantile < q < 1:
            raise ValidationError.for_field(
                "levels", f"each level must be in ({threshold_quantile}, 1), got {q}"
            )
    u = float(np.quantile(x, threshold_quantile))
    exc = x[x > u] - u
    if exc.size < 20:
        raise ValidationError.for_field(
            "losses", f"only {exc.size} exceedances above the threshold; need >= 20"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with np.errstate(all="ignore"):
            xi, _, beta = genpareto.fit(exc, floc=0.0)
    xi, beta = float(xi), float(beta)
    n, nu = x.size, exc.size
    var: dict[float, float] = {}
    es: dict[float, float] = {}
    for q in levels:
        ratio = n / nu * (1.0 - q)
        if abs(xi) < 1e-9:
            v = u - beta * math.log(ratio)
        else:
            v = u + beta / xi * (ratio ** (-xi) - 1.0)
        var[float(q)] = float(v)
        es[float(q)] = float(v / (1.0 - xi) + (beta - xi * u) / (1.0 - xi)) if xi < 1 else math.nan
    se = (1.0 + xi) / math.sqrt(nu) if xi > -0.5 else math.nan
    return TailFit(
        threshold=u,
        xi=xi,
        scale=beta,
        xi_se=float(se),
        n_exceed=int(nu),
        n_obs=int(n),
        var=var,
        es=es,
        tail_heavy=bool(np.isfinite(se) and xi - 2.0 * se > 0),
    )


@dataclass(frozen=True)
class DispersionFlags:
    """Cross-sectional dispersion of the holdings and abnormal days.

    Attributes
    ----------
    dispersion : ndarray, shape (T,)
        Cross-sectional standard deviation of the day's returns (ddof=1).
    zscore : ndarray, shape (T,)
        Against the trailing ``window`` days (NaN during warm-up).
    flags : ndarray of bool, shape (T,)
        ``zscore > threshold``.
    """

    dispersion: FloatArray = field(repr=False)
    zscore: FloatArray = field(repr=False)
    flags: np.ndarray = field(repr=False)
    window: int
    threshold: float
    n_flagged: int
    latest_flag: bool
    label: str = "estimate"

    def to_dict(self) -> dict[str, Any]:
        return {
            "window": self.window,
            "threshold": self.threshold,
            "n_flagged": self.n_flagged,
            "latest_flag": self.latest_flag,
            "latest_dispersion": float(self.dispersion[-1]),
            "label": self.label,
        }


def dispersion_flags(
    returns: ArrayLike, *, window: int = 63, threshold: float = 3.0
) -> DispersionFlags:
    """Flag days of abnormal cross-sectional return dispersion.

    Parameters
    ----------
    returns : array_like, shape (T, n)
        Daily returns of ``n ≥ 2`` holdings.
    window : int
        Trailing days for the mean and sd of the dispersion.
    threshold : float
        z-score above which a day is flagged.
    """
    x = np.asarray(returns, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] < 2:
        raise ValidationError.for_field(
            "returns", "must be a (days, holdings) array with >= 2 holdings"
        )
    if not np.all(np.isfinite(x)):
        raise ValidationError.for_field("returns", "contains NaN or infinite values")
    if int(window) != window or not 5 <= window < x.shape[0]:
        raise ValidationError.for_field("window", f"must be a whole number in [5, {x.shape[0]})")
    if not np.isfinite(threshold) or threshold <= 0:
        raise ValidationError.for_field("threshold", "must be a finite number > 0")
    disp = x.std(axis=1, ddof=1)
    mean, sd = _trailing_mean_std(disp, int(window))
    z = np.full(disp.size, np.nan)
    ok = np.isfinite(sd) & (sd > 0)
    z[ok] = (disp[ok] - mean[ok]) / sd[ok]
    flags = np.zeros(disp.size, dtype=bool)
    flags[ok] = z[ok] > threshold
    return DispersionFlags(
        dispersion=disp,
        zscore=z,
        flags=flags,
        window=int(window),
        threshold=float(threshold),
        n_flagged=int(flags.sum()),
        latest_flag=bool(flags[-1]),
    )
