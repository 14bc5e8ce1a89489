"""A chain of sources that records where every value came from.

For each symbol the first source in the chain that knows it answers; a
source that does not know a symbol raises
:class:`~floorguard.exceptions.SymbolNotFoundError` and the chain moves on.
Sources with an open universe (``open_universe = True``, e.g. yfinance) are
asked symbol by symbol after the closed-universe sources before them.

Provenance:

* ``price_history(...).attrs["provenance"]``: symbol -> ``{"source",
  "dataset", "first", "as_of"}``;
* ``last_price(...).source``;
* :meth:`ProviderChain.source_of`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from floorguard.exceptions import SymbolNotFoundError, ValidationError
from floorguard.marketdata.base import (
    DateLike,
    Instrument,
    MarketDataSource,
    PricePoint,
    normalise_symbols,
)

__all__ = ["ProviderChain"]


class ProviderChain:
    """Several :class:`MarketDataSource` objects tried in order.

    Parameters
    ----------
    sources : sequence of MarketDataSource
        Highest priority first.
    """

    name = "chain"

    def __init__(self, sources: Sequence[MarketDataSource]) -> None:
        if not sources:
            raise ValidationError.for_field("market_data_sources", "at least one source is needed")
        self.sources: list[MarketDataSource] = list(sources)
        self._known: dict[int, set[str]] = {}

    def _knows(self, index: int, symbol: str) -> bool | None:
        """True/False for closed universes, None when the source must be asked."""
        source = self.sources[index]
        if getattr(source, "open_universe", False):
            return None
        if index not in self._known:
            self._known[index] = set(source.symbols())
        return symbol in self._known[index]

    def source_of(self, symbol: str) -> MarketDataSource:
        """The source that answers for ``symbol`` (first closed universe that lists it)."""
        sym = normalise_symbols(symbol)[0]
        for i, source in enumerate(self.sources):
            knows = self._knows(i, sym)
            if knows:
                return source
            if knows is None:
                try:
                    source.instrument(sym)
                except SymbolNotFoundError:
                    continue
                return source
        raise self._unknown(sym)

    def _unknown(self, symbol: str) -> SymbolNotFoundError:
        names = ", ".join(s.name for s in self.sources)
        return SymbolNotFoundError(
            f"unknown symbol {symbol!r}: no market-data source ({names}) has it"
        )

    def symbols(self) -> list[str]:
        """Union of the closed universes (open ones contribute their cached symbols)."""
        out: set[str] = set()
        for source in self.sources:
            out.update(source.symbols())
        return sorted(out)

    def price_history(
        self,
        symbols: Sequence[str] | str,
        start: DateLike | None = None,
        end: DateLike | None = None,
    ) -> pd.DataFrame:
        """Closes of ``symbols``, each from the first source that has it.

        Returns
        -------
        DataFrame (n_dates, n_symbols)
            Columns in the requested order; ``attrs["provenance"]`` says which
            source and dataset each column came from and as of when.
        """
        syms = normalise_symbols(symbols)
        remaining = list(syms)
        parts: list[pd.DataFrame] = []
        provenance: dict[str, dict[str, Any]] = {}
        for i, source in enumerate(self.sources):
            if not remaining:
                break
            take: list[str] = []
            for sym in remaining:
                knows = self._knows(i, sym)
                if knows or knows is None:
                    take.append(sym)
            if not take:
                continue
            if getattr(source, "open_universe", False):
                for sym in take:
                    try:
                        part = source.price_history([sym], start, end)
                    except SymbolNotFoundError:
                        continue
                    parts.append(part)
                    provenance.update(_provenance(part, source.name))
                    remaining.remove(sym)
            else:
                part = source.price_history(take, start, end)
                parts.append(part)
                provenance.update(_provenance(part, source.name))
                remaining = [s for s in remaining if s not in take]
        if remaining:
            raise self._unknown(remaining[0])
        if len(parts) > 1:
            frame = pd.concat(parts, axis=1, join="outer", sort=True).sort_index()
        else:
            frame = parts[0]
        frame = frame[syms].astype("float64")
        frame.index = pd.DatetimeIndex(frame.index, name="date")
        frame.attrs["provenance"] = {s: provenance[s] for s in syms}
        return frame

    def last_price(self, symbol: str) -> PricePoint:
        """Last close from the first source that has ``symbol`` (``.source`` says which)."""
        return self.source_of(symbol).last_price(symbol)

    def instrument(self, symbol: str) -> Instrument:
        """Metadata from the first source that has ``symbol``."""
        return self.source_of(symbol).instrument(symbol)


def _provenance(part: pd.DataFrame, source_name: str) -> dict[str, dict[str, Any]]:
    known = part.attrs.get("provenance", {})
    out: dict[str, dict[str, Any]] = {}
    for sym in part.columns:
        col = part[sym]
        entry = dict(known.get(sym, {}))
        entry.setdefault("source", source_name)
        entry.setdefault("first", col.first_valid_index().date().isoformat())
        entry.setdefault("as_of", col.last_valid_index().date().isoformat())
        out[str(sym)] = entry
    return out
