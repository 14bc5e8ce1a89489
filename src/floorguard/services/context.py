"""The application context: settings plus lazily built resources.

``AppContext(settings)`` builds nothing when created. On first use it makes
the database engine (``.engine``), the session factory (``.session()``) and
the market-data provider chain (``.market_data()``). Edges create one per
process (API app, CLI invocation, job runner) and ``close()`` it at the end.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from floorguard.config import Settings, get_settings
from floorguard.exceptions import ConfigurationError
from floorguard.marketdata import ProviderChain, build_sources
from floorguard.persistence.batching import GroupCommitter
from floorguard.persistence.cache import DbPriceCache
from floorguard.persistence.db import (
    check_connection,
    current_revision,
    head_revision,
    make_engine,
    make_sessionmaker,
    safe_url,
)

__all__ = ["AppContext"]


class AppContext:
    """Settings and the lazily built engine, sessions and market data.

    Parameters
    ----------
    settings : Settings, optional
        Defaults to :func:`floorguard.config.get_settings`.

    Examples
    --------
    >>> ctx = AppContext(Settings(env="test"))   # doctest: +SKIP
    >>> with ctx.session() as s:                  # commits on success
    ...     ...
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings if settings is not None else get_settings()
        self._lock = threading.RLock()
        self._engine: Engine | None = None
        self._sessionmaker: sessionmaker[Session] | None = None
        self._market_data: ProviderChain | None = None
        #: extension slots for resources other services build lazily (broker, ...)
        self.resources: dict[str, Any] = {}

    # ------------------------------------------------------------- database
    @property
    def database_url(self) -> str:
        return self.settings.resolved_database_url

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (created on first access)."""
        with self._lock:
            if self._engine is None:
                self._engine = make_engine(self.database_url)
            return self._engine

    @property
    def session_factory(self) -> sessionmaker[Session]:
        """``sessionmaker`` whose sessions refuse unbalanced journal entries."""
        with self._lock:
            if self._sessionmaker is None:
                self._sessionmaker = make_sessionmaker(self.engine)
            return self._sessionmaker

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on any error.

        Raises
        ------
        ConfigurationError
            The database cannot be reached (one line naming the URL).
        """
        session = self.session_factory()
        try:
            yield session
            session.commit()
        except DBAPIError as exc:
            session.rollback()
            if isinstance(exc, OperationalError) and _is_connection_error(exc):
                raise ConfigurationError(
                    f"cannot reach database {safe_url(self.database_url)}: {_first_line(exc)}"
                ) from exc
            if _is_missing_schema(exc):
                raise ConfigurationError(
                    f"database {safe_url(self.database_url)} has no floorguard schema "
                    f"({_first_line(exc)}): run 'floorguard db upgrade'"
                ) from exc
            raise
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def group_committer(self) -> GroupCommitter:
        """The context's :class:`~floorguard.persistence.batching.GroupCommitter` (made on first use).

        Request paths that only append rows (quote drafts) submit their writes
        here: concurrent requests share one transaction and one commit.
        """
        with self._lock:
            committer = self.resources.get("group_committer")
            if committer is None:
                committer = GroupCommitter(self.engine)
                self.resources["group_committer"] = committer
            return committer  # type: ignore[no-any-return]

    def check_database(self) -> str:
        """Check the database answers and is migrated to the head; return the revision.

        Raises
        ------
        ConfigurationError
            Unreachable, or not migrated (run ``floorguard db upgrade``).
        """
        check_connection(self.engine)
        current = current_revision(self.engine)
        head = head_revision()
        if current != head:
            raise ConfigurationError(
                f"database {safe_url(self.database_url)} is at revision {current or 'none'}, "
                f"expected {head}: run 'floorguard db upgrade'"
            )
        return head

    # ---------------------------------------------------------- market data
    def market_data(self) -> ProviderChain:
        """The provider chain of ``settings.market_data_sources`` (built once)."""
        with self._lock:
            if self._market_data is None:
                cache = DbPriceCache(self.session_factory)
                self._market_data = ProviderChain(build_sources(self.settings, cache=cache))
            return self._market_data

    # ------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Dispose of the engine and forget built resources."""
        with self._lock:
            for resource in self.resources.values():
                closer = getattr(resource, "close", None)
                if callable(closer):
                    closer()
            self.resources.clear()
            if self._engine is not None:
                self._engine.dispose()
            self._engine = None
            self._sessionmaker = None
            self._market_data = None

    def __enter__(self) -> AppContext:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", exc) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _is_connection_error(exc: DBAPIError) -> bool:
    if exc.connection_invalidated:
        return True
    text = str(getattr(exc, "orig", exc)).lower()
    return any(
        s in text
        for s in ("connection", "could not connect", "unable to open database", "timeout", "refused")
    )


def _is_missing_schema(exc: DBAPIError) -> bool:
    text = str(getattr(exc, "orig", exc)).lower()
    return "no such table" in text or ("relation" in text and "does not exist" in text)
