"""Prometheus metrics: ``GET /metrics`` in the text exposition format.

Nothing is counted in memory: a collector on its own registry reads the database at
scrape time, so every process serving the app (and every restart) reports the same
figures. One scrape is one connection and nine queries:

- ``dispatcher_deliveries{channel,state}``: delivery rows by channel and state; skipped
  rows as ``state="skipped:REASON"``. Every state of a channel that has rows is reported,
  0 included.
- ``dispatcher_queue_depth{channel}``: planned rows of runs whose status is planned (the
  engine's open work; paused runs are not counted).
- ``dispatcher_provider_errors{channel,code}``: failed and undelivered rows by the
  provider's error code (``code="unknown"`` when the provider gave none).
- ``dispatcher_send_latency_seconds``: a summary (quantiles 0.5, 0.9, 0.99 by nearest
  rank, ``_count``, ``_sum``) of the time from a row's ``sending`` event to its ``sent``
  event, in Python over the ``sent`` events of the last hour: the newest 10,000 of them
  found among the newest 100,000 events of ``delivery_events`` (a bound read by primary
  key: the table has no index on its time). Each sent event is paired with the latest
  ``sending`` event of its row before it (its last attempt). It is a snapshot of the
  window, not a running total: ``_count`` and ``_sum`` can go down, so read the
  quantiles and ``_sum / _count`` directly rather than through ``rate()``.
- ``dispatcher_runs{status}``: runs by status (every status, 0 included).
- ``dispatcher_send_tasks{state}``: the Celery executor's blocks queued, waiting for a
  queue slot and running; ``dispatcher_executor_lag_seconds``: how long the oldest
  waiting work has waited (both 0 with the local executor).
- ``dispatcher_up``: 1, or 0 (and nothing else) when the database cannot be read.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from channels.base import SKIP_REASONS, STATES
from dispatcher.delivery.status import block_counts, lag_seconds
from dispatcher.storage.db import as_utc, utcnow
from dispatcher.storage.tables import deliveries, delivery_events, runs

log = logging.getLogger(__name__)

METRICS_PATH = "/metrics"
RUN_STATUSES = ("planning", "planned", "paused", "cancelled", "completed")
DELIVERY_STATES = (*(s for s in STATES if s != "skipped"), *(f"skipped:{r}" for r in SKIP_REASONS))
ERROR_STATES = ("failed", "undelivered")
LATENCY = "dispatcher_send_latency_seconds"
LATENCY_WINDOW = timedelta(hours=1)
LATENCY_MAX_SENT = 10_000
LATENCY_MAX_EVENTS = 100_000
QUANTILES = (0.5, 0.9, 0.99)


def metrics_router(engine: Engine) -> APIRouter:
    """``GET /metrics`` over ``engine``, left out of the OpenAPI schema."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(engine))
    router = APIRouter()

    @router.get(METRICS_PATH, include_in_schema=False)
    def metrics() -> Response:  # a sync def: the queries run in the threadpool
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router


class DatabaseCollector(Collector):
    """The dispatcher's figures, read from the database on every scrape."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterable[Metric]:
        try:
            with self.engine.connect() as conn:
                families = list(_families(conn, utcnow()))
        except SQLAlchemyError as exc:
            log.warning("metrics: database unreachable: %s", exc)
            families = []
        return [*families, _gauge("dispatcher_up", "1 when the database could be read, else 0",
                                  [], {(): 1 if families else 0})]


def _families(conn: Connection, now: datetime) -> Iterator[Metric]:
    rows = _delivery_counts(conn)
    channels = sorted({channel for channel, _state in rows})
    yield _gauge("dispatcher_deliveries", "Delivery rows by channel and state",
                 ["channel", "state"],
                 {(c, s): rows.get((c, s), 0) for c in channels for s in DELIVERY_STATES} | rows)
    yield _gauge("dispatcher_queue_depth", "Planned rows of planned runs (open work)",
                 ["channel"], _queue_depth(conn, channels))
    yield _gauge("dispatcher_provider_errors", "Failed and undelivered rows by error code",
                 ["channel", "code"], _provider_errors(conn))
    yield _gauge("dispatcher_runs", "Runs by status", ["status"], _run_counts(conn))
    yield _latency_summary(_send_latencies(conn, now))
    yield _gauge("dispatcher_send_tasks", "Celery executor blocks by state", ["state"],
                 {(state,): n for state, n in block_counts(conn, now).items()})
    yield GaugeMetricFamily("dispatcher_executor_lag_seconds",
                            "Seconds the oldest waiting work has waited (Celery executor)",
                            value=lag_seconds(conn, now))


def _gauge(name: str, documentation: str, labels: list[str],
           values: dict[tuple[str, ...], int]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=labels)
    for key, value in sorted(values.items()):
        family.add_metric(list(key), value)
    return family


def _delivery_counts(conn: Connection) -> dict[tuple[str, ...], int]:
    """Grouped in the order of the (run_id, channel, placement, status, reason) index, so
    that SQLite counts while it reads the index, without a temporary B-tree (0.34 s rather
    than 1.8 s for 3.2 million rows)."""
    d = deliveries.c
    query = select(d.channel, d.status, d.reason, func.count()).group_by(
        d.run_id, d.channel, d.placement, d.status, d.reason)
    counts: Counter[tuple[str, ...]] = Counter()
    for channel, status, reason, count in conn.execute(query):
        state = f"skipped:{reason}" if status == "skipped" and reason else status
        counts[channel, state] += count
    return dict(counts)


def _queue_depth(conn: Connection, channels: list[str]) -> dict[tuple[str, ...], int]:
    """Only the planned runs' part of the (run_id, channel, ...) index is read."""
    d = deliveries.c
    planned_runs = select(runs.c.id).where(runs.c.status == "planned")
    query = (select(d.channel, func.count())
             .where(d.run_id.in_(planned_runs), d.status == "planned")
             .group_by(d.channel))
    depths: dict[tuple[str, ...], int] = dict.fromkeys([(c,) for c in channels], 0)
    depths.update(((channel,), count) for channel, count in conn.execute(query))
    return depths


def _provider_errors(conn: Connection) -> dict[tuple[str, ...], int]:
    """Every row has a run: naming the runs lets the (run_id, status) index find the failed
    and undelivered rows run by run instead of reading every row."""
    d = deliveries.c
    query = (select(d.channel, d.error_code, func.count())
             .where(d.run_id.in_(select(runs.c.id)), d.status.in_(ERROR_STATES))
             .group_by(d.channel, d.error_code))
    counts: Counter[tuple[str, ...]] = Counter()
    for channel, code, count in conn.execute(query):
        counts[channel, code or "unknown"] += count
    return dict(counts)


def _run_counts(conn: Connection) -> dict[tuple[str, ...], int]:
    query = select(runs.c.status, func.count()).group_by(runs.c.status)
    counts: dict[tuple[str, ...], int] = dict.fromkeys([(s,) for s in RUN_STATUSES], 0)
    counts.update(((status,), count) for status, count in conn.execute(query))
    return counts


def _send_latencies(conn: Connection, now: datetime) -> list[float]:
    """Seconds from ``sending`` to ``sent`` of the last hour's sent events (see the module)."""
    sent, sending = delivery_events.alias("sent"), delivery_events.alias("sending")
    newest = conn.execute(select(func.max(delivery_events.c.id))).scalar() or 0
    started = (select(func.max(sending.c.at))
               .where(sending.c.delivery_id == sent.c.delivery_id,
                      sending.c.event == "sending", sending.c.id < sent.c.id)
               .scalar_subquery())
    query = (select(started, sent.c.at)
             .where(sent.c.id > newest - LATENCY_MAX_EVENTS, sent.c.event == "sent",
                    sent.c.at >= now - LATENCY_WINDOW)
             .order_by(sent.c.id.desc()).limit(LATENCY_MAX_SENT))
    return [max(0.0, (as_utc(done) - as_utc(begun)).total_seconds())
            for begun, done in conn.execute(query) if begun is not None]


def _latency_summary(latencies: list[float]) -> Metric:
    family = Metric(LATENCY, "Seconds from a row's sending event to its sent event, "
                             "over the last hour's sent events", "summary")
    ordered = sorted(latencies)
    for q in QUANTILES:
        family.add_sample(LATENCY, {"quantile": str(q)}, _nearest_rank(ordered, q))
    family.add_sample(f"{LATENCY}_count", {}, len(ordered))
    family.add_sample(f"{LATENCY}_sum", {}, math.fsum(ordered))
    return family


def _nearest_rank(ordered: list[float], q: float) -> float:
    """The smallest value with at least ``q`` of the values at or below it (NaN if none)."""
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]
