"""Data-quality report: NaN, non-positive, stale and gap issues, counted by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from floorguard.marketdata import BundledSource, check_quality


def _frame() -> pd.DataFrame:
    idx = pd.bdate_range("2024-01-01", periods=12)
    a = [10, 11, np.nan, np.nan, 12, 12, 12, 12, 12, 13, -1, 14]
    b = [np.nan, np.nan, 5, 6, 7, 8, 9, 10, 11, 12, 13, np.nan]  # leading/trailing NaN: not listed yet
    return pd.DataFrame({"A": a, "B": b}, index=idx, dtype="float64")


def test_counts_by_hand() -> None:
    r = check_quality(_frame(), stale_days=5, max_gap_days=4)
    a = {(i.kind, i.start.date().isoformat(), i.count) for i in r.for_symbol("A")}
    assert a == {
        ("nan", "2024-01-03", 2),
        ("stale", "2024-01-05", 5),   # 12 on five consecutive observations
        ("non_positive", "2024-01-15", 1),
    }  # 01-02 -> 01-05 around the NaNs is 3 calendar days: not a gap
    assert r.flags("B") == []
    assert r.n_observations == {"A": 10, "B": 9}
    assert not r.ok and r.counts()["nan"] == 1


def test_gap_by_hand() -> None:
    s = pd.Series([1.0, 2.0, 3.0, 4.0], index=pd.to_datetime(["2024-01-02", "2024-01-05", "2024-01-12", "2024-01-13"]))
    r = check_quality(s.rename("X"), max_gap_days=4)
    assert [(i.kind, i.start.date().isoformat(), i.end.date().isoformat(), i.count) for i in r.issues] == [
        ("gap", "2024-01-05", "2024-01-12", 7)
    ]


def test_stale_threshold_from_settings_value() -> None:
    r4 = check_quality(_frame()[["A"]], stale_days=6)
    assert "stale" not in r4.flags("A")  # a run of 5 is below 6


def test_nothing_dropped() -> None:
    frame = _frame()
    before = frame.copy()
    check_quality(frame)
    pd.testing.assert_frame_equal(frame, before)


def test_bad_threshold() -> None:
    with pytest.raises(ValueError):
        check_quality(_frame(), stale_days=1)


def test_bundled_known_closures_are_gaps() -> None:
    """9/11 (2001-09-10 -> 09-17), the 2007-01-02 national day of mourning and
    hurricane Sandy (2012-10-26 -> 10-31) are the three SPX gaps."""
    r = BundledSource().quality(["SPX"])
    gaps = [(i.start.date().isoformat(), i.end.date().isoformat()) for i in r.for_symbol("SPX")]
    assert gaps == [("2001-09-10", "2001-09-17"), ("2006-12-29", "2007-01-03"), ("2012-10-26", "2012-10-31")]
    d = r.to_dict()
    assert d["counts"]["gap"] == 3 and d["issues"][0]["kind"] == "gap"
