"""Option-chain benchmarks: CBOE reading, parity forwards, surface inputs, synthetic chains.

Run: ``python -m bench bench_chains``. The alternative measured in the same
run is a bare ``pandas.read_csv`` of the same file (no OCC decoding, no
validation, no chain): the price of the reader's checks; and the reader's
line-by-line reference parser (``fast=False``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench._harness import ROOT, machine, median_time

SPX_FILE = ROOT.parent / "shared" / "data" / "option_chains" / "spx_2022-02-04.csv"


def main() -> None:
    from floorguard.core.pricing import ModelSurface
    from floorguard.domain.chains import chain_to_surface_inputs, fit_chain_surface, forward_curve, synthetic_chain
    from floorguard.domain.contracts import exchange_calendar, get_contract_spec
    from floorguard.marketdata.cboe import read_cboe_csv

    if not Path(SPX_FILE).is_file():
        print(f"skipped: {SPX_FILE} is absent")
        return
    exchange_calendar("XNYS")  # build the calendar once, outside the timings
    rows = []
    t_read = median_time(lambda: read_cboe_csv(SPX_FILE))
    t_pandas = median_time(lambda: pd.read_csv(SPX_FILE, skiprows=3))
    chain = read_cboe_csv(SPX_FILE)
    n = len(chain.quotes)
    t_ref = median_time(lambda: read_cboe_csv(SPX_FILE, fast=False))
    rows.append(("read_cboe_csv, SPX 2022-02-04 (pandas fast path)", f"{n} quotes", t_read))
    rows.append(("  reference: line-by-line parser (fast=False)", f"{n} quotes", t_ref))
    rows.append(("  alternative: bare pandas.read_csv (no decoding/checks)", f"{n // 2} rows", t_pandas))

    def fresh():  # derived values are cached per chain; time them from scratch
        return read_cboe_csv(SPX_FILE)

    chains = [fresh() for _ in range(5)]
    it = iter(chains)
    t_curve = median_time(lambda: forward_curve(next(it)), repeat=3, warmup=1)
    rows.append(("forward_curve (parity, 40 expiries)", "40 expiries", t_curve))
    chains = [fresh() for _ in range(5)]
    it = iter(chains)
    t_inputs = median_time(lambda: chain_to_surface_inputs(next(it)), repeat=3, warmup=1)
    inputs = chain_to_surface_inputs(fresh())
    rows.append(("chain_to_surface_inputs (forwards + OTM IVs)", f"{inputs.ivs.size} IVs", t_inputs))
    chains = [fresh() for _ in range(5)]
    it = iter(chains)
    t_fit = median_time(lambda: fit_chain_surface(next(it)), repeat=3, warmup=1)
    rows.append(("fit_chain_surface end to end (inputs + SVI fit)", f"{len(inputs.forwards_by_expiry)} expiries", t_fit))
    spec = get_contract_spec("SPXW")
    surf = ModelSurface(0.2)
    as_of = pd.Timestamp("2022-02-04 16:00", tz="America/New_York")
    t_syn = median_time(lambda: synthetic_chain(spec, 4500.0, as_of, surf, 0.01, 0.013, horizon_days=200, width=0.25))
    syn = synthetic_chain(spec, 4500.0, as_of, surf, 0.01, 0.013, horizon_days=200, width=0.25)
    rows.append(("synthetic_chain SPXW, 200 days, +/-25 %", f"{len(syn.quotes)} quotes", t_syn))
    spy = get_contract_spec("SPY")
    t_am = median_time(
        lambda: synthetic_chain(spy, 557.0, "2025-05-01 16:00", surf, 0.04, 0.013, horizon_days=60, width=0.1),
        repeat=3,
    )
    am = synthetic_chain(spy, 557.0, "2025-05-01 16:00", surf, 0.04, 0.013, horizon_days=60, width=0.1)
    rows.append(("synthetic_chain SPY (American prices), 60 days, +/-10 %", f"{len(am.quotes)} quotes", t_am))

    print(f"machine: {machine()}")
    print()
    print("| step | size | median time |")
    print("|---|---|---|")
    for name, size, t in rows:
        print(f"| {name} | {size} | {t * 1e3:.0f} ms |")
    print()
    print(f"fast path vs reference parser: {t_ref / t_read:.1f}x faster; "
          f"overhead vs bare pandas.read_csv: {t_read / t_pandas:.1f}x")


if __name__ == "__main__":
    main()
