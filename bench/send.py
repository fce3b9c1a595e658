"""Sending SMS to the Twilio sandbox: the engine beside what a user would write by hand.

The sandbox runs in its own process (``dispatcher sandbox serve``) with 20 ms latency per
API call, so this process's CPU time is the sender's alone. Every variant sends the same
N messages with the real ``twilio`` client:
  (a) the engine: claims, leases, token bucket, thread pool, bookkeeping in SQLite;
  (b) a plain loop over ``client.messages.create``;
  (c) a bare thread pool of the same size over ``client.messages.create``, no bookkeeping.
Then (d) the engine under a limit of 100 segments/s for 60 s: the achieved rate, and the
most messages the sandbox saw in any one second (the limit is rate + bucket = 200).
Then, for each domestic provider (bench/domestic.py), against its own sandbox:
  (e) the engine with batch calls (Aliyun 1,000 numbers per SendSms, Tencent 200);
  (f) a bare thread pool of the same size over the same SDK, one number per call.

Usage: .venv/bin/python bench/send.py [--messages 3000] [--limit-seconds 60]
           [--numbers 20000] [--providers aliyun,tencent] [--only-domestic]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import domestic
import requests
from common import SMS_BODY, wait_up
from twilio.rest import Client

from dispatcher import registry
from dispatcher.approval import lifecycle
from dispatcher.audience.contacts import import_contacts
from dispatcher.context import AppContext
from dispatcher.delivery.engine import DeliveryEngine
from dispatcher.delivery.policy import EngineOptions
from dispatcher.demo import contact_samples as samples
from dispatcher.demo.drive import TOKEN_VARIABLE, demo_config
from dispatcher.planning import campaign_store
from dispatcher.planning.runs import plan_firing
from dispatcher.sandbox import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN
from dispatcher.serving import free_port

ROOT = Path(__file__).resolve().parents[1]
BODY = SMS_BODY
THREADS = 16


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(send: Callable[[], int]) -> tuple[int, float, float]:
    """(messages, wall seconds, CPU seconds) of one variant."""
    cpu, wall = cpu_seconds(), time.perf_counter()
    count = send()
    return count, time.perf_counter() - wall, cpu_seconds() - cpu


def twilio_client(api: str) -> Client:
    """A client with the engine's own HTTP setup (pool of THREADS connections)."""
    from channels.sms.twilio_client import RoutedHttpClient

    return Client(SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN,
                  http_client=RoutedHttpClient(api, THREADS, 10.0))


def numbers(n: int) -> list[str]:
    return [f"+86139{i:08d}" for i in range(n)]


def plain_loop(api: str, n: int) -> int:
    client = Client(SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN)
    client.api.base_url = api  # what a user pointing the SDK elsewhere writes
    for to in numbers(n):
        client.messages.create(to=to, from_="+15005550006", body=BODY)
    return n


def bare_pool(api: str, n: int) -> int:
    client = twilio_client(api)
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(lambda to: client.messages.create(to=to, from_="+15005550006",
                                                        body=BODY), numbers(n)))
    return n


def engine_send(api: str, n: int, workdir: Path, rate: float,
                seconds: float | None = None) -> int:
    os.environ[TOKEN_VARIABLE] = SANDBOX_AUTH_TOKEN
    config = demo_config(workdir, api, "http://127.0.0.1:9", rate=rate, timeout=10,
                         status_callback=False)  # receipts are not what is measured
    app = AppContext(_config=config)
    samples.write_csv(workdir / "contacts.csv", n, seed=1,
                      mix=samples.SampleMix(invalid_rate=0, landline_rate=0, repeat_rate=0))
    import_contacts(app.engine, workdir / "contacts.csv", "residents", "CN")
    checked = campaign_store.check_file(config, app.engine, ROOT / "campaigns/pingan-ding.toml")
    assert checked.campaign is not None, checked.issues
    campaign_store.apply_campaign(app.engine, checked.campaign, "pingan-ding.toml",
                                  checked.text)
    lifecycle.approve(app.engine, "pingan-ding", "bench")
    channels = registry.build_channels(config.channels)
    plan_firing(app.engine, "pingan-ding", checked.campaign.schedule.start,
                channels.__getitem__)
    engine = DeliveryEngine(app.engine, channels, config.web.public_url,
                            EngineOptions(respect_send_windows=False))  # any hour
    if seconds is not None:
        timer = __import__("threading").Timer(seconds, engine.stop.set)
        timer.start()
    report = engine.run(until_idle=True)
    return report.sent


def per_second(api: str) -> Counter[int]:
    messages = requests.get(f"{api}/_sandbox/messages", timeout=30).json()
    stamps = [datetime.fromisoformat(m["created"]).timestamp() for m in messages]
    start = min(stamps)
    return Counter(int(s - start) for s in stamps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--limit-seconds", type=float, default=60.0)
    parser.add_argument("--numbers", type=int, default=20_000,
                        help="numbers each domestic variant sends")
    parser.add_argument("--providers", default="aliyun,tencent")
    parser.add_argument("--only-domestic", action="store_true")
    args = parser.parse_args()
    if not args.only_domestic:
        twilio(args)
    for provider in filter(None, args.providers.split(",")):
        domestic_providers(provider, args.numbers)


def domestic_providers(provider: str, n: int) -> None:
    with domestic.sandbox(provider) as api:
        print(f"\n{provider} sandbox, latency 20 ms; {THREADS} threads")
        print("| variant | numbers | seconds | numbers/s | CPU s per 1,000 |")
        print("|---|---|---|---|---|")
        rates = []
        for name, send in domestic.variants(provider, api, n, THREADS):
            domestic.reset(api)
            count, wall, cpu = measure(send)
            rates.append(count / wall)
            print(f"| {name} | {count:,} | {wall:.1f} | {count / wall:,.0f} | "
                  f"{cpu / count * 1000:.3f} |", flush=True)
        print(f"engine with batch calls / bare pool: {rates[0] / rates[1]:.1f}x")


def twilio(args: argparse.Namespace) -> None:
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "dispatcher", "sandbox", "serve", "--port", str(port),
         "--latency-ms", "20"], env={**os.environ, "TWILIO_AUTH_TOKEN": SANDBOX_AUTH_TOKEN},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_up(api)
        print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
              f"{platform.python_version()}; sandbox latency 20 ms; {THREADS} threads")
        print("| variant | messages | seconds | messages/s | CPU s per 1,000 |")
        print("|---|---|---|---|---|")
        variants: list[tuple[str, Callable[[], int]]] = [
            ("(a) engine", lambda: engine_send(api, args.messages,
                                               Path(tempfile.mkdtemp()), rate=100_000)),
            ("(b) plain loop", lambda: plain_loop(api, args.messages)),
            ("(c) bare thread pool", lambda: bare_pool(api, args.messages)),
        ]
        for name, send in variants:
            requests.post(f"{api}/_sandbox/reset", timeout=10)
            count, wall, cpu = measure(send)
            print(f"| {name} | {count:,} | {wall:.1f} | {count / wall:,.0f} | "
                  f"{cpu / count * 1000:.2f} |", flush=True)
        requests.post(f"{api}/_sandbox/reset", timeout=10)
        seconds = args.limit_seconds
        count = engine_send(api, int(seconds * 100 * 1.5), Path(tempfile.mkdtemp()),
                            rate=100, seconds=seconds)
        counts = per_second(api)
        full = [counts[s] for s in range(1, int(seconds) - 1)]  # whole seconds only
        print(f"\nlimit 100 segments/s for {seconds:.0f} s: {count:,} sent; achieved "
              f"{sum(full) / len(full):.1f}/s over the whole seconds; busiest second "
              f"{max(counts.values())}; first second {counts[0]}")
    finally:
        sandbox.terminate()
        sandbox.wait()


if __name__ == "__main__":
    main()
