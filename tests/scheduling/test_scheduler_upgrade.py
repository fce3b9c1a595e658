"""Scheduled jobs stored before the package regroup still fire after it.

``tests/data/db_before_regroup.sql`` is a SQLite database made by the code of commit
2c2d613 (schema 0016), with two campaigns approved and their jobs stored by that code's
scheduler: each job's pickled state names ``dispatcher.scheduler:fire``, a module path
that no longer exists. APScheduler drops a job whose function does not import, so
without migration 0017 both campaigns would silently stop firing.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from sqlalchemy import Engine, insert

from dispatcher.scheduling.scheduler import JOB_TABLE, fire, new_scheduler, sync_jobs
from dispatcher.storage.db import current_revision, make_engine, upgrade

DUMP = Path(__file__).parents[1] / "data" / "db_before_regroup.sql"
NEW_REF = "dispatcher.scheduling.scheduler:fire"
JOB_ROW = re.compile(r"INSERT INTO apscheduler_jobs VALUES\('(\w+)',([\d.]+),X'([0-9a-f]+)'\);")


def stored_jobs(engine: Engine, *, campaigns_stored: bool = True) -> dict[str, str]:
    scheduler = new_scheduler(engine)
    scheduler.start(paused=True)
    try:
        jobs = scheduler.get_jobs()
        assert all(job.func is fire for job in jobs)
        found = {job.id: job.func_ref for job in jobs}
        if campaigns_stored:  # the stored jobs are what today's code would store: left alone
            assert sync_jobs(scheduler, engine) == {}
        return found
    finally:
        scheduler.shutdown(wait=False)


def test_jobs_stored_by_the_old_layout_load_on_sqlite(tmp_path: Path) -> None:
    database = tmp_path / "before.db"
    with sqlite3.connect(database) as conn:
        conn.executescript(DUMP.read_text(encoding="utf-8"))
    engine = make_engine(f"sqlite:///{database}")  # upgrades 0016 -> head
    assert current_revision(engine) != "0016"
    assert stored_jobs(engine) == {"once": NEW_REF, "weekdays": NEW_REF}


@pytest.mark.postgres
def test_jobs_stored_by_the_old_layout_load_on_postgresql(postgres_url: str) -> None:
    """The same stored jobs (without their campaigns), moved into a PostgreSQL database at
    schema 0016."""
    engine = make_engine(postgres_url, migrate=False)
    upgrade(engine, "0016")
    store = SQLAlchemyJobStore(engine=engine, tablename=JOB_TABLE)
    store.jobs_t.create(engine)
    rows = JOB_ROW.findall(DUMP.read_text(encoding="utf-8"))
    assert len(rows) == 2
    with engine.begin() as conn:
        conn.execute(insert(store.jobs_t), [
            {"id": job_id, "next_run_time": float(when), "job_state": bytes.fromhex(state)}
            for job_id, when, state in rows])
    upgrade(engine)
    assert stored_jobs(engine, campaigns_stored=False) == {"once": NEW_REF, "weekdays": NEW_REF}
