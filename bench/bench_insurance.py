"""Portfolio insurance: quote latency on the real SPX chain, payoff kernel vs its twin.

* Quote: ``quote_policy`` for each strategy on the real CBOE SPX chain of
  2022-02-04 (20,514 quotes) and a 6-position portfolio priced from the
  bundled data (betas regressed on 3 years of history): the first call
  (cold: chain read and parsed, market data loaded) and the median of warm
  calls (chain cached on path/mtime).
* Payoff: net hedge payoff of a 3-leg hedge (put spread + short call) over
  200,000 final index levels, vectorised (``hedge_payoff_curve``) vs the slow
  readable twin (``payoff_curve_reference``, a Python loop), with the max
  absolute difference.
* Settlement: ``settle_batch`` (vectorised) vs the ``settle_reference`` loop
  for 20,000 scenarios, and the per-scenario ``settle`` (validated inputs, a
  full result record) for scale.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from pathlib import Path

import numpy as np

from bench._harness import machine, median_time

ROOT = Path(__file__).resolve().parents[1]
SPX_CHAIN = ROOT.parent / "shared" / "data" / "option_chains" / "spx_2022-02-04.csv"
PORTFOLIO = """symbol,quantity,price,asset_type,beta,sector
AAPL,3000,,equity,,
MSFT,1500,,equity,,
JPM,2500,,equity,,
XOM,-1000,,equity,,
CUSTOMFUND,20000,95.5,custom,0.9,
PRIVCO,1,250000,private,0.8,
"""


def _quote_rows() -> list[tuple[str, str, str]]:
    from floorguard.config import Settings
    from floorguard.services.context import AppContext
    from floorguard.services.insurance import QuoteRequest, quote_policy

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        pf = Path(tmp) / "p.csv"
        pf.write_text(PORTFOLIO)
        ctx = AppContext(Settings(env="test", data_home=Path(tmp) / "home"))
        try:
            for i, strategy in enumerate(("protective_put", "collar", "put_spread", "tail_hedge")):
                req = QuoteRequest(0.9, 30, strategy, chain_path=SPX_CHAIN, tail_budget_pct=0.004)
                t0 = time.perf_counter()
                quote_policy(ctx, pf, req)
                first = time.perf_counter() - t0
                warm = median_time(lambda req=req: quote_policy(ctx, pf, req), repeat=5)
                label = "cold (chain read, data loaded)" if i == 0 else "first call"
                rows.append((f"quote {strategy} on SPX 2022-02-04", f"{label}: {first * 1e3:,.0f} ms",
                             f"warm median: {warm * 1e3:,.0f} ms"))
        finally:
            ctx.close()
    return rows


def _payoff_rows() -> list[tuple[str, str, str]]:
    from floorguard.domain._insurance_reference import payoff_curve_reference, settle_reference
    from floorguard.domain.policy import HedgeLeg
    from floorguard.domain.settlement import hedge_payoff_curve, settle, settle_batch

    exp = dt.date(2026, 3, 20)
    spec = [("put", "long", 4000.0, 30, 100.0), ("put", "short", 3600.0, 30, 100.0),
            ("call", "short", 4600.0, 30, 100.0)]
    legs = [HedgeLeg(k, s, x, n, exp, m, 1.0, n * m, 1.0) for k, s, x, n, m in spec]  # type: ignore[arg-type]
    levels = np.linspace(0.0, 8000.0, 200_000)
    t_vec = median_time(lambda: hedge_payoff_curve(legs, levels), repeat=5)
    lv_list = levels.tolist()
    t_ref = median_time(lambda: payoff_curve_reference(spec, lv_list), repeat=3)
    diff = float(np.max(np.abs(hedge_payoff_curve(legs, levels) - np.asarray(payoff_curve_reference(spec, lv_list)))))
    rng = np.random.default_rng(42)
    vt = rng.uniform(0.5, 1.2, 20_000) * 1.2e7
    lt = rng.uniform(2500, 5000, 20_000)
    t_batch = median_time(lambda: settle_batch(1.2e7, 0.9, legs, vt, lt), repeat=5)
    t_set = median_time(lambda: [settle(1.2e7, 0.9, legs, float(a), float(b)) for a, b in zip(vt, lt, strict=True)],
                        repeat=3)
    t_sref = median_time(
        lambda: [settle_reference(1.2e7, 0.9, spec, float(a), float(b)) for a, b in zip(vt, lt, strict=True)],
        repeat=3)
    comp_ref = np.array([settle_reference(1.2e7, 0.9, spec, float(a), float(b))["compensation"]
                         for a, b in zip(vt, lt, strict=True)])
    sdiff = float(np.max(np.abs(settle_batch(1.2e7, 0.9, legs, vt, lt).compensation - comp_ref)))
    return [
        ("payoff curve, 3 legs x 200,000 levels", f"vectorised: {t_vec * 1e3:.1f} ms",
         f"reference loop: {t_ref * 1e3:.0f} ms ({t_ref / t_vec:.0f}x slower); max abs diff {diff:.1e}"),
        ("settlement, 20,000 scenarios", f"settle_batch: {t_batch * 1e3:.1f} ms",
         f"settle_reference loop: {t_sref * 1e3:.0f} ms ({t_sref / t_batch:.0f}x slower); "
         f"per-scenario settle (validated record): {t_set * 1e3:.0f} ms; max abs diff {sdiff:.1e}"),
    ]


def main() -> None:
    rows: list[tuple[str, str, str]] = []
    if SPX_CHAIN.is_file():
        rows.extend(_quote_rows())
    else:
        rows.append(("quote on SPX 2022-02-04", "skipped", f"{SPX_CHAIN} absent"))
    rows.extend(_payoff_rows())
    print(f"Machine: {machine()}\n")
    print("| case | floorguard | alternative (same run) |")
    print("|---|---|---|")
    for case, a, b in rows:
        print(f"| {case} | {a} | {b} |")


if __name__ == "__main__":
    main()
