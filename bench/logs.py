"""The delivery log on SQLite at 3.2 million rows: how long one page of 50 takes.

1. Build ``bench/out/logs.db`` (``--reuse`` keeps an existing one): the migrated schema
   from ``dispatcher.db.make_engine``, then raw ``sqlite3`` executemany of generated rows
   (seed 11): 10 campaigns firing every 1 to 14 days over six weeks, 44 runs, SMS to the
   E.164 numbers of 284,000 people drawn from a pool of 1.2 million (78 % of them in 2 to
   33 runs of several campaigns), WeChat to 8 % of some audiences, LED to 530 screens in
   two campaigns; completed runs hold delivered, sent, undelivered, failed and skipped
   rows, one run was cancelled half-way and the newest is still sending. Secondary
   indexes are dropped for the insert and created again afterwards (same DDL); no
   ANALYZE, as in production.
2. For each filter, ``delivery_log.page(engine, flt, 50)`` once to warm up, then
   ``--repeat`` (50) timed calls: median and p95 in ms.

Usage: .venv/bin/python bench/logs.py [--rows 3200000] [--reuse] [--repeat 50] [--out bench/out]
Prints the machine, the build and one Markdown table row per filter, for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import sqlite3
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import sqlalchemy
from common import samples_ms  # bench/common.py: the script's folder is on the path
from sqlalchemy import Engine

from dispatcher.delivery import log as delivery_log
from dispatcher.delivery.log import Cursor, LogFilter
from dispatcher.storage.db import make_engine

ROOT = Path(__file__).resolve().parents[1]
START = datetime(2026, 10, 5, 1, tzinfo=UTC)  # 09:00 in Shanghai
END = START + timedelta(weeks=6)
PEOPLE = 1_200_000
SCREENS = 530
SMS_RATE = 250.0  # rows sent per second by the engine
COLUMNS = ("run_id", "channel", "placement", "target", "occurrence", "status", "reason",
           "detail", "provider_ref", "error_code", "attempts", "units", "updated_at",
           "contact_id")
# (campaign, audience share of the people, first firing (days), every (days), firings,
#  WeChat, LED)
CAMPAIGNS = [
    ("anti-fraud-2026", 0.20, 0, 7, 6, True, False),
    ("road-safety", 0.10, 3, 7, 6, False, True),
    ("flood-season", 0.07, 1, 3, 13, False, False),
    ("census-reminder", 0.03, 20, 1, 8, True, False),
    ("vaccination", 0.05, 2, 7, 5, False, False),
    ("gang-crime-hotline", 0.04, 5, 14, 2, True, True),
    ("fire-safety", 0.02, 9, 10, 1, False, False),
    ("water-outage-east", 0.003, 12, 1, 1, False, False),
    ("tax-deadline", 0.03, 30, 5, 1, False, False),
    ("heat-warning", 0.015, 39, 1, 1, False, False),
]
SMS_OUTCOMES = {"delivered": 0.86, "sent": 0.04, "undelivered": 0.025, "failed": 0.015,
                "skipped:opted_out": 0.012, "skipped:invalid": 0.006, "skipped:capped": 0.03,
                "skipped:outside_window": 0.012}
OTHER_OUTCOMES = {"sent": 0.93, "failed": 0.04, "skipped:opted_out": 0.03}
ERROR_CODES = {"sms": ["30003", "30005", "30006", "30007", "21610"],
               "wechat": ["43004", "45009"], "led": ["timeout", "offline"]}
Row = tuple[Any, ...]


@dataclass(frozen=True)
class Run:
    id: int
    campaign: str
    fire_time: datetime
    audience: range  # indexes into the people
    wechat: bool
    led: bool
    status: str  # completed, cancelled (half sent) or planned (still sending)


def stamp(moment: datetime) -> str:
    """How SQLAlchemy stores a DateTime in SQLite (UTC, naive)."""
    return moment.replace(tzinfo=None).isoformat(" ", "microseconds")


def people(rng: random.Random) -> list[str]:
    prefixes = [f"+86{p}" for p in (*range(130, 140), *range(150, 160), *range(180, 190))]
    return [f"{prefixes[n // 10**8]}{n % 10**8:08d}"
            for n in rng.sample(range(len(prefixes) * 10**8), PEOPLE)]


def plan_runs(rows: int) -> list[Run]:
    """The firings of every campaign in time order, audiences scaled to about ``rows``."""
    firings = sorted((START + timedelta(days=first + every * k, minutes=7 * i), i)
                     for i, (_c, _s, first, every, count, _w, _l) in enumerate(CAMPAIGNS)
                     for k in range(count))
    wanted = sum(CAMPAIGNS[i][1] * (1.08 if CAMPAIGNS[i][5] else 1) for _t, i in firings)
    screens = sum(SCREENS for _t, i in firings if CAMPAIGNS[i][6])
    scale = (rows - screens) / (wanted * PEOPLE)
    runs = []
    for run_id, (fire_time, i) in enumerate(firings, start=1):
        campaign, share, *_rest, wechat, led = CAMPAIGNS[i]
        first = (i * 37_003) % PEOPLE
        size = min(PEOPLE, math.ceil(share * scale * PEOPLE))
        status = "planned" if run_id == len(firings) else "completed"
        status = "cancelled" if run_id == len(firings) // 2 else status
        runs.append(Run(run_id, campaign, fire_time, range(first, first + size), wechat, led,
                        status))
    return runs


class RowMaker:
    """The rows of one run, in planning order, with their outcomes and times."""

    def __init__(self, rng: random.Random, phones: list[str]) -> None:
        self.rng = rng
        self.phones = phones

    def rows(self, run: Run) -> Iterator[Row]:
        targets = [(self.phones[p % PEOPLE], p % PEOPLE + 1) for p in run.audience]
        yield from self.placement(run, 1, "sms", targets, SMS_OUTCOMES)
        if run.wechat:
            openids = [(f"o6_bm{self.rng.getrandbits(100):025x}", None)
                       for _ in range(len(targets) * 8 // 100)]
            yield from self.placement(run, 2, "wechat", openids, OTHER_OUTCOMES)
        if run.led:
            screens = [(f"scr-{n:04d}", None) for n in range(1, SCREENS + 1)]
            yield from self.placement(run, 3, "led", screens, OTHER_OUTCOMES)

    def placement(self, run: Run, placement: int, channel: str,
                  targets: Sequence[tuple[str, int | None]], weights: dict[str, float]
                  ) -> Iterator[Row]:
        outcomes = self.rng.choices(list(weights), list(weights.values()), k=len(targets))
        stop = len(targets) // 2 if run.status != "completed" else len(targets)
        planned_at = run.fire_time - timedelta(minutes=10)
        for n, ((target, contact), outcome) in enumerate(zip(targets, outcomes, strict=True)):
            if n >= stop:
                outcome = "planned" if run.status == "planned" else "skipped:cancelled"
            sent_at = run.fire_time + timedelta(seconds=n / SMS_RATE)
            yield (run.id, channel, placement, target, 1,
                   *self.outcome(channel, outcome, planned_at + timedelta(seconds=n / 4e4),
                                 sent_at), contact)

    def outcome(self, channel: str, outcome: str, planned_at: datetime,
                sent_at: datetime) -> Row:
        """(status, reason, detail, provider_ref, error_code, attempts, units, updated_at)."""
        status, _, reason = outcome.partition(":")
        if status in ("skipped", "planned"):
            moment = planned_at if status == "planned" or reason != "cancelled" else sent_at
            return status, reason or None, None, None, None, 0, None, stamp(moment)
        ref = f"SM{self.rng.getrandbits(128):032x}" if channel == "sms" else None
        code = self.rng.choice(ERROR_CODES[channel]) if status in ("failed", "undelivered") \
            else None
        if status in ("delivered", "undelivered"):
            sent_at += timedelta(seconds=2 + self.rng.expovariate(1 / 8))
        detail = f"provider error {code}" if code else None
        return (status, None, detail, ref, code, 1 + (status == "failed"),
                1 + (self.rng.random() < 0.3), stamp(sent_at))


def build(path: Path, rows: int) -> dict[str, float]:
    """A fresh database at ``path`` with about ``rows`` delivery rows."""
    for stale in path.parent.glob(f"{path.name}*"):
        stale.unlink()
    started = time.perf_counter()
    make_engine(f"sqlite:///{path}").dispose()
    runs = plan_runs(rows)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-400000")
    indexes = [sql for (sql,) in conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'deliveries' "
        "AND sql IS NOT NULL")]
    with conn:
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' "
                                    "AND tbl_name = 'deliveries' AND sql IS NOT NULL").fetchall():
            conn.execute(f'DROP INDEX "{name}"')
        insert_parents(conn, runs)
    inserted = insert_rows(conn, runs, rows)
    index_started = time.perf_counter()
    with conn:
        for sql in indexes:
            conn.execute(sql)
    index_s = time.perf_counter() - index_started
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return {"rows": inserted, "runs": len(runs), "build_s": time.perf_counter() - started,
            "index_s": index_s}


def insert_parents(conn: sqlite3.Connection, runs: list[Run]) -> None:
    created = stamp(START - timedelta(days=3))
    conn.executemany(
        "INSERT INTO campaigns (id, title, owner, current_version, keep_approved, created_at, "
        "updated_at) VALUES (?, ?, 'Publicity', 1, 0, ?, ?)",
        [(c[0], c[0].replace("-", " ").title(), created, created) for c in CAMPAIGNS])
    conn.executemany(
        "INSERT INTO runs (id, campaign_id, version, fire_time, status, created_at, planned_at, "
        "completed_at) VALUES (?, ?, 1, ?, ?, ?, ?, ?)",
        [(r.id, r.campaign, stamp(r.fire_time), r.status,
          stamp(r.fire_time - timedelta(minutes=11)), stamp(r.fire_time - timedelta(minutes=10)),
          stamp(r.fire_time + timedelta(hours=2)) if r.status == "completed" else None)
         for r in runs])


def insert_rows(conn: sqlite3.Connection, runs: list[Run], rows: int) -> int:
    rng = random.Random(11)
    maker = RowMaker(rng, people(rng))
    statement = (f"INSERT INTO deliveries ({', '.join(COLUMNS)}) "
                 f"VALUES ({', '.join('?' * len(COLUMNS))})")
    count = 0
    for run in runs:
        batch = list(maker.rows(run))[:rows - count]
        with conn:
            conn.executemany(statement, batch)
        count += len(batch)
    return count


def timed(call: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median and p95 (nearest rank) in ms of ``repeat`` calls after one warm-up call."""
    times = sorted(samples_ms(call, repeat))
    return statistics.median(times), times[math.ceil(0.95 * len(times)) - 1]


def cases(engine: Engine) -> list[tuple[str, LogFilter, int]]:
    """(label, filter, pages to skip) of every measured page."""
    with engine.connect() as conn:  # the first person of some run with the most rows
        person, count = conn.execute(sqlalchemy.text(
            "SELECT target, count(*) AS n FROM deliveries WHERE target IN (SELECT (SELECT "
            "target FROM deliveries WHERE run_id = runs.id AND channel = 'sms' ORDER BY id "
            "LIMIT 1) FROM runs) GROUP BY target ORDER BY n DESC, target LIMIT 1")).one()
    week = START + timedelta(weeks=3)
    return [("no filter, first page", LogFilter(), 0),
            ("campaign + status=failed", LogFilter("anti-fraud-2026", status="failed"), 0),
            ("campaign only", LogFilter("anti-fraud-2026"), 0),
            ("campaign + channel=sms (most of its rows)",
             LogFilter("anti-fraud-2026", channel="sms"), 0),
            ("small old campaign + status=failed",
             LogFilter("water-outage-east", status="failed"), 0),
            ("channel + since/until (WeChat, one week)",
             LogFilter(channel="wechat", since=week, until=week + timedelta(weeks=1)), 0),
            (f"target (one person's history: {count} rows)", LogFilter(target=person), 0),
            ("no filter, 10th page by cursor", LogFilter(), 9)]


def cursor_after(engine: Engine, flt: LogFilter, pages: int) -> Cursor | None:
    after = None
    for _ in range(pages):
        _rows, after = delivery_log.page(engine, flt, 50, after)
    return after


def measure(engine: Engine, repeat: int) -> None:
    print("| page | rows | median ms | p95 ms |")
    print("|---|---|---|---|")
    for label, flt, skip in cases(engine):
        after = cursor_after(engine, flt, skip)
        rows, _next = delivery_log.page(engine, flt, 50, after)
        median, p95 = timed(partial(delivery_log.page, engine, flt, 50, after), repeat)
        print(f"| {label} | {len(rows)} | {median:.1f} | {p95:.1f} |", flush=True)


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in
                  Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{platform.machine()}, {model}, {os.cpu_count()} cores, {ram:.0f} GiB RAM, "
            f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
            f"SQLAlchemy {sqlalchemy.__version__}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3_200_000)
    parser.add_argument("--reuse", action="store_true", help="keep an existing database")
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--out", default=str(ROOT / "bench" / "out"), type=Path)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "logs.db"
    print(f"machine: {machine()}")
    if not (args.reuse and path.exists()):
        built = build(path, args.rows)
        print(f"built: {built['rows']:,} rows in {built['runs']} runs, {built['build_s']:.1f} s "
              f"(indexes {built['index_s']:.1f} s)")
    started = time.perf_counter()
    engine = make_engine(f"sqlite:///{path}")  # upgrades a reused database
    print(f"opened (and migrated) in {time.perf_counter() - started:.1f} s; "
          f"size {sum(p.stat().st_size for p in args.out.glob('logs.db*')) / 2**20:,.0f} MiB")
    measure(engine, args.repeat)
    engine.dispose()


if __name__ == "__main__":
    main()
