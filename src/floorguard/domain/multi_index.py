"""Multi-index hedge: the mix of index hedges that minimises residual variance.

For portfolio returns ``r_p`` and index returns ``R`` (columns: S&P 500,
Nasdaq, ...), the hedge ratios ``h`` minimising ``Var(r_p - R h)`` are the
slopes of the OLS regression of ``r_p`` on ``R`` with an intercept
(``h = Cov(R)^-1 Cov(R, r_p)``). Index puts can only hedge positive
exposures, so by default the ratios are constrained to be non-negative
(non-negative least squares on demeaned returns). The residual volatility that
remains is the basis risk: the part of the portfolio no index hedge removes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import nnls

from floorguard._typing import ArrayLike
from floorguard.exceptions import ValidationError

__all__ = ["MultiIndexHedge", "multi_index_hedge"]


@dataclass(frozen=True)
class MultiIndexHedge:
    """Variance-minimising mix of index hedges.

    Attributes
    ----------
    indices : list of str
    ratios : dict
        Hedge ratio per index (dollars of index exposure per dollar of portfolio).
    notionals : dict
        ``ratio * portfolio_value`` per index, dollars.
    unconstrained_ratios : dict
        Plain OLS slopes (may be negative).
    r_squared : float
        Share of the portfolio variance the mix removes.
    residual_vol : float
        Annualised volatility of the hedged residual (the basis risk).
    portfolio_vol : float
        Annualised volatility of the unhedged portfolio.
    basis_risk : float
        ``residual_vol * sqrt(term_years) * portfolio_value``: one standard
        deviation of unhedged dollars over the term.
    single_index : dict
        For each index alone: ratio, r_squared, residual_vol (for comparison).
    observations : int
    condition_number : float
        Of the demeaned index returns (large = the indices move together).
    warnings : list of str
    """

    indices: list[str]
    ratios: dict[str, float]
    notionals: dict[str, float]
    unconstrained_ratios: dict[str, float]
    r_squared: float
    residual_vol: float
    portfolio_vol: float
    basis_risk: float
    single_index: dict[str, dict[str, float]]
    observations: int
    condition_number: float
    nonnegative: bool
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _fit(y: np.ndarray, X: np.ndarray, nonneg: bool) -> np.ndarray:
    yc = y - y.mean()
    Xc = X - X.mean(axis=0)
    if nonneg:
        h, _ = nnls(Xc, yc)
        return h
    h, *_ = np.linalg.lstsq(Xc, yc, rcond=None)
    return h


def multi_index_hedge(
    portfolio_returns: ArrayLike,
    index_returns: ArrayLike,
    names: Sequence[str],
    portfolio_value: float,
    term_years: float,
    periods_per_year: float = 252.0,
    nonnegative: bool = True,
) -> MultiIndexHedge:
    """Hedge ratios on several indices minimising the residual variance.

    Parameters
    ----------
    portfolio_returns : array_like, shape (T,)
        Periodic simple returns of the portfolio (constant current weights).
    index_returns : array_like, shape (T, k)
        Same-period returns of the ``k`` indices.
    names : sequence of str, length k
    portfolio_value : float
        Dollars, > 0.
    term_years : float
        Hedge term in years (for the basis risk in dollars).
    periods_per_year : float
        252 for daily returns.
    nonnegative : bool
        Constrain ratios to >= 0 (index puts cannot hedge a negative exposure).

    Raises
    ------
    ValidationError
        Shapes disagree, non-finite data, fewer than ``k + 10`` observations,
        or an index without variance.
    """
    y = np.asarray(portfolio_returns, dtype=float)
    X = np.asarray(index_returns, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    names = list(names)
    if y.ndim != 1 or X.ndim != 2 or X.shape[0] != y.size:
        raise ValidationError.for_field("index_returns", f"shape {X.shape} does not match {y.shape}")
    if X.shape[1] != len(names) or not names:
        raise ValidationError.for_field("names", f"need {X.shape[1]} names, got {len(names)}")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(X))):
        raise ValidationError.for_field("portfolio_returns", "must be finite (align and drop gaps first)")
    n, k = X.shape
    if n < k + 10:
        raise ValidationError.for_field("portfolio_returns", f"needs at least {k + 10} observations, got {n}")
    if not (math.isfinite(portfolio_value) and portfolio_value > 0):
        raise ValidationError.for_field("portfolio_value", f"must be > 0, got {portfolio_value}")
    if not (math.isfinite(term_years) and term_years > 0):
        raise ValidationError.for_field("term_years", f"must be > 0, got {term_years}")
    sd = X.std(axis=0)
    flat = sd <= 1e-12 * np.maximum(1.0, np.abs(X).max(axis=0))
    if np.any(flat):
        bad = [names[i] for i in np.flatnonzero(flat)]
        raise ValidationError.for_field("index_returns", f"no variance in {', '.join(bad)}")
    yc = y - y.mean()
    syy = float(yc @ yc)
    if syy <= 1e-24 * n:
        raise ValidationError.for_field("portfolio_returns", "has no variance")
    Xc = X - X.mean(axis=0)
    cond = float(np.linalg.cond(Xc / sd))
    h_ols = _fit(y, X, False)
    h = _fit(y, X, True) if nonnegative else h_ols
    resid = yc - Xc @ h
    ssr = float(resid @ resid)
    dof = n - 1
    resid_vol = math.sqrt(ssr / dof * periods_per_year)
    port_vol = math.sqrt(syy / dof * periods_per_year)
    warnings: list[str] = []
    if nonnegative and np.any(h_ols < 0):
        neg = [names[i] for i in np.flatnonzero(h_ols < 0)]
        warnings.append(
            f"unconstrained mix shorts the hedge on {', '.join(neg)}; constrained to non-negative ratios"
        )
    if cond > 30:
        warnings.append(f"indices are highly collinear (condition number {cond:.0f}); the split is unstable")
    single: dict[str, dict[str, float]] = {}
    for j, name in enumerate(names):
        xj = Xc[:, j]
        b = float(xj @ yc / (xj @ xj))
        if nonnegative:
            b = max(b, 0.0)
        rj = yc - b * xj
        single[name] = {
            "ratio": b,
            "r_squared": 1.0 - float(rj @ rj) / syy,
            "residual_vol": math.sqrt(float(rj @ rj) / dof * periods_per_year),
        }
    return MultiIndexHedge(
        indices=names,
        ratios={nm: float(v) for nm, v in zip(names, h, strict=True)},
        notionals={nm: float(v) * portfolio_value for nm, v in zip(names, h, strict=True)},
        unconstrained_ratios={nm: float(v) for nm, v in zip(names, h_ols, strict=True)},
        r_squared=1.0 - ssr / syy,
        residual_vol=resid_vol,
        portfolio_vol=port_vol,
        basis_risk=resid_vol * math.sqrt(term_years) * portfolio_value,
        single_index=single,
        observations=n,
        condition_number=cond,
        nonnegative=nonnegative,
        warnings=warnings,
    )
