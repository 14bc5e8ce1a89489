"""Market beta, multi-factor regressions with diagnostics, and the hybrid path.

* :func:`market_beta`: OLS of asset returns on market returns (closed form
  from centred sums of squares), after an explicit alignment step.
* :func:`factor_regression`: OLS (or ridge, or OLS on orthogonalised factors)
  of asset returns on several factors, with VIF per factor, the condition
  number and a ``quality_flag``.
* :func:`hybrid_beta`: multivariate first; single-factor fallback when the
  multivariate quality is not ``ok`` or the market factor is missing; records
  provenance (``beta_source``).
* :func:`portfolio_beta`: exposure-weighted position betas with a skip payload
  when no position has public history.

The same ``cap`` clips the single-factor beta and the multivariate market
beta to ``[-cap, cap]`` and records a warning when it binds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

import numpy as np
import pandas as pd

from floorguard._typing import BetaSource, FloatArray, QualityFlag
from floorguard.exceptions import ValidationError

__all__ = [
    "DEFAULT_MIN_OBSERVATIONS",
    "BetaResult",
    "BetaSkip",
    "FactorRegressionResult",
    "HybridBetaResult",
    "PortfolioBeta",
    "align_returns",
    "condition_number",
    "factor_regression",
    "hybrid_beta",
    "hybrid_betas",
    "market_beta",
    "portfolio_beta",
    "variance_inflation_factors",
]

#: Below this many aligned observations a fit is flagged ``short_window``.
DEFAULT_MIN_OBSERVATIONS = 60
#: VIF above this is multicollinear (the usual rule of thumb).
DEFAULT_VIF_THRESHOLD = 10.0
#: Condition number (of the standardised factors) above this is multicollinear (Belsley et al.).
DEFAULT_CONDITION_THRESHOLD = 30.0


# --------------------------------------------------------------------------- alignment
def _as_series(x: Any, field_name: str) -> pd.Series | FloatArray:
    if isinstance(x, pd.DataFrame):
        if x.shape[1] != 1:
            raise ValidationError.for_field(field_name, "must be one series")
        x = x.iloc[:, 0]
    if isinstance(x, pd.Series):
        return x.astype("float64")
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValidationError.for_field(field_name, "must be numeric") from exc
    if arr.ndim != 1:
        raise ValidationError.for_field(field_name, f"must be one-dimensional, got shape {arr.shape}")
    return arr


@dataclass(frozen=True)
class Alignment:
    """Outcome of aligning two or more return series.

    Attributes
    ----------
    y : ndarray, shape (n,)
    X : ndarray, shape (n, k)
    index : pandas.Index or None
        Dates kept (pandas inputs only).
    dropped_missing : int
        Rows on the common dates (or positions) dropped because a value was NaN.
    dropped_unmatched : int
        Rows present in one input but not the other (pandas inputs only).
    """

    y: FloatArray
    X: FloatArray
    index: pd.Index | None
    dropped_missing: int
    dropped_unmatched: int


def align_returns(y: Any, X: Any, *, y_field: str = "asset_returns", x_field: str = "market_returns") -> Alignment:
    """Align a target series with one or more regressors, dropping incomplete rows.

    pandas inputs are joined on their index (inner join: dates present in
    both); NumPy inputs must have equal length and are aligned by position.
    Rows where any value is NaN are dropped; infinite values are refused.
    The counts of dropped rows are returned, never hidden.
    """
    ys = _as_series(y, y_field)
    if isinstance(X, pd.Series):
        X = X.to_frame()
    if isinstance(ys, pd.Series) and isinstance(X, pd.DataFrame):
        joined = pd.concat([ys.rename("__y__"), X.astype("float64")], axis=1, join="inner")
        unmatched = len(ys.index.union(X.index)) - len(joined)
        arr = joined.to_numpy(dtype=np.float64, na_value=np.nan)
        idx: pd.Index | None = joined.index
    elif isinstance(ys, pd.Series) or isinstance(X, pd.DataFrame):
        raise ValidationError.for_field(
            x_field, "pass both series as pandas objects (aligned by date) or both as arrays (aligned by position)"
        )
    else:
        try:
            xa = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValidationError.for_field(x_field, "must be numeric") from exc
        if xa.ndim == 1:
            xa = xa[:, None]
        if xa.ndim != 2 or xa.shape[0] != ys.shape[0]:
            raise ValidationError.for_field(
                x_field, f"must have the same length as {y_field} ({ys.shape[0]}), got shape {xa.shape}"
            )
        arr = np.column_stack([ys, xa])
        unmatched = 0
        idx = None
    if np.isinf(arr).any():
        raise ValidationError.for_field(x_field, "contains infinite values")
    keep = ~np.isnan(arr).any(axis=1)
    missing = int((~keep).sum())
    arr = arr[keep]
    if idx is not None:
        idx = idx[keep]
    return Alignment(arr[:, 0].copy(), arr[:, 1:].copy(), idx, missing, int(unmatched))


# --------------------------------------------------------------------------- single factor
@dataclass(frozen=True)
class BetaResult:
    """Single-factor market regression ``r_a = alpha + beta r_m + e``.

    Attributes
    ----------
    beta : float
        Slope, after the cap (if any).
    alpha : float
        Intercept per period (a daily alpha for daily returns), not annualised.
    r_squared : float
        Coefficient of determination of the OLS fit.
    std_error : float
        Standard error of the (uncapped) slope, ``sqrt(s^2 / Sxx)`` with
        ``s^2 = SSR / (n - 2)``.
    observations : int
        Aligned observations used.
    warnings : tuple of str
        Data-quality notes (dropped rows, short window, cap binding).
    raw_beta : float
        Slope before the cap.
    capped : bool
        Whether the cap changed the beta.
    dropped_missing, dropped_unmatched : int
        Rows dropped by the alignment (see :func:`align_returns`).
    """

    beta: float
    alpha: float
    r_squared: float
    std_error: float
    observations: int
    warnings: tuple[str, ...] = ()
    raw_beta: float = float("nan")
    capped: bool = False
    dropped_missing: int = 0
    dropped_unmatched: int = 0

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["warnings"] = list(self.warnings)
        return d


def _check_cap(cap: float | None) -> float | None:
    if cap is None:
        return None
    try:
        c = float(cap)
    except (TypeError, ValueError) as exc:
        raise ValidationError.for_field("cap", "must be a number") from exc
    if not math.isfinite(c) or c <= 0:
        raise ValidationError.for_field("cap", f"must be positive, got {cap!r}")
    return c


def _apply_cap(beta: float, cap: float | None, warnings: list[str], what: str = "beta") -> tuple[float, bool]:
    if cap is not None and abs(beta) > cap:
        warnings.append(f"{what} {beta:.4f} capped at {math.copysign(cap, beta):.4f}")
        return math.copysign(cap, beta), True
    return beta, False


def _alignment_warnings(al: Alignment) -> list[str]:
    out = []
    if al.dropped_missing:
        out.append(f"{al.dropped_missing} row(s) with missing values dropped")
    if al.dropped_unmatched:
        out.append(f"{al.dropped_unmatched} date(s) present in only one series dropped")
    return out


def market_beta(
    asset_returns: Any,
    market_returns: Any,
    cap: float | None = None,
    *,
    min_observations: int = DEFAULT_MIN_OBSERVATIONS,
) -> BetaResult:
    """Single-factor market beta by OLS over the aligned window.

    Parameters
    ----------
    asset_returns, market_returns : array_like or pandas.Series, shape (T,)
        Periodic simple returns. Series are aligned on their dates (inner
        join); arrays by position. Rows with a NaN in either are dropped and
        counted in ``warnings``.
    cap : float or None
        Clip the beta to ``[-cap, cap]`` (the same cap as the multivariate path).
    min_observations : int
        Fewer aligned observations than this adds a ``short window`` warning.

    Returns
    -------
    BetaResult

    Raises
    ------
    ValidationError
        Fewer than 3 aligned observations, or a market series with no variance.
    """
    c = _check_cap(cap)
    al = align_returns(asset_returns, market_returns)
    y, x = al.y, al.X[:, 0]
    n = y.size
    if n < 3:
        raise ValidationError.for_field("market_returns", f"needs at least 3 aligned observations, got {n}")
    xm, ym = x.mean(), y.mean()
    dx, dy = x - xm, y - ym
    sxx = float(dx @ dx)
    if sxx <= 0.0:
        raise ValidationError.for_field("market_returns", "has zero variance over the aligned window")
    sxy = float(dx @ dy)
    syy = float(dy @ dy)
    b = sxy / sxx
    a = float(ym - b * xm)
    ssr = max(syy - b * sxy, 0.0)
    r2 = 1.0 - ssr / syy if syy > 0 else float("nan")
    se = math.sqrt(ssr / (n - 2) / sxx)
    warnings = _alignment_warnings(al)
    if n < min_observations:
        warnings.append(f"short window: {n} observations (< {min_observations})")
    beta, capped = _apply_cap(b, c, warnings)
    return BetaResult(beta, a, r2, se, n, tuple(warnings), b, capped, al.dropped_missing, al.dropped_unmatched)


# --------------------------------------------------------------------------- diagnostics
def variance_inflation_factors(X: FloatArray) -> FloatArray:
    """VIF of each column of ``X`` (regressed on the others plus a constant).

    ``VIF_j = 1 / (1 - R_j^2) = [corr(X)^-1]_jj``. Equals statsmodels'
    ``variance_inflation_factor(add_constant(X), j + 1)``. ``inf`` for a
    column that is an exact linear combination of the others.

    Parameters
    ----------
    X : ndarray, shape (n, k)

    Returns
    -------
    ndarray, shape (k,)
    """
    X = np.asarray(X, dtype=np.float64)
    k = X.shape[1]
    if k == 1:
        return np.ones(1)
    Z = X - X.mean(axis=0)
    sd = np.sqrt(np.sum(Z * Z, axis=0))
    out = np.full(k, np.inf)
    if (sd == 0).any():
        return out
    Z = Z / sd
    corr = Z.T @ Z
    # eigen-decomposition: robust to near-singularity (no warnings); inf when singular
    w, V = np.linalg.eigh(corr)
    if w.min() <= 1e-12 * w.max():
        big = w <= 1e-12 * w.max()
        # columns that load on the null space have infinite VIF
        loads = (V[:, big] ** 2).sum(axis=1) > 1e-12
        ws = np.where(big, 1.0, w)
        fin = (V[:, ~big] ** 2 / ws[~big]).sum(axis=1)
        out = np.where(loads, np.inf, fin)
        return out
    return (V**2 / w).sum(axis=1)


def condition_number(X: FloatArray) -> float:
    """Condition number of the standardised regressors ``sqrt(lambda_max / lambda_min)``.

    Eigenvalues of the correlation matrix of the columns of ``X`` (no constant),
    so the figure does not depend on the units of the factors; equals
    ``numpy.linalg.cond`` of the z-scored design. ``inf`` when singular.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.shape[1] == 1:
        return 1.0
    Z = X - X.mean(axis=0)
    sd = np.sqrt(np.sum(Z * Z, axis=0))
    if (sd == 0).any():
        return float("inf")
    Z = Z / sd
    w = np.linalg.eigvalsh(Z.T @ Z)
    if w[0] <= 1e-15 * w[-1]:
        return float("inf")
    return float(math.sqrt(w[-1] / w[0]))


# --------------------------------------------------------------------------- multi-factor
RegressionMethod = Literal["ols", "ridge", "orthogonal"]


@dataclass(frozen=True)
class FactorRegressionResult:
    """Multi-factor regression ``r = alpha + sum_k beta_k f_k + e`` and its diagnostics.

    Attributes
    ----------
    betas : dict of str to float
        Loading per factor (market beta capped when ``cap`` is given).
    alpha : float
        Intercept per period.
    r_squared : float
    std_errors : dict of str to float
        OLS standard errors (NaN for ridge).
    observations : int
    vif : dict of str to float
        Variance inflation factor per factor, of the factors as regressed
        (after orthogonalisation for ``method="orthogonal"``).
    raw_vif : dict of str to float
        VIF of the factors as given.
    condition_number : float
        Of the standardised factors as given (see :func:`condition_number`).
    quality_flag : {"ok", "multicollinear", "short_window", "failed"}
        ``failed``: too few observations for the number of factors or a
        singular design; ``short_window``: fewer than ``min_observations``;
        ``multicollinear``: max raw VIF above ``vif_threshold`` or condition
        number above ``condition_threshold`` *and* ``method == "ols"``
        (ridge and orthogonalisation are the remedies); else ``ok``.
    method : {"ols", "ridge", "orthogonal"}
    market_factor : str or None
        Name of the market factor, when present.
    warnings : tuple of str
    """

    betas: dict[str, float]
    alpha: float
    r_squared: float
    std_errors: dict[str, float]
    observations: int
    vif: dict[str, float]
    raw_vif: dict[str, float]
    condition_number: float
    quality_flag: QualityFlag
    method: RegressionMethod
    market_factor: str | None
    warnings: tuple[str, ...] = ()

    @property
    def market_beta(self) -> float | None:
        """The market loading, or ``None`` without a market factor."""
        return None if self.market_factor is None else self.betas.get(self.market_factor)

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        for k in ("betas", "std_errors", "vif", "raw_vif"):
            d[k] = dict(d[k])
        d["warnings"] = list(self.warnings)
        return d


def _factor_frame(factor_returns: Any) -> tuple[Any, list[str]]:
    if isinstance(factor_returns, pd.Series):
        factor_returns = factor_returns.to_frame()
    if isinstance(factor_returns, pd.DataFrame):
        return factor_returns, [str(c) for c in factor_returns.columns]
    if isinstance(factor_returns, Mapping):
        names = [str(k) for k in factor_returns]
        try:
            arr = np.column_stack([np.asarray(v, dtype=np.float64) for v in factor_returns.values()])
        except (TypeError, ValueError) as exc:
            raise ValidationError.for_field("factor_returns", "must be numeric columns of equal length") from exc
        return arr, names
    try:
        arr = np.asarray(factor_returns, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValidationError.for_field("factor_returns", "must be numeric") from exc
    if arr.ndim == 1:
        arr = arr[:, None]
    return arr, [f"f{i}" for i in range(arr.shape[1])]


def _orthogonalise(X: FloatArray, first: int) -> FloatArray:
    """Replace every column but ``first`` by its residual on the previously kept columns (+ const).

    Sequential Gram–Schmidt in the order: ``first`` (unchanged), then the
    other columns in their given order. Each residual is orthogonal (in
    sample, after demeaning) to all columns before it.
    """
    n, k = X.shape
    order = [first] + [j for j in range(k) if j != first]
    out = X.copy()
    basis = [np.ones(n), X[:, first]]
    for j in order[1:]:
        B = np.column_stack(basis)
        coef, *_ = np.linalg.lstsq(B, X[:, j], rcond=None)
        out[:, j] = X[:, j] - B @ coef + X[:, j].mean()  # keep the mean, remove the co-movement
        basis.append(out[:, j])
    return out


def factor_regression(
    asset_returns: Any,
    factor_returns: Any,
    *,
    market_factor: str | None = "market",
    cap: float | None = None,
    method: RegressionMethod = "ols",
    ridge_alpha: float = 1.0,
    min_observations: int = DEFAULT_MIN_OBSERVATIONS,
    vif_threshold: float = DEFAULT_VIF_THRESHOLD,
    condition_threshold: float = DEFAULT_CONDITION_THRESHOLD,
) -> FactorRegressionResult:
    """Multi-factor regression of one asset with VIF, condition number and a quality flag.

    Parameters
    ----------
    asset_returns : array_like or pandas.Series, shape (T,)
    factor_returns : pandas.DataFrame, mapping of name to array, or array, shape (T, K)
        Factor returns; columns name the factors.
    market_factor : str or None
        Name of the market column (its loading is the market beta).
    cap : float or None
        Clip the market beta to ``[-cap, cap]`` (same cap as :func:`market_beta`).
    method : {"ols", "ridge", "orthogonal"}
        ``ols``: plain OLS. ``ridge``: ridge on z-scored factors with penalty
        ``ridge_alpha * n`` (intercept not penalised), loadings mapped back to
        the original units. ``orthogonal``: OLS on factors orthogonalised
        sequentially against the market (then in column order), so the market
        loading equals the single-factor beta and the others are the
        *incremental* exposures.
    ridge_alpha : float
        Ridge penalty per observation on standardised factors.
    min_observations, vif_threshold, condition_threshold
        Thresholds of the quality flag.

    Returns
    -------
    FactorRegressionResult
        A ``failed`` result (NaN loadings) rather than an exception when the
        design cannot be fitted (too few rows, a constant or duplicated factor).
    """
    _check_method(method)
    c = _check_cap(cap)
    F, names = _factor_frame(factor_returns)
    if len(set(names)) != len(names):
        raise ValidationError.for_field("factor_returns", "factor names must be unique")
    if market_factor is not None and market_factor not in names:
        market_factor = None
    if method == "orthogonal" and market_factor is None:
        raise ValidationError.for_field("method", "orthogonalisation needs the market factor")
    al = align_returns(asset_returns, F, x_field="factor_returns")
    return _fit_factors(
        al.y, _FactorDesign(al.X), names, _alignment_warnings(al), market_factor=market_factor, cap=c,
        method=method, ridge_alpha=ridge_alpha, min_observations=min_observations,
        vif_threshold=vif_threshold, condition_threshold=condition_threshold,
    )


def _check_method(method: str) -> None:
    if method not in ("ols", "ridge", "orthogonal"):
        raise ValidationError.for_field("method", f"must be ols, ridge or orthogonal, got {method!r}")


class _FactorDesign:
    """Aligned factor rows ``X`` (n, k) and everything that depends on them alone.

    Every asset regressed on the same rows shares one design: the VIF, the
    condition number, the orthogonalised factors, the OLS design matrix and
    its normal-matrix inverse, and the ridge system are the same for all of
    them. Each is computed once, on first use, by the very code the one-asset
    path runs on the very same array, so sharing a design changes no result.
    """

    __slots__ = ("X", "_memo")

    def __init__(self, X: FloatArray) -> None:
        self.X = X
        self._memo: dict[Any, Any] = {}

    def _get(self, key: Any, make: Any) -> Any:
        try:
            return self._memo[key]
        except KeyError:
            value = self._memo[key] = make()
            return value

    def raw_vif(self) -> FloatArray:
        return self._get("raw_vif", lambda: variance_inflation_factors(self.X))

    def condition(self) -> float:
        return self._get("condition", lambda: condition_number(self.X))

    def regressors(self, method: str, first: int) -> FloatArray:
        """The factors as regressed: orthogonalised against column ``first`` for ``orthogonal``."""
        if method != "orthogonal":
            return self.X
        return self._get(("orthogonal", first), lambda: _orthogonalise(self.X, first))

    def vif(self, method: str, first: int) -> FloatArray:
        if method != "orthogonal":
            return self.raw_vif()
        return self._get(("vif", first), lambda: variance_inflation_factors(self.regressors(method, first)))

    def ols(self, method: str, first: int) -> tuple[FloatArray, FloatArray]:
        """``A = [1, Xf]`` and ``(A'A)^-1``."""

        def make() -> tuple[FloatArray, FloatArray]:
            A = np.column_stack([np.ones(self.X.shape[0]), self.regressors(method, first)])
            return A, np.linalg.inv(A.T @ A)

        return self._get(("ols", method, first), make)

    def ridge(self, lam: float) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """Means, standard deviations, z-scores and ``Z'Z + lam I`` of the factors."""

        def make() -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
            Xf = self.X
            mu = Xf.mean(axis=0)
            sd = Xf.std(axis=0)
            Z = (Xf - mu) / sd
            return mu, sd, Z, Z.T @ Z + lam * np.eye(Xf.shape[1])

        return self._get(("ridge", lam), make)


def _fit_factors(
    y: FloatArray,
    design: _FactorDesign,
    names: list[str],
    warnings: list[str],
    *,
    market_factor: str | None,
    cap: float | None,
    method: RegressionMethod,
    ridge_alpha: float,
    min_observations: int,
    vif_threshold: float,
    condition_threshold: float,
) -> FactorRegressionResult:
    """The regression of :func:`factor_regression` on aligned rows (``y`` (n,), ``design.X`` (n, k))."""
    X = design.X
    n, k = X.shape
    nan_map = {nm: float("nan") for nm in names}

    def failed(reason: str, vif: dict[str, float] | None = None, cond: float = float("nan")) -> FactorRegressionResult:
        return FactorRegressionResult(
            dict(nan_map), float("nan"), float("nan"), dict(nan_map), n, vif or dict(nan_map),
            vif or dict(nan_map), cond, "failed", method, market_factor, tuple([*warnings, reason]),
        )

    if n < k + 3:
        return failed(f"too few observations: {n} for {k} factors (need at least {k + 3})")
    raw_vif_arr = design.raw_vif()
    raw_vif = {nm: float(v) for nm, v in zip(names, raw_vif_arr, strict=True)}
    cond = design.condition()
    if not np.isfinite(raw_vif_arr).all():
        return failed("singular design: a factor is constant or an exact combination of others", raw_vif, cond)

    first = names.index(market_factor) if method == "orthogonal" else -1  # type: ignore[arg-type]
    Xf = design.regressors(method, first)
    vif_arr = design.vif(method, first)
    if method == "ridge":
        mu, sd, Z, normal = design.ridge(float(ridge_alpha) * n)
        yc = y - y.mean()
        coef_z = np.linalg.solve(normal, Z.T @ yc)
        b = coef_z / sd
        a = float(y.mean() - mu @ b)
        resid = y - a - Xf @ b
        se = np.full(k, np.nan)
    else:
        A, AtA_inv = design.ols(method, first)
        coef, *_ = np.linalg.lstsq(A, y, rcond=None)
        a, b = float(coef[0]), coef[1:]
        resid = y - A @ coef
        s2 = float(resid @ resid) / (n - k - 1)
        se = np.sqrt(np.maximum(np.diag(AtA_inv)[1:] * s2, 0.0))
    dy = y - y.mean()
    syy = float(dy @ dy)
    r2 = 1.0 - float(resid @ resid) / syy if syy > 0 else float("nan")
    betas = {nm: float(v) for nm, v in zip(names, b, strict=True)}
    if market_factor is not None:
        betas[market_factor], _ = _apply_cap(betas[market_factor], cap, warnings, "market beta")
    max_vif = float(np.max(raw_vif_arr))
    flag: QualityFlag = "ok"
    if n < min_observations:
        flag = "short_window"
        warnings.append(f"short window: {n} observations (< {min_observations})")
    elif method == "ols" and (max_vif > vif_threshold or cond > condition_threshold):
        flag = "multicollinear"
        worst = max(raw_vif, key=lambda nm: raw_vif[nm])
        warnings.append(
            f"multicollinear factors: max VIF {max_vif:.1f} ({worst}) > {vif_threshold:g}"
            if max_vif > vif_threshold
            else f"multicollinear factors: condition number {cond:.1f} > {condition_threshold:g}"
        )
    return FactorRegressionResult(
        betas=betas,
        alpha=a,
        r_squared=r2,
        std_errors={nm: float(v) for nm, v in zip(names, se, strict=True)},
        observations=n,
        vif={nm: float(v) for nm, v in zip(names, vif_arr, strict=True)},
        raw_vif=raw_vif,
        condition_number=cond,
        quality_flag=flag,
        method=method,
        market_factor=market_factor,
        warnings=tuple(warnings),
    )


# --------------------------------------------------------------------------- hybrid
@dataclass(frozen=True)
class HybridBetaResult:
    """Market beta chosen by the hybrid path, with provenance.

    Attributes
    ----------
    beta : float
        The market beta used downstream.
    beta_source : {"multivariate", "single_factor", "provided", "default"}
    observations : int
        Observations behind the chosen beta (0 for provided/default).
    r_squared : float
        R^2 of the chosen fit (NaN for provided/default).
    quality_flag : {"ok", "multicollinear", "short_window", "failed"}
        Quality of the multivariate attempt (``failed`` if it could not run).
    fallback_reason : str or None
        Why the multivariate beta was not used.
    multivariate : FactorRegressionResult or None
    single_factor : BetaResult or None
    warnings : tuple of str
    """

    beta: float
    beta_source: BetaSource
    observations: int
    r_squared: float
    quality_flag: QualityFlag
    fallback_reason: str | None = None
    multivariate: FactorRegressionResult | None = None
    single_factor: BetaResult | None = None
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "beta": self.beta,
            "beta_source": self.beta_source,
            "observations": self.observations,
            "r_squared": self.r_squared,
            "quality_flag": self.quality_flag,
            "fallback_reason": self.fallback_reason,
            "multivariate": None if self.multivariate is None else self.multivariate.to_dict(),
            "single_factor": None if self.single_factor is None else self.single_factor.to_dict(),
            "warnings": list(self.warnings),
        }


def hybrid_beta(
    asset_returns: Any,
    market_returns: Any | None,
    factor_returns: Any | None = None,
    *,
    market_factor: str = "market",
    cap: float | None = None,
    provided_beta: float | None = None,
    default_beta: float | None = 1.0,
    remedy: Literal["ridge", "orthogonal"] | None = None,
    min_observations: int = DEFAULT_MIN_OBSERVATIONS,
    vif_threshold: float = DEFAULT_VIF_THRESHOLD,
    condition_threshold: float = DEFAULT_CONDITION_THRESHOLD,
) -> HybridBetaResult:
    """Market beta: multivariate first, single-factor fallback, provided or default last.

    Order:

    1. ``provided_beta`` given: use it (``beta_source="provided"``).
    2. Multi-factor OLS on ``factor_returns`` (which must contain
       ``market_factor``). ``quality_flag == "ok"`` -> ``multivariate``. When
       ``multicollinear`` and ``remedy`` is given, the remedied fit is used
       instead (still ``multivariate``; ``method`` says which).
    3. Otherwise (poor quality, market factor missing, no factors) the
       single-factor OLS on ``market_returns`` -> ``single_factor``.
    4. If that cannot run either (no history), ``default_beta`` ->
       ``default`` (an assumption, labelled as such); with
       ``default_beta=None`` a :class:`ValidationError` is raised instead.
    """
    if provided_beta is not None:
        pb = float(provided_beta)
        if not math.isfinite(pb):
            raise ValidationError.for_field("provided_beta", "must be finite")
        return HybridBetaResult(pb, "provided", 0, float("nan"), "ok", "beta provided by the user")
    fit: Callable[[RegressionMethod], FactorRegressionResult] | None = None
    reason: str | None = None
    if factor_returns is None:
        reason = "no factor returns"
    else:
        _, names = _factor_frame(factor_returns)
        if market_factor not in names:
            reason = f"market factor {market_factor!r} missing from the factors"
        else:

            def fit(method: RegressionMethod) -> FactorRegressionResult:
                return factor_regression(
                    asset_returns, factor_returns, market_factor=market_factor, cap=cap, method=method,
                    min_observations=min_observations, vif_threshold=vif_threshold,
                    condition_threshold=condition_threshold,
                )

    single = None
    if market_returns is not None:

        def single() -> BetaResult:
            return market_beta(asset_returns, market_returns, cap, min_observations=min_observations)

    return _hybrid(fit, reason, single, remedy=remedy, default_beta=default_beta)


def _hybrid(
    fit: Callable[[RegressionMethod], FactorRegressionResult] | None,
    reason: str | None,
    single: Callable[[], BetaResult] | None,
    *,
    remedy: Literal["ridge", "orthogonal"] | None,
    default_beta: float | None,
) -> HybridBetaResult:
    """Steps 2-4 of :func:`hybrid_beta`, given how to fit the multivariate and single-factor models."""
    warnings: list[str] = []
    mv: FactorRegressionResult | None = None
    flag: QualityFlag = "failed"
    if fit is not None:
        try:
            mv = fit("ols")
        except ValidationError as exc:
            reason = f"multivariate regression failed: {exc}"
        else:
            flag = mv.quality_flag
            if mv.quality_flag == "multicollinear" and remedy is not None:
                fixed = fit(remedy)
                if fixed.quality_flag == "ok":
                    warnings.append(f"multicollinear factors: used {remedy} regression")
                    return HybridBetaResult(
                        float(fixed.market_beta), "multivariate", fixed.observations, fixed.r_squared,
                        mv.quality_flag, None, fixed, None, tuple([*mv.warnings, *warnings]),
                    )
            if mv.quality_flag == "ok":
                return HybridBetaResult(
                    float(mv.market_beta), "multivariate", mv.observations, mv.r_squared, "ok", None,
                    mv, None, mv.warnings,
                )
            reason = f"multivariate quality {mv.quality_flag}"
    sf: BetaResult | None = None
    if single is not None:
        try:
            sf = single()
        except ValidationError as exc:
            warnings.append(f"single-factor regression failed: {exc}")
    if sf is not None:
        return HybridBetaResult(
            sf.beta, "single_factor", sf.observations, sf.r_squared, flag, reason, mv, sf,
            tuple([*warnings, *sf.warnings]),
        )
    if default_beta is None:
        raise ValidationError.for_field("asset_returns", f"no usable history to estimate a beta ({reason})")
    warnings.append(f"no usable history: default beta {float(default_beta):g} assumed (estimate)")
    return HybridBetaResult(float(default_beta), "default", 0, float("nan"), "failed", reason, mv, None, tuple(warnings))


def hybrid_betas(
    asset_returns: Mapping[str, Any],
    market_returns: Any | None,
    factor_returns: Any | None = None,
    *,
    market_factor: str = "market",
    cap: float | None = None,
    default_beta: float | None = 1.0,
    remedy: Literal["ridge", "orthogonal"] | None = None,
    min_observations: int = DEFAULT_MIN_OBSERVATIONS,
    vif_threshold: float = DEFAULT_VIF_THRESHOLD,
    condition_threshold: float = DEFAULT_CONDITION_THRESHOLD,
) -> dict[str, HybridBetaResult]:
    """:func:`hybrid_beta` of many assets against the same factors, factor diagnostics computed once.

    Equal, result for result, to ``{s: hybrid_beta(r, market_returns,
    factor_returns, ...) for s, r in asset_returns.items()}``. With array
    inputs (aligned by position, as :func:`hybrid_beta` aligns arrays), the
    factor matrix is built and checked once, and assets whose complete rows
    coincide (the usual case: no gaps in the window) share one design: its
    VIF, condition number, orthogonalised factors and OLS normal-matrix
    inverse are computed once per distinct set of rows instead of once per
    asset. pandas inputs, and anything :func:`hybrid_beta` would refuse, run
    :func:`hybrid_beta` asset by asset.

    Parameters
    ----------
    asset_returns : mapping of symbol to array_like, each shape (T,)
    market_returns : array_like, shape (T,), or None
    factor_returns : mapping of name to array_like (T,), or array, shape (T, K), or None
    market_factor, cap, default_beta, remedy, min_observations, vif_threshold, condition_threshold
        As for :func:`hybrid_beta`.

    Returns
    -------
    dict of str to HybridBetaResult
        In the order of ``asset_returns``.
    """
    kw: dict[str, Any] = {
        "market_factor": market_factor, "cap": cap, "default_beta": default_beta, "remedy": remedy,
        "min_observations": min_observations, "vif_threshold": vif_threshold,
        "condition_threshold": condition_threshold,
    }
    shared = _shared_factors(factor_returns, market_factor, cap)
    out: dict[str, HybridBetaResult] = {}
    if shared is None:
        for sym, y in asset_returns.items():
            out[sym] = hybrid_beta(y, market_returns, factor_returns, **kw)
        return out
    F, names, complete, c = shared
    designs: dict[bytes, _FactorDesign] = {}
    for sym, y in asset_returns.items():
        ya = _shared_asset(y, F.shape[0])
        if ya is None:
            out[sym] = hybrid_beta(y, market_returns, factor_returns, **kw)
            continue
        keep = complete & ~np.isnan(ya)
        key = keep.tobytes()
        design = designs.get(key)
        if design is None:
            design = designs[key] = _FactorDesign(F[keep])
        yk = ya[keep]
        dropped = int(keep.size - np.count_nonzero(keep))
        base = [f"{dropped} row(s) with missing values dropped"] if dropped else []

        def fit(method: RegressionMethod, yk: FloatArray = yk, design: _FactorDesign = design,
                base: list[str] = base) -> FactorRegressionResult:
            _check_method(method)
            return _fit_factors(
                yk, design, names, list(base), market_factor=market_factor, cap=c, method=method, ridge_alpha=1.0,
                min_observations=min_observations, vif_threshold=vif_threshold,
                condition_threshold=condition_threshold,
            )

        single = None
        if market_returns is not None:

            def single(y: Any = y) -> BetaResult:
                return market_beta(y, market_returns, cap, min_observations=min_observations)

        out[sym] = _hybrid(fit, None, single, remedy=remedy, default_beta=default_beta)
    return out


def _shared_factors(
    factor_returns: Any, market_factor: str, cap: float | None
) -> tuple[FloatArray, list[str], np.ndarray, float | None] | None:
    """Factor matrix, names, complete-row mask and checked cap, or None when the shared path does not apply."""
    if factor_returns is None or isinstance(factor_returns, (pd.Series, pd.DataFrame)):
        return None
    try:
        F, names = _factor_frame(factor_returns)
        c = _check_cap(cap)
    except ValidationError:
        return None
    if (
        F.ndim != 2 or len(set(names)) != len(names) or market_factor not in names
        or np.isinf(F).any()
    ):
        return None
    return F, names, ~np.isnan(F).any(axis=1), c


def _shared_asset(y: Any, length: int) -> FloatArray | None:
    """``y`` as a finite-or-NaN float array of ``length`` values, or None (then :func:`hybrid_beta` decides)."""
    if isinstance(y, (pd.Series, pd.DataFrame)):
        return None
    try:
        ya = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if ya.ndim != 1 or ya.shape[0] != length or np.isinf(ya).any():
        return None
    return ya


# --------------------------------------------------------------------------- portfolio
@dataclass(frozen=True)
class BetaSkip:
    """Why no portfolio beta was computed (not an error, not silence).

    Attributes
    ----------
    skip_reason : str
        ``"no_public_positions"`` or ``"empty_portfolio"`` or ``"zero_exposure"``.
    quality_flag : str
        Always ``"failed"``.
    positions_total : int
    public_positions : int
    message : str
    """

    skip_reason: str
    quality_flag: QualityFlag
    positions_total: int
    public_positions: int
    message: str
    available: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PortfolioBeta:
    """Portfolio market beta: exposure-weighted sum of position betas.

    Attributes
    ----------
    beta : float
        ``sum_i e_i beta_i / sum_i e_i`` over positions with a beta, ``e_i``
        the signed market value (shorts negative), divided by the net exposure.
    beta_source : str
        The dominant source by gross exposure (``multivariate``, ``single_factor``,
        ``provided``, ``default``), or ``"mixed"`` detail in ``sources``.
    sources : dict of str to float
        Share of gross exposure per beta source.
    dollar_beta : float
        ``sum_i e_i beta_i`` in currency (the beta-weighted exposure).
    net_exposure, gross_exposure : float
    positions : int
    warnings : tuple of str
    available : bool
        Always ``True`` (a :class:`BetaSkip` is returned otherwise).
    """

    beta: float
    beta_source: str
    sources: dict[str, float]
    dollar_beta: float
    net_exposure: float
    gross_exposure: float
    positions: int
    warnings: tuple[str, ...] = ()
    available: bool = True

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["warnings"] = list(self.warnings)
        return d


def portfolio_beta(
    exposures: Mapping[str, float],
    betas: Mapping[str, HybridBetaResult | float],
    public: Sequence[str] | None = None,
) -> PortfolioBeta | BetaSkip:
    """Aggregate position betas into the portfolio beta.

    Parameters
    ----------
    exposures : mapping of symbol to float
        Signed market value of each position (currency; shorts negative).
    betas : mapping of symbol to HybridBetaResult or float
        Beta per position that has one (a bare float counts as ``provided``).
    public : sequence of str or None
        Symbols with public price history. If given and empty (and no position
        has a provided beta), a :class:`BetaSkip` with
        ``skip_reason="no_public_positions"`` is returned.

    Returns
    -------
    PortfolioBeta or BetaSkip
    """
    n = len(exposures)
    if n == 0:
        return BetaSkip("empty_portfolio", "failed", 0, 0, "the portfolio has no positions")
    public_list = list(public) if public is not None else list(betas)
    provided = [s for s, b in betas.items() if not isinstance(b, HybridBetaResult) or b.beta_source == "provided"]
    if not public_list and not provided:
        return BetaSkip(
            "no_public_positions", "failed", n, 0,
            "no position has public price history or a provided beta; portfolio beta not computed",
        )
    warnings: list[str] = []
    dollar = 0.0
    net = 0.0
    gross = 0.0
    by_source: dict[str, float] = {}
    for sym, e in exposures.items():
        e = float(e)
        b = betas.get(sym)
        if b is None:
            warnings.append(f"{sym}: no beta, excluded from the portfolio beta")
            continue
        if isinstance(b, HybridBetaResult):
            bv, src = b.beta, b.beta_source
        else:
            bv, src = float(b), "provided"
        dollar += e * bv
        net += e
        gross += abs(e)
        by_source[src] = by_source.get(src, 0.0) + abs(e)
    if gross == 0.0 or net == 0.0:
        return BetaSkip("zero_exposure", "failed", n, len(public_list), "net exposure of the positions with a beta is zero")
    shares = {k: v / gross for k, v in by_source.items()}
    dominant = max(shares, key=lambda k: shares[k])
    if shares.get("default", 0.0) > 0:
        warnings.append(f"{shares['default']:.1%} of gross exposure uses the default beta (an assumption)")
    return PortfolioBeta(dollar / net, dominant, shares, dollar, net, gross, n, tuple(warnings))

