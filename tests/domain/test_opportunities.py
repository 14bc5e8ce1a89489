"""Risk windows, expiry choice, the section 20.3 score and the section 20.9 KPIs.

References: the score and KPIs are checked by hand on small cases (formulas of
seed sections 20.3 and 20.9, exact to 1e-12); the index move band against
``scipy.stats.lognorm`` quantiles (rel 1e-10); the drawdown band is the
backtest's reflection-principle band (same function, checked by the forecast
engineer against Shreve, Cor. 7.2.2).
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from scipy import stats

from floorguard.domain.opportunities import (
    CandidateScore,
    EventInput,
    SignalInputs,
    build_risk_windows,
    candidate_expiries,
    hedge_cost_efficiency,
    hedge_kpis,
    hit_rate,
    over_hedge_ratio,
    projected_variance,
    rank_candidates,
    recommendation_table,
    score_hedge,
    structure_note,
    theta_decay,
)
from floorguard.exceptions import ValidationError

AS_OF = dt.date(2023, 1, 3)  # a Tuesday


def signals(**kw: object) -> SignalInputs:
    h = 21
    base = dict(
        as_of=AS_OF, horizon_days=h, term_vol=[0.20] * h, term_vol_lower=[0.15] * h, term_vol_upper=[0.28] * h,
        band=(0.05, 0.95), long_run_vol=0.18, realised_vol=0.19,
    )
    base.update(kw)
    return SignalInputs(**base)  # type: ignore[arg-type]


def cand(structure: str, score: float, premium: float = 100.0, expiry: dt.date = dt.date(2023, 2, 3)) -> CandidateScore:
    return CandidateScore(
        expiry=expiry, structure=structure, put_strike=3600.0, call_strike=None, instrument="SPX", premium=premium,
        coverage_pct=100.0, breakeven=3900.0, es_unhedged=1000.0, es_gross=600.0, es_hedged=700.0, es_reduction=400.0,
        residual_risk=700.0, score=score, projected_variance=0.004, theta={}, role="covering", term_days=31,
        floor_pct=0.9,
    )


# ------------------------------------------------------------------------------ score


def test_score_by_hand() -> None:
    # ES unhedged 10,000; hedged net of premium 6,000; premium 1,500 (seed 20.3):
    # gross hedged ES = 6,000 - 1,500 = 4,500; reduction = 10,000 - 4,500 = 5,500;
    # score = (5,500 - 1,500) / 6,000 = 2/3
    s = score_hedge(10_000.0, 6_000.0, 1_500.0, 100_000.0)
    assert s["es_gross"] == 4_500.0 and s["es_reduction"] == 5_500.0 and s["residual_risk"] == 6_000.0
    assert s["score"] == pytest.approx(2.0 / 3.0, rel=1e-12)
    # the numerator is the net ES improvement es_u - es_h whatever the premium (a credit included)
    for prem in (-200.0, 0.0, 750.0):
        t = score_hedge(8_000.0, 5_000.0, prem, 50_000.0)
        assert t["es_reduction"] - prem == pytest.approx(3_000.0, rel=1e-12)


def test_score_residual_floor_and_validation() -> None:
    s = score_hedge(1_000.0, 0.0, 10.0, 100_000.0)
    assert s["residual_risk"] == pytest.approx(0.1) and s["score"] == pytest.approx(1_000.0 / 0.1)
    with pytest.raises(ValidationError) as e:
        score_hedge(float("nan"), 1.0, 1.0, 1.0)
    assert e.value.errors[0].field == "es_unhedged"
    with pytest.raises(ValidationError):
        score_hedge(1.0, 1.0, 1.0, 0.0)


def test_ranking_and_feedback_nudge() -> None:
    a, b = cand("protective_put", 0.50), cand("collar", 0.48)
    assert [c.structure for c in rank_candidates([b, a])] == ["protective_put", "collar"]
    # an investor who keeps accepting collars and rejecting puts: 0.48*1.1 > 0.50*0.9
    nudged = rank_candidates([a, b], {"collar": 1.0, "protective_put": -1.0})
    assert [c.structure for c in nudged] == ["collar", "protective_put"]
    assert nudged[0].score == 0.48  # the reported score stays the model's
    rows = recommendation_table(nudged)
    assert list(rows[0]) == ["Expiry", "Structure", "Put Strike", "Call Strike", "Premium", "Coverage%", "Breakeven",
                             "Score"]
    assert rows[0]["Expiry"] == "2023-02-03"


def test_theta_and_variance() -> None:
    t = theta_decay(1_000.0, 650.0)
    assert t == {"decay": 350.0, "decay_share": 0.35, "residual_value": 650.0}
    assert math.isnan(theta_decay(0.0, 0.0)["decay_share"])
    assert projected_variance(0.2, 0.25) == pytest.approx(0.01, rel=1e-12)
    with pytest.raises(ValidationError):
        projected_variance(-0.1, 1.0)


# ------------------------------------------------------------------------------ expiries


def test_candidate_expiries_cover_the_window_plus_neighbours() -> None:
    listed = [dt.date(2023, 1, d) for d in (6, 13, 20, 27)] + [dt.date(2023, 2, 3)]
    assert candidate_expiries(listed, AS_OF, dt.date(2023, 1, 18)) == [
        dt.date(2023, 1, 13), dt.date(2023, 1, 20), dt.date(2023, 1, 27)]
    # the first listed expiry already covers: no "before"
    assert candidate_expiries(listed, AS_OF, dt.date(2023, 1, 5)) == [dt.date(2023, 1, 6), dt.date(2023, 1, 13)]
    # the last one covers: no "after"
    assert candidate_expiries(listed, AS_OF, dt.date(2023, 2, 1)) == [dt.date(2023, 1, 27), dt.date(2023, 2, 3)]
    with pytest.raises(ValidationError) as e:
        candidate_expiries(listed, AS_OF, dt.date(2023, 3, 1))
    assert e.value.errors[0].field == "expiries"


# ------------------------------------------------------------------------------ windows


def test_windows_cover_event_dates_and_merge_clusters() -> None:
    evs = [
        EventInput(dt.date(2023, 1, 12), "cpi", "CPI release", 0.011, 1.4),
        EventInput(dt.date(2023, 1, 13), "earnings", "JPM earnings", 0.02, 2.0, "JPM"),
        EventInput(dt.date(2023, 2, 1), "fomc", "FOMC statement", 0.012, 1.5),
        EventInput(dt.date(2023, 3, 22), "fomc", "FOMC statement", 0.012, 1.5),  # beyond the horizon
        EventInput(dt.date(2022, 12, 14), "fomc", "FOMC statement", 0.012, 1.5),  # past
    ]
    ws = build_risk_windows(signals(), evs)
    assert [w.id for w in ws] == ["w1", "w2"]
    covered = [e for w in ws for e in w.events]
    assert {e.date for e in covered} == {dt.date(2023, 1, 12), dt.date(2023, 1, 13), dt.date(2023, 2, 1)}
    for w in ws:
        assert w.start > AS_OF
        for e in w.events:
            assert w.start <= e.date <= w.end
    assert len(ws[0].events) == 2  # CPI and the next day's earnings merge
    assert ws[0].start == dt.date(2023, 1, 11) and ws[0].end == dt.date(2023, 1, 17)
    assert "CPI release" in ws[0].reason and ws[1].reason.startswith("FOMC")
    # trading days are weekdays from as_of to the end (Jan 3 -> Jan 17: 10)
    assert ws[0].trading_days == 10


def test_window_bands_match_lognormal_quantiles() -> None:
    ws = build_risk_windows(signals(credit_multiplier=1.21), [])
    assert len(ws) == 1 and ws[0].events == []
    w = ws[0]
    sigma = 0.20 * math.sqrt(1.21)
    t = w.trading_days / 252
    ref = stats.lognorm(s=sigma * math.sqrt(t), scale=math.exp(-0.5 * sigma**2 * t))
    assert w.move_band[0] == pytest.approx(ref.ppf(0.05) - 1.0, rel=1e-10)
    assert w.move_band[1] == pytest.approx(ref.ppf(0.95) - 1.0, rel=1e-10)
    assert w.vol_band == (0.15, 0.20, 0.28)
    assert w.drawdown_band[0] < w.drawdown_band[1] <= 0.0
    # the credit driver is present and the severity combines drivers as 1 - prod(1 - s_i)
    assert any(d.kind == "credit" for d in w.drivers)
    assert w.severity == pytest.approx(1 - np.prod([1 - d.severity for d in w.drivers]), rel=1e-12)


def test_quiet_state_has_a_baseline_window_and_state_drivers_when_stressed() -> None:
    quiet = build_risk_windows(signals(term_vol=[0.15] * 21), [])
    assert quiet[0].drivers == [] and quiet[0].severity == 0.0 and "baseline" in quiet[0].reason
    loud = build_risk_windows(signals(p_high_vol=0.8, corr_high=True, tail_heavy=True, tail_xi=0.3,
                                      sentiment={"AAPL": -0.4, "MSFT": 0.2}), [])
    kinds = {d.kind for d in loud[0].drivers}
    assert {"regime", "correlation", "tail", "sentiment", "volatility"} <= kinds
    assert loud[0].drivers[0].severity == max(d.severity for d in loud[0].drivers)


def test_signal_validation_names_the_field() -> None:
    with pytest.raises(ValidationError) as e:
        signals(term_vol=[0.2] * 5)
    assert e.value.errors[0].field == "term_vol"
    with pytest.raises(ValidationError) as e:
        signals(credit_multiplier=0.0)
    assert e.value.errors[0].field == "credit_multiplier"


# ------------------------------------------------------------------------------ KPIs


def test_kpis_by_hand() -> None:
    # (unhedged ES - hedged ES) / premium = (10,000 - 4,000) / 2,000 = 3
    assert hedge_cost_efficiency(10_000.0, 4_000.0, 2_000.0) == 3.0
    assert math.isnan(hedge_cost_efficiency(1.0, 0.5, 0.0))
    # two of three windows inside their band
    assert hit_rate([(-0.03, -0.08, -0.01), (-0.10, -0.08, -0.01), (-0.01, -0.08, -0.01)]) == pytest.approx(2 / 3)
    assert math.isnan(hit_rate([]))
    # 300 of 500 premium spent in windows shallower than 5 %
    assert over_hedge_ratio([(100.0, -0.02), (200.0, -0.049), (200.0, -0.09)], 0.05) == pytest.approx(0.6)
    k = hedge_kpis(top_candidate=cand("protective_put", 0.5, premium=200.0), window_outcomes=[(-0.02, -0.05, -0.01)],
                   premium_outcomes=[(200.0, -0.02)], over_hedge_threshold=0.05, n_recommendations=4, n_accepted=2,
                   n_rejected=1, n_bound=1, drift_alerts=3)
    # efficiency uses the ES before the premium: (1,000 - 600) / 200 = 2
    assert k.hedge_cost_efficiency == 2.0 and k.hit_rate == 1.0 and k.over_hedge_ratio == 1.0
    assert k.user_adoption == 0.25 and k.drift_alerts == 3 and "estimate" in k.label


def test_structure_notes_follow_the_tail_estimates() -> None:
    assert "low" in structure_note("put_spread", 0.02, False)
    assert "elevated" in structure_note("put_spread", 0.2, False)
    assert "fat loss tail" in structure_note("tail_hedge", None, True)
    assert "finances" in structure_note("collar", None, False)
