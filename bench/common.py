"""What the benchmark scripts share: the campaign they plan and how they run children."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import requests
from sqlalchemy import Engine, create_engine, text

from dispatcher.storage.db import make_engine

SMS_BODY = "【平安高新】扫黑除恶，人人有责。举报电话110。回TD退订"


def campaign_text(campaign_id: str, title: str) -> str:
    """A one-placement SMS campaign to the list "everyone", fired in 2019."""
    return f"""id = "{campaign_id}"
title = "{title}"
owner = "bench"
[schedule]
start = 2019-06-03T09:00:00
[[placements]]
channel = "sms"
audience = {{ lists = ["everyone"] }}
body = "{SMS_BODY}"
"""


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
