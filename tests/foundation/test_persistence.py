"""Storage on SQLite and PostgreSQL: migrations, constraints, ledger balance, repositories."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from floorguard.domain.portfolio import Portfolio, Position
from floorguard.exceptions import ConfigurationError, ConflictError, NotFoundError, ValidationError
from floorguard.persistence import repositories as repo
from floorguard.persistence.cache import DbPriceCache
from floorguard.persistence.db import (
    MIGRATIONS_DIR,
    check_connection,
    current_revision,
    downgrade,
    head_revision,
    load_models,
    make_engine,
    make_sessionmaker,
    normalise_url,
    upgrade,
)
from floorguard.persistence.orm import JournalEntry, JournalLine

SRC = Path(__file__).resolve().parents[2] / "src" / "floorguard"
TABLES = {
    "users", "api_tokens", "portfolios", "positions", "market_data_cache", "factor_exposures",
    "portfolio_snapshots", "insurance_policies", "insurance_policy_nav", "insurance_policy_events",
    "ledger_accounts", "journal_entries", "journal_lines",
}


def test_migrations_up_match_models_and_down(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        assert current_revision(engine) == head_revision()
        assert TABLES <= set(sa.inspect(engine).get_table_names())
        with engine.connect() as conn:
            metadata = load_models()
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
        assert diff == [], f"models and migrations differ: {diff}"
        downgrade(db_url, "base")
        assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade(db_url)  # and back up again
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_single_linear_history() -> None:
    from alembic.script import ScriptDirectory

    from floorguard.persistence.db import alembic_config

    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1
    revs = list(script.walk_revisions())
    assert revs[-1].revision == "0001_initial" and revs[-1].down_revision is None
    for rev in revs:
        assert not isinstance(rev.down_revision, (tuple, list)), f"merge revision {rev.revision}"


def test_schema_only_from_migrations() -> None:
    offenders = [
        str(p.relative_to(SRC))
        for p in SRC.rglob("*.py")
        if re.search(r"\bcreate_all\s*\(", p.read_text(encoding="utf-8"))
    ]
    assert offenders == []
    assert (MIGRATIONS_DIR / "env.py").is_file()


def test_url_normalisation_and_unreachable() -> None:
    assert normalise_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalise_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert normalise_url("sqlite:///x.db").drivername == "sqlite"
    with pytest.raises(ConfigurationError, match="not a database URL"):
        normalise_url("nonsense")
    engine = make_engine("postgresql://nobody:secret@127.0.0.1:1/none")
    with pytest.raises(ConfigurationError, match=r"cannot reach database .*\*\*\*") as e:
        check_connection(engine)
    assert "secret" not in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(ConfigurationError, match="cannot reach database"):
        upgrade("postgresql://nobody@127.0.0.1:1/none")


def test_sqlite_pragmas(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'sub' / 'x.db'}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        engine.dispose()


@pytest.fixture
def session_factory(migrated_db_url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(migrated_db_url)
    yield make_sessionmaker(engine)
    engine.dispose()


def test_portfolio_roundtrip_exact_and_owned(session_factory) -> None:  # type: ignore[no-untyped-def]
    p = Portfolio("core", (Position("AAPL", 0.1 + 0.2, price=123.456789), Position("MSFT", -20, sector="IT")))
    with session_factory() as s, s.begin():
        alice = repo.ensure_user(s, name="alice")
        bob = repo.ensure_user(s, name="bob", role="admin", approved_strategy_level=3)
        saved = repo.save_portfolio(s, owner_id=alice.id, portfolio=p)
        assert saved.id is not None and saved.owner_id == alice.id
    with session_factory() as s:
        got = repo.get_portfolio(s, owner_id=alice.id, name="core")
        assert got.position("AAPL").quantity == 0.3  # stored as exact decimal 0.300000
        assert got.position("AAPL").price == 123.456789
        assert got.position("MSFT").quantity == -20 and got.position("MSFT").sector == "IT"
        with pytest.raises(NotFoundError):
            repo.get_portfolio(s, owner_id=bob.id, name="core")  # another user's portfolio
        with pytest.raises(NotFoundError):
            repo.get_portfolio_by_id(s, portfolio_id=got.id, owner_id=bob.id)
        assert [x.name for x in repo.list_portfolios(s, owner_id=alice.id)] == ["core"]
        assert repo.list_portfolios(s, owner_id=alice.id)[0].n_positions == 2
        assert repo.list_portfolios(s, owner_id=bob.id) == []
    with session_factory() as s, s.begin():
        with pytest.raises(ConflictError):
            repo.save_portfolio(s, owner_id=alice.id, portfolio=p)
    with session_factory() as s, s.begin():
        again = repo.save_portfolio(
            s, owner_id=alice.id, portfolio=Portfolio("core", (Position("KO", 5),)), replace=True
        )
        assert again.symbols == ["KO"] and again.id == got.id


def test_constraints(session_factory) -> None:  # type: ignore[no-untyped-def]
    with session_factory() as s:
        with pytest.raises(IntegrityError):  # foreign keys are enforced (SQLite too)
            s.execute(sa.text("INSERT INTO positions (portfolio_id, symbol, quantity, asset_type) VALUES (999, 'X', '1', 'equity')"))
            s.flush()
        s.rollback()
        u = repo.ensure_user(s, name="c")
        s.flush()
        with pytest.raises(IntegrityError):  # users.role check
            s.execute(sa.text(f"UPDATE users SET role = 'god' WHERE id = {u.id}"))
        s.rollback()


def test_datetimes_are_utc_aware(session_factory) -> None:  # type: ignore[no-untyped-def]
    with session_factory() as s, s.begin():
        u = repo.ensure_user(s, name="tz")
    with session_factory() as s:
        created = repo.get_user(s, user_id=u.id).created_at
        assert created.tzinfo is not None and created.utcoffset() == dt.timedelta(0)
    with session_factory() as s:
        with pytest.raises(Exception, match="naive datetime refused"):
            repo.add_policy_event(s, policy_id=1, event_type="x", ts=dt.datetime(2024, 1, 1))


def test_ledger_balances(session_factory) -> None:  # type: ignore[no-untyped-def]
    with session_factory() as s, s.begin():
        repo.ensure_account(s, code="cash", name="Cash", type="asset")
        repo.ensure_account(s, code="premium", name="Premium income", type="income")
        repo.ensure_account(s, code="fees", name="Fees", type="expense")
        e = repo.post_entry(
            s,
            description="premium",
            lines=[("cash", Decimal("1000.10"), 0), ("premium", 0, Decimal("990.05")), ("premium", 0, Decimal("10.05"))],
            reference="premium:1",
        )
        # floats go through their shortest repr: 0.1 + 0.2 is not 0.3 exactly, so this does not balance
        with pytest.raises(ValidationError, match="does not balance"):
            repo.post_entry(s, description="x", lines=[("cash", 0.1 + 0.2, 0), ("fees", 0, 0.3)])
        with pytest.raises(ValidationError, match="exactly one"):
            repo.post_entry(s, description="x", lines=[("cash", 5, 5), ("fees", 0, 0)])
        with pytest.raises(ValidationError, match="unknown ledger account"):
            repo.post_entry(s, description="x", lines=[("nope", 1, 0), ("fees", 0, 1)])
        # idempotent by reference
        same = repo.post_entry(
            s,
            description="premium",
            lines=[("cash", Decimal("1000.10"), 0), ("premium", 0, Decimal("990.05")), ("premium", 0, Decimal("10.05"))],
            reference="premium:1",
        )
        assert same.id == e.id
        with pytest.raises(ConflictError):
            repo.post_entry(s, description="premium", lines=[("cash", 1, 0), ("premium", 0, 1)], reference="premium:1")
    with session_factory() as s:
        tb = repo.trial_balance(s)
        assert tb == {"cash": Decimal("1000.10"), "fees": Decimal(0), "premium": Decimal("-1000.10")}
        assert sum(tb.values()) == 0


def test_unbalanced_entry_refused_by_session(session_factory) -> None:  # type: ignore[no-untyped-def]
    with session_factory() as s, s.begin():
        a = repo.ensure_account(s, code="a", name="A", type="asset")
        b = repo.ensure_account(s, code="b", name="B", type="liability")
    with session_factory() as s:
        s.add(JournalEntry(description="bad", lines=[
            JournalLine(account_id=a.id, debit=Decimal(5), credit=Decimal(0)),
            JournalLine(account_id=b.id, debit=Decimal(0), credit=Decimal(4)),
        ]))
        with pytest.raises(ValidationError, match="debits 5 != credits 4"):
            s.flush()
        s.rollback()
        # a two-sided line is refused by the CHECK constraint even without the ORM check
        s.execute(sa.text("INSERT INTO journal_entries (ts, description, created_at) VALUES (:t, 'raw', :t)"),
                  {"t": "2024-01-01 00:00:00+00:00"})
        eid = s.execute(sa.text("SELECT max(id) FROM journal_entries")).scalar()
        with pytest.raises(IntegrityError):
            s.execute(sa.text(
                "INSERT INTO journal_lines (entry_id, account_id, debit, credit) VALUES (:e, :a, '5', '5')"
            ), {"e": eid, "a": a.id})
            s.flush()
        s.rollback()


@pytest.mark.postgres
@pytest.mark.parametrize("migrated_db_url", ["postgres"], indirect=True)
def test_postgres_trigger_refuses_unbalanced_commit(migrated_db_url: str) -> None:
    """PostgreSQL only: a deferred constraint trigger checks balance at commit."""
    engine = make_engine(migrated_db_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO ledger_accounts (code, name, type, currency, created_at) VALUES ('a','A','asset','USD', now()), ('b','B','income','USD', now())"))
        with pytest.raises(sa.exc.DBAPIError, match="does not balance"):
            with engine.begin() as conn:
                eid = conn.execute(sa.text("INSERT INTO journal_entries (ts, description, created_at) VALUES (now(), 'raw', now()) RETURNING id")).scalar()
                conn.execute(sa.text("INSERT INTO journal_lines (entry_id, account_id, debit, credit) SELECT :e, id, 5, 0 FROM ledger_accounts WHERE code='a'"), {"e": eid})
                conn.execute(sa.text("INSERT INTO journal_lines (entry_id, account_id, debit, credit) SELECT :e, id, 0, 4 FROM ledger_accounts WHERE code='b'"), {"e": eid})
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM journal_entries")).scalar() == 0
    finally:
        engine.dispose()


def test_market_data_cache(session_factory) -> None:  # type: ignore[no-untyped-def]
    cache = DbPriceCache(session_factory)
    closes = pd.Series([10.0, 11.0], index=pd.to_datetime(["2024-01-02", "2024-01-03"]))
    assert cache.store("ABC", closes, source="yfinance", sector="Energy") == 2
    cache.store("ABC", pd.Series([11.5, 12.0], index=pd.to_datetime(["2024-01-03", "2024-01-04"])), source="yfinance")
    got = cache.load("ABC", source="yfinance")
    assert got.tolist() == [10.0, 11.5, 12.0] and got.index[-1] == pd.Timestamp("2024-01-04")
    assert cache.symbols() == ["ABC"]
    with session_factory() as s:
        (summary,) = repo.cached_universe(s)
    assert (summary.first, summary.last, summary.n, summary.sector) == (dt.date(2024, 1, 2), dt.date(2024, 1, 4), 3, "Energy")
    with pytest.raises(ValidationError, match="not positive"):
        cache.store("ABC", pd.Series([-1.0], index=pd.to_datetime(["2024-01-05"])), source="yfinance")


def test_exposures_snapshots_policies(session_factory) -> None:  # type: ignore[no-untyped-def]
    now = dt.datetime(2024, 6, 3, 15, 30, tzinfo=dt.UTC)
    with session_factory() as s, s.begin():
        u = repo.ensure_user(s, name="p")
        pf = repo.save_portfolio(s, owner_id=u.id, portfolio=Portfolio("x", (Position("AAPL", 1),)))
        repo.save_factor_exposures(
            s, portfolio_id=pf.id, calculation_date=now.date(), source="multivariate",
            exposures=[{"factor": "market", "exposure_value": 1.07, "metadata": {"r2": 0.8}},
                       {"factor": "market", "symbol": "AAPL", "exposure_value": 1.2}],
        )
        repo.save_snapshot(s, portfolio_id=pf.id, as_of=now, total_value=Decimal("125.67"),
                           positions=[{"symbol": "AAPL", "value": 125.67}], metrics={"vol": 0.25})
        from floorguard.persistence.orm import InsurancePolicy

        pol = InsurancePolicy(
            user_id=u.id, portfolio_id=pf.id, status="active", start_utc=now, end_utc=now + dt.timedelta(days=30),
            floor_pct=0.9, index_symbol="SPX", strategy="protective_put", put_strike=Decimal("4000"),
            contracts_put=2, premium_put=Decimal("5400.50"), premium_net=Decimal("5400.50"),
            coverage_notional=Decimal("800000"), portfolio_value_at_bind=Decimal("1000000"), beta=1.05,
            draft={"legs": [{"strike": 4000}]},
        )
        s.add(pol)
        s.flush()
        repo.add_policy_event(s, policy_id=pol.id, event_type="bound", details={"fills": 2}, ts=now)
        repo.add_policy_nav(s, policy_id=pol.id, ts=now, portfolio_value=1_000_000, index_level=4400.0,
                            hedge_value=5400.5, shortfall=0, intrinsic_est=0)
    with session_factory() as s:
        ex = repo.list_factor_exposures(s, portfolio_id=pf.id)
        assert {(e.symbol, e.exposure_value) for e in ex} == {(None, 1.07), ("AAPL", 1.2)}
        assert ex[0].meta == {"r2": 0.8}
        snap = repo.latest_snapshot(s, portfolio_id=pf.id)
        assert snap is not None and snap.total_value == Decimal("125.67") and snap.as_of == now
        got = repo.get_policy(s, policy_id=pol.id, user_id=u.id)
        assert got.premium_put == Decimal("5400.50") and got.events[0].details == {"fills": 2}
        assert got.nav[0].hedge_value == Decimal("5400.5") and got.draft["legs"][0]["strike"] == 4000
        with pytest.raises(NotFoundError):
            repo.get_policy(s, policy_id=pol.id, user_id=u.id + 1)
        assert [p.id for p in repo.list_policies(s, user_id=u.id, status="active")] == [pol.id]


def test_alembic_ini_from_repo_root(tmp_path: Path) -> None:
    """Developers' path: ``alembic -x url=... upgrade head`` at the repository root."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    url = f"sqlite:///{tmp_path / 'dev.db'}"
    out = subprocess.run(
        [sys.executable, "-m", "alembic", "-x", f"url={url}", "upgrade", "head"],
        cwd=root, capture_output=True, text=True, check=False,
    )
    assert out.returncode == 0, out.stderr
    engine = make_engine(url)
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()
