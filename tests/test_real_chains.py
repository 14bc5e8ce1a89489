"""Real CBOE delayed-quote chains: implied vols and parity forwards.

The files live in ``../shared/data/option_chains`` (tests skip without them).

How the tolerances were chosen
------------------------------
CBOE's IV column is computed by CBOE with its own spot, rate, dividend and
time conventions, which it does not publish, so it is a reference with its
own error. We recompute IVs from the mids with floorguard's conventions
(ACT/365F from the close of the session the quotes come from to the AM/PM
settlement time; forward and dividend yield from put-call parity; rate
implied by the chain for European SPX, settings rate 4 % for American SPY)
and compare on liquid options: ``0.1 <= |delta| <= 0.9`` and ``bid > 0``.

* SPY 2025-05-01, saved 16:49 the same day (quotes and spot synchronous):
  out-of-the-money IVs agree to a median 0.03 vol point and 0.33 points at
  worst, and 99 % of CBOE IVs lie inside our [IV(bid), IV(ask)] band widened
  by 0.25 points. In-the-money options are far more sensitive to the
  forward (their vega is small next to their price: a 1-cent change in the
  forward moves an ITM IV by delta * 0.01 / vega), so the tolerance on all
  liquid options is looser.
* SPY 2025-09-03, saved 09:24 *before the open*: quotes are partly the
  previous close, partly pre-market indications (the parity forward of the
  1-day expiry is 641.7, between the previous close 640.30 and the
  pre-market last 642.65), and CBOE's long-dated rate differs from the 4 %
  settings rate. OTM agreement is a median 0.2 points, 1.4 at worst.
* SPX 2022-02-04, saved on Saturday evening: CBOE's IV column is not
  consistent with the quotes in the same file. Its call and put IVs at the
  same strike differ by a median 4.3 vol points (ours: 0.03 points, as put-
  call parity requires), and for OTM options CBOE's IV lies *below* even the
  IV of our bid in most rows, by an amount shrinking like 1/vega (a constant
  price offset: a stale snapshot). The test therefore asserts our internal
  consistency tightly and the agreement with CBOE only to within the
  measured 1-3 vol points, and checks that the disagreement has that
  stale-snapshot signature rather than being noise.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from floorguard.core.pricing import implied_vol
from floorguard.domain.chains import OptionChain, forward_curve, implied_forward_and_dividend
from floorguard.marketdata.cboe import read_cboe_csv

pytestmark = pytest.mark.shared_data

VOL_PT = 0.01  # one vol point


def _liquid_ivs(chain: OptionChain, style: str, with_band: bool = False) -> pd.DataFrame:
    curve = forward_curve(chain)
    q = chain.quotes.assign(t=chain.quote_t_years(), mid=chain.mid())
    q = q[
        q["expiry"].dt.date.isin(list(curve))
        & (q["t"] > 0)
        & (q["bid"] > 0)
        & q["mid"].notna()
        & q["delta"].abs().between(0.1, 0.9)
        & (q["iv"] > 0)
    ].copy()
    est = [curve[d] for d in q["expiry"].dt.date]
    q["forward"] = [e.forward for e in est]
    rate = np.array([e.rate for e in est])
    div = np.array([e.dividend_yield for e in est])
    args = (q["kind"].to_numpy(), chain.spot, q["strike"].to_numpy(), q["t"].to_numpy(), rate, div)
    q["ours"] = implied_vol(q["mid"].to_numpy(), *args, style=style)
    if with_band:
        q["ours_bid"] = implied_vol(q["bid"].to_numpy(), *args, style=style)
        q["ours_ask"] = implied_vol(q["ask"].to_numpy(), *args, style=style)
    q["otm"] = np.where(q["kind"] == "call", q["strike"] >= q["forward"], q["strike"] < q["forward"])
    q["err"] = (q["ours"] - q["iv"]).abs()
    return q


@pytest.fixture(scope="module")
def spx(spx_chain_file: Path) -> OptionChain:
    return read_cboe_csv(spx_chain_file)


@pytest.fixture(scope="module")
def spy_may(spy_chain_file_may: Path) -> OptionChain:
    return read_cboe_csv(spy_chain_file_may)


@pytest.fixture(scope="module")
def spy_sep(spy_chain_file_sep: Path) -> OptionChain:
    return read_cboe_csv(spy_chain_file_sep)


def test_files_parse(spx: OptionChain, spy_may: OptionChain, spy_sep: OptionChain) -> None:
    assert (spx.underlying, len(spx.quotes), len(spx.expiries())) == ("SPX", 20514, 40)
    assert spx.spot == pytest.approx(4500.5298) and spx.style == "european"
    assert (spy_may.underlying, spy_may.style, len(spy_may.expiries())) == ("SPY", "american", 14)
    assert max(spy_sep.expiries()).isoformat() == "2027-12-17"
    # Each OCC symbol agrees with its row (checked by the reader) and roots are known.
    assert set(spx.quotes["root"]) == {"SPX", "SPXW"}
    # The pre-open September file is valued at the previous close.
    assert spy_sep.spot == pytest.approx(642.65 - 2.355)
    assert spy_sep.quality_flags()["expired"] == 202  # the 2025-09-02 expiry


def test_spy_may_ivs_match_cboe(spy_may: OptionChain) -> None:
    q = _liquid_ivs(spy_may, "american", with_band=True)
    assert len(q) > 1200 and q["ours"].notna().mean() > 0.99
    otm = q[q["otm"]]
    assert otm["err"].median() <= 0.1 * VOL_PT
    assert otm["err"].quantile(0.95) <= 0.25 * VOL_PT
    assert otm["err"].max() <= 0.5 * VOL_PT
    assert q["err"].median() <= 0.25 * VOL_PT
    assert q["err"].quantile(0.90) <= 1.5 * VOL_PT
    lo = q["ours_bid"].fillna(0.0)
    inside = (q["iv"] >= lo - 0.25 * VOL_PT) & (q["iv"] <= q["ours_ask"] + 0.25 * VOL_PT)
    assert inside.mean() >= 0.98


def test_spy_sep_ivs_match_cboe(spy_sep: OptionChain) -> None:
    q = _liquid_ivs(spy_sep, "american")
    assert len(q) > 3000 and q["ours"].notna().mean() > 0.97
    otm = q[q["otm"]]
    assert otm["err"].median() <= 0.4 * VOL_PT
    assert otm["err"].quantile(0.90) <= 0.75 * VOL_PT
    assert otm["err"].max() <= 2.0 * VOL_PT
    assert q["err"].median() <= 0.5 * VOL_PT
    assert q["err"].quantile(0.90) <= 1.5 * VOL_PT


def test_spx_ivs_consistent_and_near_cboe(spx: OptionChain) -> None:
    q = _liquid_ivs(spx, "european")
    assert len(q) > 10_000 and q["ours"].notna().mean() > 0.99
    # Put-call parity consistency of our IVs (same strike, same root and expiry).
    pairs = q[q["kind"] == "call"].merge(q[q["kind"] == "put"], on=["expiry", "root", "strike"], suffixes=("_c", "_p"))
    ours_gap = (pairs["ours_c"] - pairs["ours_p"]).abs()
    cboe_gap = (pairs["iv_c"] - pairs["iv_p"]).abs()
    assert ours_gap.median() <= 0.1 * VOL_PT
    assert cboe_gap.median() >= 3 * VOL_PT  # the file's own call/put IVs disagree
    # Agreement with CBOE for OTM quotes of a week or more.
    otm = q[q["otm"] & (q["t"] >= 7 / 365)]
    assert otm["err"].median() <= 1.5 * VOL_PT
    assert otm["err"].quantile(0.90) <= 3.0 * VOL_PT
    assert otm["err"].max() <= 7.0 * VOL_PT
    # Stale-snapshot signature: ours above CBOE, by less for longer expiries.
    signed = (otm["ours"] - otm["iv"]).groupby(pd.cut(otm["t"], [7 / 365, 0.1, 0.5, 3.0])).median()
    assert (signed > 0).all() and signed.is_monotonic_decreasing


def test_spx_parity_forwards_are_sane(spx: OptionChain) -> None:
    """Forward ~ S exp((r - q) t) with 2022 rates and the S&P 500 dividend yield.

    Early February 2022: Treasury bills 0.05-0.5 %, 2-year note ~1.3 %; S&P 500
    dividend yield ~1.3 %. So r - q lies within about [-1.5 %, +0.5 %].
    """
    ests = [
        implied_forward_and_dividend(spx, e)
        for e in spx.expiries()
        if 30 / 365 <= spx.t_years(e) <= 2.0
    ]
    assert len(ests) >= 20
    regression = [e for e in ests if e.method == "parity_regression"]
    assert len(regression) >= 0.8 * len(ests)
    rates = np.array([e.rate for e in regression])
    divs = np.array([e.dividend_yield for e in regression])
    assert -0.005 <= np.median(rates) <= 0.016
    assert 0.005 <= np.median(divs) <= 0.025
    t = np.array([e.t_years for e in ests])
    lf = np.log(np.array([e.forward for e in ests]) / spx.spot)
    slope, intercept = np.polyfit(t, lf, 1)
    assert -0.015 <= slope <= 0.005  # r - q
    assert abs(intercept) <= 0.005  # quote/spot asynchrony at the close, < 0.5 %
    fitted = spx.spot * np.exp(intercept + slope * t)
    # 0.5 %: one straight line in t cannot follow early 2022's steep rate curve at 2 years.
    assert np.max(np.abs(np.exp(lf) * spx.spot / fitted - 1)) <= 0.005
    for e in regression:
        assert e.forward == pytest.approx(spx.spot * np.exp((e.rate - e.dividend_yield) * e.t_years), rel=1e-12)


def test_spy_parity_forwards_are_sane(spy_sep: OptionChain) -> None:
    """SPY (American): rate from settings (4 %), dividend yield from parity.

    September 2025: T-bills ~4.1-4.3 %, SPY trailing yield ~1.1-1.2 %.
    """
    curve = forward_curve(spy_sep, fallback_rate=0.04)
    long = [e for e in curve.values() if 0.25 <= e.t_years <= 2.5]
    assert all(e.method == "parity_fixed_rate" and e.rate == 0.04 for e in long)
    assert all("settings" in e.note for e in long)
    divs = np.array([e.dividend_yield for e in long])
    assert 0.0 <= np.median(divs) <= 0.02
    t = np.array([e.t_years for e in long])
    slope = np.polyfit(t, np.log(np.array([e.forward for e in long]) / spy_sep.spot), 1)[0]
    assert 0.015 <= slope <= 0.04  # r - q


def test_surface_fits_the_real_spy_chain(spy_may: OptionChain) -> None:
    """SVI slices on SPY 2025-05-01: ATM vols near VIX (24.7 that day), equity skew, fit error."""
    from floorguard.domain.chains import fit_chain_surface

    surface, inputs = fit_chain_surface(spy_may)
    report = surface.fit_report
    assert len(report) >= 10 and inputs.n_dropped["no_iv"] <= 0.02 * inputs.ivs.size
    atm = np.array([r["atm_vol"] for r in report])
    assert np.all((atm > 0.15) & (atm < 0.30))
    assert all(r["skew"] < 0 for r in report)  # put skew of an equity index
    assert np.median([r["rmse"] for r in report]) <= 1.5  # vol points
