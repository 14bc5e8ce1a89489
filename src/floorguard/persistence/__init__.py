"""Storage: SQLAlchemy 2.0 ORM, engines and sessions, Alembic migrations, repositories.

``orm`` (models), ``types`` (Money, UTCDateTime, JSONType), ``db``
(``make_engine``, ``make_sessionmaker``, ``upgrade``), ``repositories``
(keyword-only functions over a ``Session``), ``cache`` (the market-data cache
behind ``floorguard.marketdata.PriceCache``). The schema comes only from the
migrations in ``migrations/``.
"""
