"""Monte Carlo scenario benchmarks.

1. Terminal scenario: 1,000,000 paths, 20 correlated assets + the index, a
   collar (long 95 % put, short 110 % call) repriced at the horizon with the
   vol response. Compared with the time numpy alone takes to draw the same
   normals (same SFC64 generator, same chunks) in the same run.
2. Paths: 100,000 paths × 30 daily steps × 20 assets with floor-breach
   monitoring. Compared with drawing the normals alone and with a plain
   per-step numpy loop.
3. Single-asset European put: floorguard's antithetic MC against QuantLib's
   ``MCEuropeanEngine`` (pseudo-random, antithetic, one time step).
"""

from __future__ import annotations

import numpy as np

from bench._harness import machine, median_wall_cpu


def _interleaved(fns: dict, repeat: int = 7) -> dict:
    """Median wall and CPU time of each ``fn``, the contenders timed in turn, round after round.

    On a shared machine the load drifts over seconds; timing the baseline and
    the contenders alternately (after one warm-up each) keeps their ratios fair.
    """
    import statistics
    import time

    for fn in fns.values():
        fn()
    walls: dict = {k: [] for k in fns}
    cpus: dict = {k: [] for k in fns}
    for _ in range(repeat):
        for k, fn in fns.items():
            w0, c0 = time.perf_counter(), time.process_time()
            fn()
            walls[k].append(time.perf_counter() - w0)
            cpus[k].append(time.process_time() - c0)
    return {k: (statistics.median(walls[k]), statistics.median(cpus[k])) for k in fns}


N_ASSETS = 20
TERMINAL_PATHS = 1_000_000
PATH_PATHS = 100_000
STEPS = 30
CHUNK = 100_000


def _model():
    from floorguard.core.montecarlo import ReturnModel

    rng = np.random.default_rng(0)
    n = N_ASSETS + 1  # 20 holdings + the index (last column)
    load = np.r_[rng.uniform(0.6, 1.4, N_ASSETS), 1.0]
    vol_m = 0.012
    idio = np.r_[rng.uniform(0.008, 0.02, N_ASSETS), 0.0]
    cov = np.outer(load, load) * vol_m**2 + np.diag(idio**2) + np.eye(n) * 1e-10
    return ReturnModel(mean=np.zeros(n), cov=cov), n


def _collar(value: float, spot: float):
    from floorguard.core.montecarlo import OptionLeg

    units = value / spot
    t = 63 / 252  # three months: repriced at the one-month horizon with two months left
    return [OptionLeg("put", 0.95 * spot, t, units), OptionLeg("call", 1.10 * spot, t, -units)]


def _normals(n_total: int, width: int, chunk: int) -> None:
    from floorguard.core.montecarlo import spawn_streams

    rng = spawn_streams(1, 4)[0]
    done = 0
    while done < n_total:
        m = min(chunk, n_total - done)
        rng.standard_normal((m, width))
        done += m


def _normals_blocked(n_total: int, width: int) -> None:
    """The same normals drawn into one reused cache-sized buffer (no fresh pages)."""
    from floorguard.core.montecarlo import spawn_streams
    from floorguard.core.montecarlo._paths import TERMINAL_BLOCK_BYTES

    rng = spawn_streams(1, 4)[0]
    block = TERMINAL_BLOCK_BYTES // (8 * width)
    buf = np.empty((block, width))
    done = 0
    while done < n_total:
        m = min(block, n_total - done)
        rng.standard_normal(out=buf[:m])
        done += m


def _terminal_kernel(model, h, legs, spot, grid: int | None = 4097) -> None:
    """The terminal kernel of ``run_scenario`` (holdings values + collar repricing), no stats."""
    from floorguard.core.montecarlo import FlatVol
    from floorguard.core.montecarlo._engine import _terminal_finals

    reprice = dict(
        spot0=spot,
        surface=FlatVol(0.2),
        rate=0.0,
        dividend_yield=0.0,
        vol_multiplier=1.0,
        spot_vol_slope=-1.0,
        grid=grid,
    )
    _terminal_finals(
        model,
        21,
        h,
        index=model.n_assets - 1,
        index_spot=spot,
        legs=legs,
        premium=0.0,
        reprice=reprice,
        seed=1,
        chunk_size=CHUNK,
        fin_u=np.empty(TERMINAL_PATHS),
        fin_h=np.empty(TERMINAL_PATHS),
    )


def _terminal_kernel_unfused(model, h, legs, spot) -> None:
    """The previous kernel: whole 100k-path chunks of log returns, then exp, product, repricing."""
    from floorguard.core.montecarlo import FlatVol, iter_terminal_chunks, reprice_legs

    surf = FlatVol(0.2)
    chunks = iter_terminal_chunks(
        model, 21, TERMINAL_PATHS, seed=1, chunk_size=CHUNK, reuse_buffers=True
    )
    for x in chunks:
        np.exp(x, out=x)
        vals = x @ h
        vals += reprice_legs(
            legs,
            spot * x[:, -1],
            21 / 252,
            spot0=spot,
            surface=surf,
            spot_vol_slope=-1.0,
            grid=4097,
        )


def _plain_step_loop(model, h, floor: float) -> float:
    from floorguard.core.montecarlo import spawn_streams

    rng = spawn_streams(1, 4)[0]
    lt = model.chol.T
    breaches = 0
    done = 0
    while done < PATH_PATHS:
        m = min(20_000, PATH_PATHS - done)
        logs = np.zeros((m, model.n_assets))
        vmin = np.full(m, np.inf)
        for _ in range(STEPS):
            logs += rng.standard_normal((m, model.n_assets)) @ lt
            np.minimum(vmin, np.exp(logs) @ h, out=vmin)
        breaches += int((vmin < floor).sum())
        done += m
    return breaches / PATH_PATHS


def _quantlib_put(
    n_paths: int, s: float, k: float, t_days: int, r: float, q: float, vol: float
) -> tuple[float, float]:
    import QuantLib as ql

    today = ql.Date(2, 1, 2026)
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual365Fixed()
    spot = ql.QuoteHandle(ql.SimpleQuote(s))
    rts = ql.YieldTermStructureHandle(ql.FlatForward(today, r, dc))
    qts = ql.YieldTermStructureHandle(ql.FlatForward(today, q, dc))
    vts = ql.BlackVolTermStructureHandle(ql.BlackConstantVol(today, ql.NullCalendar(), vol, dc))
    process = ql.BlackScholesMertonProcess(spot, qts, rts, vts)
    option = ql.VanillaOption(
        ql.PlainVanillaPayoff(ql.Option.Put, k), ql.EuropeanExercise(today + t_days)
    )
    engine = ql.MCEuropeanEngine(
        process,
        "pseudorandom",
        timeSteps=1,
        requiredSamples=n_paths,
        seed=42,
        antitheticVariate=True,
    )
    option.setPricingEngine(engine)
    return option.NPV(), option.errorEstimate()


def main() -> None:
    from threadpoolctl import threadpool_limits

    # BLAS single-threaded for every contender: the (paths x 21) @ (21 x 21) products are too
    # thin to gain from threads, and the machine is shared (see docs/benchmarks.md).
    with threadpool_limits(limits=1, user_api="blas"):
        _main()


def _main() -> None:
    from floorguard.core.montecarlo import mc_european_price, preset, run_scenario
    from floorguard.core.pricing import bsm_price

    model, n = _model()
    h = np.r_[np.full(N_ASSETS, 50_000.0), 0.0]
    spot = 4000.0
    legs = _collar(float(h.sum()), spot)
    floor = 0.9 * float(h.sum())
    common = dict(index=n - 1, index_spot=spot, surface=0.2, floor=floor, seed=1)
    rows: list[tuple[str, str, tuple[float, float], tuple[float, float] | None, str]] = []

    # 1. terminal scenario (contenders timed in turn with the baseline)
    case = "terminal: 1e6 paths × 21 assets, collar"
    t = _interleaved(
        {
            "base": lambda: _normals(TERMINAL_PATHS, n, CHUNK),
            "blocked": lambda: _normals_blocked(TERMINAL_PATHS, n),
            "kernel": lambda: _terminal_kernel(model, h, legs, spot),
            "previous": lambda: _terminal_kernel_unfused(model, h, legs, spot),
            "exact": lambda: _terminal_kernel(model, h, legs, spot, grid=None),
            "run": lambda: run_scenario(
                h,
                model,
                preset("severe"),
                legs=legs,
                n_paths=TERMINAL_PATHS,
                chunk_size=CHUNK,
                **common,
            ),
        }
    )
    base = t["base"]
    for key, label in (
        ("base", "numpy: draw the normals only (SFC64, same chunks)"),
        ("blocked", "numpy: same normals drawn into one reused cache-sized buffer"),
        ("kernel", "floorguard: simulate + value holdings + reprice collar (4097-node spot grid)"),
        ("previous", "previous kernel: 100k-path chunks of log returns, exp, product, repricing"),
        ("exact", "floorguard: same, collar repriced exactly on every path (bsm_price)"),
        ("run", "floorguard `run_scenario` (+ P5/P50/P95, VaR, ES, CF-ES, breach, all with SEs)"),
    ):
        rows.append((case, label, t[key], base, ""))

    # 2. paths with floor-breach monitoring
    case = "paths: 1e5 × 30 days × 21 assets, floor breach"
    paths = dict(n_paths=PATH_PATHS, monitor_path=True, **common)
    t = _interleaved(
        {
            "base": lambda: _normals(PATH_PATHS * STEPS, n, 20_000),
            "loop": lambda: _plain_step_loop(model, h, floor),
            "unhedged": lambda: run_scenario(h, model, preset("severe"), legs=(), **paths),
            "hedged": lambda: run_scenario(h, model, preset("severe"), legs=legs, **paths),
        },
        repeat=5,
    )
    for key, label in (
        ("base", "numpy: draw the normals only"),
        ("loop", "plain per-step numpy loop (unhedged breach only)"),
        ("unhedged", "floorguard `run_scenario`, unhedged + breach + stats with SEs"),
        ("hedged", "floorguard `run_scenario`, collar repriced every day (hedged breach)"),
    ):
        rows.append((case, label, t[key], t["base"], ""))

    # 3. single-asset put vs QuantLib
    s, k, days, r, q, vol = 100.0, 95.0, 182, 0.03, 0.01, 0.25
    t = days / 365
    exact = float(bsm_price("put", s, k, t, r, vol, q))
    npaths = 1_000_000
    ours = mc_european_price(s, k, t, r, vol, "put", dividend_yield=q, n_paths=npaths, seed=3)
    t_ours = median_wall_cpu(
        lambda: mc_european_price(s, k, t, r, vol, "put", dividend_yield=q, n_paths=npaths, seed=3)
    )
    ql_price, ql_err = _quantlib_put(npaths, s, k, days, r, q, vol)
    t_ql = median_wall_cpu(lambda: _quantlib_put(npaths, s, k, days, r, q, vol))
    case = "1-asset European put, 1e6 antithetic paths"
    rows.append(
        (
            case,
            f"QuantLib MCEuropeanEngine: {ql_price:.4f} ± {ql_err:.4f} (BSM {exact:.4f})",
            t_ql,
            None,
            f"{npaths / t_ql[0] / 1e6:.1f} M paths/s",
        )
    )
    rows.append(
        (
            case,
            f"floorguard `mc_european_price`: {ours.value:.4f} ± {ours.se:.4f}",
            t_ours,
            t_ql,
            f"{npaths / t_ours[0] / 1e6:.1f} M paths/s",
        )
    )

    print(f"Machine: {machine()}")
    print()
    print("| case | implementation | wall s | CPU s | ratio wall | ratio CPU | note |")
    print("|---|---|---:|---:|---:|---:|---|")
    for case, impl, (w, c), ref, note in rows:
        rw = f"{w / ref[0]:.2f}×" if ref else ""
        rc = f"{c / ref[1]:.2f}×" if ref else ""
        print(f"| {case} | {impl} | {w:.3f} | {c:.3f} | {rw} | {rc} | {note} |")


if __name__ == "__main__":
    main()
