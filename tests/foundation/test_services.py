"""AppContext, portfolio import/show/resolve, demo load (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from floorguard.exceptions import ConfigurationError, NotFoundError, PortfolioImportError
from floorguard.persistence import repositories as repo
from floorguard.services.context import AppContext
from floorguard.services.demo import DEMO_POSITIONS, load_demo
from floorguard.services.portfolios import (
    get_portfolio,
    import_portfolio,
    list_portfolios,
    resolve_portfolio,
    value_portfolio,
)


def _csv(tmp_path: Path, text: str, name: str = "book.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_context_is_lazy(settings: Any) -> None:
    ctx = AppContext(settings)
    assert ctx._engine is None and ctx._market_data is None
    assert ctx.market_data() is ctx.market_data()
    assert ctx.engine.url.get_backend_name() == "sqlite"
    assert str(settings.data_home) in ctx.database_url
    ctx.close()
    assert ctx._engine is None


def test_session_commits_and_rolls_back(ctx: AppContext) -> None:
    with ctx.session() as s:
        repo.ensure_user(s, name="kept")
    with pytest.raises(RuntimeError):
        with ctx.session() as s:
            repo.ensure_user(s, name="dropped")
            raise RuntimeError("boom")
    with ctx.session() as s:
        assert repo.get_user_by_name(s, name="kept").name == "kept"
        with pytest.raises(NotFoundError):
            repo.get_user_by_name(s, name="dropped")


def test_unreachable_and_unmigrated(settings: Any, tmp_path: Path) -> None:
    bad = AppContext(settings.model_copy(update={"database_url": "postgresql://x@127.0.0.1:1/none"}))
    with pytest.raises(ConfigurationError, match="cannot reach database"):
        with bad.session() as s:
            repo.ensure_user(s, name="x")
    with pytest.raises(ConfigurationError, match="cannot reach database"):
        bad.check_database()
    empty = AppContext(settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'e.db'}"}))
    with pytest.raises(ConfigurationError, match="floorguard db upgrade"):
        empty.check_database()
    with pytest.raises(ConfigurationError, match="no floorguard schema"):
        with empty.session() as s:
            repo.ensure_user(s, name="x")
    empty.close()
    bad.close()


def test_import_show_and_value(ctx: AppContext, tmp_path: Path) -> None:
    path = _csv(tmp_path, "symbol,quantity,price,asset_type\nAAPL,10,,\nSPX,-1,,\nPRIV,2,50,private\nUSD,100,,cash\n")
    stored = import_portfolio(ctx, path, name="book", owner="ann")
    assert stored.id is not None
    assert [s.name for s in list_portfolios(ctx, owner="ann")] == ["book"]
    got = get_portfolio(ctx, "book", owner="ann")
    assert got.symbols == ["AAPL", "SPX", "PRIV", "USD"]
    v = value_portfolio(ctx, got)
    rows = {p.symbol: p for p in v.positions}
    assert rows["AAPL"].price == pytest.approx(125.674) and rows["AAPL"].price_source == "bundled"
    assert rows["AAPL"].price_as_of == dt.date(2022, 12, 28)
    assert rows["AAPL"].sector == "Information Technology"
    assert rows["PRIV"].price_source == "user" and rows["PRIV"].value == 100.0
    assert rows["USD"].price == 1.0
    assert rows["SPX"].value == pytest.approx(-3783.22)
    assert v.net_value == pytest.approx(1256.74 - 3783.22 + 100 + 100)
    assert sum(p.weight for p in v.positions) == pytest.approx(1.0)
    assert v.gross_value == pytest.approx(1256.74 + 3783.22 + 200)
    # a file path or a stored name
    assert resolve_portfolio(ctx, str(path)).symbols == got.symbols
    assert resolve_portfolio(ctx, "book", owner="ann").id == got.id
    with pytest.raises(NotFoundError):
        resolve_portfolio(ctx, "book", owner="someone-else")


def test_unknown_symbol_without_price_writes_nothing(ctx: AppContext, tmp_path: Path) -> None:
    path = _csv(tmp_path, "symbol,quantity,price\nAAPL,10,\nNOPE,5,\nFINE,1,9.5\nZZZ,1,\n")
    with pytest.raises(PortfolioImportError) as e:
        import_portfolio(ctx, path, name="bad", owner="ann")
    assert [(x.line, x.field) for x in e.value.errors] == [(3, "symbol"), (5, "symbol")]
    assert "unknown symbol NOPE without a price" in e.value.errors[0].reason
    assert list_portfolios(ctx, owner="ann") == []
    with ctx.session() as s:  # not even the user was created
        with pytest.raises(NotFoundError):
            repo.get_user_by_name(s, name="ann")


def test_demo_is_idempotent_and_labelled(ctx: AppContext) -> None:
    first = load_demo(ctx)
    second = load_demo(ctx)
    assert first.portfolio.id == second.portfolio.id
    assert len(list_portfolios(ctx, owner="demo")) == 1
    assert {p.symbol: p.quantity for p in second.portfolio.positions} == {k: float(v) for k, v in DEMO_POSITIONS.items()}
    v = second.valuation
    assert {p.price_source for p in v.positions} == {"bundled"}
    assert {p.price_as_of for p in v.positions} == {dt.date(2022, 12, 28)}
    assert "not live prices" in second.notes[0]
    r = second.risk
    assert r["end"] == "2022-12-28" and r["n_returns"] == 756
    assert r["value_at_end"] == pytest.approx(v.net_value)
    assert "not live" in r["label"]


def test_demo_risk_matches_numpy(ctx: AppContext) -> None:
    """The summary equals a direct numpy computation on the same bundled closes
    (sample sd * sqrt(252); historical VaR = -percentile(r, 5, linear)); tolerance 1e-12."""
    result = load_demo(ctx)
    syms = list(DEMO_POSITIONS)
    prices = ctx.market_data().price_history(syms).dropna().iloc[-757:]
    value = prices.to_numpy() @ np.array([DEMO_POSITIONS[s] for s in syms], dtype=float)
    r = value[1:] / value[:-1] - 1.0
    assert result.risk["annual_volatility"] == pytest.approx(r.std(ddof=1) * np.sqrt(252), rel=1e-12)
    assert result.risk["var_1d"] == pytest.approx(-np.percentile(r, 5), rel=1e-12)
    wealth = np.cumprod(1 + r)
    peak = np.maximum.accumulate(np.concatenate([[1.0], wealth]))[1:]
    assert result.risk["max_drawdown"] == pytest.approx((wealth / peak - 1).min(), rel=1e-12)
