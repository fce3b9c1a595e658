"""Retrying one failed delivery row, from where an operator found it (the log).

The same rule as ``runs.retry_failed`` for a whole campaign, for one row: only a
``failed`` row goes back to ``planned`` (attempts reset), never one whose number has
opted out since, never one of a cancelled run; its event says who asked, and the
campaign's audit log records it. The engine sends it like any planned row.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Engine, Exists, exists, insert, select, update

from dispatcher.approval import lifecycle
from dispatcher.errors import DispatcherError, NotFoundError
from dispatcher.i18n import _
from dispatcher.i18n.labels import label
from dispatcher.storage.db import utcnow
from dispatcher.storage.tables import deliveries, delivery_events, optouts, runs

RETRYABLE_RUNS = ("planned", "paused", "completed")  # as runs.retry_failed requeues
REQUESTED = "retry requested"  # the event's detail, as runs.retry_failed writes it


@dataclass(frozen=True)
class RowRetry:
    delivery_id: int
    campaign_id: str
    run_id: int


def retry_row(engine: Engine, delivery_id: int, actor: str) -> RowRetry:
    """Requeue the failed row ``delivery_id``; NotFoundError when there is no such row,
    DispatcherError (saying why) when it cannot be retried."""
    with engine.begin() as conn:
        found = conn.execute(
            select(deliveries.c.status, deliveries.c.run_id, runs.c.campaign_id,
                   runs.c.status.label("run_status"), _opted_out().label("opted_out"))
            .join(runs, runs.c.id == deliveries.c.run_id)
            .where(deliveries.c.id == delivery_id)).first()
        if found is None:
            raise NotFoundError(_("There is no delivery row {id}; search the log for it.")
                                .format(id=delivery_id))
        _check(delivery_id, found.status, found.run_status, bool(found.opted_out))
        if not _requeue(conn, delivery_id, found.run_id, actor):
            raise DispatcherError(_("Row {id} changed meanwhile and is no longer failed; "
                                    "reload the page.").format(id=delivery_id))
        lifecycle.record(conn, actor, "retry", found.campaign_id,
                         detail=f"row {delivery_id}")
    return RowRetry(delivery_id, found.campaign_id, found.run_id)


def _opted_out() -> Exists:
    return exists().where(optouts.c.address == deliveries.c.target,
                          optouts.c.channel.in_([deliveries.c.channel, "*"]))


def _check(delivery_id: int, status: str, run_status: str, opted_out: bool) -> None:
    """Why the row cannot be retried, in the reader's language (shown on the page)."""
    if status != "failed":
        raise DispatcherError(_("Row {id} is not failed ({state}): only failed rows are "
                                "retried.").format(id=delivery_id,
                                                   state=label("state", status)))
    if run_status not in RETRYABLE_RUNS:
        raise DispatcherError(_("Row {id} belongs to a run that is {status}: only rows of "
                                "planned, paused or completed runs are retried.")
                              .format(id=delivery_id,
                                      status=label("run_status", run_status)))
    if opted_out:
        raise DispatcherError(_("Row {id}'s recipient has opted out since: it is not sent "
                                "again.").format(id=delivery_id))


def _requeue(conn: Connection, delivery_id: int, run_id: int, actor: str) -> bool:
    now = utcnow()
    moved = conn.execute(update(deliveries)
                         .where(deliveries.c.id == delivery_id,
                                deliveries.c.status == "failed")
                         .values(status="planned", attempts=0, next_attempt_at=None,
                                 updated_at=now)).rowcount
    if not moved:
        return False
    conn.execute(insert(delivery_events).values(
        delivery_id=delivery_id, run_id=run_id, at=now, actor=actor, event="planned",
        detail=REQUESTED))
    conn.execute(update(runs).where(runs.c.id == run_id, runs.c.status == "completed")
                 .values(status="planned", completed_at=None))
    return True
