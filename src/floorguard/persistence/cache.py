"""The database-backed market-data cache (``market_data_cache`` table).

:class:`DbPriceCache` implements :class:`floorguard.marketdata.PriceCache`
structurally (the market-data layer does not import persistence): each call
runs in its own short transaction from the given session factory.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
from sqlalchemy.orm import Session

from floorguard.persistence import repositories as repo

__all__ = ["DbPriceCache"]


class DbPriceCache:
    """Closes cached per ``(symbol, date, source)``.

    Parameters
    ----------
    session_factory : callable
        Returns a new ``Session`` (a ``sessionmaker``).
    """

    def __init__(self, session_factory: Callable[[], Session]) -> None:
        self._factory = session_factory

    def load(self, symbol: str, *, source: str) -> pd.Series:
        with self._factory() as session:
            return repo.load_prices(session, symbol=symbol, source=source)

    def store(self, symbol: str, closes: pd.Series, *, source: str, sector: str | None = None) -> int:
        with self._factory() as session, session.begin():
            return repo.store_prices(session, symbol=symbol, closes=closes, source=source, sector=sector)

    def symbols(self, *, source: str | None = None) -> list[str]:
        with self._factory() as session:
            return sorted({c.symbol for c in repo.cached_universe(session, source=source)})
