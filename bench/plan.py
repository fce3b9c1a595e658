"""Import N generated contacts and plan one SMS placement for all of them on SQLite.

For each size (default 1,000,000 and 3,200,000) in a fresh SQLite database:
1. generate the contact CSV (not timed);
2. ``dispatcher contacts import`` in a child process: contacts/s and its peak RSS;
3. ``dispatcher campaign plan`` in a child process: deliveries/s and its peak RSS;
4. the baseline: raw ``sqlite3`` executemany inserting the same delivery rows into an
   empty copy of the same table (same indexes, same pragmas), timed insert-only.

Usage: .venv/bin/python bench/plan.py [--sizes 1000000,3200000] [--out bench/out]
Prints one Markdown table row per size, for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import time
from pathlib import Path

from common import import_and_plan

ROOT = Path(__file__).resolve().parents[1]
COPY_COLUMNS = ("run_id", "channel", "placement", "target", "occurrence", "status", "reason",
                "detail", "contact_id", "attempts", "updated_at")


def raw_insert_seconds(planned_db: Path, baseline_db: Path) -> tuple[float, int]:
    """Copy the schema of ``deliveries`` and insert the same rows with raw executemany."""
    source = sqlite3.connect(planned_db)
    ddl = [sql for (sql,) in source.execute(
        "SELECT sql FROM sqlite_master WHERE tbl_name = 'deliveries' AND sql IS NOT NULL")]
    target = sqlite3.connect(baseline_db)
    target.execute("PRAGMA journal_mode=WAL")
    target.execute("PRAGMA synchronous=FULL")
    for statement in ddl:  # foreign keys stay unenforced: sqlite3's default
        target.execute(statement)
    insert = (f"INSERT INTO deliveries ({', '.join(COPY_COLUMNS)}) "
              f"VALUES ({', '.join('?' * len(COPY_COLUMNS))})")
    cursor = source.execute(f"SELECT {', '.join(COPY_COLUMNS)} FROM deliveries ORDER BY id")
    seconds, rows = 0.0, 0
    while batch := cursor.fetchmany(10_000):
        started = time.perf_counter()
        with target:
            target.executemany(insert, batch)
        seconds += time.perf_counter() - started
        rows += len(batch)
    return seconds, rows


def bench_size(size: int, out: Path) -> dict[str, float]:
    work = out / f"plan-{size}"
    work.mkdir(parents=True, exist_ok=True)
    for stale in work.glob("*.db*"):
        stale.unlink()
    db = work / "bench.db"
    env = {**os.environ, "DISPATCHER_DATABASE_URL": f"sqlite:///{db}",
           "DISPATCHER_CONFIG": str(ROOT / "config.toml")}
    (import_s, import_rss), (plan_s, plan_rss) = import_and_plan("bench", "Benchmark", size,
                                                                 out, work, env)
    raw_s, rows = raw_insert_seconds(db, work / "baseline.db")
    return {"size": size, "import_s": import_s, "contacts_per_s": size / import_s,
            "import_rss_mb": import_rss / 2**20, "rows": rows, "plan_s": plan_s,
            "deliveries_per_s": rows / plan_s, "plan_rss_mb": plan_rss / 2**20,
            "raw_s": raw_s, "raw_per_s": rows / raw_s, "ratio": raw_s and (rows / plan_s) /
            (rows / raw_s)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,3200000")
    parser.add_argument("--out", default=str(ROOT / "bench" / "out"), type=Path)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}")
    print("| contacts | import s | contacts/s | import peak RSS | delivery rows | plan s | "
          "deliveries/s | plan peak RSS | raw sqlite3 rows/s | plan / raw |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for size in (int(s) for s in args.sizes.split(",")):
        r = bench_size(size, args.out)
        print(f"| {size:,} | {r['import_s']:.1f} | {r['contacts_per_s']:,.0f} | "
              f"{r['import_rss_mb']:.0f} MB | {r['rows']:,} | {r['plan_s']:.1f} | "
              f"{r['deliveries_per_s']:,.0f} | {r['plan_rss_mb']:.0f} MB | "
              f"{r['raw_per_s']:,.0f} | {r['ratio']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
