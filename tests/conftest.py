"""Shared test fixtures.

Real CBOE chains live outside the repository, in ``../shared/data/option_chains``
(or ``$FLOORGUARD_SHARED_DIR``). Tests that need them skip, saying why, when
that folder is absent.

Database fixtures (see the block comment further down): ``settings`` (env=test,
tmp data_home), ``db_url`` (empty database), ``migrated_db_url`` (at the
migrations' head) and ``ctx`` (an ``AppContext`` on it). The database ones are
parametrised over SQLite and PostgreSQL; the PostgreSQL case needs
``FLOORGUARD_TEST_POSTGRES_URL`` (``.ci/run`` sets it) and skips otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _shared_dir() -> Path:
    env = os.environ.get("FLOORGUARD_SHARED_DIR")
    return Path(env) if env else REPO_ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared_chains_dir() -> Path:
    """Folder of the real CBOE delayed-quote CSVs; skips when absent."""
    path = _shared_dir() / "data" / "option_chains"
    if not path.is_dir():
        pytest.skip(f"real CBOE chains not available: {path} is absent")
    return path


@pytest.fixture(scope="session")
def spx_chain_file(shared_chains_dir: Path) -> Path:
    return shared_chains_dir / "spx_2022-02-04.csv"


@pytest.fixture(scope="session")
def spy_chain_file_may(shared_chains_dir: Path) -> Path:
    return shared_chains_dir / "spy_2025-05-01.csv"


@pytest.fixture(scope="session")
def spy_chain_file_sep(shared_chains_dir: Path) -> Path:
    return shared_chains_dir / "spy_2025-09-03.csv"


# ---------------------------------------------------------------------------
# Settings and databases (foundation, issue 2)
#
# ``settings``         Settings(env="test") with a fresh tmp ``data_home`` (so the
#                      default SQLite file is tmp_path/home/floorguard.db) and the
#                      bundled market data only.
# ``db_url``           an EMPTY (unmigrated) database URL, parametrised
#                      [sqlite, postgres]: a tmp SQLite file, or a fresh
#                      PostgreSQL database with a unique name created from
#                      FLOORGUARD_TEST_POSTGRES_URL and dropped afterwards. The
#                      postgres case skips when that variable is unset. Use it to
#                      test migrations themselves.
# ``migrated_db_url``  same parametrisation, already at the migrations' head:
#                      SQLite = a copy of a per-session migrated file;
#                      PostgreSQL = one migrated database per session/worker,
#                      emptied (TRUNCATE) after each test. Never alter its schema.
# ``ctx``              AppContext(settings with database_url=migrated_db_url);
#                      closed after the test. Every test using it runs on
#                      SQLite and, when configured, on PostgreSQL.
# All are function-scoped and safe under pytest-xdist (names are unique per
# worker and test).
# ---------------------------------------------------------------------------

import shutil
import uuid
from collections.abc import Iterator
from typing import Any

PG_ENV = "FLOORGUARD_TEST_POSTGRES_URL"


def _pg_admin_url() -> str | None:
    return os.environ.get(PG_ENV) or None


def _pg_engine(url: str) -> Any:
    import sqlalchemy as sa

    from floorguard.persistence.db import normalise_url

    return sa.create_engine(normalise_url(url), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def _pg_create(admin_url: str) -> str:
    """Create a uniquely named database; return its URL."""
    import sqlalchemy as sa

    from floorguard.persistence.db import normalise_url

    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"fg_{worker}_{uuid.uuid4().hex[:12]}"
    engine = _pg_engine(admin_url)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return normalise_url(admin_url).set(database=name).render_as_string(hide_password=False)


def _pg_drop(admin_url: str, url: str) -> None:
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    engine = _pg_engine(admin_url)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


_DB_PARAMS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


class _MigratedDatabases:
    """Per-session migrated databases, built on first use (SQLite-only runs never
    touch PostgreSQL): ``sqlite_template()`` is a migrated file to copy,
    ``postgres_url()`` a migrated database shared by the session's tests."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self._factory = tmp_path_factory
        self._sqlite: Path | None = None
        self._postgres: str | None = None

    def sqlite_template(self) -> Path:
        from floorguard.persistence.db import upgrade

        if self._sqlite is None:
            path = self._factory.mktemp("tpl") / "template.db"
            upgrade(f"sqlite:///{path}")
            self._sqlite = path
        return self._sqlite

    def postgres_url(self, admin: str) -> str:
        from floorguard.persistence.db import upgrade

        if self._postgres is None:
            url = _pg_create(admin)
            upgrade(url)
            self._postgres = url
        return self._postgres

    def close(self) -> None:
        admin = _pg_admin_url()
        if self._postgres is not None and admin:
            _pg_drop(admin, self._postgres)


@pytest.fixture(scope="session")
def _migrated_databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_MigratedDatabases]:
    dbs = _MigratedDatabases(tmp_path_factory)
    yield dbs
    dbs.close()


@pytest.fixture
def settings(tmp_path: Path) -> Any:
    """Test settings: env=test, tmp data_home, bundled market data, default SQLite."""
    from floorguard.config import Settings

    return Settings(
        env="test",
        data_home=tmp_path / "home",
        database_url=None,
        market_data_sources=["bundled"],
        scheduler_enabled=False,
    )


@pytest.fixture(params=_DB_PARAMS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database URL (SQLite file, or a throw-away PostgreSQL database)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    admin = _pg_admin_url()
    if admin is None:
        pytest.skip(f"{PG_ENV} is not set")
    url = _pg_create(admin)
    try:
        yield url
    finally:
        _pg_drop(admin, url)


def _pg_truncate_all(url: str) -> None:
    """Empty every table except alembic_version (identities restarted)."""
    import sqlalchemy as sa

    engine = _pg_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SET lock_timeout = '10s'"))
            tables = [
                r[0]
                for r in conn.execute(
                    sa.text(
                        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                        "AND tablename <> 'alembic_version'"
                    )
                )
            ]
            if tables:
                names = ", ".join(f'"{t}"' for t in tables)
                conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()


@pytest.fixture(params=_DB_PARAMS)
def migrated_db_url(
    request: pytest.FixtureRequest, tmp_path: Path, _migrated_databases: _MigratedDatabases
) -> Iterator[str]:
    """A database URL at the migrations' head (SQLite, and PostgreSQL when configured).

    SQLite: a copy of a migrated template file. PostgreSQL: one migrated
    database per test session (and xdist worker), emptied after each test
    (TRUNCATE ... RESTART IDENTITY), which is much cheaper than creating a
    database per test. Do not change its schema in a test: use ``db_url``.
    """
    if request.param == "sqlite":
        target = tmp_path / "migrated.db"
        shutil.copyfile(_migrated_databases.sqlite_template(), target)
        yield f"sqlite:///{target}"
        return
    admin = _pg_admin_url()
    if admin is None:
        pytest.skip(f"{PG_ENV} is not set")
    url = _migrated_databases.postgres_url(admin)
    try:
        yield url
    finally:
        _pg_truncate_all(url)


@pytest.fixture
def ctx(settings: Any, migrated_db_url: str) -> Iterator[Any]:
    """AppContext on a migrated database (SQLite, and PostgreSQL when configured)."""
    from floorguard.services.context import AppContext

    context = AppContext(settings.model_copy(update={"database_url": migrated_db_url}))
    try:
        yield context
    finally:
        context.close()
