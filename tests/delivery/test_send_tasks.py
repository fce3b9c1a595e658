"""The Celery executor's bookkeeping on SQLite and PostgreSQL: blocks, limits, recovery."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select, text, update

from dispatcher.audience.contacts import import_contacts
from dispatcher.delivery import claims
from dispatcher.delivery.celery import send_tasks
from dispatcher.planning.planner import ANALYZE_AFTER_ROWS
from dispatcher.storage.db import make_engine, utcnow
from dispatcher.storage.tables import deliveries
from dispatcher.storage.tables import send_tasks as blocks
from dispatcher.testing import plan_campaign, sms_campaign_text


def plan(engine: Engine, contacts: int) -> int:
    phones = "\n".join(f"1390{i:07d},," for i in range(contacts))
    import_contacts(engine, io.StringIO(f"phone,area,district\n{phones}\n"), "residents", "CN")
    return plan_campaign(engine, sms_campaign_text("blocks"), fire_time=datetime.now(UTC)).run_id


def states(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(select(blocks.c.state, func.count()).group_by(blocks.c.state))
        return {state: int(n) for state, n in rows.all()}


def test_a_run_is_split_once_into_blocks_of_consecutive_ids(engine: Engine) -> None:
    run_id = plan(engine, 25)
    with engine.begin() as conn:
        assert send_tasks.add_blocks(conn, rows_per_block=10) == 3
        assert send_tasks.add_blocks(conn, rows_per_block=10) == 0  # already split
        spans = conn.execute(select(blocks.c.first_id, blocks.c.last_id)
                             .order_by(blocks.c.first_id)).all()
        first, last = conn.execute(select(func.min(deliveries.c.id), func.max(deliveries.c.id))
                                   .where(deliveries.c.run_id == run_id)).one()
    assert spans == [(first, first + 9), (first + 10, first + 19), (first + 20, last)]


def test_take_due_and_claim_keep_their_limits(engine: Engine) -> None:
    """On PostgreSQL an ``IN (subquery LIMIT n FOR UPDATE SKIP LOCKED)`` can be run again
    per row of a semi join and take more than n: both pick their ids once."""
    run_id = plan(engine, 40)
    with engine.begin() as conn:
        send_tasks.add_blocks(conn, rows_per_block=10)
        taken = send_tasks.take_due(conn, 2, "sms", [run_id])
        assert len(taken) == 2
        claimed = claims.claim(conn, run_id, "sms", 3, timedelta(seconds=60), taken[0].scope)
    assert [row.id for row in claimed] == list(range(taken[0].first_id,
                                                      taken[0].first_id + 3))
    assert states(engine) == {"idle": 2, "queued": 2}


def test_blocks_of_silent_workers_and_lost_tasks_are_queued_again(engine: Engine) -> None:
    run_id = plan(engine, 30)
    with engine.begin() as conn:
        send_tasks.add_blocks(conn, rows_per_block=10)
        lost, held, fresh = send_tasks.take_due(conn, 3, "sms", [run_id])
        send_tasks.start(conn, held.id, "w1@host")
        old = utcnow() - timedelta(seconds=120)
        conn.execute(update(blocks).where(blocks.c.id == lost.id).values(enqueued_at=old))
        conn.execute(update(blocks).where(blocks.c.id == held.id).values(heartbeat_at=old))
        assert send_tasks.recover_stale(conn, timedelta(seconds=30)) == 1
        assert send_tasks.recover_lost(conn, timedelta(seconds=60)) == 1
        # The silent worker finishing late changes nothing: the block is no longer its.
        send_tasks.finish(conn, held.id, "w1@host", None, 10)
        again = send_tasks.take_due(conn, 5, "sms", [run_id])
    assert sorted(b.id for b in again) == sorted([lost.id, held.id])
    assert states(engine) == {"queued": 3}
    assert fresh.id not in [b.id for b in again]


def test_a_finished_block_records_when_it_next_has_work(engine: Engine) -> None:
    run_id = plan(engine, 10)
    with engine.begin() as conn:
        send_tasks.add_blocks(conn, rows_per_block=10)
        [block] = send_tasks.take_due(conn, 1, "sms", [run_id])
        send_tasks.start(conn, block.id, "w1@host")
        retry_at = utcnow() + timedelta(seconds=30)
        conn.execute(update(deliveries).values(status="sent"))
        conn.execute(update(deliveries).where(deliveries.c.id == block.first_id)
                     .values(status="planned", next_attempt_at=retry_at))
        due = claims.next_work_at(conn, block.scope)
        assert due is not None and abs((due - retry_at).total_seconds()) < 1
        send_tasks.finish(conn, block.id, "w1@host", due, 9)
        assert send_tasks.due_by(conn, utcnow()) == []
        assert send_tasks.due_by(conn, utcnow() + timedelta(seconds=60)) == [(run_id, "sms")]
        conn.execute(update(deliveries).values(status="sent", next_attempt_at=None))
        assert claims.next_work_at(conn, block.scope) is None


@pytest.mark.postgres
def test_planning_a_large_run_gives_postgresql_statistics(postgres_url: str) -> None:
    """Without statistics PostgreSQL took a new 3-million-row run for a few rows and every
    claim scanned all of them (bench/scale.py); planning refreshes them."""
    engine = make_engine(postgres_url)
    plan(engine, ANALYZE_AFTER_ROWS)
    with engine.connect() as conn:
        estimated = conn.execute(text("SELECT reltuples FROM pg_class WHERE oid = "
                                      "'deliveries'::regclass")).scalar_one()
    assert estimated >= ANALYZE_AFTER_ROWS * 0.9  # -1 (never analyzed) before the fix
    engine.dispose()
