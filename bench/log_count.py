"""The delivery log's total count and name search (``delivery_log.count``, ``LogFilter.name``)
on PostgreSQL.

1. In a schema of its own (dropped afterwards unless ``--keep``), the migrated tables from
   ``dispatcher.db.make_engine`` and generated rows (seed 5): ``--rows`` SMS rows
   (100,000) over 5 runs of 2 campaigns, to as many contacts (each with a name drawn from
   400 common names, so each name is held by one contact in 400), states as a finished
   drive leaves them (80 % delivered, 10 % sent, 3 % failed, 2 % undelivered, 5 %
   skipped). VACUUM ANALYZE afterwards, as autovacuum would (index-only scans need the
   visibility map). ``--without-name-index`` drops the index on ``contacts.name``
   (migration 0016) first, to compare.
2. For each filter, ``count`` and the first page (``page``, 50 rows) once to warm up,
   then ``--repeat`` (20) timed calls: median and worst in ms; the query plan of the
   count for a campaign and of the page for a name (EXPLAIN ANALYZE).

Usage: .venv/bin/python bench/log_count.py [--url postgresql+psycopg://...] [--rows N]
       [--repeat N] [--without-name-index] [--keep]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from common import samples_ms, scratch_schema  # bench/common.py: the script's folder is on the path
from sqlalchemy import Engine, func, insert, select, text

from dispatcher.delivery import log as delivery_log
from dispatcher.delivery.log import LogFilter, _conditions, _named, _query  # the statements
from dispatcher.storage.tables import campaigns, contacts, deliveries, runs

URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
START = datetime(2026, 10, 5, 1, tzinfo=UTC)
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟",
         "涛", "明", "超", "秀英", "霞", "平"]
STATES = (("delivered", None, None), ) * 80 + (("sent", None, None), ) * 10 + (
    ("failed", None, "30003"), ) * 3 + (("undelivered", None, "30005"), ) * 2 + (
    ("skipped", "capped", None), ) * 3 + (("skipped", "opted_out", None), ) * 2
RUNS = (("drive", 0), ("drive", 7), ("drive", 14), ("other", 3), ("other", 10))


def build(engine: Engine, rows: int, rng: random.Random) -> None:
    now = datetime.now(UTC)
    names = [s + g for s in SURNAMES for g in GIVEN]
    with engine.begin() as conn:
        conn.execute(insert(campaigns), [
            {"id": cid, "title": cid, "owner": "宣传科", "current_version": 1,
             "created_at": now, "updated_at": now} for cid in ("drive", "other")])
        run_ids = [conn.execute(insert(runs).values(
            campaign_id=cid, version=1, fire_time=START + timedelta(days=day),
            status="completed", created_at=now).returning(runs.c.id)).scalar_one()
            for cid, day in RUNS]
        people = [{"phone": f"+86138{n:08d}", "line_type": "mobile", "area": "residential",
                   "district": "高新区", "name": rng.choice(names)} for n in range(rows)]
        conn.execute(insert(contacts), people)
        ids: dict[str, int] = {phone: row_id for phone, row_id in conn.execute(
            text("select phone, id from contacts"))}
        batch: list[dict[str, Any]] = []
        for n, person in enumerate(people):
            run = n % len(run_ids)
            status, reason, code = rng.choice(STATES)
            batch.append({"run_id": run_ids[run], "channel": "sms", "placement": 0,
                          "target": person["phone"], "occurrence": 1, "status": status,
                          "reason": reason, "error_code": code, "attempts": 1,
                          "contact_id": ids[person["phone"]],
                          "updated_at": START + timedelta(days=RUNS[run][1], seconds=n)})
            if len(batch) == 10_000:
                conn.execute(insert(deliveries), batch)
                batch = []
        if batch:
            conn.execute(insert(deliveries), batch)
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))


def timed(call: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median and slowest in ms of ``repeat`` calls after one warm-up call."""
    spent = samples_ms(call, repeat)
    return statistics.median(spent), max(spent)


def explain(engine: Engine, statement: Any) -> str:
    compiled = statement.compile(engine, compile_kwargs={"literal_binds": True})
    with engine.connect() as conn:
        return "\n".join(row[0] for row in conn.execute(text(f"EXPLAIN ANALYZE {compiled}")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=URL)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--without-name-index", action="store_true",
                        help="drop ix_contacts_name (migration 0016) first, to compare")
    args = parser.parse_args()
    with scratch_schema(args.url, args.keep) as engine:
        started = time.perf_counter()
        if args.without_name_index:
            with engine.begin() as conn:
                conn.execute(text("DROP INDEX ix_contacts_name"))
        build(engine, args.rows, random.Random(5))
        print(f"built {args.rows:,} rows in {time.perf_counter() - started:.1f} s")
        report(engine, args.repeat)


def report(engine: Engine, repeat: int) -> None:
    filters = {"everything": LogFilter(), "campaign": LogFilter(campaign="drive"),
               "campaign, failed": LogFilter(campaign="drive", status="failed"),
               "failed": LogFilter(status="failed"),
               "skipped:capped": LogFilter(status="skipped:capped"),
               "one number": LogFilter(target="+8613800000042"),
               "a common name (1 in 400)": LogFilter(name="王伟"),
               "campaign, a name": LogFilter(campaign="drive", name="王伟")}
    print("| filter | matching rows | count median / worst (ms) | first page median (ms) |")
    print("|---|---:|---:|---:|")
    for label, flt in filters.items():
        total = delivery_log.count(engine, flt)
        count_ms = timed(partial(delivery_log.count, engine, flt), repeat)
        page_ms = timed(partial(delivery_log.page, engine, flt, 50), repeat)
        print(f"| {label} | {total:,} | {count_ms[0]:.1f} / {count_ms[1]:.1f} | "
              f"{page_ms[0]:.1f} |")
    campaign = (select(func.count()).select_from(deliveries)
                .where(deliveries.c.run_id.in_(select(runs.c.id)
                                               .where(runs.c.campaign_id == "drive")))
                .where(*_conditions(LogFilter(), None)))
    print("\nEXPLAIN ANALYZE count, campaign:\n" + explain(engine, campaign))
    named = LogFilter(name="王伟")
    with engine.connect() as conn:
        phones = _named(conn, named)
    print("\nEXPLAIN ANALYZE page, a name:\n"
          + explain(engine, _query(named, phones).limit(51)))


if __name__ == "__main__":
    main()
