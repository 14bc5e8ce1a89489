"""The dashboard's own JSON: valuation with quality flags, and the drawdown curve.

References
----------
* The drawdown curve's minimum is checked against empyrical-reloaded's
  ``max_drawdown`` of the same weighted daily returns (independent code;
  tolerance 1e-12, both are exact cumulative products) and against the risk
  service's ``measures.max_drawdown`` for the same window (1e-12).
* The curve itself is checked point by point against a plain-Python loop
  (wealth / running peak - 1, the starting value counting as a peak), 1e-12.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from floorguard.domain.portfolio import Portfolio, Position
from floorguard.exceptions import ValidationError
from floorguard.web._data import drawdown_payload, valuation_payload

HOLDINGS = [("AAPL", 300), ("MSFT", 150), ("JPM", 200), ("JNJ", 150), ("XOM", 250), ("PG", 150)]


@pytest.fixture
def market_ctx(settings: Any) -> Any:
    from floorguard.services.context import AppContext

    context = AppContext(settings)
    yield context
    context.close()


def _portfolio() -> Portfolio:
    return Portfolio("web test", tuple(Position(s, q) for s, q in HOLDINGS))


def _loop_drawdown(returns: np.ndarray) -> list[float]:
    wealth, peak, out = 1.0, 1.0, []
    for r in returns:
        wealth *= 1.0 + r
        peak = max(peak, wealth)
        out.append(wealth / peak - 1.0)
    return out


def test_drawdown_curve_matches_empyrical_and_the_risk_report(market_ctx: Any) -> None:
    import empyrical

    from floorguard.services.risk import RiskMetricsService

    pf = _portfolio()
    report = RiskMetricsService(market_ctx).report(pf)
    md = report["metadata"]
    start = dt.date.fromisoformat(md["window"]["start"])
    end = dt.date.fromisoformat(md["window"]["end"])
    out = drawdown_payload(market_ctx, pf, list(md["public_positions"]), start, end)

    assert out["observations"] == md["observations"] == len(out["dates"]) == len(out["drawdown"])
    assert out["start"] == md["window"]["start"] and out["end"] == md["window"]["end"]
    assert sum(out["weights"].values()) == pytest.approx(1.0, abs=1e-12)
    assert out["max_drawdown"] == pytest.approx(report["measures"]["max_drawdown"], abs=1e-12)

    # independent rebuild of the weighted returns, then empyrical and a loop
    prices = market_ctx.market_data().price_history(
        list(out["weights"]), start - dt.timedelta(days=10), end
    )
    rets = (prices / prices.shift(1) - 1.0).iloc[1:]
    rets = rets.loc[
        (rets.index >= pd.Timestamp(start)) & (rets.index <= pd.Timestamp(end))
    ].dropna()
    w = np.array([out["weights"][s] for s in rets.columns])
    rp = rets.to_numpy() @ w
    assert empyrical.max_drawdown(rp) == pytest.approx(out["max_drawdown"], abs=1e-12)
    np.testing.assert_allclose(out["drawdown"], _loop_drawdown(rp), rtol=0, atol=1e-12)
    assert max(out["drawdown"]) <= 0.0


def test_drawdown_refuses_bad_requests_naming_the_field(market_ctx: Any) -> None:
    pf = _portfolio()
    start, end = dt.date(2021, 1, 4), dt.date(2022, 12, 28)
    with pytest.raises(ValidationError) as exc:
        drawdown_payload(market_ctx, pf, ["AAPL", "TSLA"], start, end)
    assert exc.value.errors[0].field == "symbols" and "TSLA" in exc.value.errors[0].reason
    with pytest.raises(ValidationError) as exc:
        drawdown_payload(market_ctx, pf, [], start, end)
    assert exc.value.errors[0].field == "symbols"
    with pytest.raises(ValidationError) as exc:
        drawdown_payload(market_ctx, pf, ["AAPL"], end, start)
    assert exc.value.errors[0].field == "start"


def test_valuation_carries_provenance_age_and_weights(market_ctx: Any) -> None:
    pf = _portfolio()
    out = valuation_payload(market_ctx, pf, today=dt.date(2023, 1, 3))
    assert [p["symbol"] for p in out["positions"]] == [s for s, _ in HOLDINGS]
    assert sum(p["weight"] for p in out["positions"]) == pytest.approx(1.0, abs=1e-12)
    assert out["net_value"] == pytest.approx(sum(p["value"] for p in out["positions"]), rel=1e-12)
    for p in out["positions"]:
        assert p["price_source"] == "bundled"
        assert p["price_as_of"] == "2022-12-28"
        assert p["age_days"] == 6  # 2022-12-28 -> 2023-01-03
        assert p["value"] == pytest.approx(p["quantity"] * p["price"], rel=1e-12)
        # six days > settings.stale_price_days (5): the price itself is old
        assert "old_price" in p["flags"]
    fresh = valuation_payload(market_ctx, pf, today=dt.date(2022, 12, 30))
    assert all("old_price" not in p["flags"] for p in fresh["positions"])


def test_quality_flags_report_stale_runs_and_gaps_from_history(
    settings: Any, tmp_path: Path
) -> None:
    from floorguard.services.context import AppContext

    dates = pd.bdate_range("2024-01-01", "2024-03-29")
    rng = np.random.default_rng(3)
    flat = 100.0 * np.cumprod(1 + rng.normal(0, 0.01, dates.size))
    flat[20:28] = flat[19]  # eight unchanged closes: stale (>= 5)
    gappy = 50.0 * np.cumprod(1 + rng.normal(0, 0.01, dates.size))
    frame = pd.DataFrame({"date": dates.strftime("%Y-%m-%d"), "FLAT": flat, "GAPPY": gappy})
    frame = frame.drop(index=range(40, 47))  # a 9-business-day hole in both
    path = tmp_path / "prices.csv"
    frame.to_csv(path, index=False)
    ctx = AppContext(
        settings.model_copy(update={"market_data_sources": ["csv"], "csv_data_path": path})
    )
    try:
        pf = Portfolio(
            "csv", (Position("FLAT", 10), Position("GAPPY", 20), Position("PRIV", 1, price=1000.0))
        )
        out = valuation_payload(ctx, pf, today=dt.date(2024, 4, 1))
    finally:
        ctx.close()
    by = {p["symbol"]: p for p in out["positions"]}
    assert "stale" in by["FLAT"]["flags"] and "gap" in by["FLAT"]["flags"]
    assert "gap" in by["GAPPY"]["flags"] and "stale" not in by["GAPPY"]["flags"]
    # a user-given price has no history to check and no age
    assert by["PRIV"]["price_source"] == "user" and by["PRIV"]["flags"] == []
    kinds = {i["kind"] for i in out["quality"]["issues"]["FLAT"]}
    assert kinds == {"stale", "gap"}
    assert out["quality"]["stale_days"] == settings.stale_price_days


def test_payoff_curve_follows_hull_capm_and_the_engines_worst_case(market_ctx: Any) -> None:
    """Hull (8th ed., 17.4): V_T/V_0 - 1 = rT + beta (x + q_m T - rT) - q_p T (growth terms
    compounded as the draft says); hedged = V_T + sum of leg intrinsics - premium.
    Checked by hand at every grid point (1e-9 relative), and the curve's minimum
    against the insurance engine's own ``worst_hedged_value`` (1e-9 relative)."""
    import math

    from floorguard.services.insurance import QuoteRequest, quote_policy
    from floorguard.web._data import payoff_curve_payload

    draft = quote_policy(
        market_ctx, _portfolio(), QuoteRequest(floor_pct=0.9, term_days=60)
    ).to_dict()
    out = payoff_curve_payload(draft)
    a = draft["assumptions"]
    T, r, qm, qp = a["t_years"], a["rate"], a["index_dividend_yield"], a["portfolio_dividend_yield"]

    def growth(rate: float) -> float:
        return math.expm1(rate * T) if a["compounding"] == "continuous" else rate * T

    v0, beta, s0 = draft["portfolio_value"], draft["beta"], draft["underlying_level"]
    for x, level, unhedged, hedged in zip(
        out["index_returns"], out["index_levels"], out["unhedged"], out["hedged"], strict=True
    ):
        assert level == pytest.approx(s0 * (1 + x), rel=1e-12)
        expected = v0 * (1 + growth(r) + beta * (x + growth(qm) - growth(r)) - growth(qp))
        assert unhedged == pytest.approx(expected, rel=1e-9)
        payoff = 0.0
        for leg in draft["legs"]:
            intrinsic = (
                max(leg["strike"] - level, 0.0)
                if leg["kind"] == "put"
                else max(level - leg["strike"], 0.0)
            )
            payoff += (
                (1 if leg["side"] == "long" else -1)
                * leg["contracts"]
                * leg["multiplier"]
                * intrinsic
            )
        assert hedged == pytest.approx(expected + payoff - draft["premium_net"], rel=1e-9)
    # the put strike is on the grid, so the kink (the engine's worst case) is drawn exactly
    assert min(out["hedged"]) == pytest.approx(draft["analytics"]["worst_hedged_value"], rel=1e-9)
    assert out["floor_value"] == pytest.approx(0.9 * v0, rel=1e-12)


def test_payoff_curve_refuses_a_draft_without_assumptions() -> None:
    from floorguard.web._data import payoff_curve_payload

    with pytest.raises(ValidationError) as exc:
        payoff_curve_payload({"portfolio_value": 1.0})
    assert exc.value.errors
