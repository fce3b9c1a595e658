"""The approver's audience count (``dispatcher.review.audience_counts``) on PostgreSQL.

1. In a schema of its own (dropped afterwards unless ``--keep``), the migrated tables from
   ``dispatcher.db.make_engine`` and generated rows (seed 7): ``--contacts`` people
   (200,000) in 12 districts and the four area types (5 % without an area), all in the
   list "everyone" and 40 % also in "workers"; 2 % opted out (half of them of every
   channel); 30 runs of SMS fired over the last 7 days, 6 % of the people with 1 to 4
   counted messages each (so some are at a cap of 3 in 7 days). ANALYZE afterwards.
2. ``count_audience`` for one list, for two lists with area and district filters, each
   once to warm up and ``--repeat`` (10) timed calls: median and worst in ms, and the
   plans of the first one's three queries (EXPLAIN ANALYZE).

Usage: .venv/bin/python bench/audience.py [--url postgresql+psycopg://...] [--contacts N]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from common import scratch_schema  # bench/common.py: the script's folder is on the path
from sqlalchemy import Engine, insert, text

from channels.base import AREA_TYPES, Audience
from dispatcher.config import FrequencyCap
from dispatcher.review.audience_counts import _list_ids, audience_queries, count_audience
from dispatcher.storage.tables import (
    campaign_versions,
    campaigns,
    contact_lists,
    contacts,
    deliveries,
    list_members,
    optouts,
    runs,
)

DISTRICTS = [f"街道{n:02d}" for n in range(12)]
NOW = datetime.now(UTC)
CAP = FrequencyCap(messages=3, days=7)
BATCH = 20_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--contacts", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    with scratch_schema(args.url, args.keep) as engine:
        started = time.perf_counter()
        build(engine, args.contacts)
        print(f"built {args.contacts:,} contacts in {time.perf_counter() - started:.1f} s")
        measure(engine, args.repeat)


def build(engine: Engine, people: int) -> None:
    rng = random.Random(7)
    with engine.begin() as conn:
        conn.execute(insert(contact_lists), [{"id": 1, "name": "everyone", "created_at": NOW},
                                             {"id": 2, "name": "workers", "created_at": NOW}])
        for first in range(1, people + 1, BATCH):
            ids = range(first, min(first + BATCH, people + 1))
            conn.execute(insert(contacts), [{
                "id": i, "phone": f"+86138{i:08d}", "line_type": "mobile",
                "district": rng.choice(DISTRICTS),
                "area": None if rng.random() < 0.05 else rng.choice(AREA_TYPES)} for i in ids])
            conn.execute(insert(list_members), [{"list_id": 1, "contact_id": i} for i in ids])
            conn.execute(insert(list_members), [{"list_id": 2, "contact_id": i} for i in ids
                                                if rng.random() < 0.4])
        conn.execute(insert(optouts), [{
            "channel": "*" if rng.random() < 0.5 else "sms", "address": f"+86138{i:08d}",
            "source": "import", "created_at": NOW}
            for i in rng.sample(range(1, people + 1), people // 50)])
        _deliveries(conn, rng, people)
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))


def _deliveries(conn: object, rng: random.Random, people: int) -> None:
    from sqlalchemy import Connection

    assert isinstance(conn, Connection)
    conn.execute(insert(campaigns).values(id="old", title="old", owner="bench",
                                          current_version=1, created_at=NOW, updated_at=NOW))
    conn.execute(insert(campaign_versions).values(
        campaign_id="old", version=1, content_hash="x", source_path="x", source_text="",
        definition="{}", created_at=NOW))
    conn.execute(insert(runs), [{"id": r, "campaign_id": "old", "version": 1,
                                 "fire_time": NOW - timedelta(hours=5 * r + 1),
                                 "status": "completed", "created_at": NOW} for r in range(1, 31)])
    rows = []
    for person in rng.sample(range(1, people + 1), people * 6 // 100):
        for run in rng.sample(range(1, 31), rng.randint(1, 4)):
            rows.append({"run_id": run, "channel": "sms", "placement": 0,
                         "target": f"+86138{person:08d}", "occurrence": 1,
                         "status": "delivered", "updated_at": NOW, "contact_id": person})
    for first in range(0, len(rows), BATCH):
        conn.execute(insert(deliveries), rows[first:first + BATCH])


def measure(engine: Engine, repeat: int) -> None:
    cases = {
        "one list, no filter": Audience(("everyone",)),
        "two lists, 2 areas, 6 districts": Audience(("everyone", "workers"),
                                                    areas=("residential", "work"),
                                                    districts=tuple(DISTRICTS[:6])),
    }
    for name, audience in cases.items():
        counted = count_audience(engine, audience, "sms", CAP, ["sms"], NOW)  # warm up
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            count_audience(engine, audience, "sms", CAP, ["sms"], NOW)
            times.append((time.perf_counter() - started) * 1000)
        print(f"| {name} | {counted.total('people'):,} people, {counted.total('opted_out'):,}"
              f" opted out, {counted.total('capped'):,} capped | median "
              f"{statistics.median(times):.0f} ms | worst {max(times):.0f} ms |")
    queries = audience_queries(_list_ids(engine, ("everyone",)), Audience(("everyone",)),
                               "sms", CAP, ["sms"], NOW)
    with engine.connect() as conn:
        for name, query in queries.items():
            compiled = query.compile(engine, compile_kwargs={"literal_binds": True})
            plan = [line for (line,) in conn.execute(text(f"EXPLAIN ANALYZE {compiled}"))]
            print(f"  {name}: {plan[-1]}")
            for line in plan:
                print("   ", line)


if __name__ == "__main__":
    main()
