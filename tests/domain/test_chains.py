"""OptionChain helpers, parity forwards, synthetic chains and surface inputs.

References: put-call parity ``C - P = e^{-rt}(F - K)`` (Hull, ch. 11) on
exact Black-Scholes-Merton quotes; the robust line fit against statsmodels'
``RLM`` with ``HuberT(1.345)`` (its default MAD scale).
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from floorguard.core.pricing import american_price, bsm_price, implied_vol
from floorguard.domain.chains import (
    QUOTE_COLUMNS,
    OptionChain,
    SpreadModel,
    _huber_line,
    chain_to_surface_inputs,
    forward_curve,
    implied_forward_and_dividend,
    normalise_quotes,
    synthetic_chain,
)
from floorguard.domain.contracts import get_contract_spec, listed_expiry_table, listed_strikes, tick_size
from floorguard.exceptions import DataError, ValidationError

AS_OF = pd.Timestamp("2022-02-04 16:00", tz="America/New_York")


class FlatSurface:
    """Test double with the VolSurface interface: one vol everywhere."""

    def __init__(self, vol: float) -> None:
        self.sigma = vol

    def vol(self, strike, t_years, forward):  # noqa: ANN001, ANN201
        return np.full(np.broadcast(np.asarray(strike), np.asarray(t_years)).shape, self.sigma)


def _bsm_chain(r: float = 0.03, q: float = 0.01, spot: float = 4500.0, half_spread: float = 0.05) -> OptionChain:
    """European SPXW quotes, bid/ask symmetric around exact BSM prices."""
    spec = get_contract_spec("SPXW")
    rows = []
    for exp in (dt.date(2022, 3, 18), dt.date(2022, 6, 30)):
        t = (pd.Timestamp(dt.datetime.combine(exp, dt.time(16)), tz="America/New_York") - AS_OF).total_seconds() / (
            365 * 86400
        )
        for k in np.arange(4000.0, 5001.0, 25.0):
            for kind in ("call", "put"):
                p = float(bsm_price(kind, spot, k, t, r, 0.2, q))
                rows.append(
                    {"expiry": exp, "strike": k, "kind": kind, "bid": max(p - half_spread, 0.0), "ask": p + half_spread,
                     "iv": 0.2, "root": "SPXW", "symbol": ""}
                )
    return OptionChain("SPX", spot, AS_OF, pd.DataFrame(rows), "cboe_csv", spec=spec)


def test_normalise_quotes_and_validation() -> None:
    df = pd.DataFrame({"expiry": ["2022-03-18"], "strike": [4500], "kind": ["P"], "bid": [1.0], "ask": [1.2]})
    out = normalise_quotes(df)
    assert list(out.columns) == list(QUOTE_COLUMNS)
    assert out.loc[0, "kind"] == "put" and math.isnan(out.loc[0, "iv"])
    with pytest.raises(ValidationError, match="missing columns: ask"):
        normalise_quotes(df.drop(columns="ask"))
    with pytest.raises(ValidationError, match=r"quotes\.0\.kind"):
        normalise_quotes(df.assign(kind="straddle"))
    with pytest.raises(ValidationError, match=r"quotes\.0\.strike"):
        normalise_quotes(df.assign(strike=-1))
    with pytest.raises(ValidationError, match=r"quotes\.0\.bid"):
        normalise_quotes(df.assign(bid=-1))
    with pytest.raises(ValidationError, match="as_of"):
        OptionChain("SPX", 4500, pd.Timestamp("2022-02-04"), df, "cboe_csv")
    with pytest.raises(ValidationError, match="spot"):
        OptionChain("SPX", 0, AS_OF, df, "cboe_csv")
    with pytest.raises(ValidationError, match="synthetic"):
        OptionChain("SPX", 4500, AS_OF, df, "synthetic", synthetic=False)
    with pytest.raises(ValidationError, match="source"):
        OptionChain("SPX", 4500, AS_OF, df, "bloomberg")
    with pytest.raises(DataError, match="no quotes"):
        OptionChain("SPX", 4500, AS_OF, df.iloc[0:0], "cboe_csv")


def test_helpers_mid_slice_liquid_flags() -> None:
    df = pd.DataFrame(
        {
            "expiry": ["2022-02-07", "2022-02-07", "2022-03-18", "2022-03-18", "2022-02-04"],
            "strike": [4500, 4500, 4400, 4600, 4500],
            "kind": ["call", "put", "put", "call", "call"],
            "bid": [10.0, 0.0, 5.0, 3.0, 1.0],
            "ask": [10.5, 0.1, 4.0, 9.0, 1.1],
            "open_interest": [100, 5, np.nan, 1000, 1],
            "iv": [0.2, 0.0, 0.2, np.nan, 0.2],
            "root": "SPXW",
        }
    )
    chain = OptionChain("SPX", 4500, AS_OF, df, "cboe_csv", spec=get_contract_spec("SPXW"))
    np.testing.assert_allclose(chain.mid().to_numpy(), [10.25, 0.05, np.nan, 6.0, 1.05])
    assert chain.expiries() == [dt.date(2022, 2, 4), dt.date(2022, 2, 7), dt.date(2022, 3, 18)]
    assert len(chain.slice(expiry="2022-02-07").quotes) == 2
    assert len(chain.slice(kind="put", strikes=(4000, 4450)).quotes) == 1
    liquid = chain.liquid(max_spread_pct=0.5, min_open_interest=10)
    assert liquid.quotes["strike"].tolist() == [4500.0]  # crossed, no-bid, wide, expired, low-OI dropped
    flags = chain.quality_flags()
    assert flags == {
        "expired": 1, "crossed": 1, "no_bid": 1, "no_ask": 0, "wide_spread": 2, "missing_iv": 2, "below_intrinsic": 0,
    }
    with pytest.raises(DataError, match="no quotes"):
        chain.slice(root="SPX")
    with pytest.raises(ValidationError, match="kind"):
        chain.slice(kind="both")
    with pytest.raises(ValidationError, match="expiry"):
        chain.t_years("2030-01-01")
    s = chain.summary()
    assert s["n_quotes"] == 5 and s["quality_flags"] == flags and s["label"] == "cboe_csv"


def test_parity_recovers_rate_forward_and_dividend_exactly() -> None:
    r, q, spot = 0.03, 0.01, 4500.0
    chain = _bsm_chain(r, q, spot)
    for exp in chain.expiries():
        t = chain.t_years(exp)
        est = implied_forward_and_dividend(chain, exp)
        assert est.method == "parity_regression" and est.n_pairs == 20
        assert est.forward == pytest.approx(spot * math.exp((r - q) * t), rel=1e-10)
        assert est.rate == pytest.approx(r, abs=1e-8)
        assert est.dividend_yield == pytest.approx(q, abs=1e-8)
        fixed = implied_forward_and_dividend(chain, exp, rate=r)
        assert fixed.method == "parity_fixed_rate"
        assert fixed.forward == pytest.approx(spot * math.exp((r - q) * t), rel=1e-10)
        assert fixed.dividend_yield == pytest.approx(q, abs=1e-9)


def test_parity_is_robust_to_a_bad_quote_and_falls_back() -> None:
    chain = _bsm_chain()
    q = chain.quotes.copy()
    bad = (q["strike"] == 4500) & (q["kind"] == "call") & (q["expiry"] == pd.Timestamp("2022-06-30"))
    q.loc[bad, ["bid", "ask"]] += 15.0  # one stale quote, 15 points off
    dirty = OptionChain("SPX", 4500.0, AS_OF, q, "cboe_csv", spec=chain.spec)
    clean = implied_forward_and_dividend(chain, "2022-06-30", rate=0.03)
    est = implied_forward_and_dividend(dirty, "2022-06-30", rate=0.03)
    assert abs(est.forward - clean.forward) < 0.05  # Huber: the outlier gets little weight
    # Too few two-sided pairs: settings rate and dividend, said so.
    thin = q[(q["expiry"] == pd.Timestamp("2022-03-18")) & (q["strike"] <= 4025)]
    one = OptionChain("SPX", 4500.0, AS_OF, thin, "cboe_csv", spec=chain.spec)
    fb = implied_forward_and_dividend(one, "2022-03-18", fallback_rate=0.02, fallback_dividend=0.013)
    t = one.t_years("2022-03-18")
    assert fb.method == "settings" and "settings" in fb.note and fb.n_pairs == 2
    assert fb.forward == pytest.approx(4500 * math.exp((0.02 - 0.013) * t), rel=1e-14)
    with pytest.raises(ValidationError, match="rate"):
        implied_forward_and_dividend(chain, "2022-06-30", rate=float("nan"))


def test_forward_curve_uses_one_chain_rate() -> None:
    chain = _bsm_chain(0.025, 0.012)
    curve = forward_curve(chain)
    assert [e.rate for e in curve.values()] == pytest.approx([0.025, 0.025], abs=1e-8)
    assert all("median parity-implied rate" in e.note for e in curve.values())


def test_huber_line_matches_statsmodels_rlm() -> None:
    rng = np.random.default_rng(7)
    x = np.linspace(4300.0, 4700.0, 25)
    y = 0.99 * (4490.0 - x) + rng.normal(0, 0.1, x.size)
    y[3] += 5.0
    y[17] -= 3.0
    a, b, _ = _huber_line(x, y)
    ref = sm.RLM(y, sm.add_constant(x), M=sm.robust.norms.HuberT(t=1.345)).fit(conv="coefs", tol=1e-13, maxiter=500)
    assert a == pytest.approx(ref.params[0], abs=1e-4)
    assert b == pytest.approx(ref.params[1], abs=1e-8)


def test_synthetic_chain_is_listed_priced_and_labelled() -> None:
    spec = get_contract_spec("SPXW")
    r, q, s0, vol = 0.01, 0.013, 4500.0, 0.2
    chain = synthetic_chain(spec, s0, AS_OF, FlatSurface(vol), r, q, horizon_days=60, width=0.2)
    assert chain.synthetic and chain.source == "synthetic" and chain.label.startswith("SYNTHETIC")
    assert any("SYNTHETIC" in n for n in chain.notes)
    assert chain.summary()["synthetic"] is True
    table = listed_expiry_table(spec, "2022-02-04", "2022-04-05", as_of="2022-02-04")
    table = table[table["settles_at"] > AS_OF]  # 2022-02-04 itself settled at 16:00
    assert chain.expiries() == sorted(set(table["expiry"]))
    quotes = chain.quotes
    assert quotes["volume"].isna().all() and quotes["open_interest"].isna().all()
    first = chain.slice(expiry=chain.expiries()[0], kind="put").quotes
    t0 = chain.t_years(chain.expiries()[0])
    fwd = s0 * math.exp((r - q) * t0)
    np.testing.assert_array_equal(first["strike"].to_numpy(), listed_strikes(spec, fwd, width=0.2))
    # bid <= model <= ask, on the tick grid, spread per the documented model
    t = chain.quote_t_years()
    model = bsm_price(quotes["kind"].to_numpy(), s0, quotes["strike"].to_numpy(), t, r, vol, q)
    assert np.all(quotes["bid"] <= model + 1e-12) and np.all(model <= quotes["ask"] + 1e-12)
    ticks = np.array([tick_size(spec, p) for p in quotes["ask"]])
    assert np.allclose(np.round(quotes["ask"] / ticks), quotes["ask"] / ticks, atol=1e-6)
    spread = quotes["ask"] - quotes["bid"]
    assert np.all(spread <= 0.03 * model + 2 * 0.10 + 2 * 0.10 + 1e-9)
    # the mid's implied vol is the surface vol within the half-spread's vol width
    liquid = (quotes["bid"] > 0).to_numpy()
    iv = implied_vol(chain.mid().to_numpy()[liquid], quotes["kind"].to_numpy()[liquid], s0,
                     quotes["strike"].to_numpy()[liquid], t[liquid], r, q)
    assert np.nanmedian(np.abs(iv - vol)) < 2e-3
    # parity on the synthetic chain recovers the inputs' forward
    est = implied_forward_and_dividend(chain, chain.expiries()[-1], rate=r)
    assert est.forward == pytest.approx(s0 * math.exp((r - q) * est.t_years), rel=2e-5)


def test_synthetic_american_chain_uses_american_prices() -> None:
    spec = get_contract_spec("SPY")
    chain = synthetic_chain(spec, 450.0, "2025-05-01 10:00", FlatSurface(0.18), 0.05, 0.0, horizon_days=40,
                            width=0.12, spread=SpreadModel(rel=0.0, min_ticks=0))
    q = chain.quotes
    t = chain.quote_t_years()
    am = american_price(q["kind"].to_numpy(), 450.0, q["strike"].to_numpy(), t, 0.05, 0.18, 0.0)
    eu = bsm_price(q["kind"].to_numpy(), 450.0, q["strike"].to_numpy(), t, 0.05, 0.18, 0.0)
    # zero spread: bid/ask are the American price rounded to the penny
    assert np.max(np.abs(chain.mid().to_numpy() - am)) <= 0.01 + 1e-12
    deep_puts = (q["kind"] == "put") & (q["strike"] > 500)
    assert np.all(am >= eu - 1e-9)  # early-exercise premium never negative
    assert np.max(am[deep_puts] - eu[deep_puts]) > 0.1  # and worth something for deep puts at r = 5 %
    assert chain.as_of.tzinfo is not None and str(chain.as_of.tz) == "America/New_York"


def test_synthetic_chain_bad_input() -> None:
    spec = get_contract_spec("SPX")
    with pytest.raises(ValidationError, match="spot"):
        synthetic_chain(spec, -1.0, AS_OF, FlatSurface(0.2), 0.01)
    with pytest.raises(ValidationError, match="rate"):
        synthetic_chain(spec, 4500.0, AS_OF, FlatSurface(0.2), float("inf"))
    with pytest.raises(DataError, match="lists no expiries"):
        synthetic_chain(spec, 4500.0, AS_OF, FlatSurface(0.2), 0.01, horizon_days=5)


def test_surface_inputs_from_a_synthetic_chain() -> None:
    spec = get_contract_spec("SPXW")
    chain = synthetic_chain(spec, 4500.0, AS_OF, FlatSurface(0.2), 0.01, 0.013, horizon_days=120, width=0.15)
    inputs = chain_to_surface_inputs(chain)
    assert inputs.ivs.size > 100
    assert np.median(np.abs(inputs.ivs - 0.2)) < 2e-3
    for exp, est in inputs.forwards_by_expiry.items():
        assert est.forward == pytest.approx(4500.0 * math.exp((0.01 - 0.013) * est.t_years), rel=5e-5), exp
    # OTM only: puts below the forward, calls above
    assert inputs.strikes.shape == inputs.forwards.shape == inputs.weights.shape == inputs.expiry_t.shape
    assert np.all(inputs.weights > 0)


def test_synthetic_chain_round_trips_through_the_surface_fit() -> None:
    """ModelSurface -> synthetic quotes -> implied vols -> SVI fit recovers the model.

    Tolerances: ATM vol within 0.1 vol point and ATM skew within 5 % (the
    tick-rounded bid/ask of the synthetic quotes is the only noise).
    """
    from floorguard.core.pricing import ModelSurface

    from floorguard.domain.chains import fit_chain_surface

    model = ModelSurface(0.2, skew=-0.8, term_slope=0.02, curvature=0.4)
    chain = synthetic_chain(get_contract_spec("SPXW"), 4500.0, AS_OF, model, 0.01, 0.013, horizon_days=120, width=0.25)
    surface, inputs = fit_chain_surface(chain)
    assert len(surface.fit_report) == len(inputs.forwards_by_expiry) >= 10
    for row in surface.fit_report:
        if row["t"] < 7 / 365:
            continue
        f, t = row["forward"], row["t"]
        assert row["atm_vol"] == pytest.approx(float(model.vol(f, t, f)), abs=1e-3)
        assert row["skew"] == pytest.approx(-0.8 * math.sqrt((30 / 365) / t), rel=0.05)
        assert row["rmse"] < 0.2 and row["butterfly_ok"] and row["calendar_ok"]


def test_replace_does_not_share_derived_caches() -> None:
    import dataclasses

    chain = _bsm_chain()
    t_before = chain.quote_t_years()
    earlier = dataclasses.replace(chain, as_of=AS_OF - pd.Timedelta(hours=2))  # Friday 14:00, in session
    assert np.allclose(chain.quote_t_years(), t_before)
    assert np.allclose(earlier.quote_t_years(), t_before + 2 / (365 * 24))
    # a Saturday time stamp is valued at Friday's close
    weekend = dataclasses.replace(chain, as_of=AS_OF + pd.Timedelta(days=1))
    assert weekend.valuation_time == AS_OF and np.allclose(weekend.quote_t_years(), t_before)


def test_synthetic_nifty_chain_uses_the_nse_calendar_and_strikes() -> None:
    spec = get_contract_spec("NIFTY")
    as_of = pd.Timestamp("2025-10-01 10:00", tz="Asia/Kolkata")
    chain = synthetic_chain(spec, 24_700.0, as_of, FlatSurface(0.12), 0.055, 0.012, horizon_days=35, width=0.05)
    exps = chain.expiries()
    # Tuesday weeklies; 2025-10-21 (Diwali, an NSE holiday) moves to Monday 2025-10-20.
    assert dt.date(2025, 10, 20) in exps and dt.date(2025, 10, 21) not in exps
    assert all(d.weekday() == 1 for d in exps if d != dt.date(2025, 10, 20))
    assert set(np.unique(chain.quotes["strike"] % 50)) == {0.0}
    assert chain.quotes["root"].eq("NIFTY").all() and chain.spec.currency == "INR"
    # Settlement at 15:30 IST: t from 10:00 to 15:30 on the first Tuesday (7 Oct) = 6 days + 5.5 h.
    assert chain.t_years("2025-10-07") == pytest.approx((6 * 24 + 5.5) / (365 * 24))


def test_synthetic_chain_stops_where_the_holiday_calendar_ends() -> None:
    spec = get_contract_spec("NIFTY")
    as_of = pd.Timestamp("2026-12-01 10:00", tz="Asia/Kolkata")
    chain = synthetic_chain(spec, 26_000.0, as_of, FlatSurface(0.12), 0.055, 0.012, horizon_days=90, width=0.03)
    assert max(chain.expiries()) <= dt.date(2026, 12, 31)
    assert any("calendar ends" in n for n in chain.notes)
    with pytest.raises(DataError, match="calendar ends"):
        synthetic_chain(spec, 26_000.0, "2027-02-01 10:00", FlatSurface(0.12), 0.055, 0.012)
