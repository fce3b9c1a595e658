"""The planner: one run per firing, each placement expanded into delivery rows.

Rows are unique on (run, channel, target, occurrence): the deliverable row of a target has
occurrence 1; every further appearance of the same target in the run (another list,
another placement of the same channel) is a ``skipped(duplicate)`` row with occurrence 2,
3, ... Targets stream from the channel in sort-key order and are merged across placements,
so duplicates are found without holding the audience in memory. Rows are written in
batches with INSERT ... ON CONFLICT DO NOTHING, so planning that was interrupted resumes
where it stopped, and planning a planned run changes nothing.
"""

from __future__ import annotations

import heapq
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import groupby, islice
from queue import Empty, Queue
from threading import Event, Thread

from sqlalchemy import Engine, select

from channels.base import Channel, Placement, Target
from dispatcher.approval import lifecycle
from dispatcher.audience.capping import apply_cap
from dispatcher.campaigns.model import Campaign
from dispatcher.config import FrequencyCap
from dispatcher.planning.inventory import DatabaseInventory
from dispatcher.storage.db import insert_ignoring_conflicts, refresh_statistics, utcnow
from dispatcher.storage.tables import deliveries, delivery_events, runs

BATCH_SIZE = 50_000

Progress = Callable[[int], None]
ChannelFactory = Callable[[str], Channel]


@dataclass
class PlanResult:
    run_id: int
    campaign_id: str
    fire_time: datetime
    created: bool  # False when the run had been planned before: nothing was written
    rows: Counter[str] = field(default_factory=Counter)  # "planned", "skipped:opted_out", ...


# A run this large changes the table's statistics: without fresh ones, PostgreSQL's
# planner took a new run for a few rows and claimed by scanning all of them (0.3 s a claim
# at 3 million rows) until autovacuum got round to it.
ANALYZE_AFTER_ROWS = 10_000


def plan_run(engine: Engine, campaign: Campaign, version: int, fire_time: datetime,
             channel_for: ChannelFactory, progress: Progress | None = None,
             cap: FrequencyCap | None = None) -> PlanResult:
    """Create (or finish) the run of ``campaign`` firing at ``fire_time`` and plan its rows.

    With a frequency ``cap``, rows of person-addressed channels over it become
    skipped(capped) in the same transaction that marks the run planned.
    """
    # Stored in UTC: SQLite keeps a datetime's wall time without its offset.
    run_id, status = _get_or_create_run(engine, campaign.id, version,
                                        fire_time.astimezone(UTC))
    result = PlanResult(run_id, campaign.id, fire_time, created=status != "planned")
    if status == "planned":
        return result
    inventory = DatabaseInventory(engine)
    capped_channels = []
    for channel_name, placements in _by_channel(campaign.placements):
        channel = channel_for(channel_name)
        if channel.capabilities.person_addressed:
            capped_channels.append(channel_name)
        streams = [_tagged(p, channel.targets(p, inventory)) for p in placements]
        rows = _rows(run_id, channel_name, streams, result.rows)
        _write(engine, rows, progress)
    _finish(engine, result, version, cap, capped_channels)
    if sum(result.rows.values()) >= ANALYZE_AFTER_ROWS:
        refresh_statistics(engine, deliveries.name)
    return result


def _get_or_create_run(engine: Engine, campaign_id: str, version: int,
                       fire_time: datetime) -> tuple[int, str]:
    with engine.begin() as conn:
        conn.execute(insert_ignoring_conflicts(runs, engine).values(
            campaign_id=campaign_id, version=version, fire_time=fire_time,
            status="planning", created_at=utcnow()))
        row = conn.execute(select(runs.c.id, runs.c.status).where(
            runs.c.campaign_id == campaign_id, runs.c.fire_time == fire_time)).one()
    return int(row.id), str(row.status)


def _by_channel(placements: Iterable[Placement]) -> Iterator[tuple[str, list[Placement]]]:
    ordered = sorted(placements, key=lambda p: (p.channel, p.index))
    for name, group in groupby(ordered, key=lambda p: p.channel):
        yield name, list(group)


def _tagged(placement: Placement, targets: Iterator[Target]) -> Iterator[tuple[int, int, Target]]:
    """(sort key, placement index, target): merge order is key, then placement."""
    for target in targets:
        yield target.sort_key, placement.index, target


Row = tuple[object, ...]
# Column order of Row; the rows go to the driver's executemany as plain tuples, because
# per-row parameter processing would cost more than the insert itself.
ROW_COLUMNS = ("run_id", "channel", "placement", "target", "occurrence", "status", "reason",
               "detail", "contact_id", "updated_at")


def _rows(run_id: int, channel: str, streams: list[Iterator[tuple[int, int, Target]]],
          counts: Counter[str]) -> Iterator[Row]:
    """Delivery rows of one channel; the first appearance of an address is the real one.

    The last column (updated_at) is left None here and filled per batch. This loop runs
    once per target, so it avoids calls and string building on the common path.
    """
    merged = streams[0] if len(streams) == 1 else heapq.merge(*streams, key=lambda t: t[:2])
    previous: str | None = None
    occurrence = 0
    for _key, placement, target in merged:
        address = target.address
        occurrence = occurrence + 1 if address == previous else 1
        previous = address
        for copy in range(target.copies):
            if occurrence + copy == 1 and target.skip_reason is None:
                counts["planned"] += 1
                yield (run_id, channel, placement, address, 1, "planned", None, None,
                       target.contact_id, None)
                continue
            status, reason, detail = _state(target, occurrence + copy)
            counts[f"skipped:{reason}"] += 1
            yield (run_id, channel, placement, address, occurrence + copy, status, reason,
                   detail, target.contact_id, None)
        occurrence += target.copies - 1


def _state(target: Target, occurrence: int) -> tuple[str, str | None, str | None]:
    if occurrence > 1:
        return "skipped", "duplicate", f"appears {occurrence} times in this run's audience"
    return "skipped", target.skip_reason, target.detail


def _write(engine: Engine, rows: Iterator[Row], progress: Progress | None) -> None:
    marker = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    sql = (f"INSERT INTO {deliveries.name} ({', '.join(ROW_COLUMNS)}) "
           f"VALUES ({', '.join([marker] * len(ROW_COLUMNS))}) ON CONFLICT DO NOTHING")
    column_type = deliveries.c.updated_at.type
    to_db = column_type.dialect_impl(engine.dialect).bind_processor(engine.dialect)
    for batch in _batches(rows, BATCH_SIZE):
        now = utcnow()
        stamp = to_db(now) if to_db else now
        with engine.begin() as conn:
            conn.exec_driver_sql(sql, [(*row[:-1], stamp) for row in batch])
        if progress:
            progress(len(batch))


def _batches(rows: Iterator[Row], size: int) -> Iterator[list[Row]]:
    """Batches of ``rows`` built in a background thread while the caller inserts.

    Reading contacts and building rows is Python work; inserting is mostly SQLite work
    that releases the GIL, so on two cores the two overlap. At most two batches wait in
    the queue; an error while building is raised here, in the caller's thread.
    """
    queue: Queue[list[Row] | BaseException | None] = Queue(maxsize=2)
    stop = Event()

    def build() -> None:
        try:
            while not stop.is_set() and (batch := list(islice(rows, size))):
                queue.put(batch)
            queue.put(None)
        except BaseException as exc:  # handed to the caller, which re-raises it
            queue.put(exc)

    worker = Thread(target=build, name="planner-rows", daemon=True)
    worker.start()
    try:
        while (item := queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a builder waiting on a full queue
            with suppress(Empty):
                queue.get(timeout=0.05)
        worker.join()


def _finish(engine: Engine, result: PlanResult, version: int, cap: FrequencyCap | None,
            capped_channels: list[str]) -> None:
    now = utcnow()
    with engine.begin() as conn:
        if cap is not None and capped_channels:
            capped = apply_cap(conn, result.run_id, result.fire_time, cap, capped_channels)
            if capped:
                result.rows["planned"] -= capped
                result.rows["skipped:capped"] += capped
                result.rows = +result.rows  # drops a count that fell to zero
        counts = dict(sorted(result.rows.items()))
        conn.execute(runs.update().where(runs.c.id == result.run_id)
                     .values(status="planned", planned_at=now))
        conn.execute(delivery_events.insert().values(
            run_id=result.run_id, at=now, actor="planner", event="planned",
            detail=json.dumps(counts)))
        lifecycle.record(conn, "planner", "plan", result.campaign_id, version,
                         f"run {result.run_id} firing at {result.fire_time.isoformat()}: "
                         f"{sum(counts.values())} rows")
