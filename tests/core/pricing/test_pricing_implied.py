"""Implied volatility: round trips, QuantLib agreement, reason codes, American IV."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _pricing_ql import ql, random_cases

from floorguard.core.pricing import (
    REASONS,
    american_price,
    bsm_greeks,
    bsm_price,
    implied_vol,
    implied_vol_details,
)
from floorguard.exceptions import ValidationError

EPS = np.finfo(float).eps


def test_round_trip_1e10_where_vega_above_1e8() -> None:
    """5,000 seeded cases (1-day..3-year, |ln K/S| <= 1.2, vol 1 %..150 %, q > r, r < 0).

    Tolerance: |vol_hat - vol| <= 1e-10 + 16 eps price / vega. The second term
    is the conditioning floor: a double price is known to ~eps * price, which
    moves the vol by eps * price / vega (it only matters in the money, where
    the time value sits far below the price). Out of the money the plain
    1e-10 bound is asserted.
    """
    c = random_cases(5000, seed=101)
    s, t, r, q, v = c["s"], c["t"], c["r"], c["q"], c["v"]
    k = s * np.exp(c["m"])
    price = bsm_price(c["kind"], s, k, t, r, v, q)
    vega = bsm_greeks(c["kind"], s, k, t, r, v, q)["vega"]
    res = implied_vol_details(price, c["kind"], s, k, t, r, q)
    sel = vega > 1e-8
    assert np.all(res.reason[sel] == "ok"), np.unique(res.reason[sel])
    err = np.abs(res.vol - v)
    assert np.all(err[sel] <= 1e-10 + 16 * EPS * price[sel] / vega[sel])
    fwd = s * np.exp((r - q) * t)
    otm = sel & (c["kind"] * (fwd - k) <= 0)
    assert otm.sum() > 1500
    assert np.max(err[otm]) <= 1e-10
    # the price round trip holds everywhere the solver answered
    ok = res.reason == "ok"
    back = bsm_price(c["kind"][ok], s[ok], k[ok], t[ok], r[ok], res.vol[ok], q[ok])
    assert np.all(
        np.abs(back - price[ok])
        <= 1e-12 * np.maximum(price[ok], 1e-300) + 64 * EPS * np.maximum(s[ok], k[ok])
    )


def test_agrees_with_quantlib_black_formula_implied_stddev() -> None:
    """QuantLib blackFormulaImpliedStdDev (accuracy 1e-14) on 300 OTM cases: 1e-9 relative."""
    c = random_cases(300, seed=202)
    s, t, r, q, v = c["s"], c["t"], c["r"], c["q"], np.clip(c["v"], 0.05, 1.0)
    k = s * np.exp(0.5 * c["m"])
    fwd = s * np.exp((r - q) * t)
    kind = np.where(k >= fwd, 1.0, -1.0)
    price = bsm_price(kind, s, k, t, r, v, q)
    ours = implied_vol(price, kind, s, k, t, r, q)
    checked = 0
    for i in range(s.size):
        if price[i] < 1e-8 * s[i]:
            continue
        ot = ql.Option.Call if kind[i] > 0 else ql.Option.Put
        sd = ql.blackFormulaImpliedStdDev(
            ot,
            float(k[i]),
            float(fwd[i]),
            float(price[i]),
            math.exp(-r[i] * t[i]),
            0.0,
            0.2 * math.sqrt(t[i]),
            1e-14,
            200,
        )
        assert ours[i] * math.sqrt(t[i]) == pytest.approx(sd, rel=1e-9), i
        checked += 1
    assert checked > 150


def test_hull_round_trip() -> None:
    """Hull 10th ed. Example 15.6 call (4.76 at 20 %) inverts back to 20 %."""
    p = bsm_price("call", 42, 40, 0.5, 0.10, 0.20)
    assert implied_vol(p, "call", 42, 40, 0.5, 0.10) == pytest.approx(0.20, abs=1e-13)


def test_reason_codes_never_raise_for_bad_prices() -> None:
    s, k, t, r = 100.0, 100.0, 0.5, 0.02
    prices = np.array([5.0, 0.5, 0.0, 150.0, np.nan, -1.0, 5.0, 5.0])
    kinds = np.array(["call"] * 8)
    ks = np.array([k, 80.0, 110.0, 100.0, 100.0, 100.0, 100.0, -5.0])
    ts = np.array([t, t, t, t, t, t, 0.0, t])
    res = implied_vol_details(prices, kinds, s, ks, ts, r)
    assert list(res.reason) == [
        "ok",
        "below_intrinsic",  # 80-strike call worth at least S - K e^{-rt}
        "at_intrinsic",  # zero price of an OTM call: no vol gives it
        "above_upper_bound",  # a call is worth less than the spot
        "invalid_input",
        "invalid_input",
        "zero_time",
        "invalid_input",
    ]
    assert np.isfinite(res.vol[0]) and np.all(np.isnan(res.vol[1:]))
    assert set(res.reason) <= set(REASONS)
    one = implied_vol_details(150.0, "call", 100, 100, 1.0, 0.0)
    assert one.reason == "above_upper_bound" and math.isnan(one.vol)


def test_extreme_but_valid_inputs_converge() -> None:
    s = 100.0
    cases = [
        ("call", 300.0, 0.01, 0.0, 3.0),  # far OTM, 1 % of a year, huge vol
        ("put", 100.0, 1 / 365, 0.05, 0.01),  # 1-day, tiny vol ATM
        ("put", 40.0, 2.0, -0.01, 0.9),
        ("call", 100.0, 30.0, 0.03, 0.6),  # long-dated, price near its bound
    ]
    for kind, k, t, r, vol in cases:
        p = bsm_price(kind, s, k, t, r, vol, 0.02)
        res = implied_vol_details(p, kind, s, k, t, r, 0.02)
        assert res.reason == "ok", (kind, k, t, vol, res)
        assert res.vol == pytest.approx(vol, rel=1e-9)


def test_bad_kind_or_style_raise_validation_error() -> None:
    with pytest.raises(ValidationError) as exc:
        implied_vol(5.0, "straddle", 100, 100, 1, 0)
    assert exc.value.errors[0].field == "kind"
    with pytest.raises(ValidationError) as exc:
        implied_vol(5.0, "call", 100, 100, 1, 0, style="bermudan")
    assert exc.value.errors[0].field == "style"


def test_american_iv_round_trip() -> None:
    rng = np.random.default_rng(7)
    n = 40
    kind = rng.choice(["call", "put"], n)
    k = 100 * np.exp(rng.uniform(-0.3, 0.3, n))
    t = rng.uniform(0.05, 1.5, n)
    r = rng.uniform(0.0, 0.06, n)
    q = rng.uniform(0.0, 0.05, n)
    v = rng.uniform(0.1, 0.6, n)
    price = american_price(kind, 100.0, k, t, r, v, q)
    res = implied_vol_details(price, kind, 100.0, k, t, r, q, style="american")
    assert np.all(res.reason == "ok")
    # price round trip everywhere; vol round trip where the price pins the vol
    back = american_price(kind, 100.0, k, t, r, res.vol, q)
    np.testing.assert_allclose(back, price, rtol=1e-9, atol=1e-11)
    vega = bsm_greeks(kind, 100.0, k, t, r, v, q)["vega"]
    sel = vega > 1e-2
    assert sel.sum() > 30
    np.testing.assert_allclose(res.vol[sel], v[sel], rtol=1e-7)
    # European IV of an American price overstates the vol for puts with early exercise value
    eu = implied_vol(price, kind, 100.0, k, t, r, q)
    assert np.all(eu >= res.vol - 1e-9)


def test_american_iv_reason_codes() -> None:
    # deep ITM put worth exactly intrinsic: vol not identified
    res = implied_vol_details([20.0, 19.0, 130.0], "put", 100.0, 120.0, 0.5, 0.05, style="american")
    assert list(res.reason) == ["at_intrinsic", "below_intrinsic", "above_upper_bound"]
