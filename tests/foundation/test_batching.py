"""GroupCommitter: batched writes, per-item outcomes, all or nothing per item, SQLite across processes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from floorguard.persistence.batching import GroupCommitter, _sqlite_lock_path
from floorguard.persistence.db import make_engine

META = sa.MetaData()
ROWS = sa.Table("batch_rows", META, sa.Column("id", sa.Integer, primary_key=True), sa.Column("v", sa.String(20)))


@pytest.fixture()
def engine(db_url: str) -> Iterator[sa.Engine]:
    eng = make_engine(db_url)
    META.create_all(eng)
    try:
        yield eng
    finally:
        META.drop_all(eng)
        eng.dispose()


def insert_rows(conn: sa.Connection, items: list[dict[str, Any]]) -> list[Any]:
    """Refuse negative ids (per item, nothing written for them); insert the rest in one statement."""
    out: list[Any] = []
    rows = []
    for item in items:
        if item["id"] < 0:
            out.append(ValueError(f"id must be >= 0, got {item['id']}"))
        else:
            rows.append(item)
            out.append(item["id"])
    if rows:
        conn.execute(sa.insert(ROWS), rows)
    return out


def stored_ids(engine: sa.Engine) -> list[int]:
    with engine.connect() as conn:
        return sorted(conn.scalars(sa.select(ROWS.c.id)))


def test_result_arrives_after_the_commit(engine: sa.Engine) -> None:
    committer = GroupCommitter(engine)
    try:
        assert committer.submit(insert_rows, {"id": 1, "v": "a"}).result(timeout=10) == 1
        assert stored_ids(engine) == [1]  # visible to another connection: committed
    finally:
        committer.close()


def test_items_queued_during_a_commit_share_the_next_transaction(engine: sa.Engine) -> None:
    gate = threading.Event()
    entered = threading.Event()

    def slow_first(conn: sa.Connection, items: list[dict[str, Any]]) -> list[Any]:
        entered.set()
        assert gate.wait(10)
        return insert_rows(conn, items)

    committer = GroupCommitter(engine)
    try:
        first = committer.submit(slow_first, {"id": 0, "v": "first"})
        assert entered.wait(10)
        rest = [committer.submit(insert_rows, {"id": i, "v": "x"}) for i in range(1, 41)]
        gate.set()
        assert first.result(timeout=10) == 0
        assert [f.result(timeout=10) for f in rest] == list(range(1, 41))
        assert committer.transactions == 2 and committer.items == 41
        assert stored_ids(engine) == list(range(41))
    finally:
        committer.close()


def test_a_refused_item_writes_nothing_and_the_others_commit(engine: sa.Engine) -> None:
    gate = threading.Event()
    committer = GroupCommitter(engine)
    try:
        blocker = committer.submit(lambda conn, items: (gate.wait(10), [None] * len(items))[1], None)
        futures = [committer.submit(insert_rows, {"id": i, "v": "x"}) for i in (1, -5, 2)]
        gate.set()
        blocker.result(timeout=10)
        assert futures[0].result(timeout=10) == 1 and futures[2].result(timeout=10) == 2
        with pytest.raises(ValueError, match="id must be >= 0"):
            futures[1].result(timeout=10)
        assert stored_ids(engine) == [1, 2]
    finally:
        committer.close()


def test_a_database_error_is_isolated_to_its_item(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.insert(ROWS), [{"id": 7, "v": "taken"}])
    gate = threading.Event()
    committer = GroupCommitter(engine)
    try:
        blocker = committer.submit(lambda conn, items: (gate.wait(10), [None] * len(items))[1], None)
        futures = [committer.submit(insert_rows, {"id": i, "v": "new"}) for i in (5, 7, 6)]
        gate.set()
        blocker.result(timeout=10)
        # the batch's multi-row insert fails on id 7: rolled back, then each item alone
        assert futures[0].result(timeout=10) == 5 and futures[2].result(timeout=10) == 6
        with pytest.raises(IntegrityError):
            futures[1].result(timeout=10)
        with engine.connect() as conn:
            rows = dict(conn.execute(sa.select(ROWS.c.id, ROWS.c.v)).all())
        assert rows == {5: "new", 6: "new", 7: "taken"}  # the old row untouched, nothing written twice
    finally:
        committer.close()


def test_a_handler_must_answer_every_item(engine: sa.Engine) -> None:
    committer = GroupCommitter(engine)
    try:
        with pytest.raises(RuntimeError, match="returned 0 outcomes for 1 items"):
            committer.submit(lambda conn, items: [], None).result(timeout=10)
    finally:
        committer.close()


def test_close_finishes_the_queue_then_refuses(engine: sa.Engine) -> None:
    committer = GroupCommitter(engine)
    futures = [committer.submit(insert_rows, {"id": i, "v": "x"}) for i in range(20)]
    committer.close()
    assert all(f.done() for f in futures)
    assert stored_ids(engine) == list(range(20))
    with pytest.raises(RuntimeError, match="closed"):
        committer.submit(insert_rows, {"id": 99, "v": "late"})
    committer.close()  # idempotent


def test_lock_file_only_for_sqlite_files(tmp_path: Any) -> None:
    file_engine = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    memory = make_engine("sqlite://")
    pg = make_engine("postgresql://u@127.0.0.1:1/x")
    try:
        assert _sqlite_lock_path(file_engine) == str((tmp_path / "a.db").resolve()) + "-floorguard-write.lock"
        assert _sqlite_lock_path(memory) is None
        assert _sqlite_lock_path(pg) is None
    finally:
        for e in (file_engine, memory, pg):
            e.dispose()


def test_two_processes_committers_on_one_sqlite_file(tmp_path: Any) -> None:
    """Two engines (as two worker processes would have) write 400 rows concurrently: all land, no lock errors."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    engines = [make_engine(url), make_engine(url)]
    META.create_all(engines[0])
    committers = [GroupCommitter(e) for e in engines]
    try:
        futures: list[Any] = []

        def client(k: int) -> None:
            for i in range(100):
                futures.append(committers[k % 2].submit(insert_rows, {"id": k * 1000 + i, "v": "c"}))

        threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        results = [f.result(timeout=30) for f in futures]
        assert sorted(results) == sorted(k * 1000 + i for k in range(4) for i in range(100))
        assert len(stored_ids(engines[0])) == 400
    finally:
        for c in committers:
            c.close()
        for e in engines:
            e.dispose()
