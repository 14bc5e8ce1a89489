"""RiskMetricsService on the real bundled history (skfolio S&P 500 data, 1990-2022).

Independent checks: the portfolio's return series is rebuilt here from the
bundled closes and fed to empyrical-reloaded (absolute 1e-12); the S&P 500's
beta against itself is 1 (1e-12); the stored snapshot/exposure rows are read
back with SQL.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from floorguard.config import Settings
from floorguard.domain.portfolio import Portfolio, Position
from floorguard.exceptions import ValidationError
from floorguard.persistence import db
from floorguard.services.context import AppContext
from floorguard.services.portfolios import import_portfolio
from floorguard.services.risk import (
    RiskMetricsService,
    etf_factor_returns,
    load_sector_benchmark,
    protective_put_payoff,
    run_risk_batch,
)

CSV = "symbol,quantity\nAAPL,100\nMSFT,50\nJPM,80\nXOM,120\nJNJ,60\nKO,200\n"


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> AppContext:
    home = tmp_path_factory.mktemp("risk_home")
    url = f"sqlite:///{home / 'fg.db'}"
    db.upgrade(url)
    c = AppContext(Settings(env="test", data_home=home, database_url=url))
    yield c
    c.close()


@pytest.fixture(scope="module")
def svc(ctx: AppContext) -> RiskMetricsService:
    return RiskMetricsService(ctx)


@pytest.fixture(scope="module")
def pf_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("pf") / "six.csv"
    p.write_text(CSV, encoding="utf-8")
    return p


def test_report_matches_independent_computation(ctx: AppContext, svc: RiskMetricsService, pf_file: Path) -> None:
    import empyrical as ep

    rep = svc.report(pf_file, start="2019-01-02", end="2021-12-31")
    md = rep["metadata"]
    assert md["window"]["start"] == "2019-01-02" and md["window"]["end"] == "2021-12-31"
    syms = md["public_positions"]
    closes = ctx.market_data().price_history(syms, "2018-12-01", "2021-12-31")
    rets = (closes / closes.shift(1) - 1).loc["2019-01-02":"2021-12-31"].dropna()
    vals = {p["symbol"]: p["value"] for p in rep["portfolio"]["positions"]}
    w = np.array([vals[s] for s in syms]) / sum(vals.values())
    rp = rets[syms].to_numpy() @ w
    m = rep["measures"]
    assert md["observations"] == len(rp)
    assert m["annual_volatility"] == pytest.approx(ep.annual_volatility(rp), abs=1e-12)
    assert m["max_drawdown"] == pytest.approx(ep.max_drawdown(rp), abs=1e-12)
    assert m["value_at_risk"]["historical"] == pytest.approx(-ep.value_at_risk(rp, 0.05), abs=1e-12)
    assert m["expected_shortfall"]["historical"] == pytest.approx(-ep.conditional_value_at_risk(rp, 0.05), abs=1e-12)
    assert m["sharpe"] == pytest.approx(ep.sharpe_ratio(rp), abs=1e-10)
    # contributions sum to the totals on real data
    vc = rep["contributions"]["volatility"]
    assert sum(p["component"] for p in vc["positions"]) == pytest.approx(vc["volatility"], abs=1e-12)
    ec = rep["contributions"]["expected_shortfall"]
    assert sum(p["component"] for p in ec["positions"]) == pytest.approx(ec["expected_shortfall"], abs=1e-12)
    # every path recorded, every position has a beta with provenance
    assert md["beta_paths"] == {"multivariate": 6}
    assert rep["beta"]["portfolio"]["beta_source"] == "multivariate"
    assert 0.5 < rep["beta"]["portfolio"]["beta"] < 1.5
    assert md["latency_ms"] > 0


def test_sector_and_concentration_against_dated_benchmark(svc: RiskMetricsService, pf_file: Path) -> None:
    rep = svc.report(pf_file)
    bench = load_sector_benchmark("SP500")
    assert rep["sectors"]["benchmark_as_of"] == bench["as_of"] == "2022-12-30"
    assert sum(rep["sectors"]["gross"].values()) == pytest.approx(1.0, abs=1e-12)
    it = rep["sectors"]["net"]["Information Technology"]
    assert rep["sectors"]["active"]["Information Technology"] == pytest.approx(it - 0.257, abs=1e-12)
    assert rep["sectors"]["active"]["Utilities"] == pytest.approx(-0.032, abs=1e-12)
    assert rep["sectors"]["unclassified"] == []
    c = rep["concentration"]
    assert c["effective_positions"] == pytest.approx(1 / c["hhi"], rel=1e-12)
    assert c["positions"] == 6 and c["top_10"] == pytest.approx(1.0)


def test_market_beta_of_the_index_itself_is_one(svc: RiskMetricsService) -> None:
    pf = Portfolio("index", (Position("SPX", 10.0),))
    rep = svc.report(pf, start="2016-01-04", end="2019-12-31")
    b = rep["beta"]["positions"]["SPX"]
    assert b["beta"] == pytest.approx(1.0, abs=1e-12)
    assert b["r_squared"] == pytest.approx(1.0, abs=1e-12)
    assert rep["beta"]["portfolio"]["beta"] == pytest.approx(1.0, abs=1e-12)
    # single name: 100 % concentration, no diversification
    assert rep["concentration"]["hhi"] == 1.0 and rep["diversification_ratio"] is None
    # the market shock passes straight through
    assert [s["portfolio_return"] for s in rep["stress"]["market_shocks"]] == pytest.approx([-0.1, -0.2, -0.3])


def test_window_without_factor_etfs_falls_back_to_single_factor(svc: RiskMetricsService, pf_file: Path) -> None:
    rep = svc.report(pf_file, start="2005-01-03", end="2007-12-31")
    assert rep["metadata"]["beta_paths"] == {"single_factor": 6}
    b = rep["beta"]["positions"]["AAPL"]
    assert b["fallback_reason"].startswith("multivariate") and b["quality_flag"] == "failed"
    assert any("factor ETFs" in n for n in rep["metadata"]["notes"])


def test_mixed_and_private_portfolios_degrade_gracefully(svc: RiskMetricsService) -> None:
    mixed = Portfolio("mixed", (
        Position("AAPL", 100.0),
        Position("VILLA", 1.0, price=20_000.0, asset_type="private"),
        Position("FUNDX", 10.0, price=500.0, asset_type="private", beta=0.4, sector="Real Estate"),
        Position("USD", 5_000.0, price=1.0, asset_type="cash"),
    ))
    rep = svc.report(mixed)
    pos = rep["beta"]["positions"]
    assert pos["VILLA"]["beta_source"] == "default" and pos["FUNDX"]["beta_source"] == "provided"
    assert pos["USD"]["beta"] == 0.0
    # the beta comparison agrees with the report on every non-public position
    cmp = {r["symbol"]: r for r in svc.betas(mixed)["positions"]}
    assert (cmp["USD"]["path"], cmp["USD"]["beta"]) == ("provided", 0.0)
    assert (cmp["FUNDX"]["path"], cmp["FUNDX"]["beta"]) == ("provided", 0.4)
    assert (cmp["VILLA"]["path"], cmp["VILLA"]["beta"]) == ("default", pos["VILLA"]["beta"])
    assert any("VILLA" in e for e in rep["metadata"]["estimates"])
    assert "VILLA" in rep["sectors"]["unclassified"]
    assert rep["metadata"]["coverage"] < 1 and rep["measures"]["available"]
    private = Portfolio("alts", (Position("VILLA", 1.0, price=20_000.0, asset_type="private"),))
    rep2 = svc.report(private)
    assert rep2["beta"]["portfolio"]["skip_reason"] == "no_public_positions"
    assert rep2["beta"]["portfolio"]["quality_flag"] == "failed"
    assert rep2["measures"] == {
        "available": False, "skip_reason": "no_public_positions", "quality_flag": "failed",
        "message": "no position has a public price history",
    }
    assert rep2["stress"]["market_shocks"]["skip_reason"] == "no_public_positions"


def test_stress_with_and_without_hedge(svc: RiskMetricsService, pf_file: Path, ctx: AppContext) -> None:
    spx = ctx.market_data().last_price("SPX").price
    rep = svc.report(pf_file)
    net = rep["portfolio"]["net_value"]
    contracts = net / (spx * 100)  # index notional equal to the portfolio
    hedge = protective_put_payoff(spx, 0.9 * spx, contracts)
    hedged = svc.report(pf_file, hedge_payoff=hedge)
    keys = [s["key"] for s in hedged["stress"]["historical"]]
    assert keys == ["gfc_2008", "covid_2020", "bear_2022"]
    for plain, h in zip(rep["stress"]["historical"], hedged["stress"]["historical"], strict=True):
        assert plain["hedge_pnl"] is None
        assert h["pnl"] == pytest.approx(plain["pnl"])
        expected = contracts * 100 * max(0.9 * spx - spx * (1 + h["market_return"]), 0.0)
        assert h["hedge_pnl"] == pytest.approx(expected, rel=1e-12)
        assert h["hedged_pnl"] >= h["pnl"]
    gfc = rep["stress"]["historical"][0]
    assert gfc["market_return"] == pytest.approx(-0.5678, abs=5e-4)  # S&P 500 closes 1565.15 -> 676.53
    m30 = hedged["stress"]["market_shocks"][2]
    assert m30["hedge_pnl"] == pytest.approx(contracts * 100 * 0.2 * spx, rel=1e-12)
    assert {s["key"] for s in hedged["stress"]["factor_shocks"]} >= {"factor_momentum_crash"}


def test_persist_betas_and_sector_snapshot(ctx: AppContext, svc: RiskMetricsService, pf_file: Path) -> None:
    stored = import_portfolio(ctx, pf_file, name="six", replace=True)
    first = svc.report("six")
    assert first["metadata"]["snapshot"] == {"available": False, "reason": "no snapshot stored yet"}
    rep = svc.report("six", persist=True)
    info = rep["metadata"]["snapshot"]["persisted"]
    assert info["stored"] and info["sector_columns"]
    with ctx.engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT symbol, factor, exposure_value, source FROM factor_exposures WHERE portfolio_id = :p"
        ), {"p": stored.id}).all()
        snap = conn.execute(sa.text(
            "SELECT hhi, effective_positions, top_3_concentration, top_10_concentration, sector_exposure "
            "FROM portfolio_snapshots WHERE id = :i"), {"i": info["snapshot_id"]}).one()
    market = {r.symbol: (r.exposure_value, r.source) for r in rows if r.factor == "market_beta"}
    assert market[None][1] == "multivariate"
    assert market[None][0] == pytest.approx(rep["beta"]["portfolio"]["beta"], rel=1e-12)
    assert market["AAPL"][1] == rep["beta"]["positions"]["AAPL"]["beta_source"]
    assert float(snap.hhi) == pytest.approx(rep["concentration"]["hhi"], abs=5e-5)
    assert float(snap.top_3_concentration) == pytest.approx(rep["concentration"]["top_3"], abs=5e-5)
    assert snap.sector_exposure is not None and "Energy" in str(snap.sector_exposure)
    again = svc.report("six")
    assert again["metadata"]["snapshot"]["available"] is True


def test_batch_job_reports_each_portfolio(ctx: AppContext, svc: RiskMetricsService, pf_file: Path) -> None:
    import_portfolio(ctx, pf_file, name="six", replace=True)
    out = run_risk_batch(ctx, ["six", "does-not-exist"], persist=False, service=svc)
    assert [o["ok"] for o in out] == [True, False]
    assert "not found" in out[1]["error"]


def test_beta_comparison(svc: RiskMetricsService, pf_file: Path) -> None:
    cmp = svc.betas(pf_file, start="2016-01-04", end="2022-12-28")
    rows = {r["symbol"]: r for r in cmp["positions"]}
    a = rows["AAPL"]
    assert set(a["multivariate"]["vif"]) == {"market", "size", "value", "momentum", "quality", "low_volatility"}
    assert a["multivariate"]["condition_number"] >= 1.0
    assert a["path"] in ("multivariate", "single_factor")
    if a["path"] == "multivariate":
        assert a["beta"] == pytest.approx(a["multivariate"]["betas"]["market"])
    else:
        assert a["beta"] == pytest.approx(a["single_factor"]["beta"])


def test_factor_construction_is_etf_minus_market(ctx: AppContext) -> None:
    closes = ctx.market_data().price_history(["SPX", "MTUM"], "2020-01-02", "2020-03-31")
    r = closes / closes.shift(1) - 1
    f = etf_factor_returns(r["SPX"], r[["MTUM"]])
    np.testing.assert_allclose(f["momentum"].dropna(), (r["MTUM"] - r["SPX"]).dropna(), atol=0)


def test_bad_input(svc: RiskMetricsService, pf_file: Path) -> None:
    with pytest.raises(ValidationError, match="start"):
        svc.report(pf_file, start="2021-01-01", end="2020-01-01")
    with pytest.raises(ValidationError, match="benchmark"):
        svc.report(pf_file, benchmark="FTSE")
    with pytest.raises(ValidationError, match="end"):
        svc.report(pf_file, end=dt.date(1980, 1, 1))
    with pytest.raises(ValidationError, match="start: must be a date YYYY-MM-DD, got 'notadate'"):
        svc.report(pf_file, start="notadate")
    with pytest.raises(ValidationError, match="end: must be a date"):
        svc.betas(pf_file, end="2021-13-45")


def test_active_policy_hedge_is_applied_to_stresses(ctx: AppContext, svc: RiskMetricsService, pf_file: Path) -> None:
    from decimal import Decimal

    from floorguard.persistence import repositories as repo
    from floorguard.persistence.orm import InsurancePolicy

    stored = import_portfolio(ctx, pf_file, name="hedged-six", replace=True)
    spx = ctx.market_data().last_price("SPX").price
    k_put, k_call = round(0.9 * spx), round(1.1 * spx)
    legs = [
        {"kind": "put", "side": "long", "strike": k_put, "contracts": 2, "multiplier": 100.0,
         "expiry": "2023-06-16", "symbol": "SPX"},
        {"kind": "call", "side": "short", "strike": k_call, "contracts": 2, "multiplier": 100.0,
         "expiry": "2023-06-16", "symbol": "SPX"},
    ]
    with ctx.session() as s:
        user = repo.ensure_user(s, name="demo")
        s.add(InsurancePolicy(
            user_id=user.id, portfolio_id=stored.id, status="active",
            start_utc=dt.datetime(2022, 12, 28, tzinfo=dt.UTC), end_utc=dt.datetime(2023, 6, 16, tzinfo=dt.UTC),
            floor_pct=0.9, index_symbol="SPX", strategy="collar", put_strike=Decimal(k_put),
            call_strike=Decimal(k_call), contracts_put=2, contracts_call=2, premium_put=Decimal("1000"),
            premium_call=Decimal("900"), premium_net=Decimal("100"), coverage_notional=Decimal("70000"),
            portfolio_value_at_bind=Decimal("70000"), beta=1.0, draft={"legs": legs},
        ))
    rep = svc.report("hedged-six")
    st = rep["stress"]
    assert st["hedged"] and st["hedge"]["source"] == "active_policies"
    assert st["hedge"]["policies"][0]["strategy"] == "collar"
    for r in st["historical"] + st["market_shocks"]:
        level = spx * (1 + r["market_return"])
        expected = 200 * (max(k_put - level, 0) - max(k_put - spx, 0)) - 200 * (max(level - k_call, 0) - max(spx - k_call, 0))
        assert r["hedge_pnl"] == pytest.approx(expected, rel=1e-12, abs=1e-9)
    assert svc.report("hedged-six", hedge_payoff=None)["stress"]["hedged"] is False


def test_latency_is_logged(svc: RiskMetricsService, pf_file: Path, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    with caplog.at_level(logging.INFO, logger="floorguard.services.risk"):
        rep = svc.report(pf_file)
    msgs = [r.getMessage() for r in caplog.records if r.name == "floorguard.services.risk"]
    assert any("risk report six" in m and m.endswith(" ms") for m in msgs), msgs
    assert rep["metadata"]["latency_ms"] > 0


def test_option_underlying_level_from_the_contract_spec(svc: RiskMetricsService) -> None:
    """XSP and SPY are not in the bundled data: their level is SPX x index_ratio.

    XSP is exactly SPX / 10 (Cboe XSP contract specification); SPY is about
    SPX / 10 and is flagged as an estimate. A symbol that is neither known to
    market data nor a contract is still an error.
    """
    from floorguard.exceptions import SymbolNotFoundError

    spx = svc.ctx.market_data().last_price("SPX").price
    xsp = svc._underlying_level("XSP")
    assert xsp["level"] == pytest.approx(spx / 10.0, rel=1e-15)
    assert xsp["estimate"] is False and "SPX" in xsp["source"]
    spy = svc._underlying_level("SPY")
    assert spy["level"] == pytest.approx(spx / 10.0, rel=1e-15)
    assert spy["estimate"] is True
    assert svc._underlying_level("SPX")["level"] == spx
    with pytest.raises(SymbolNotFoundError):
        svc._underlying_level("NOPE")
