"""Scaling out on Celery: plan 3.2 million SMS on PostgreSQL, send with 1, 2, 4 workers.

1. In a fresh PostgreSQL schema: generate the contacts
   (``dispatcher.demo.contact_samples``, seed 7),
   `dispatcher contacts import` them and `dispatcher campaign plan` one SMS campaign, each
   in a child process (wall time and peak RSS).
2. The Twilio sandbox runs in its own process with 20 ms latency per call; `dispatcher
   run` (the feeder) in another, RabbitMQ as the broker, Redis for the shared limit.
3. For each worker count: start that many `dispatcher worker` processes on the same run,
   let them warm up, then count the messages the sandbox accepted during ``--seconds``,
   and the CPU seconds and peak RSS of every worker process (from /proc).
4. The shared limit: 4 workers under ``rate = --limit-rate`` for ``--limit-seconds``,
   counted from the sandbox's own log of accepted messages (per second, by its clock).
With ``--send-all`` the 4 workers then send the rest of the run, and the time is shown.

Usage: .venv/bin/python bench/scale.py [--targets 3200000] [--workers 1,2,4]
           [--seconds 120] [--concurrency 1,4] [--limit-rate 200] [--limit-seconds 60]
           [--limit-concurrency 4] [--send-all]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import requests
from common import DISPATCHER, import_and_plan, wait_up
from sqlalchemy import Engine, create_engine, text

from dispatcher.sandbox import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN
from dispatcher.serving import free_port

ROOT = Path(__file__).resolve().parents[1]
POSTGRES = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SCHEMA = "bench_scale"
BROKER = os.environ.get("BENCH_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/2")
TOKEN_VARIABLE = "BENCH_TWILIO_TOKEN"


def database_url(keep: bool) -> str:
    """The benchmark's schema: created afresh, or with ``keep`` the one left last time."""
    admin = create_engine(POSTGRES)
    with admin.begin() as conn:
        if not keep:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
    admin.dispose()
    return f"{POSTGRES}?options=-csearch_path%3D{SCHEMA}"


def machine_cpu_seconds() -> float:
    """CPU seconds spent by the whole machine (every process: sandbox, PostgreSQL, ...)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    busy = sum(int(v) for v in fields) - int(fields[3]) - int(fields[4])  # minus idle, iowait
    return busy / os.sysconf("SC_CLK_TCK")


def write_config(path: Path, db_url: str, api: str, rate: float, concurrency: int) -> None:
    path.write_text(f"""executor = "celery"
[database]
url = "{db_url}"
[web]
public_url = "http://127.0.0.1:9"
[channels.sms]
provider = "twilio"
account_sid = "{SANDBOX_ACCOUNT_SID}"
auth_token = "env:{TOKEN_VARIABLE}"
from = "+15005550006"
api_base = "{api}"
rate = {rate}
concurrency = {concurrency}
timeout = 10
status_callback = false
[celery]
broker_url = "env:BENCH_BROKER"
redis_url = "{REDIS}"
queue = "bench-scale"
task_rows = 1000
queued_tasks = 16
""", encoding="utf-8")


def child_env(config: Path) -> dict[str, str]:
    return {**os.environ, "DISPATCHER_CONFIG": str(config), "DISPATCHER_DATABASE_URL": "",
            TOKEN_VARIABLE: SANDBOX_AUTH_TOKEN, "BENCH_BROKER": BROKER}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def accepted(api: str) -> int:
    return int(requests.get(f"{api}/_sandbox/stats", timeout=60).json()["created"])


def stop(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout=120)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def start_workers(count: int, env: dict[str, str], logs: Path) -> list[subprocess.Popen[bytes]]:
    return [subprocess.Popen([*DISPATCHER, "worker"], env=env, stdin=subprocess.DEVNULL,
                             stdout=(logs / f"worker-{count}-{n}.log").open("wb"),
                             stderr=subprocess.STDOUT) for n in range(count)]


def measure_workers(count: int, env: dict[str, str], api: str, seconds: float,
                    warmup: float, logs: Path) -> dict[str, float]:
    workers = start_workers(count, env, logs)
    try:
        time.sleep(warmup)
        sent0, cpu0 = accepted(api), [cpu_seconds(w.pid) for w in workers]
        machine0, began = machine_cpu_seconds(), time.perf_counter()
        time.sleep(seconds)
        sent1, cpu1 = accepted(api), [cpu_seconds(w.pid) for w in workers]
        machine = machine_cpu_seconds() - machine0
        elapsed = time.perf_counter() - began
        rss = [peak_rss_mb(w.pid) for w in workers]
    finally:
        stop(workers)
    messages = sent1 - sent0
    cpu = sum(b - a for a, b in zip(cpu0, cpu1, strict=True))
    return {"workers": count, "messages": messages, "rate": messages / elapsed,
            "cpu_per_1000": cpu / max(messages, 1) * 1000, "rss_max": max(rss),
            "machine_per_1000": machine / max(messages, 1) * 1000,
            "rss_mean": sum(rss) / len(rss)}


def measure_limit(env: dict[str, str], log: Path, seconds: float, logs: Path) -> Counter[int]:
    """Messages the sandbox accepted per second (its clock) under the shared limit."""
    workers = start_workers(4, env, logs)
    try:
        time.sleep(10)  # warm up: workers connected, blocks queued
        offset = log.stat().st_size
        time.sleep(seconds)
        with log.open("rb") as handle:
            handle.seek(offset)
            lines = handle.read().decode().splitlines()
    finally:
        stop(workers)
    stamps = [datetime.fromisoformat(json.loads(line)["created"]).timestamp()
              for line in lines if line.strip()]
    start = int(min(stamps))
    return Counter(int(s) - start for s in stamps)


def plan_targets(targets: int, out: Path, env: dict[str, str], engine: Engine) -> None:
    """Import ``targets`` contacts and plan one SMS campaign to them, in child processes."""
    (import_s, import_bytes), (plan_s, plan_bytes) = import_and_plan(
        "scale", "Scale benchmark", targets, out, out, env)
    import_rss, plan_rss = import_bytes / 2**20, plan_bytes / 2**20
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT count(*) FROM deliveries WHERE status = 'planned'")
                            ).scalar_one()
    print(f"\nimport {targets:,} contacts: {import_s:.0f} s, peak RSS {import_rss:.0f} MB;"
          f" plan {rows:,} SMS rows: {plan_s:.0f} s ({rows / plan_s:,.0f} rows/s), peak RSS "
          f"{plan_rss:.0f} MB", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=3_200_000)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--warmup", type=float, default=15.0)
    parser.add_argument("--concurrency", default="1,4",
                        help="provider calls in flight per worker ([channels.sms] "
                             "concurrency), one table section each")
    parser.add_argument("--limit-rate", type=float, default=200.0)
    parser.add_argument("--limit-concurrency", type=int, default=4,
                        help="calls in flight per worker under the shared limit")
    parser.add_argument("--limit-seconds", type=float, default=60.0)
    parser.add_argument("--send-all", action="store_true")
    parser.add_argument("--keep-database", action="store_true",
                        help="send on from the run planned last time (no import, no plan)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "out" / "scale"), type=Path)
    args = parser.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    config, api_port = out / "config.toml", free_port()
    api = f"http://127.0.0.1:{api_port}"
    db_url = database_url(args.keep_database)
    write_config(config, db_url, api, 10_000, 4)
    env = child_env(config)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; PostgreSQL, RabbitMQ, Redis on this machine; "
          f"sandbox latency 20 ms", flush=True)

    engine = create_engine(db_url)
    if not args.keep_database:
        plan_targets(args.targets, out, env, engine)

    sandbox_log = out / "sandbox.ndjson"
    sandbox_log.unlink(missing_ok=True)
    sandbox = subprocess.Popen(
        [*DISPATCHER, "sandbox", "serve", "--port", str(api_port), "--latency-ms", "20",
         "--log", str(sandbox_log)], env={**env, "TWILIO_AUTH_TOKEN": SANDBOX_AUTH_TOKEN},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    feeder = subprocess.Popen([*DISPATCHER, "run"], env=env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL,
                              stderr=(out / "feeder.log").open("wb"))
    try:
        wait_up(api)
        print("\n| calls in flight per worker | worker processes | messages | messages/s | "
              "CPU s per 1,000 (workers) | CPU s per 1,000 (machine) | peak RSS per worker |"
              " scaling vs 1 worker |")
        print("|---|---|---|---|---|---|---|---|", flush=True)
        for concurrency in (int(n) for n in args.concurrency.split(",")):
            write_config(config, db_url, api, 10_000, concurrency)
            first = 0.0
            for count in (int(n) for n in args.workers.split(",")):
                r = measure_workers(count, env, api, args.seconds, args.warmup, out)
                first = first or r["rate"]
                print(f"| {concurrency} | {count} | {r['messages']:,} | {r['rate']:.0f} | "
                      f"{r['cpu_per_1000']:.2f} | {r['machine_per_1000']:.2f} | "
                      f"{r['rss_max']:.0f} MB (mean "
                      f"{r['rss_mean']:.0f}) | {r['rate'] / first:.2f} |", flush=True)

        write_config(config, db_url, api, args.limit_rate, args.limit_concurrency)
        counts = measure_limit(env, sandbox_log, args.limit_seconds, out)
        full = [counts[s] for s in sorted(counts)][1:-1]  # whole seconds only
        achieved = sum(full) / len(full)
        print(f"\nshared limit {args.limit_rate:.0f}/s, 4 workers, {len(full)} whole seconds: "
              f"mean {achieved:.1f}/s ({achieved / args.limit_rate - 1:+.1%}), busiest "
              f"second {max(full)} ({max(full) / args.limit_rate - 1:+.1%}), quietest "
              f"{min(full)}; {args.limit_concurrency} calls in flight per worker", flush=True)
        if args.send_all:
            send_rest(env, engine, out)
        with engine.connect() as conn:
            left = conn.execute(text("SELECT count(*) FROM deliveries WHERE status IN "
                                     "('planned', 'sending')")).scalar_one()
        stats = requests.get(f"{api}/_sandbox/stats", timeout=120).json()
        print(f"\nrows still to send: {left:,}; the sandbox accepted {stats['created']:,} "
              f"messages, {stats['duplicate_messages']} duplicate(s)", flush=True)
    finally:
        stop([feeder])
        sandbox.terminate()
        sandbox.wait()


def send_rest(env: dict[str, str], engine: object, out: Path) -> None:
    """Send the rest of the run with 4 workers (hours for 3.2 million on 2 cores)."""
    workers = start_workers(4, env, out)
    began = time.perf_counter()
    try:
        while True:
            time.sleep(30)
            with engine.connect() as conn:  # type: ignore[attr-defined]
                left = conn.execute(text("SELECT count(*) FROM deliveries WHERE status IN "
                                         "('planned', 'sending')")).scalar_one()
            print(f"  {time.perf_counter() - began:.0f} s: {left:,} rows left", flush=True)
            if not left:
                break
    finally:
        stop(workers)


if __name__ == "__main__":
    main()
