"""The opportunity service on the bundled history (clock 2022-06-01): models as artefacts,
reproducibility, windows over events, score reconciliation, scenario, backtest, audit, feedback.

References: the stored-model path is checked against ``arch``'s own fit on the
same data (next-day vol, rel 1e-9) and statsmodels' filtered regime
probability at the fit (abs 1e-6); the backtest cash flows reconcile exactly
(premium paid − payoffs received = −hedge P&L = −Σ leg P&L, abs 1e-6).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx
import numpy as np
import pytest
import sqlalchemy as sa

from floorguard.domain.portfolio import Position
from floorguard.exceptions import NotFoundError, ValidationError
from floorguard.persistence.opportunities import ForecastModelRow, OpportunityAudit
from floorguard.services import opportunities as svc

DAY = dt.date(2022, 6, 1)
POS = [Position("AAPL", 400), Position("MSFT", 200), Position("JPM", 300)]
EVENTS = "date,type,name,symbol\n2022-06-10,cpi,CPI May 2022,\n2022-07-14,earnings,JPM Q2 earnings,JPM\n"


@pytest.fixture()
def clocked(ctx: Any) -> Any:
    ctx.resources["clock"] = lambda: dt.datetime(2022, 6, 1, 20, 0, tzinfo=dt.UTC)
    return ctx


def _req(**kw: Any) -> svc.OpportunityRequest:
    base: dict[str, Any] = {"structures": ("protective_put",), "n_paths": 2000, "seed": 11, "events_csv": EVENTS}
    base.update(kw)
    return svc.OpportunityRequest(**base)


def test_models_are_versioned_artefacts_and_scoring_filters_the_stored_version(clocked: Any) -> None:
    from floorguard.core.forecast import fit_garch

    first = svc.fit_forecast_models(clocked, as_of=DAY)
    second = svc.fit_forecast_models(clocked, as_of=DAY)
    assert [m["version"] for m in first] == [1, 1] and [m["version"] for m in second] == [2, 2]
    g = svc.latest_model(clocked, svc.GARCH_NAME, as_of=DAY)
    assert g is not None and g["version"] == 2 and g["data_end"] == "2022-06-01" and g["n_obs"] == svc.GARCH_WINDOW
    assert set(g["params"]["values"]) == {"mu", "omega", "alpha[1]", "gamma[1]", "beta[1]", "nu"}
    assert svc.latest_model(clocked, svc.GARCH_NAME, as_of=dt.date(2022, 5, 31)) is None
    closes = svc._index_closes(clocked, DAY)
    r = svc._log_returns(closes)[-svc.GARCH_WINDOW:]
    direct = fit_garch(r, "gjr", "t")
    stored = svc._garch_from_stored(g, r)
    assert stored.next_day_vol == pytest.approx(direct.next_day_vol, rel=1e-9)
    np.testing.assert_allclose(stored.conditional_vol, direct.conditional_vol, rtol=1e-9)
    m = svc.latest_model(clocked, svc.REGIME_NAME, as_of=DAY)
    assert m is not None
    x = svc._log_returns(closes)[-svc.REGIME_WINDOW:]
    assert svc._regime_p_high(m, x) == pytest.approx(m["metrics"]["p_high_vol_at_fit"], abs=1e-6)
    # scoring uses the stored version: no refit, its version is reported
    out = svc.opportunities(clocked, POS, _req())
    assert [(x["name"], x["version"]) for x in out["models"]] == [(svc.GARCH_NAME, 2), (svc.REGIME_NAME, 2)]
    assert not any("fitted now" in w for w in out["warnings"])
    with clocked.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(ForecastModelRow)) == 4


def test_fixed_seed_identical_windows_cover_events_and_scores_reconcile(clocked: Any) -> None:
    a = svc.opportunities(clocked, POS, _req())
    cached = svc.opportunities(clocked, POS, _req())
    assert any("reused" in w for w in cached["warnings"]) and cached["recommendations"] == a["recommendations"]
    clocked.resources.pop("opportunity_cache")  # recompute everything: same seed, same numbers
    b = svc.opportunities(clocked, POS, _req())
    assert not any("reused" in w for w in b["warnings"])
    assert a["windows"] == b["windows"] and a["recommendations"] == b["recommendations"]
    assert a["narrative"]["text"] == b["narrative"]["text"] and a["recommendation_id"] == b["recommendation_id"]
    assert a["as_of"] == "2022-06-01" and "estimate" in a["label"]
    json.dumps(a, allow_nan=False)  # JSON-ready: undefined figures are null, never NaN
    # the CPI release (user file) and the FOMC statement of 2022-06-15 (shipped calendar) are inside windows
    covered = {e["date"] for w in a["windows"] for e in w["events"]}
    assert {"2022-06-10", "2022-06-15"} <= covered
    for w in a["windows"]:
        for e in w["events"]:
            assert w["start"] <= e["date"] <= w["end"]
    cands = a["recommendations"]["candidates"]
    assert cands and {c["role"] for c in cands} <= {"before", "covering", "after"}
    v0 = a["portfolio"]["value"]
    for c in cands:
        # Score = (ES reduction - premium) / residual risk, ES gross = ES hedged - premium
        assert c["es_gross"] == pytest.approx(c["es_hedged"] - c["premium"], rel=1e-12)
        assert c["es_reduction"] == pytest.approx(c["es_unhedged"] - c["es_gross"], rel=1e-12)
        assert c["score"] == pytest.approx((c["es_reduction"] - c["premium"]) / max(c["es_hedged"], 1e-6 * v0),
                                           rel=1e-12)
        assert c["theta"]["decay"] == pytest.approx(c["premium"] - c["theta"]["residual_value"], rel=1e-12)
    assert [r["Score"] for r in a["recommendations"]["table"]] == sorted(
        (c["score"] for c in cands), reverse=True)
    c_seed = svc.opportunities(clocked, POS, _req(seed=12))
    assert c_seed["windows"][0]["drawdown"] != a["windows"][0]["drawdown"]


def test_outputs_prompts_and_choices_are_logged(clocked: Any) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.content.decode())
        return httpx.Response(200, json={"choices": [{"message": {"content": "Everything is guaranteed: 42%."}}]})

    from floorguard.narrative import LlmNarrator

    llm = LlmNarrator("http://llm.test/v1", "m", None, transport=httpx.MockTransport(handler))
    out = svc.opportunities(clocked, POS, _req(), narrator=llm)
    assert out["narrative"]["choice"] == "template" and "42%" in out["narrative"]["reason"]
    with clocked.session() as s:
        rows = list(s.scalars(sa.select(OpportunityAudit).order_by(OpportunityAudit.id)))
    kinds = [r.kind for r in rows]
    assert kinds == ["recommendation", "narrative"]
    story = rows[1]
    assert story.choice == "template" and story.output == "Everything is guaranteed: 42%."
    assert story.prompt is not None and "chat" not in story.prompt and seen and "Uncertainty expected" in seen[0]
    assert story.details["served"] == out["narrative"]["text"]
    assert rows[0].details["table"] == out["recommendations"]["table"]


def test_feedback_is_stored_and_nudges(clocked: Any) -> None:
    from floorguard.services.users import create_user

    with clocked.session() as s:
        u = create_user(s, name="ann", secret_key="k" * 16).user
    out = svc.opportunities(clocked, POS, _req(), user_id=u.id)
    rec = out["recommendation_id"]
    fb = svc.record_feedback(clocked, user_id=u.id, recommendation_id=rec, structure="protective_put",
                             decision="accepted")
    assert fb["decision"] == "accepted" and fb["id"] >= 1
    assert svc._feedback_shares(clocked, u.id) == {"protective_put": 1.0}
    with pytest.raises(ValidationError) as e:
        svc.record_feedback(clocked, user_id=u.id, recommendation_id=rec, structure="protective_put", decision="meh")
    assert e.value.errors[0].field == "decision"
    with pytest.raises(NotFoundError):
        svc.record_feedback(clocked, user_id=u.id, recommendation_id="nope", structure="collar", decision="rejected")
    with pytest.raises(NotFoundError):  # a structure that was not recommended
        svc.record_feedback(clocked, user_id=u.id, recommendation_id=rec, structure="collar", decision="rejected")
    k = svc.opportunity_kpis(clocked, user_id=u.id)
    assert k["n_recommendations"] == 1 and k["n_accepted"] == 1 and k["user_adoption"] == 0.0


def test_hit_rate_from_stored_windows_already_past(clocked: Any) -> None:
    svc.opportunities(clocked, POS, _req())
    k = svc.opportunities(clocked, POS, _req())["kpis"]
    # the first run's windows (June-July 2022) are in the bundled past: each counts once
    assert k["n_windows_settled"] >= 1 and 0.0 <= k["hit_rate"] <= 1.0
    with clocked.session() as s:
        rec = s.scalars(sa.select(OpportunityAudit).where(OpportunityAudit.kind == "recommendation")).first()
        windows = rec.details["windows"]
    closes = svc._index_closes(clocked, None)
    hits = []
    for w in windows:
        seg = closes[(closes.index >= "2022-06-01") & (closes.index <= w["end"])]
        dd = seg.min() / seg.iloc[0] - 1.0
        hits.append(w["drawdown_band"]["lower"] <= dd <= w["drawdown_band"]["upper"])
    assert k["hit_rate"] == pytest.approx(float(np.mean(hits)), abs=1e-12)


def test_scenario_draft_strategy_unhedged_and_seed(clocked: Any) -> None:
    from floorguard.services.insurance import QuoteRequest, quote_policy

    draft = quote_policy(clocked, POS, QuoteRequest(floor_pct=0.9, term_days=45, strategy="collar",
                                                     as_of=dt.datetime(2022, 6, 1, 21, tzinfo=dt.UTC)))
    req = svc.ScenarioRequest(preset="severe", n_paths=3000, seed=5)
    a = svc.run_portfolio_scenario(clocked, POS, req, draft=draft.to_dict())
    b = svc.run_portfolio_scenario(clocked, POS, req, draft=draft)
    assert a["result"] == b["result"]
    # the legs go in at the draft's prices: the simulated premium is the draft's net premium
    assert a["result"]["hedge_premium"] == pytest.approx(draft.premium_net, rel=1e-12, abs=1e-9)
    assert a["hedge"]["strategy"] == "collar" and a["narrative"]["text"].startswith("Under Severe scenario")
    for side in ("unhedged", "hedged"):
        hist = a["result"][side]["histogram"]
        assert sum(hist["counts"]) == 3000 and sum(hist["density"]) == pytest.approx(1.0, abs=1e-12)
        assert len(hist["centers"]) == len(hist["counts"]) == len(hist["edges"]) - 1 == 40
    assert a["result"]["unhedged"]["histogram"]["edges"] == a["result"]["hedged"]["histogram"]["edges"]
    put = svc.run_portfolio_scenario(clocked, POS, req)
    assert put["hedge"]["strategy"] == "protective_put"
    assert put["result"]["es_hedged"]["value"] < put["result"]["es_unhedged"]["value"]
    none = svc.run_portfolio_scenario(clocked, POS, svc.ScenarioRequest(preset="tail", strategy=None, n_paths=2000))
    assert none["hedge"] is None and none["result"]["hedge_premium"] == 0.0
    assert none["result"]["es_hedged"] == none["result"]["es_unhedged"]
    custom = svc.run_portfolio_scenario(clocked, POS, svc.ScenarioRequest(
        index_move=-0.3, vol_multiplier=1.0, horizon_days=5, strategy=None, n_paths=2000, seed=1))
    med = custom["result"]["unhedged"]["median"]["value"] / custom["result"]["initial_value"] - 1
    assert med < -0.2  # a -30 % index shock moves these high-beta stocks down with it
    with pytest.raises(ValidationError) as e:
        svc.run_portfolio_scenario(clocked, POS, svc.ScenarioRequest(preset="apocalypse"))
    assert e.value.errors[0].field == "preset"
    with pytest.raises(NotFoundError):
        svc.run_portfolio_scenario(clocked, POS, req, draft="0" * 32)


def test_backtest_cash_flows_reconcile(clocked: Any) -> None:
    from floorguard.core.backtest import run_backtest

    out = svc.index_backtest(clocked, "collar", start=dt.date(2015, 1, 1), end=dt.date(2016, 12, 31))
    rec = out["reconciliation"]
    assert rec["payoffs_minus_premium"] == pytest.approx(out["hedge_pnl"], abs=1e-6)
    assert rec["legs_pnl_sum"] == pytest.approx(out["hedge_pnl"], abs=1e-6)
    assert out["pricing_sources"].get("VIX", 0) > 0 and "estimate" in out["label"]
    closes = svc._index_closes(clocked, None)
    ref = run_backtest(list(closes.index), closes.to_numpy(), "collar", start=dt.date(2015, 1, 1),
                       end=dt.date(2016, 12, 31))
    # without the VIX the proxy prices every leg: different premiums, same rules and dates
    assert ref.start.isoformat() == out["start"] and len(ref.legs) == out["n_legs"]


def test_validation_names_fields(clocked: Any) -> None:
    with pytest.raises(ValidationError) as e:
        svc.opportunities(clocked, POS, svc.OpportunityRequest(horizon_days=2, structures=("straddle",)))
    assert {x.field for x in e.value.errors} == {"horizon_days", "structures"}
    with pytest.raises(ValidationError) as e:
        svc.opportunities(clocked, [Position("CASH", 1000, price=1.0, asset_type="cash")], _req())
    assert e.value.errors[0].field == "positions"


def test_llm_from_settings_unreachable_serves_the_template_and_logs_it(clocked: Any) -> None:
    from floorguard.services.context import AppContext

    s = clocked.settings.model_copy(update={"llm_base_url": "http://127.0.0.1:9/v1", "llm_model": "any"})
    ctx2 = AppContext(s)
    ctx2.resources["clock"] = clocked.resources["clock"]
    try:
        out = svc.run_portfolio_scenario(ctx2, POS, svc.ScenarioRequest(preset="mild", strategy=None, n_paths=1000))
        assert out["narrative"]["choice"] == "template" and out["narrative"]["reason"].startswith("LLM request failed")
        with ctx2.session() as session:
            row = session.scalars(sa.select(OpportunityAudit).where(OpportunityAudit.kind == "scenario")).one()
        assert row.choice == "template" and row.prompt is not None and "Under Mild scenario" in row.prompt
        assert row.details["served"] == out["narrative"]["text"]
    finally:
        ctx2.close()


def test_hedges_priced_from_a_real_cboe_chain(clocked: Any, spx_chain_file: Any) -> None:
    out = svc.opportunities(clocked, POS, _req(chain_path=spx_chain_file, events_csv=None))
    assert out["as_of"] == "2022-02-04"  # the chain's quote date sets the data date
    cands = out["recommendations"]["candidates"]
    assert cands and all(not c["synthetic"] and "spx_2022-02-04.csv" in c["pricing_source"] for c in cands)
    assert all(c["instrument"] == "SPX" and dt.date.fromisoformat(c["expiry"]) > dt.date(2022, 2, 4) for c in cands)
    window = next(w for w in out["windows"] if w["id"] == out["recommendations"]["window_id"])
    assert any(c["role"] == "covering" and c["expiry"] >= window["end"] for c in cands)
