"""Column types that behave the same on SQLite and PostgreSQL.

``Money``
    exact decimals: ``NUMERIC(20, 6)`` on PostgreSQL; canonical decimal text
    on SQLite (whose NUMERIC affinity would turn values into binary floats).
    Python side: :class:`decimal.Decimal`.
``UTCDateTime``
    timezone-aware UTC datetimes: ``TIMESTAMP WITH TIME ZONE`` on PostgreSQL,
    ISO text on SQLite; naive datetimes are refused on the way in.
``JSONType``
    ``JSONB`` on PostgreSQL, ``JSON`` (text) elsewhere.
``RawJSON``
    JSON text encoded already (a large document shared by many rows): engines
    from :func:`~floorguard.persistence.db.make_engine` store it as it is
    instead of encoding it again (:func:`json_serializer`).
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

__all__ = ["JSONType", "Money", "RawJSON", "UTCDateTime", "json_serializer", "to_decimal"]

MONEY_SCALE = 6
_QUANT = Decimal(1).scaleb(-MONEY_SCALE)


def to_decimal(value: Any) -> Decimal:
    """Exact decimal of ``value`` (floats through their shortest repr)."""
    if isinstance(value, Decimal):
        out = value
    elif isinstance(value, float):
        out = Decimal(repr(value))
    else:
        try:
            out = Decimal(str(value))
        except InvalidOperation as exc:
            raise ValueError(f"not a decimal number: {value!r}") from exc
    if not out.is_finite():
        raise ValueError(f"not a finite amount: {value!r}")
    return out


class Money(TypeDecorator[Decimal]):
    """Exact decimal amounts (6 decimal places)."""

    impl = sa.Numeric(20, MONEY_SCALE)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.String(40))
        return dialect.type_descriptor(sa.Numeric(20, MONEY_SCALE, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        dec = to_decimal(value).quantize(_QUANT)
        return format(dec, "f") if dialect.name == "sqlite" else dec

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return to_decimal(value).quantize(_QUANT)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware datetimes, stored and returned in UTC."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, dt.datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime refused: pass a timezone-aware datetime (UTC)")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


class RawJSON(str):
    """Text that is already one JSON document, for a ``JSONType`` column.

    ``RawJSON(json.dumps(doc))`` stores ``doc`` without encoding it again; read
    back, the column gives the parsed document as usual. Only engines made by
    :func:`~floorguard.persistence.db.make_engine` know it (their
    ``json_serializer`` is :func:`json_serializer`).
    """

    __slots__ = ()


def json_serializer(value: Any) -> str:
    """Encode ``value`` for a JSON column; :class:`RawJSON` passes through unchanged."""
    if isinstance(value, RawJSON):
        return str(value)
    return json.dumps(value)
