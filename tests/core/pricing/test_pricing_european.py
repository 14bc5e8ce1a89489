"""European BSM / Black-76 prices and greeks.

References: Hull, *Options, Futures, and Other Derivatives*, 10th ed.
(Example 15.6; chapter 19 running example; chapter 18 crude-oil futures
option) and QuantLib 1.44's ``BlackCalculator`` / ``AnalyticEuropeanEngine``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from _pricing_ql import black_calculator, ql, random_cases

from floorguard.core.pricing import (
    black76_greeks,
    black76_price,
    bsm_greeks,
    bsm_price,
    put_call_parity_residual,
)
from floorguard.exceptions import ValidationError

GREEKS = ("price", "delta", "gamma", "vega", "theta", "rho", "dividend_rho")


# --------------------------------------------------------------------------- Hull


def test_hull_example_15_6() -> None:
    """Hull 10th ed. Example 15.6: S=42, K=40, r=0.10, sigma=0.20, T=0.5.

    c = 4.76, p = 0.81, d1 = 0.7693.
    """
    assert round(bsm_price("call", 42, 40, 0.5, 0.10, 0.20), 2) == 4.76
    assert round(bsm_price("put", 42, 40, 0.5, 0.10, 0.20), 2) == 0.81
    d1 = (math.log(42 / 40) + (0.10 + 0.02) * 0.5) / (0.2 * math.sqrt(0.5))
    assert round(d1, 4) == 0.7693
    # delta = N(d1) ties our d1 to Hull's
    assert bsm_greeks("call", 42, 40, 0.5, 0.10, 0.20)["delta"] == pytest.approx(
        0.5 * math.erfc(-d1 / math.sqrt(2)), abs=1e-15
    )


def test_hull_chapter_19_greeks() -> None:
    """Hull 10th ed. ch. 19: S=49, K=50, r=5 %, sigma=20 %, T=20 weeks (0.3846): delta 0.522,
    theta -4.31/yr, gamma 0.066, vega 12.1, rho 8.91 (Hull rounds to the digits shown)."""
    g = bsm_greeks("call", 49, 50, 0.3846, 0.05, 0.20)
    assert round(g["delta"], 3) == 0.522
    assert round(g["theta"], 2) == -4.31
    assert round(g["gamma"], 3) == 0.066
    assert round(g["vega"], 1) == 12.1
    assert round(g["rho"], 2) == 8.91
    # Hull's price of this call (section 19.1): about 2.40
    assert round(g["price"], 2) == 2.40


def test_hull_futures_option_black76() -> None:
    """Hull 10th ed. ch. 18: crude-oil futures put, F=K=20, r=9 %, sigma=25 %, T=4 months.

    Put (and call) = 1.12.
    """
    assert round(black76_price("put", 20, 20, 4 / 12, 0.09, 0.25), 2) == 1.12
    assert round(black76_price("call", 20, 20, 4 / 12, 0.09, 0.25), 2) == 1.12


# --------------------------------------------------------------------------- QuantLib


def _scales(s, k, t, r, q, v):
    """Natural magnitude of each output, for the absolute floor of the tolerance."""
    big = np.maximum(s, k)
    return {
        "price": big,
        "delta": np.ones_like(s),
        "gamma": 1.0 / s,
        "vega": big * np.sqrt(t),
        "theta": big * (np.abs(r) + np.abs(q) + v / np.sqrt(t)),
        "rho": big * t,
        "dividend_rho": big * t,
    }


def test_bsm_matches_quantlib_black_calculator() -> None:
    """3,000 seeded cases vs QuantLib BlackCalculator: |ours - QL| <= 1e-10 |QL| + 1e-13 scale.

    The absolute floor: QuantLib evaluates N(x) as 0.5 (1 + erf(x / sqrt 2)),
    whose absolute error is ~1e-16, so its values carry an absolute error of
    about 1e-16 x their natural scale (max(S, K) for prices); below ~1e-6 of
    that scale a 1e-10 relative comparison would test QuantLib's rounding.
    """
    c = random_cases(3000, seed=20240115)
    s, t, r, q, v = c["s"], c["t"], c["r"], c["q"], c["v"]
    k = s * np.exp(c["m"])
    ours = bsm_greeks(c["kind"], s, k, t, r, v, q)
    ref = {g: np.empty(s.size) for g in GREEKS}
    for i in range(s.size):
        vals = black_calculator(c["kind"][i], s[i], k[i], t[i], r[i], v[i], q[i])
        for g in GREEKS:
            ref[g][i] = vals[g]
    scale = _scales(s, k, t, r, q, v)
    for g in GREEKS:
        tol = 1e-10 * np.abs(ref[g]) + 1e-13 * scale[g]
        err = np.abs(ours[g] - ref[g])
        worst = int(np.argmax(err / tol))
        assert np.all(err <= tol), (g, worst, ours[g][worst], ref[g][worst])
    # the cases really cover the edges the issue names
    assert np.sum(c["days"] == 1) > 300
    assert np.sum(q > r) > 1000 and np.sum(r < 0) > 300
    assert np.sum(np.abs(c["m"]) > 1.0) > 300


def test_bsm_matches_quantlib_engine_with_dates() -> None:
    """AnalyticEuropeanEngine with real dates (ACT/365F): 300 cases, same tolerance."""
    c = random_cases(300, seed=7)
    today = ql.Date(15, 1, 2024)
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual365Fixed()
    spot, rq, qq, vq = (ql.SimpleQuote(0.0) for _ in range(4))
    process = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(spot),
        ql.YieldTermStructureHandle(ql.FlatForward(today, ql.QuoteHandle(qq), dc)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, ql.QuoteHandle(rq), dc)),
        ql.BlackVolTermStructureHandle(
            ql.BlackConstantVol(today, ql.NullCalendar(), ql.QuoteHandle(vq), dc)
        ),
    )
    engine = ql.AnalyticEuropeanEngine(process)
    s, r, q, v = c["s"], c["r"], c["q"], c["v"]
    k = s * np.exp(c["m"])
    t = c["days"] / 365.0
    ours = bsm_greeks(c["kind"], s, k, t, r, v, q)
    scale = _scales(s, k, t, r, q, v)
    for i in range(s.size):
        spot.setValue(s[i])
        rq.setValue(r[i])
        qq.setValue(q[i])
        vq.setValue(v[i])
        opt = ql.VanillaOption(
            ql.PlainVanillaPayoff(ql.Option.Call if c["kind"][i] > 0 else ql.Option.Put, k[i]),
            ql.EuropeanExercise(today + int(c["days"][i])),
        )
        opt.setPricingEngine(engine)
        ref = {
            "price": opt.NPV(),
            "delta": opt.delta(),
            "gamma": opt.gamma(),
            "vega": opt.vega(),
            "theta": opt.theta(),
            "rho": opt.rho(),
            "dividend_rho": opt.dividendRho(),
        }
        for g, val in ref.items():
            assert abs(ours[g][i] - val) <= 1e-10 * abs(val) + 1e-13 * scale[g][i], (g, i)


def test_black76_matches_quantlib() -> None:
    """Black-76 vs BlackCalculator on the forward (spot = forward).

    Rho with F fixed = QuantLib's rho + dividend rho.
    """
    c = random_cases(1000, seed=11)
    f, t, r, v = c["s"], c["t"], c["r"], c["v"]
    k = f * np.exp(c["m"])
    ours = black76_greeks(c["kind"], f, k, t, r, v)
    price = black76_price(c["kind"], f, k, t, r, v)
    np.testing.assert_array_equal(price, ours["price"])
    for i in range(f.size):
        payoff = ql.PlainVanillaPayoff(ql.Option.Call if c["kind"][i] > 0 else ql.Option.Put, k[i])
        bc = ql.BlackCalculator(payoff, f[i], v[i] * math.sqrt(t[i]), math.exp(-r[i] * t[i]))
        big = max(f[i], k[i])
        ref = {
            "price": (bc.value(), big),
            "delta": (bc.delta(f[i]), 1.0),
            "gamma": (bc.gamma(f[i]), 1.0 / f[i]),
            "vega": (bc.vega(t[i]), big * math.sqrt(t[i])),
            "theta": (bc.theta(f[i], t[i]), big * (abs(r[i]) + v[i] / math.sqrt(t[i]))),
            "rho": (bc.rho(t[i]) + bc.dividendRho(t[i]), big * t[i]),
        }
        for g, (val, sc) in ref.items():
            assert abs(ours[g][i] - val) <= 1e-10 * abs(val) + 1e-13 * sc, (g, i, ours[g][i], val)


# --------------------------------------------------------------------------- invariants


def test_put_call_parity_invariant() -> None:
    c = random_cases(20000, seed=3)
    s, t, r, q, v = c["s"], c["t"], c["r"], c["q"], c["v"]
    k = s * np.exp(c["m"])
    call = bsm_price("call", s, k, t, r, v, q)
    put = bsm_price("put", s, k, t, r, v, q)
    res = put_call_parity_residual(call, put, s, k, t, r, q)
    assert np.max(np.abs(res) / np.maximum(s, k)) < 1e-14
    # greeks obey parity too: delta_c - delta_p = e^{-qt}, gamma/vega equal
    gc = bsm_greeks("call", s, k, t, r, v, q)
    gp = bsm_greeks("put", s, k, t, r, v, q)
    np.testing.assert_allclose(gc["delta"] - gp["delta"], np.exp(-q * t), atol=1e-14)
    np.testing.assert_allclose(gc["gamma"], gp["gamma"], rtol=1e-15, atol=0)
    np.testing.assert_allclose(gc["vega"], gp["vega"], rtol=1e-15, atol=0)
    assert np.all(np.abs(gc["rho"] - gp["rho"] - k * t * np.exp(-r * t)) <= 1e-13 * k * t)


def test_greeks_match_finite_differences() -> None:
    """Central differences of bsm_price agree with the analytic greeks (units check)."""
    s, k, t, r, v, q = 100.0, 95.0, 0.75, 0.03, 0.25, 0.01
    g = bsm_greeks("put", s, k, t, r, v, q)
    h = 1e-4

    def p(**kw):
        a = {"spot": s, "strike": k, "t": t, "rate": r, "vol": v, "dividend": q} | kw
        return bsm_price("put", a["spot"], a["strike"], a["t"], a["rate"], a["vol"], a["dividend"])

    assert g["delta"] == pytest.approx((p(spot=s + h) - p(spot=s - h)) / (2 * h), rel=1e-7)
    assert g["gamma"] == pytest.approx(
        (p(spot=s + 1e-2) - 2 * p() + p(spot=s - 1e-2)) / 1e-4, rel=1e-5
    )
    assert g["vega"] == pytest.approx((p(vol=v + h) - p(vol=v - h)) / (2 * h), rel=1e-7)
    assert g["theta"] == pytest.approx(-(p(t=t + h) - p(t=t - h)) / (2 * h), rel=1e-7)
    assert g["rho"] == pytest.approx((p(rate=r + h) - p(rate=r - h)) / (2 * h), rel=1e-7)
    assert g["dividend_rho"] == pytest.approx(
        (p(dividend=q + h) - p(dividend=q - h)) / (2 * h), rel=1e-7
    )


def test_price_bounds_and_monotonicity() -> None:
    c = random_cases(5000, seed=5)
    s, t, r, q, v = c["s"], c["t"], c["r"], c["q"], c["v"]
    k = s * np.exp(c["m"])
    for kind, sign in (("call", 1.0), ("put", -1.0)):
        p = bsm_price(kind, s, k, t, r, v, q)
        lower = np.maximum(sign * (s * np.exp(-q * t) - k * np.exp(-r * t)), 0.0)
        upper = s * np.exp(-q * t) if sign > 0 else k * np.exp(-r * t)
        assert np.all(p >= lower - 1e-12 * np.maximum(s, k))
        assert np.all(p <= upper * (1 + 1e-15))
        assert np.all(bsm_price(kind, s, k, t, r, v * 1.01, q) >= p - 1e-13 * np.maximum(s, k))


# --------------------------------------------------------------------------- edges


def test_edges_are_exact_limits_without_warnings() -> None:
    s = np.array([100.0, 100.0, 100.0, 100.0, 100.0, 100.0])
    k = np.array([80.0, 120.0, 100.0, 1e-8, 1e12, 100.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # t = 0: intrinsic
        np.testing.assert_array_equal(
            bsm_price("call", s, k, 0.0, 0.05, 0.2), np.maximum(s - k, 0.0)
        )
        np.testing.assert_array_equal(
            bsm_price("put", s, k, 0.0, 0.05, 0.2), np.maximum(k - s, 0.0)
        )
        # vol = 0: discounted intrinsic of the forward
        t, r, q = 0.5, 0.04, 0.01
        fwd_call = np.maximum(s * np.exp(-q * t) - k * np.exp(-r * t), 0.0)
        np.testing.assert_allclose(
            bsm_price("call", s, k, t, r, 0.0, q), fwd_call, rtol=1e-15, atol=0
        )
        # huge and tiny strikes: no NaN; deep ITM call -> S e^{-qt} - K e^{-rt}
        p = bsm_price("call", 100.0, np.array([1e-300, 1e-8, 1e12, 1e300]), 1.0, 0.05, 0.3)
        assert np.all(np.isfinite(p))
        assert p[0] == pytest.approx(100.0, rel=1e-15) and p[2] == 0.0 and p[3] == 0.0
        g = bsm_greeks("call", s, k, 0.0, 0.05, 0.2)
        for name, val in g.items():
            assert np.all(np.isfinite(val)), name
        np.testing.assert_array_equal(g["gamma"], 0.0)
        np.testing.assert_array_equal(g["delta"], [1.0, 0.0, 0.5, 1.0, 0.0, 0.5])
        g0 = bsm_greeks("put", s, k, 1.0, 0.05, 0.0)
        assert all(np.all(np.isfinite(v)) for v in g0.values())
        # tiny positive vol and huge vol
        assert np.isfinite(bsm_price("call", 100.0, 101.0, 1.0, 0.0, 1e-300))
        assert bsm_price("call", 100.0, 100.0, 1.0, 0.0, 1e6) == pytest.approx(100.0, rel=1e-12)
        gh = bsm_greeks("call", 100.0, 100.0, 1.0, 0.0, 1e200)
        assert all(math.isfinite(v) for v in gh.values())


def test_negative_rates_and_dividend_above_rate() -> None:
    """Negative rate and q > r: parity holds and the call is below the forward bound."""
    c = bsm_price("call", 100, 100, 2.0, -0.01, 0.2, 0.05)
    p = bsm_price("put", 100, 100, 2.0, -0.01, 0.2, 0.05)
    assert c - p == pytest.approx(100 * math.exp(-0.1) - 100 * math.exp(0.02), abs=1e-12)


def test_scalar_and_broadcast_shapes() -> None:
    assert isinstance(bsm_price("call", 100, 100, 1, 0.01, 0.2), float)
    out = bsm_price(
        np.array(["call", "put"])[:, None], 100.0, np.array([90.0, 100.0, 110.0]), 1.0, 0.01, 0.2
    )
    assert out.shape == (2, 3)
    assert bsm_price(np.array([1, -1]), 100.0, 100.0, 1.0, 0.0, 0.2).shape == (2,)
    g = bsm_greeks("call", [100.0, 101.0], 100.0, 1.0, 0.0, 0.2)
    assert set(g) == set(GREEKS) and g["vega"].shape == (2,)
    assert bsm_price("C", 100, 100, 1, 0, 0.2) == bsm_price("call", 100, 100, 1, 0, 0.2)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"kind": "straddle"}, "kind"),
        ({"kind": np.array(["call", "cal"])}, "kind"),
        ({"spot": -1.0}, "spot"),
        ({"spot": float("nan")}, "spot"),
        ({"strike": 0.0}, "strike"),
        ({"t": -0.1}, "t"),
        ({"vol": -0.2}, "vol"),
        ({"rate": float("inf")}, "rate"),
        ({"dividend": "abc"}, "dividend"),
        ({"strike": np.ones(3), "spot": np.ones(2)}, "shape"),
    ],
)
def test_bad_input_names_the_field(kwargs: dict, field: str) -> None:
    args = {
        "kind": "call",
        "spot": 100.0,
        "strike": 100.0,
        "t": 1.0,
        "rate": 0.01,
        "vol": 0.2,
        "dividend": 0.0,
    }
    args.update(kwargs)
    with pytest.raises(ValidationError) as exc:
        bsm_price(**args)
    assert exc.value.errors[0].field == field
