"""Risk persistence (factor_exposures with ``source``, portfolio_snapshots) on SQLite and PostgreSQL.

Uses the ``ctx`` fixture of ``tests/conftest.py``: a migrated SQLite copy, and a
migrated PostgreSQL database when ``FLOORGUARD_TEST_POSTGRES_URL`` is set
(``.ci/run`` sets it). The stored rows are read back with plain SQL and
compared with the report (NUMERIC columns: 5e-5 absolute, the storage scale).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from floorguard.services.context import AppContext
from floorguard.services.portfolios import import_portfolio
from floorguard.services.risk import RiskMetricsService

CSV = "symbol,quantity\nAAPL,100\nMSFT,50\nJPM,-80\nXOM,120\n"


def test_persisted_betas_and_snapshot_round_trip(ctx: AppContext, tmp_path: Path) -> None:
    pf = tmp_path / "four.csv"
    pf.write_text(CSV, encoding="utf-8")
    stored = import_portfolio(ctx, pf, name="four")
    svc = RiskMetricsService(ctx)
    assert svc.report("four")["metadata"]["snapshot"]["available"] is False
    rep = svc.report("four", persist=True)
    info = rep["metadata"]["snapshot"]["persisted"]
    assert info["stored"]
    with ctx.engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT symbol, factor, exposure_value, source FROM factor_exposures WHERE portfolio_id = :p"
        ), {"p": stored.id}).all()
        snap = conn.execute(sa.text(
            "SELECT hhi, effective_positions, top_3_concentration, top_10_concentration "
            "FROM portfolio_snapshots WHERE id = :i"), {"i": info["snapshot_id"]}).one()
    market = {r.symbol: (float(r.exposure_value), r.source) for r in rows if r.factor == "market_beta"}
    assert set(market) == {None, "AAPL", "MSFT", "JPM", "XOM"}
    assert market[None][0] == pytest.approx(rep["beta"]["portfolio"]["beta"], abs=5e-5)
    for sym in ("AAPL", "MSFT", "JPM", "XOM"):
        pos = rep["beta"]["positions"][sym]
        assert market[sym] == (pytest.approx(pos["beta"], abs=5e-5), pos["beta_source"])
    c = rep["concentration"]
    assert float(snap.hhi) == pytest.approx(c["hhi"], abs=5e-5)
    assert float(snap.effective_positions) == pytest.approx(c["effective_positions"], abs=5e-4)
    assert float(snap.top_3_concentration) == pytest.approx(c["top_3"], abs=5e-5)
    assert float(snap.top_10_concentration) == pytest.approx(c["top_10"], abs=5e-5)
    assert svc.report("four")["metadata"]["snapshot"]["available"] is True
