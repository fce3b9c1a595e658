"""apscheduler_jobs: stored jobs call the scheduler at its new module path

The scheduler moved from ``dispatcher.scheduler`` to ``dispatcher.scheduling.scheduler``.
APScheduler keeps each job as a pickled state whose ``func`` is that path as text; a job
whose path no longer imports is dropped with an error when the scheduler loads it, so
the campaign would silently stop firing. This rewrites the path inside every stored job.

The job table is APScheduler's own (created when the scheduler first starts), so a
database that never ran the scheduler has none and nothing to rewrite.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 22:30:00
"""

from __future__ import annotations

import pickle

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

JOB_TABLE = "apscheduler_jobs"
OLD_REF = "dispatcher.scheduler:fire"
NEW_REF = "dispatcher.scheduling.scheduler:fire"


def _rewrite(old: str, new: str) -> None:
    bind = op.get_bind()
    if not sa.inspect(bind).has_table(JOB_TABLE):
        return
    jobs = sa.table(JOB_TABLE, sa.column("id", sa.Unicode),
                    sa.column("job_state", sa.LargeBinary))
    for job_id, blob in bind.execute(sa.select(jobs.c.id, jobs.c.job_state)).all():
        state = pickle.loads(blob)  # APScheduler's own rows, in our own database
        if state.get("func") != old:
            continue
        state["func"] = new
        bind.execute(sa.update(jobs).where(jobs.c.id == job_id)
                     .values(job_state=pickle.dumps(state, pickle.HIGHEST_PROTOCOL)))


def upgrade() -> None:
    _rewrite(OLD_REF, NEW_REF)


def downgrade() -> None:
    _rewrite(NEW_REF, OLD_REF)
