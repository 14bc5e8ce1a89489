"""Input normalisation shared by the risk kernels (no I/O)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from floorguard._typing import FloatArray
from floorguard.exceptions import ValidationError

__all__ = ["as_returns_1d", "check_level", "check_periods", "check_window"]


def as_returns_1d(
    returns: Any, field: str = "returns", *, min_obs: int = 1
) -> tuple[FloatArray, pd.Index | None]:
    """Return the finite observations of a 1-D return series and their index.

    NaN entries are dropped (explicitly: the caller sees fewer observations);
    infinite values are refused.

    Parameters
    ----------
    returns : array_like or pandas.Series, shape (T,)
        Periodic simple returns as fractions (0.01 = 1 %).
    field : str
        Name used in error messages.
    min_obs : int
        Minimum number of finite observations required.

    Returns
    -------
    values : ndarray, shape (T',)
        The finite returns in their original order.
    index : pandas.Index or None
        The matching index when ``returns`` was a Series, else ``None``.
    """
    index: pd.Index | None = None
    if isinstance(returns, pd.DataFrame):
        if returns.shape[1] != 1:
            raise ValidationError.for_field(field, "must be one series, got a table with several columns")
        returns = returns.iloc[:, 0]
    if isinstance(returns, pd.Series):
        index = returns.index
        try:
            values = returns.to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError) as exc:
            raise ValidationError.for_field(field, "must be numeric") from exc
    else:
        try:
            values = np.asarray(returns, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValidationError.for_field(field, "must be numeric") from exc
    if values.ndim != 1:
        values = np.squeeze(values)
        if values.ndim != 1:
            raise ValidationError.for_field(field, f"must be one-dimensional, got shape {np.shape(returns)}")
    if np.isinf(values).any():
        raise ValidationError.for_field(field, "contains infinite values")
    keep = ~np.isnan(values)
    if not keep.all():
        values = values[keep]
        if index is not None:
            index = index[keep]
    if values.size < min_obs:
        raise ValidationError.for_field(
            field, f"needs at least {min_obs} finite observation(s), got {values.size}"
        )
    if (values <= -1.0).any():
        raise ValidationError.for_field(field, "simple returns must be greater than -1 (-100 %)")
    return values, index


def check_level(level: float, field: str = "level") -> float:
    """Validate a confidence level strictly between 0 and 1."""
    try:
        lv = float(level)
    except (TypeError, ValueError) as exc:
        raise ValidationError.for_field(field, "must be a number") from exc
    if not 0.0 < lv < 1.0:
        raise ValidationError.for_field(field, f"must be strictly between 0 and 1, got {level!r}")
    return lv


def check_periods(periods_per_year: float, field: str = "periods_per_year") -> float:
    """Validate a positive annualisation factor."""
    try:
        p = float(periods_per_year)
    except (TypeError, ValueError) as exc:
        raise ValidationError.for_field(field, "must be a number") from exc
    if not np.isfinite(p) or p <= 0:
        raise ValidationError.for_field(field, f"must be positive, got {periods_per_year!r}")
    return p


def check_window(window: int, n: int, field: str = "window", minimum: int = 2) -> int:
    """Validate a rolling window length against the series length ``n``."""
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)):
        raise ValidationError.for_field(field, "must be an integer")
    if window < minimum:
        raise ValidationError.for_field(field, f"must be at least {minimum}, got {window}")
    if window > n:
        raise ValidationError.for_field(field, f"is longer than the series ({window} > {n} observations)")
    return int(window)
