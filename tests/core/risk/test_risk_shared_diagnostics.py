"""``hybrid_betas`` shares the factor diagnostics; every result equals ``hybrid_beta``'s.

The factor set is the same for every position of a report, so its VIF,
condition number, orthogonalised factors and OLS normal matrix are computed
once per set of complete rows (:class:`floorguard.core.risk._beta._FactorDesign`)
instead of once per asset. Reuse must change nothing: results are compared
with the one-asset path **exactly** (same floats, same warnings), NaN equal
to NaN. The shared VIF and condition number are also compared exactly with
``variance_inflation_factors`` / ``condition_number`` on each asset's own
aligned rows (those two are checked against statsmodels and numpy.linalg.cond
in test_risk_vs_libraries.py, rel 1e-9).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from floorguard.core import risk
from floorguard.core.risk import _beta


def _same(a: Any, b: Any) -> bool:
    """Exact equality of nested results, NaN equal to NaN."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(type(a) is type(b) and a == b)


def _data(collinear: bool, n: int = 400) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(7)
    m = rng.normal(0.0, 0.01, n)
    size = (0.97 * m + 0.002 * rng.normal(0, 1, n)) if collinear else rng.normal(0.0, 0.005, n)
    value = rng.normal(0.0, 0.004, n)
    value[:5] = np.nan  # a factor with a late start: common to every asset
    factors = {"market": m, "size": size, "value": value}
    assets: dict[str, np.ndarray] = {}
    for i in range(6):
        assets[f"A{i}"] = (0.6 + 0.2 * i) * m + 0.3 * value + rng.normal(0, 0.006, n)
    assets["GAP"] = assets["A0"].copy()
    assets["GAP"][100:120] = np.nan  # its own missing days: a different set of rows
    assets["GAP2"] = assets["A1"].copy()
    assets["GAP2"][100:120] = np.nan  # the same rows as GAP: shares GAP's design
    assets["SHORT"] = np.full(n, np.nan)
    assets["SHORT"][-40:] = assets["A2"][-40:]  # short window
    assets["TINY"] = np.full(n, np.nan)
    assets["TINY"][-5:] = 0.01  # too few rows for the factors
    assets["INF"] = assets["A3"].copy()
    assets["INF"][10] = np.inf  # refused by the alignment: hybrid_beta decides
    assets["EMPTY"] = np.full(n, np.nan)  # no history at all: default beta
    return assets, m, factors


@pytest.mark.parametrize("collinear", [False, True])
@pytest.mark.parametrize("remedy", [None, "orthogonal", "ridge"])
def test_shared_results_equal_per_asset(collinear: bool, remedy: str | None) -> None:
    assets, m, factors = _data(collinear)
    shared = risk.hybrid_betas(assets, m, factors, cap=3.0, remedy=remedy)  # type: ignore[arg-type]
    assert list(shared) == list(assets)
    for sym, y in assets.items():
        one = risk.hybrid_beta(y, m, factors, cap=3.0, remedy=remedy)  # type: ignore[arg-type]
        assert _same(shared[sym].to_dict(), one.to_dict()), sym
    # the paths exercised are the interesting ones (not all trivially the same)
    sources = {s: r.beta_source for s, r in shared.items()}
    assert sources["EMPTY"] == "default" and sources["TINY"] == "single_factor"
    flags = {r.quality_flag for r in shared.values()}
    assert "short_window" in flags and "failed" in flags
    if collinear:
        assert shared["A0"].quality_flag == "multicollinear"
        assert shared["A0"].beta_source == ("single_factor" if remedy is None else "multivariate")
    else:
        assert shared["A0"].beta_source == "multivariate"


def test_reused_vif_and_condition_number_equal_per_asset_diagnostics() -> None:
    """Diagnostics computed once and handed to every asset equal each asset's own computation."""
    assets, m, factors = _data(collinear=False)
    shared = risk.hybrid_betas(assets, m, factors)
    F = np.column_stack(list(factors.values()))
    for sym in ("A0", "A4", "GAP", "GAP2", "SHORT"):
        mv = shared[sym].multivariate
        assert mv is not None
        own = risk.factor_regression(assets[sym], factors)  # aligns and computes its own diagnostics
        assert mv.raw_vif == own.raw_vif and mv.vif == own.vif and mv.condition_number == own.condition_number
        keep = ~np.isnan(np.column_stack([assets[sym], F])).any(axis=1)
        X = F[keep]
        vif = risk.variance_inflation_factors(X)
        assert list(mv.raw_vif.values()) == vif.tolist()
        assert mv.condition_number == risk.condition_number(X)


def test_designs_are_shared_per_set_of_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """VIF runs once per distinct set of complete rows, not once per asset."""
    assets, m, factors = _data(collinear=False)
    calls: list[int] = []
    real = _beta.variance_inflation_factors

    def counting(X: np.ndarray) -> np.ndarray:
        calls.append(X.shape[0])
        return real(X)

    monkeypatch.setattr(_beta, "variance_inflation_factors", counting)
    risk.hybrid_betas({k: assets[k] for k in ("A0", "A1", "A2", "A3", "GAP", "GAP2")}, m, factors)
    # A0..A3 share the factors' rows, GAP and GAP2 share theirs: two designs
    assert sorted(calls) == [375, 395]


def test_pandas_and_refused_inputs_take_the_one_asset_path() -> None:
    assets, m, factors = _data(collinear=False)
    idx = pd.bdate_range("2021-01-01", periods=m.size)
    F = pd.DataFrame(factors, index=idx)
    ys = {s: pd.Series(assets[s], index=idx) for s in ("A0", "GAP")}
    shared = risk.hybrid_betas(ys, F["market"], F)
    for s, y in ys.items():
        assert _same(shared[s].to_dict(), risk.hybrid_beta(y, F["market"], F).to_dict())
    # bad cap: hybrid_beta's handling (both regressions refuse it -> default beta) is kept
    bad = risk.hybrid_betas({"A0": assets["A0"]}, m, factors, cap=-1.0)["A0"]
    assert _same(bad.to_dict(), risk.hybrid_beta(assets["A0"], m, factors, cap=-1.0).to_dict())
    assert bad.beta_source == "default"
    # no market factor among the factors, and no factors at all
    no_mkt = {k: v for k, v in factors.items() if k != "market"}
    for fac in (no_mkt, None):
        got = risk.hybrid_betas({"A0": assets["A0"]}, m, fac)["A0"]
        assert _same(got.to_dict(), risk.hybrid_beta(assets["A0"], m, fac).to_dict())
        assert got.beta_source == "single_factor"


def test_historical_stress_array_slicing_equals_pandas_reindexing() -> None:
    """One shared sorted index: windows are array slices; results equal the pandas path exactly."""
    from floorguard.core.risk import _stress

    rng = np.random.default_rng(11)
    idx = pd.bdate_range("2007-01-02", "2023-01-31")
    m = pd.Series(rng.normal(0.0, 0.012, idx.size), index=idx)
    m.loc[pd.Timestamp("2008-06-02")] = np.nan  # a missing market day inside the 2008 window
    cols = {"A": 1.2 * m + rng.normal(0, 0.01, idx.size), "B": 0.7 * m + rng.normal(0, 0.008, idx.size)}
    frame = pd.DataFrame(cols, index=idx)
    frame.loc[pd.Timestamp("2020-03-02"), "B"] = np.nan  # B has a gap in the 2020 window: proxied there
    weights = {"A": 0.5, "B": 0.3, "C": 0.2}  # C has no column: proxied through its beta
    assert _stress._shared_dates(frame, m) is not None
    fast = risk.historical_stress(weights, frame, m, portfolio_value=1e6, betas={"C": 0.8},
                                  hedge_payoff=lambda r: -2e5 * min(r, 0.0))
    shuffled = frame.sample(frac=1.0, random_state=3)  # another row order: pandas reindexes each window
    assert _stress._shared_dates(shuffled, m) is None
    slow = risk.historical_stress(weights, shuffled, m, portfolio_value=1e6, betas={"C": 0.8},
                                  hedge_payoff=lambda r: -2e5 * min(r, 0.0))
    assert len(fast) == 3
    for a, b in zip(fast, slow, strict=True):
        assert _same(a.to_dict(), b.to_dict()), a.key
    assert fast[0].proxied == ("C",) and fast[1].proxied == ("B", "C")
    import dataclasses

    assert _same(fast[1].to_dict(), {**dataclasses.asdict(fast[1]), "proxied": ["B", "C"]})
