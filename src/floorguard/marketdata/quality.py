"""Data-quality checks of price histories: reported, never silently fixed.

Four kinds of issue are detected per symbol, inside the span from its first
to its last valid observation (before its first observation a symbol is
simply not listed yet, which is not an issue):

``nan``
    a missing close on a date where the frame has a row;
``non_positive``
    a close ``<= 0`` (impossible for a price or an index level);
``stale``
    a run of at least ``stale_days`` consecutive observations with exactly the
    same close (``Settings.stale_price_days``);
``gap``
    two consecutive observations more than ``max_gap_days`` calendar days apart
    (a normal weekend plus a one-day holiday is 4 days; 9/11 2001 and
    hurricane Sandy 2012 show up as gaps, as they should).

Nothing is removed from the data: callers decide.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

__all__ = ["DataQualityReport", "QualityIssue", "check_quality", "IssueKind"]

IssueKind = Literal["nan", "non_positive", "stale", "gap"]


@dataclass(frozen=True)
class QualityIssue:
    """One run of flawed observations of one symbol.

    Parameters
    ----------
    symbol : str
        Ticker.
    kind : {"nan", "non_positive", "stale", "gap"}
        What is wrong.
    start, end : pandas.Timestamp
        First and last date concerned (for a gap: the two observations around it).
    count : int
        Observations concerned (for ``gap``: calendar days between the two
        observations).
    """

    symbol: str
    kind: IssueKind
    start: pd.Timestamp
    end: pd.Timestamp
    count: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "kind": self.kind,
            "start": self.start.date().isoformat(),
            "end": self.end.date().isoformat(),
            "count": int(self.count),
        }


@dataclass(frozen=True)
class DataQualityReport:
    """Every quality issue found in a price frame, with the thresholds used.

    Parameters
    ----------
    issues : tuple of QualityIssue
        In symbol order, then date order.
    stale_days : int
        Minimum run of unchanged closes reported as stale.
    max_gap_days : int
        Largest calendar distance between observations not reported as a gap.
    n_observations : dict
        Valid observations per symbol.
    """

    issues: tuple[QualityIssue, ...]
    stale_days: int
    max_gap_days: int
    n_observations: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when no issue was found."""
        return not self.issues

    def for_symbol(self, symbol: str) -> list[QualityIssue]:
        """Issues of one symbol."""
        return [i for i in self.issues if i.symbol == symbol]

    def counts(self, symbol: str | None = None) -> dict[str, int]:
        """Number of issue runs per kind (all symbols, or one)."""
        out = {"nan": 0, "non_positive": 0, "stale": 0, "gap": 0}
        for issue in self.issues:
            if symbol is None or issue.symbol == symbol:
                out[issue.kind] += 1
        return out

    def flags(self, symbol: str) -> list[str]:
        """Kinds of issue present for ``symbol`` (``[]`` when clean)."""
        return [k for k, n in self.counts(symbol).items() if n]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "stale_days": self.stale_days,
            "max_gap_days": self.max_gap_days,
            "counts": self.counts(),
            "issues": [i.to_dict() for i in self.issues],
        }


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive ``(first, last)`` index pairs of True runs in a boolean array."""
    if not mask.any():
        return []
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    diff = np.diff(padded)
    starts = np.flatnonzero(diff == 1)
    ends = np.flatnonzero(diff == -1) - 1
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def check_quality(
    prices: pd.DataFrame | pd.Series,
    *,
    stale_days: int = 5,
    max_gap_days: int = 4,
) -> DataQualityReport:
    """Find NaN, non-positive, stale and gap issues in daily closes.

    Parameters
    ----------
    prices : DataFrame (n_dates, n_symbols) or Series
        Closes with a DatetimeIndex.
    stale_days : int
        A run of at least this many identical consecutive closes is stale
        (``>= 2``).
    max_gap_days : int
        Consecutive observations further apart than this many calendar days
        form a gap.

    Returns
    -------
    DataQualityReport
    """
    if stale_days < 2:
        raise ValueError("stale_days must be >= 2")
    frame = prices.to_frame() if isinstance(prices, pd.Series) else prices
    issues: list[QualityIssue] = []
    n_obs: dict[str, int] = {}
    for symbol in frame.columns:
        col = frame[symbol].astype("float64")
        first, last = col.first_valid_index(), col.last_valid_index()
        if first is None:
            n_obs[str(symbol)] = 0
            if len(col):
                issues.append(
                    QualityIssue(str(symbol), "nan", frame.index[0], frame.index[-1], len(col))
                )
            continue
        span = col.loc[first:last]
        idx = span.index
        values = span.to_numpy()
        n_obs[str(symbol)] = int(np.isfinite(values).sum())
        nan_mask = np.isnan(values)
        for a, b in _runs(nan_mask):
            issues.append(QualityIssue(str(symbol), "nan", idx[a], idx[b], b - a + 1))
        with np.errstate(invalid="ignore"):
            nonpos = ~nan_mask & (np.where(nan_mask, 1.0, values) <= 0.0)
        for a, b in _runs(nonpos):
            issues.append(QualityIssue(str(symbol), "non_positive", idx[a], idx[b], b - a + 1))
        valid = span.dropna()
        v = valid.to_numpy()
        if len(v) >= stale_days:
            same = np.concatenate([[False], v[1:] == v[:-1]])
            # a run of k "same as previous" flags means k + 1 identical closes
            for a, b in _runs(same):
                length = b - a + 2
                if length >= stale_days:
                    issues.append(
                        QualityIssue(str(symbol), "stale", valid.index[a - 1], valid.index[b], length)
                    )
        if len(valid) >= 2:
            days = np.diff(valid.index.to_numpy()).astype("timedelta64[D]").astype(np.int64)
            for i in np.flatnonzero(days > max_gap_days).tolist():
                issues.append(
                    QualityIssue(str(symbol), "gap", valid.index[i], valid.index[i + 1], int(days[i]))
                )
    issues.sort(key=lambda i: (i.symbol, i.start, i.kind))
    return DataQualityReport(tuple(issues), stale_days, max_gap_days, n_obs)
