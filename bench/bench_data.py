"""Foundation benchmarks: bundled data loading and the market-data cache.

Measured, all in one run:

* cold load of the whole bundled universe (28 symbols, every file parsed) by
  ``BundledSource`` versus arch's own loaders for its files (the peer for the
  same parsing work) plus ``pandas.read_csv`` of skfolio's three files;
* a warm (cached) ``price_history`` of all 28 symbols;
* the quality report of the universe;
* writing and reading 10 years (2,520 closes) of one symbol through the
  database cache: the bulk ``INSERT ... ON CONFLICT`` upsert versus the plain
  ORM loop it replaced, on SQLite (and PostgreSQL when
  ``FLOORGUARD_TEST_POSTGRES_URL`` is set).
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

from bench._harness import machine, median_time


def _cold_bundled() -> None:
    from floorguard.marketdata import BundledSource

    src = BundledSource()
    src.price_history(src.symbols())
    src.fama_french()
    src.credit_spread()
    src.ohlcv("SPX")


def _peer_loaders() -> None:
    import importlib.util

    from arch.data import default, frenchdata, nasdaq, sp500, vix

    for mod in (sp500, nasdaq, vix, frenchdata, default):
        mod.load()
    base = Path(next(iter(importlib.util.find_spec("skfolio").submodule_search_locations)))
    for name in ("sp500_dataset", "sp500_index", "factors_dataset"):
        pd.read_csv(base / "datasets" / "data" / f"{name}.csv.gz", index_col=0, parse_dates=True)


def _closes() -> pd.Series:
    idx = pd.bdate_range("2015-01-01", periods=2520)
    rng = np.random.default_rng(7)
    return pd.Series(100 * np.exp(np.cumsum(rng.normal(0, 0.01, len(idx)))), index=idx)


def _orm_loop(session, closes: pd.Series, source: str) -> None:  # noqa: ANN001
    from floorguard.persistence.orm import MarketDataCache, utcnow

    now = utcnow()
    for d, v in closes.items():
        session.add(MarketDataCache(symbol="BENCH", date=d.date(), close=float(v), source=source, fetched_at=now))
    session.flush()


def _cache_times(url: str) -> tuple[float, float, float]:
    from floorguard.persistence import repositories as repo
    from floorguard.persistence.db import make_engine, make_sessionmaker, upgrade

    upgrade(url)
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    closes = _closes()
    counter = iter(range(10_000))

    def bulk() -> None:
        with factory() as s, s.begin():
            repo.store_prices(s, symbol="BENCH", closes=closes, source=f"bulk{next(counter)}")

    def orm() -> None:
        with factory() as s, s.begin():
            _orm_loop(s, closes, f"orm{next(counter)}")

    def load() -> None:
        with factory() as s:
            repo.load_prices(s, symbol="BENCH", source="bulk0")

    t_bulk = median_time(bulk)
    t_orm = median_time(orm)
    t_load = median_time(load)
    engine.dispose()
    return t_bulk, t_orm, t_load


def main() -> None:
    t0 = time.perf_counter()
    _cold_bundled()
    first = time.perf_counter() - t0
    t_cold = median_time(_cold_bundled)
    t_peer = median_time(_peer_loaders)

    from floorguard.marketdata import BundledSource

    src = BundledSource()
    src.price_history(src.symbols())
    t_warm = median_time(lambda: src.price_history(src.symbols()))
    t_quality = median_time(lambda: src.quality())

    print(f"\nBundled data ({machine()}; other engineers were running tests on the same cores)\n")
    print("| task | median wall time (s) |")
    print("|---|---:|")
    print(f"| first load in this process (imports + parse all 8 files, 28 symbols) | {first:.3f} |")
    print(f"| cold load, new `BundledSource` (parse all 8 files) | {t_cold:.3f} |")
    print(f"| peer: arch's 5 `load()` + `pandas.read_csv` of skfolio's 3 files | {t_peer:.3f} |")
    print(f"| warm `price_history` of 28 symbols (cached frames) | {t_warm:.4f} |")
    print(f"| quality report of the 28 symbols | {t_quality:.3f} |")

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rows.append(("SQLite (file, WAL)", *_cache_times(f"sqlite:///{Path(tmp) / 'bench.db'}")))
    pg = os.environ.get("FLOORGUARD_TEST_POSTGRES_URL")
    if pg:
        import sqlalchemy as sa

        from floorguard.persistence.db import normalise_url

        admin = sa.create_engine(normalise_url(pg), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        name = f"fg_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as c:
            c.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            url = normalise_url(pg).set(database=name).render_as_string(hide_password=False)
            rows.append(("PostgreSQL 15 (localhost)", *_cache_times(url)))
        finally:
            with admin.connect() as c:
                c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    print("\nMarket-data cache, 2,520 daily closes of one symbol\n")
    print("| database | bulk upsert (s) | ORM loop, the alternative (s) | speed-up | load (s) |")
    print("|---|---:|---:|---:|---:|")
    for db, t_bulk, t_orm, t_load in rows:
        print(f"| {db} | {t_bulk:.3f} | {t_orm:.3f} | {t_orm / t_bulk:.1f}x | {t_load:.3f} |")


if __name__ == "__main__":
    main()
