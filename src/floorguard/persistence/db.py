"""Engines, sessions and migrations.

* :func:`make_engine` builds an engine lazily from a URL: SQLite gets
  ``PRAGMA foreign_keys=ON``, WAL journaling, a busy timeout and a pool as
  large as the API's thread pool; JSON columns accept pre-encoded
  :class:`~floorguard.persistence.types.RawJSON`; PostgreSQL
  goes through psycopg 3 (``postgresql://`` and ``postgres://`` URLs are
  rewritten to ``postgresql+psycopg://``).
* :func:`make_sessionmaker` returns a ``sessionmaker`` whose sessions refuse
  to flush an unbalanced journal entry.
* :func:`upgrade` / :func:`downgrade` run the packaged Alembic migrations:
  the only way the schema is created.
* :func:`check_connection` turns "cannot connect" into a one-line
  :class:`~floorguard.exceptions.ConfigurationError`.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.engine.url import URL
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from floorguard.exceptions import ConfigurationError, ValidationError

__all__ = [
    "MIGRATIONS_DIR",
    "load_models",
    "alembic_config",
    "check_connection",
    "current_revision",
    "downgrade",
    "head_revision",
    "make_engine",
    "make_sessionmaker",
    "normalise_url",
    "safe_url",
    "upgrade",
]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def normalise_url(url: str | URL) -> URL:
    """Parse ``url`` and route PostgreSQL through psycopg 3.

    Raises
    ------
    ConfigurationError
        ``url`` is not a database URL.
    """
    try:
        parsed = make_url(url) if not isinstance(url, URL) else url
    except ArgumentError as exc:
        raise ConfigurationError(f"not a database URL: {url!r}") from exc
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def safe_url(url: str | URL) -> str:
    """The URL with its password hidden, for messages."""
    try:
        return normalise_url(url).render_as_string(hide_password=True)
    except ConfigurationError:
        return "<invalid url>"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: commits skip the fsync of the WAL (checkpoints still sync); a crash
        # keeps the database consistent and may lose only the last commits (SQLite docs, "WAL").
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """Create an engine for ``url`` (nothing is connected until first use).

    SQLite files get their parent folder created.

    Raises
    ------
    ConfigurationError
        Invalid URL or a driver that is not installed.
    """
    from floorguard.persistence.types import json_serializer

    parsed = normalise_url(url)
    kwargs.setdefault("json_serializer", json_serializer)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            # SQLite connections are cheap file handles: enough that the API's worker
            # threads (40), the group committer and the event loop never wait for one.
            kwargs.setdefault("pool_size", 8)
            kwargs.setdefault("max_overflow", 56)
    elif parsed.get_backend_name() == "postgresql":
        kwargs.setdefault("pool_pre_ping", True)
        connect_args = dict(kwargs.pop("connect_args", {}) or {})
        connect_args.setdefault("connect_timeout", 5)
        kwargs["connect_args"] = connect_args
    try:
        engine = sa.create_engine(parsed, **kwargs)
    except (NoSuchModuleError, ModuleNotFoundError) as exc:
        raise ConfigurationError(
            f"database driver for {parsed.drivername} is not installed "
            "(PostgreSQL needs: pip install 'floorguard[postgres]')"
        ) from exc
    except ArgumentError as exc:
        raise ConfigurationError(f"unusable database URL {safe_url(parsed)}: {exc}") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def check_connection(engine: Engine) -> None:
    """Connect once; raise a one-line ConfigurationError when that fails."""
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except SQLAlchemyError as exc:
        raise ConfigurationError(_unreachable(engine.url, exc)) from exc


def _unreachable(url: URL, exc: BaseException) -> str:
    detail = str(getattr(exc, "orig", exc) or exc).strip().splitlines()
    first = detail[0] if detail else type(exc).__name__
    return f"cannot reach database {safe_url(url)}: {first}"


# ------------------------------------------------------------------ sessions
def _check_balanced(session: Session, _ctx: Any, _instances: Any) -> None:
    from floorguard.persistence.orm import JournalEntry, JournalLine

    entries: set[JournalEntry] = set()
    for obj in list(session.new) + list(session.dirty):
        if isinstance(obj, JournalEntry):
            entries.add(obj)
        elif isinstance(obj, JournalLine) and obj.entry is not None:
            entries.add(obj.entry)
    for entry in entries:
        if entry in session.deleted:
            continue
        lines = entry.lines
        if len(lines) < 2:
            raise ValidationError.for_field(
                "lines", f"journal entry {entry.description!r} needs at least two lines"
            )
        debit = sum((Decimal(line.debit or 0) for line in lines), Decimal(0))
        credit = sum((Decimal(line.credit or 0) for line in lines), Decimal(0))
        if debit != credit:
            raise ValidationError.for_field(
                "lines",
                f"journal entry {entry.description!r} does not balance: "
                f"debits {debit} != credits {credit}",
            )


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine`` that refuse unbalanced journal entries."""
    factory = sessionmaker(bind=engine, expire_on_commit=False, future=True)
    event.listen(factory, "before_flush", _check_balanced)
    return factory


# ---------------------------------------------------------------- migrations
_NOT_MODELS = {"db", "types", "cache", "repositories"}


def load_models() -> Any:
    """Import every model module of ``floorguard.persistence``; return ``Base.metadata``.

    Models live in ``orm.py`` and in other modules of this package that
    subclass ``orm.Base`` (``lifecycle.py``, ...). Alembic's autogenerate and
    the schema-drift test need all of them registered.
    """
    import importlib
    import pkgutil

    import floorguard.persistence as package
    from floorguard.persistence.orm import Base

    for info in pkgutil.iter_modules(package.__path__):
        if info.name not in _NOT_MODELS and not info.ispkg:
            importlib.import_module(f"floorguard.persistence.{info.name}")
    return Base.metadata


def alembic_config(url: str | URL | None = None, *, connection: Any = None) -> Any:
    """An Alembic ``Config`` pointing at the packaged migrations."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        cfg.set_main_option(
            "sqlalchemy.url", normalise_url(url).render_as_string(hide_password=False).replace("%", "%%")
        )
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _run(url: str | URL, action: str, revision: str) -> None:
    from alembic import command

    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            cfg = alembic_config(connection=conn)
            getattr(command, action)(cfg, revision)
    except OperationalError as exc:
        raise ConfigurationError(_unreachable(engine.url, exc)) from exc
    finally:
        engine.dispose()


def upgrade(url: str | URL, revision: str = "head") -> None:
    """Apply the migrations up to ``revision`` (default: the latest)."""
    _run(url, "upgrade", revision)


def downgrade(url: str | URL, revision: str) -> None:
    """Revert the migrations down to ``revision`` (``"base"``: drop everything)."""
    _run(url, "downgrade", revision)


def head_revision() -> str:
    """The latest migration revision id in the package."""
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:
        raise ConfigurationError(f"migrations must have a single head, found {heads}")
    return heads[0]


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (``None`` when never migrated)."""
    from alembic.runtime.migration import MigrationContext

    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except OperationalError as exc:
        raise ConfigurationError(_unreachable(engine.url, exc)) from exc
