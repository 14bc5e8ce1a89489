"""Template narrator, number guard, compliance guardrails and the LLM path (httpx.MockTransport).

The guard's rule (seed 20.10 via issue 7): every number in an LLM text must be
one the engine computed, up to the rounding of the digits shown (plus 0.1 %
relative); otherwise the template text is served.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import httpx
import pytest

from floorguard.domain.opportunities import (
    CandidateScore,
    DrawdownDistribution,
    EventInput,
    SignalInputs,
    build_risk_windows,
)
from floorguard.narrative import (
    BANNED_PATTERNS,
    LlmNarrator,
    NumberGuard,
    compliance_issues,
    extract_numbers,
    narrate,
    scenario_narrative,
    window_narrative,
)


def _window() -> Any:
    h = 21
    sig = SignalInputs(as_of=dt.date(2023, 1, 3), horizon_days=h, term_vol=[0.22] * h, term_vol_lower=[0.15] * h,
                       term_vol_upper=[0.3] * h, long_run_vol=0.18, p_high_vol=0.6)
    w = build_risk_windows(sig, [EventInput(dt.date(2023, 1, 12), "cpi", "CPI release", 0.011, 1.3)])[0]
    return w.with_drawdown(DrawdownDistribution(-0.12, 0.0, 0.13, 0.151, 0.95, 0.26, 0.09))


def _best() -> CandidateScore:
    return CandidateScore(
        expiry=dt.date(2023, 1, 20), structure="collar", put_strike=347.0, call_strike=394.0, instrument="XSP",
        premium=-20.0, coverage_pct=100.07, breakeven=378.46, es_unhedged=19_591.37, es_gross=12_645.2,
        es_hedged=12_625.2, es_reduction=6_946.17, residual_risk=12_625.2, score=0.55, projected_variance=0.004,
        theta={}, role="covering", term_days=17, floor_pct=0.9)


def story() -> Any:
    return window_narrative(_window(), _best(), portfolio_value=129_350.0, level=0.95)


def test_template_sentence_has_the_seed_shape_and_passes_its_guards() -> None:
    s = story()
    assert s.text.startswith("Uncertainty expected (")
    assert re.search(r"between 2023-01-\d\d → 2023-01-\d\d", s.text)
    assert "Opportunity: collar on XSP expiring 2023-01-20 (put 347, call 394) with estimated cost -$20, " \
           "potential protection $6,946, residual risk $12,625" in s.text
    assert "Unhedged baseline: estimated expected shortfall $19,591" in s.text
    assert compliance_issues(s.text) == []
    assert NumberGuard(s.numbers, s.dates).unknown(s.text) == []


def test_scenario_sentence() -> None:
    s = scenario_narrative(scenario_name="severe", index_move=-0.12, vol_multiplier=1.75, horizon_days=21,
                           structure="collar", initial_value=100_000.0, median_unhedged=88_000.0,
                           median_hedged=95_500.0, premium=150.0, es_unhedged=0.2, es_hedged=0.06, level=0.95,
                           n_paths=20_000)
    assert s.text.startswith("Under Severe scenario (-12.0% index, volatility x1.75, 21 trading days), unhedged "
                             "portfolio loss -$12,000 (-12.0%)")
    assert "Proposed collar limits loss to -$4,500 (-4.5%) net of $150 premium with residual tail risk $6,000" in s.text
    assert "Unhedged baseline tail risk: $20,000" in s.text
    assert compliance_issues(s.text) == [] and NumberGuard(s.numbers, s.dates).accepts(s.text)
    unhedged = scenario_narrative(scenario_name="base", index_move=None, vol_multiplier=1.0, horizon_days=21,
                                  structure=None, initial_value=100_000.0, median_unhedged=100_500.0,
                                  median_hedged=100_500.0, premium=0.0, es_unhedged=0.08, es_hedged=0.08, level=0.95,
                                  n_paths=5_000)
    assert "model drift, no index shock" in unhedged.text and "gain $500" in unhedged.text
    assert compliance_issues(unhedged.text) == []


def test_number_extraction() -> None:
    nums, dates = extract_numbers("Cost -$4,521.5 (−12.5%), about 1.2k or $3M on 2023-02-01; P95 and w1 are names.")
    assert [(n.value, n.decimals, n.percent, n.scale) for n in nums] == [
        (-4521.5, 1, False, 1.0), (-12.5, 1, True, 1.0), (1.2, 1, False, 1e3), (3.0, 0, False, 1e6)]
    assert dates == [dt.date(2023, 2, 1)]


def test_guard_tolerance_and_rejection() -> None:
    g = NumberGuard([0.1514, 19_591.37, 347.0], [dt.date(2023, 1, 20)])
    assert g.accepts("about 15% or 15.1% of value; $19,591 or $19.6k; strike 347 on 2023-01-20")
    assert g.unknown("16% loss") == ["16%"]
    assert g.unknown("$19,700") == ["$19,700"]
    assert g.unknown("expiring 2023-01-27") == ["2023-01-27"]


def test_guard_rejects_a_number_the_engine_did_not_compute() -> None:
    s = story()
    tampered = s.text.replace("$6,946", "$7,946")
    assert NumberGuard(s.numbers, s.dates).unknown(tampered) == ["$7,946"]


@pytest.mark.parametrize("phrase", ["This hedge is guaranteed to work.", "A risk-free way to protect.",
                                    "You cannot lose with this.", "We promise the floor.", "It will certainly hold."])
def test_banned_guarantee_language(phrase: str) -> None:
    assert any(i.startswith("banned wording") for i in compliance_issues(phrase + " estimate unhedged"))


def test_template_texts_never_use_banned_words() -> None:
    texts = [story().text, scenario_narrative(
        scenario_name="tail", index_move=-0.25, vol_multiplier=2.5, horizon_days=21, structure="tail_hedge",
        initial_value=1e6, median_unhedged=7.5e5, median_hedged=8.2e5, premium=5e3, es_unhedged=0.35,
        es_hedged=0.2, level=0.99, n_paths=1000).text]
    for t in texts:
        for pat in BANNED_PATTERNS:
            assert not re.search(pat, t.lower()), (pat, t)


# ------------------------------------------------------------------------------ LLM path


def _llm(answer: str | None = None, *, status: int = 200, exc: Exception | None = None,
         seen: list[httpx.Request] | None = None) -> LlmNarrator:
    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        if exc is not None:
            raise exc
        body = {"choices": [{"message": {"role": "assistant", "content": answer}}]}
        return httpx.Response(status, json=body)

    return LlmNarrator("http://llm.test/v1", "tiny-model", "sk-test", timeout=2.0,
                       transport=httpx.MockTransport(handler))


def test_llm_rephrasing_with_engine_numbers_is_served_and_the_request_is_openai_shaped() -> None:
    s = story()
    good = ("Estimate: CPI release and a high-volatility regime may stir markets 2023-01-11 to 2023-01-13. "
            "A collar expiring 2023-01-20 costs about -$20 and could cut the tail by $6,946, leaving $12,625 "
            "of residual risk. Unhedged baseline: $19,591 expected shortfall (estimates).")
    w = _window()  # the rephrase may only use the engine's own dates
    good = good.replace("2023-01-11", w.start.isoformat()).replace("2023-01-13", w.end.isoformat())
    seen: list[httpx.Request] = []
    out = narrate(s, _llm(good, seen=seen))
    assert out.choice == "llm" and out.text == good and out.reason is None
    req = seen[0]
    assert str(req.url) == "http://llm.test/v1/chat/completions"
    assert req.headers["authorization"] == "Bearer sk-test"
    body = json.loads(req.content)
    assert body["model"] == "tiny-model" and body["temperature"] == 0
    assert body["messages"][0]["role"] == "system" and s.text in body["messages"][1]["content"]
    assert out.prompt is not None and "tiny-model" not in (out.reason or "")


def test_llm_text_with_an_invented_number_falls_back_to_the_template() -> None:
    s = story()
    out = narrate(s, _llm("Estimate: a collar costs -$20 and protects $9,999 versus the unhedged baseline."))
    assert out.choice == "template" and out.text == s.text
    assert "$9,999" in (out.reason or "") and out.llm_text is not None


def test_llm_text_with_guarantee_language_or_no_baseline_falls_back() -> None:
    s = story()
    out = narrate(s, _llm("Estimate: the collar is guaranteed to cap losses; unhedged baseline shown."))
    assert out.choice == "template" and "banned wording" in (out.reason or "")
    out2 = narrate(s, _llm("Estimate: consider a collar."))
    assert out2.choice == "template" and "unhedged baseline" in (out2.reason or "")


@pytest.mark.parametrize("kind", ["status", "timeout", "garbage"])
def test_llm_failures_serve_the_template(kind: str) -> None:
    s = story()
    llm = {"status": _llm("x", status=500), "timeout": _llm(exc=httpx.ReadTimeout("slow")),
           "garbage": _llm(None)}[kind]
    out = narrate(s, llm)
    assert out.choice == "template" and out.text == s.text and out.reason.startswith("LLM request failed")


def test_no_llm_configured() -> None:
    out = narrate(story(), None)
    assert out.choice == "template" and out.reason == "no LLM configured" and out.prompt is None
