"""Risk report for 10,000 portfolios over the 20 bundled stocks: vectorised vs peers.

Data: the 20 S&P 500 stocks of the skfolio dataset and the S&P 500 index
(bundled, real), the last 2,520 trading days to 2022-12-28. Portfolios: 10,000
long-only random weight vectors (Dirichlet, seed 42), constant weights.

Report per portfolio: annualised volatility, maximum drawdown, 95 % historical
VaR and ES, Sharpe, market beta and concentration (HHI, top-3).

* floorguard: :func:`floorguard.core.risk.batch_risk_report`, all portfolios at once;
* empyrical-reloaded: a Python loop over portfolios (``annual_volatility``,
  ``max_drawdown``, ``value_at_risk``, ``conditional_value_at_risk``,
  ``sharpe_ratio``, ``beta``, plus the same numpy HHI), all 10,000;
* quantstats: the same loop with ``volatility``, ``max_drawdown``,
  ``sharpe``, ``value_at_risk`` (parametric), ``cvar`` and ``greeks`` on a
  subsample of portfolios, **extrapolated linearly** to 10,000 (said in the table).

Agreement: max |difference| over all portfolios against empyrical, and over
the subsample against quantstats (Gaussian VaR compared with floorguard's
``method="gaussian"`` since quantstats' VaR is parametric).

Also: a warm single-portfolio report through ``RiskMetricsService`` (file
portfolio of the 20 stocks, no database), median of 20 calls after a warm-up.
"""

from __future__ import annotations

import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from bench._harness import machine


def _times(fn, repeat: int = 3, warmup: int = 1) -> tuple[float, float]:  # noqa: ANN001
    """Median wall time and median process CPU time of ``fn()`` (seconds).

    The CPU time is reported too because the machine is shared: under load the
    wall time of every contender stretches, the CPU time much less.
    """
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)

N_PORTFOLIOS = 10_000
N_DAYS = 2_520
QS_SAMPLE = 40
STOCKS = ["AAPL", "AMD", "BAC", "BBY", "CVX", "GE", "HD", "JNJ", "JPM", "KO",
          "LLY", "MRK", "MSFT", "PEP", "PFE", "PG", "RRC", "UNH", "WMT", "XOM"]


def _data() -> tuple[np.ndarray, np.ndarray, object]:
    from floorguard.marketdata import BundledSource

    src = BundledSource()
    prices = src.price_history([*STOCKS, "SPX"]).dropna()
    rets = (prices / prices.shift(1) - 1.0).iloc[1:].iloc[-N_DAYS:]
    return rets[STOCKS].to_numpy(), rets["SPX"].to_numpy(), rets.index


def _empyrical_loop(W: np.ndarray, R: np.ndarray, m: np.ndarray) -> np.ndarray:
    import empyrical as ep

    out = np.empty((W.shape[0], 8))
    for i, w in enumerate(W):
        rp = R @ w
        a = np.abs(w) / np.abs(w).sum()
        out[i] = (
            ep.annual_volatility(rp), ep.max_drawdown(rp), -ep.value_at_risk(rp, 0.05),
            -ep.conditional_value_at_risk(rp, 0.05), ep.sharpe_ratio(rp), ep.beta(rp, m),
            a @ a, np.sort(a)[-3:].sum(),
        )
    return out


def _quantstats_loop(W: np.ndarray, R: np.ndarray, m: np.ndarray, index: object) -> np.ndarray:
    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import quantstats as qs

        bench = pd.Series(m, index=index)
        out = np.empty((W.shape[0], 8))
        for i, w in enumerate(W):
            rp = pd.Series(R @ w, index=index)
            a = np.abs(w) / np.abs(w).sum()
            g = qs.stats.greeks(rp, bench, periods=252)
            out[i] = (
                qs.stats.volatility(rp, periods=252), qs.stats.max_drawdown(rp),
                -qs.stats.value_at_risk(rp, sigma=1, confidence=0.95), -qs.stats.cvar(rp, sigma=1, confidence=0.95),
                qs.stats.sharpe(rp, periods=252), float(g["beta"]), a @ a, np.sort(a)[-3:].sum(),
            )
    return out


def _service_latency(tmp: Path) -> tuple[float, float]:
    from floorguard.config import Settings
    from floorguard.services.context import AppContext
    from floorguard.services.risk import RiskMetricsService

    pf = tmp / "twenty.csv"
    pf.write_text("symbol,quantity\n" + "".join(f"{s},{10 * (i + 1)}\n" for i, s in enumerate(STOCKS)), encoding="utf-8")
    ctx = AppContext(Settings(env="test", data_home=tmp))
    try:
        svc = RiskMetricsService(ctx)
        from floorguard.services.portfolios import resolve_portfolio

        portfolio = resolve_portfolio(ctx, pf)
        return _times(lambda: svc.report(portfolio), repeat=20, warmup=1)  # warm-up loads and caches the data
    finally:
        ctx.close()


def main() -> None:
    from threadpoolctl import threadpool_limits

    # one BLAS thread for every contender: the machine is shared and small
    # matrix products are slower, and erratic, when BLAS threads contend
    with threadpool_limits(limits=1, user_api="blas"):
        _main()


def _main() -> None:
    from floorguard.core import risk
    from floorguard.core.risk import _kernels as K

    R, m, index = _data()
    W = np.random.default_rng(42).dirichlet(np.ones(R.shape[1]), size=N_PORTFOLIOS)

    rep = risk.batch_risk_report(W, R, m)
    ours = np.column_stack([rep.volatility, rep.max_drawdown, rep.value_at_risk, rep.expected_shortfall,
                            rep.sharpe, rep.beta, rep.hhi, rep.top_3])
    t_ours, c_ours = _times(lambda: risk.batch_risk_report(W, R, m), repeat=5)

    emp = _empyrical_loop(W, R, m)
    t_emp, c_emp = _times(lambda: _empyrical_loop(W, R, m), repeat=3, warmup=0)
    diff_emp = np.abs(ours - emp).max(axis=0)

    Wq = W[:QS_SAMPLE]
    qsv = _quantstats_loop(Wq, R, m, index)
    t_qs_sample, c_qs_sample = _times(lambda: _quantstats_loop(Wq, R, m, index), repeat=1, warmup=0)
    t_qs = t_qs_sample * N_PORTFOLIOS / QS_SAMPLE
    c_qs = c_qs_sample * N_PORTFOLIOS / QS_SAMPLE
    X = (R @ Wq.T)
    ours_q = ours[:QS_SAMPLE].copy()
    ours_q[:, 2] = K.var_gaussian_k(X, 0.05)
    diff_qs = np.abs(ours_q - qsv).max(axis=0)
    # quantstats' cvar is the mean of returns below its *parametric* VaR: a different definition
    names = ["vol", "max_dd", "VaR", "ES", "Sharpe", "beta", "HHI", "top3"]

    with tempfile.TemporaryDirectory() as tmp:
        t_svc, c_svc = _service_latency(Path(tmp))

    print(f"\nRisk report, {N_PORTFOLIOS:,} portfolios x {R.shape[1]} stocks x {R.shape[0]:,} days "
          f"({machine()}, one BLAS thread)\n")
    print("| implementation | wall time (s) | CPU time (s) | portfolios/s (wall) | speed-up wall | speed-up CPU |")
    print("|---|---:|---:|---:|---:|---:|")
    print(f"| floorguard `batch_risk_report` (vectorised) | {t_ours:.3f} | {c_ours:.3f} | {N_PORTFOLIOS / t_ours:,.0f} | 1x | 1x |")
    print(f"| empyrical-reloaded 0.7.1 loop | {t_emp:.3f} | {c_emp:.3f} | {N_PORTFOLIOS / t_emp:,.0f} "
          f"| {t_emp / t_ours:.1f}x | {c_emp / c_ours:.1f}x |")
    print(f"| quantstats 0.0.86 loop ({QS_SAMPLE} portfolios timed, x{N_PORTFOLIOS // QS_SAMPLE} extrapolated) "
          f"| {t_qs:.1f} | {c_qs:.1f} | {N_PORTFOLIOS / t_qs:,.0f} | {t_qs / t_ours:.0f}x | {c_qs / c_ours:.0f}x |")
    print("\n| measure | max abs diff vs empyrical (10,000) | max abs diff vs quantstats (sample) |")
    print("|---|---:|---:|")
    for j, nm in enumerate(names):
        q = f"{diff_qs[j]:.1e}" if nm != "ES" else f"n/a (definition differs: {diff_qs[j]:.1e})"
        if nm == "VaR":
            q += " (Gaussian VaR)"
        print(f"| {nm} | {diff_emp[j]:.1e} | {q} |")
    print(f"\nWarm single-portfolio report through RiskMetricsService (20 stocks, 756 days, everything): "
          f"{t_svc * 1000:.1f} ms wall, {c_svc * 1000:.1f} ms CPU (medians of 20)")
    try:
        import os

        print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    except OSError:
        pass
    ok = diff_emp.max() < 1e-10 and np.delete(diff_qs, 3).max() < 1e-10
    print(f"agreement to 1e-10: {'yes' if ok else 'NO'}")


if __name__ == "__main__":
    main()
