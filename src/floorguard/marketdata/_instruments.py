"""The shipped instrument table (``floorguard/data/instruments.csv``).

One row per bundled symbol: long name, asset type, GICS sector (blank for
ETFs and indices), currency, primary exchange (as of the data period,
1990-2022) and the dataset file it comes from.
"""

from __future__ import annotations

import csv
import functools
import io
from importlib import resources

from floorguard.marketdata.base import Instrument

__all__ = ["instrument_table", "dataset_of"]


@functools.lru_cache(maxsize=1)
def _rows() -> tuple[dict[str, str], ...]:
    text = (resources.files("floorguard") / "data" / "instruments.csv").read_text("utf-8")
    return tuple(csv.DictReader(io.StringIO(text)))


def instrument_table() -> dict[str, Instrument]:
    """Symbol -> :class:`Instrument` for every shipped symbol."""
    return {
        row["symbol"]: Instrument(
            symbol=row["symbol"],
            name=row["name"],
            asset_type=row["asset_type"],
            sector=row["sector"] or None,
            currency=row["currency"],
            exchange=row["exchange"],
        )
        for row in _rows()
    }


def dataset_of() -> dict[str, str]:
    """Symbol -> ``"package:file"`` the bundled history comes from."""
    return {row["symbol"]: row["dataset"] for row in _rows()}
