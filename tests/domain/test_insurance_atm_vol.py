"""ATM level of the synthetic surface: VIX only when current, else a GARCH forecast.

References: the VIX close of 2018-06-01 (13.46, Cboe, as shipped in arch's
bundled ``vix`` data set); the GARCH(1,1) forecast recomputed here directly with
``arch`` (Bollerslev 1986 recursion, arch's analytic multi-step forecast) on the
same S&P 500 returns, to 1e-10 relative.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from floorguard.config import Settings
from floorguard.services.context import AppContext
from floorguard.services.insurance import QuoteRequest, _atm_vol


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> AppContext:
    c = AppContext(Settings(env="test", data_home=tmp_path_factory.mktemp("home")))
    yield c
    c.close()


def test_current_vix_is_the_atm_level(ctx: AppContext) -> None:
    vol, src = _atm_vol(ctx, QuoteRequest(0.9, 30, "protective_put"), "SPX", dt.date(2018, 6, 1))
    assert vol == pytest.approx(0.1346, abs=1e-12)
    assert src.startswith("VIX close 13.46 as of 2018-06-01 (bundled)")


def test_stale_vix_gives_way_to_a_garch_forecast(ctx: AppContext) -> None:
    from arch import arch_model

    vol, src = _atm_vol(ctx, QuoteRequest(0.9, 30, "protective_put"), "SPX", dt.date(2022, 12, 28))
    assert "GARCH(1,1) forecast of SPX over 21 trading days" in src
    assert "VIX in the market data ends 2019-01-03" in src
    closes = ctx.market_data().price_history(["SPX"], end=dt.date(2022, 12, 28))["SPX"].dropna()
    r = closes.pct_change().dropna().to_numpy()[-2520:]
    # arch fitted on percent returns (its recommended scaling), forecast 21 days ahead
    res = arch_model(100 * r, mean="Constant", vol="GARCH", p=1, q=1, dist="normal").fit(disp="off")
    var_path = res.forecast(horizon=21, reindex=False).variance.to_numpy()[-1]  # percent^2 per day
    expected = float(np.sqrt(var_path.sum() / 21 * 252)) / 100
    assert vol == pytest.approx(expected, rel=1e-4)
    assert 0.10 < vol < 0.40


def test_user_vol_wins_and_unknown_index_falls_back_labelled(ctx: AppContext) -> None:
    assert _atm_vol(ctx, QuoteRequest(0.9, 30, "protective_put", vol=0.33), "SPX", dt.date(2022, 12, 28)) == (
        0.33, "user")
    vol, src = _atm_vol(ctx, QuoteRequest(0.9, 30, "protective_put"), "NDX", dt.date(2022, 12, 28))
    assert vol == 0.20 and src.startswith("default 20%") and "no usable NDX history" in src


def test_quote_labels_the_garch_source(ctx: AppContext, tmp_path: Path) -> None:
    from floorguard.services.insurance import quote_policy

    pf = tmp_path / "p.csv"
    pf.write_text("symbol,quantity\nAAPL,300\nMSFT,200\n")
    draft = quote_policy(ctx, pf, QuoteRequest(0.9, 30, "protective_put",
                                               as_of=dt.datetime(2022, 12, 28, 21, tzinfo=dt.timezone.utc)))
    text = str(draft.to_dict())
    assert "SYNTHETIC" in text and "GARCH(1,1) forecast of SPX" in text
