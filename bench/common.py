"""What the benchmark scripts share: the campaign they plan, how they run children and
time calls."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
from sqlalchemy import Engine, create_engine, text

from dispatcher import testing
from dispatcher.demo import contact_samples as samples
from dispatcher.storage.db import make_engine

DISPATCHER = [sys.executable, "-m", "dispatcher"]
SMS_BODY = "【平安高新】扫黑除恶，人人有责。举报电话110。回TD退订"


def campaign_text(campaign_id: str, title: str) -> str:
    """A one-placement SMS campaign to the list "everyone", fired in 2019."""
    return testing.campaign_text(campaign_id, testing.sms_placement("everyone", body=SMS_BODY),
                                 title=title, owner="bench")


def run_child(args: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of one child process."""
    started = time.perf_counter()
    child = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _pid, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    if status != 0:
        errors = child.stderr.read().decode() if child.stderr else ""
        raise SystemExit(f"{' '.join(args)} failed: {errors}")
    return elapsed, usage.ru_maxrss * 1024


def import_and_plan(campaign_id: str, title: str, size: int, out: Path, work: Path,
                    env: dict[str, str]) -> tuple[tuple[float, int], tuple[float, int]]:
    """In child processes: import ``size`` generated contacts (``out/contacts-SIZE.csv``,
    written once) as the list "everyone", then apply ``work/CAMPAIGN_ID.toml``, approve it
    as the user "bench" and plan it. Wall seconds and peak RSS (bytes) of the import and
    of the plan."""
    csv_path = out / f"contacts-{size}.csv"
    if not csv_path.exists():
        samples.write_csv(csv_path, size, seed=7)
    toml = work / f"{campaign_id}.toml"
    toml.write_text(campaign_text(campaign_id, title), encoding="utf-8")
    imported = run_child(
        [*DISPATCHER, "contacts", "import", str(csv_path), "--list", "everyone"], env)
    run_child([*DISPATCHER, "campaign", "apply", str(toml)], env)
    subprocess.run([*DISPATCHER, "user", "add", "bench", "--role", "approver",
                    "--password-stdin"], env=env, input=b"bench password\n", check=True,
                   stdout=subprocess.DEVNULL)
    run_child([*DISPATCHER, "campaign", "approve", campaign_id, "--by", "bench"], env)
    return imported, run_child([*DISPATCHER, "campaign", "plan", campaign_id], env)


def samples_ms(call: Callable[[], object], repeat: int) -> list[float]:
    """Milliseconds of each of ``repeat`` calls, after one warm-up call."""
    call()
    spent = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        spent.append((time.perf_counter() - started) * 1000)
    return spent


def wait_up(api: str) -> None:
    """Wait for the Twilio sandbox at ``api`` to answer."""
    for _ in range(100):
        try:
            requests.get(f"{api}/_sandbox/stats", timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise SystemExit("the sandbox did not start")


@contextmanager
def scratch_schema(url: str, keep: bool = False) -> Iterator[Engine]:
    """A migrated database in a PostgreSQL schema of its own at ``url``, dropped
    afterwards unless ``keep``: a benchmark never touches another's tables."""
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in url else "?"
    engine = make_engine(f"{url}{sep}options=-csearch_path%3D{schema}")
    try:
        yield engine
    finally:
        engine.dispose()
        if not keep:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
