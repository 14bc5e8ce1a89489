"""Benchmark of the uncertainty & opportunity engine (issue 7, product layer).

Cases, each beside the alternative measured in the same run:

* scoring with the *stored* GJR-GARCH-t version (``arch``'s ``fix``: filter the
  2,520 returns with stored parameters, then the 21-day forecast with its
  band) against refitting the model by maximum likelihood every time;
* the high-volatility regime probability from the stored Markov-switching
  parameters (statsmodels ``filter``) against refitting it (EM + BFGS);
* one candidate hedge: the insurance engine's quote (synthetic chain) against
  its Monte Carlo scoring (20,000 paths, 3 holdings + index, repriced at the
  window end);
* ``GET /api/insurance/opportunities``'s service call end to end, cold (one
  structure, three expiries; four structures) and warm (identical request).

Run: ``.venv/bin/python -m bench bench_opportunities``. Wall and CPU (process)
time, medians; bundled data only, clock 2022-06-01.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from pathlib import Path
from typing import Any

from bench._harness import machine, median_wall_cpu


def _ctx(tmp: Path) -> Any:
    from floorguard.config import Settings
    from floorguard.persistence.db import upgrade
    from floorguard.services.context import AppContext

    url = f"sqlite:///{tmp / 'bench.db'}"
    upgrade(url)
    ctx = AppContext(Settings(env="test", database_url=url, data_home=tmp / "home", market_data_sources=["bundled"],
                              scheduler_enabled=False))
    ctx.resources["clock"] = lambda: dt.datetime(2022, 6, 1, 20, tzinfo=dt.UTC)
    return ctx


def main() -> None:
    from floorguard.core.forecast import fit_garch, fit_vol_regimes, forecast_vol
    from floorguard.core.montecarlo import run_scenario
    from floorguard.domain.portfolio import Position
    from floorguard.services import opportunities as svc
    from floorguard.services.insurance import QuoteRequest, quote_policy

    tmp = Path(tempfile.mkdtemp(prefix="fg-bench-opp-"))
    ctx = _ctx(tmp)
    rows: list[tuple[str, str, float, float]] = []
    try:
        day = dt.date(2022, 6, 1)
        g, m = svc.fit_forecast_models(ctx, as_of=day)
        closes = svc._index_closes(ctx, day)
        r = svc._log_returns(closes)
        rg, rm = r[-svc.GARCH_WINDOW:], r[-svc.REGIME_WINDOW:]

        def stored_garch() -> None:
            forecast_vol(svc._garch_from_stored(g, rg), 21, n_sims=500, seed=1)

        def refit_garch() -> None:
            forecast_vol(fit_garch(rg, "gjr", "t"), 21, n_sims=500, seed=1)

        rows.append(("GJR-GARCH-t forecast (2,520 returns, 21 days, band)", "stored version filtered (arch fix)",
                     *median_wall_cpu(stored_garch, 5)))
        rows.append(("", "refit by maximum likelihood", *median_wall_cpu(refit_garch, 3)))
        rows.append(("P(high-vol regime) (1,000 returns)", "stored version filtered (statsmodels filter)",
                     *median_wall_cpu(lambda: svc._regime_p_high(m, rm), 5)))
        rows.append(("", "refit (fit_vol_regimes)", *median_wall_cpu(lambda: fit_vol_regimes(rm, 2), 3)))

        pos = [Position("AAPL", 400), Position("MSFT", 200), Position("JPM", 300)]
        pm = svc._portfolio_model(ctx, pos, day, closes)
        as_of = dt.datetime(2022, 6, 1, 21, tzinfo=dt.UTC)
        draft = quote_policy(ctx, pm.priced, QuoteRequest(floor_pct=0.9, term_days=30, strategy="collar", as_of=as_of,
                                                          index_level=pm.spot, vol=0.25, beta=1.2))
        rows.append(("one candidate hedge (collar, 30 days)", "insurance engine quote (synthetic chain)",
                     *median_wall_cpu(lambda: quote_policy(ctx, pm.priced, QuoteRequest(
                         floor_pct=0.9, term_days=30, strategy="collar", as_of=as_of, index_level=pm.spot,
                         vol=0.25, beta=1.2)), 3)))
        legs, _ = svc._legs_for_mc(draft, day)
        spec = svc.ScenarioRequest(preset="base").spec()
        rows.append(("", "Monte Carlo scoring, 20,000 paths",
                     *median_wall_cpu(lambda: run_scenario(pm.holdings, pm.model, spec, index=pm.index_col,
                                                           index_spot=pm.spot, legs=legs, surface=0.25,
                                                           n_paths=20_000, seed=1), 5)))

        def cold(structures: tuple[str, ...]) -> Any:
            def run() -> None:
                ctx.resources.pop("opportunity_cache", None)
                svc.opportunities(ctx, pos, svc.OpportunityRequest(structures=structures, n_paths=20_000))
            return run

        rows.append(("opportunities request (20,000 paths)", "cold, 1 structure x 3 expiries",
                     *median_wall_cpu(cold(("protective_put",)), 3)))
        rows.append(("", "cold, 4 structures x 3 expiries", *median_wall_cpu(cold(svc.STRUCTURES), 1, 0)))
        rows.append(("", "warm (identical request: windows and hedges reused)",
                     *median_wall_cpu(lambda: svc.opportunities(ctx, pos, svc.OpportunityRequest(
                         structures=svc.STRUCTURES, n_paths=20_000)), 3)))
    finally:
        ctx.close()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"Machine: {machine()}\n")
    print("| case | implementation | wall s | CPU s |")
    print("|---|---|---:|---:|")
    for case, impl, wall, cpu in rows:
        print(f"| {case} | {impl} | {wall:.3f} | {cpu:.3f} |")


if __name__ == "__main__":
    main()
