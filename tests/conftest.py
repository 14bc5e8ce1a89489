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
# ``migrated_db_url``  same parametrisation, already at the migrations' head
#                      (copied from a per-session migrated template, so it is
#                      cheap: a file copy / CREATE DATABASE ... TEMPLATE).
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


def _pg_create(admin_url: str, *, template: str | None = None) -> str:
    """Create a uniquely named database; return its URL."""
    import sqlalchemy as sa

    from floorguard.persistence.db import normalise_url

    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"fg_{worker}_{uuid.uuid4().hex[:12]}"
    engine = _pg_engine(admin_url)
    try:
        with engine.connect() as conn:
            tpl = f" TEMPLATE {template}" if template else ""
            conn.execute(sa.text(f'CREATE DATABASE "{name}"{tpl}'))
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


@pytest.fixture(scope="session")
def _migrated_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Per-session migrated templates: {"sqlite": file path, "postgres": db name}."""
    from floorguard.persistence.db import upgrade

    made: dict[str, str] = {}

    class _Templates(dict[str, str]):  # built on first use so SQLite-only runs never touch PostgreSQL
        def __missing__(self, kind: str) -> str:
            if kind == "sqlite":
                path = tmp_path_factory.mktemp("tpl") / "template.db"
                upgrade(f"sqlite:///{path}")
                made["sqlite"] = str(path)
                self[kind] = str(path)
            else:
                admin = _pg_admin_url()
                assert admin is not None
                url = _pg_create(admin)
                upgrade(url)
                from sqlalchemy.engine import make_url

                made["postgres"] = url
                self[kind] = make_url(url).database
            return self[kind]

    templates = _Templates()
    yield templates
    if "postgres" in made:
        admin = _pg_admin_url()
        if admin:
            _pg_drop(admin, made["postgres"])


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


@pytest.fixture(params=_DB_PARAMS)
def migrated_db_url(
    request: pytest.FixtureRequest, tmp_path: Path, _migrated_templates: dict[str, str]
) -> Iterator[str]:
    """A database URL at the migrations' head (SQLite, and PostgreSQL when configured)."""
    if request.param == "sqlite":
        target = tmp_path / "migrated.db"
        shutil.copyfile(_migrated_templates["sqlite"], target)
        yield f"sqlite:///{target}"
        return
    admin = _pg_admin_url()
    if admin is None:
        pytest.skip(f"{PG_ENV} is not set")
    url = _pg_create(admin, template=_migrated_templates["postgres"])
    try:
        yield url
    finally:
        _pg_drop(admin, url)


@pytest.fixture
def ctx(settings: Any, migrated_db_url: str) -> Iterator[Any]:
    """AppContext on a migrated database (SQLite, and PostgreSQL when configured)."""
    from floorguard.services.context import AppContext

    context = AppContext(settings.model_copy(update={"database_url": migrated_db_url}))
    try:
        yield context
    finally:
        context.close()
