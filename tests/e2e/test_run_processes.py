"""Plain `dispatcher run` in real processes: one leader fires, a standby takes over.

Two processes start together on one database (SQLite file and PostgreSQL): exactly one
leads the scheduler, a campaign fires exactly once and both engines send its rows
without sending any number twice. The leader is then killed with SIGKILL; the other
process must take the scheduler over and fire the next campaign within 15 seconds.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from dispatcher.audience.contacts import import_contacts
from dispatcher.sandbox import SANDBOX_AUTH_TOKEN, TwilioOptions, TwilioSandbox
from dispatcher.serving import free_port
from dispatcher.storage.tables import audit_log, deliveries, runs
from dispatcher.testing import sandbox_config_text, sms_campaign_text, store_campaign

TOKEN_VARIABLE = "DISPATCHER_TEST_TWILIO_TOKEN"
CONTACTS = 40
TAKEOVER_SECONDS = 15
LEADS = "scheduler: running (this process leads)"
STANDS_BY = "scheduler: standing by (another process leads)"


def wait_for(check: Callable[[], bool], seconds: float, what: str) -> float:
    """Wait until ``check()``; returns the seconds it took."""
    began = time.monotonic()
    while not check():
        assert time.monotonic() - began < seconds, f"timed out waiting for {what}"
        time.sleep(0.1)
    return time.monotonic() - began


def count(engine: Engine, query: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())  # type: ignore[call-overload]


def runs_of(engine: Engine, campaign_id: str) -> int:
    return count(engine, select(func.count()).select_from(runs)
                 .where(runs.c.campaign_id == campaign_id))


def sent(engine: Engine) -> int:
    return count(engine, select(func.count()).select_from(deliveries)
                 .where(deliveries.c.status == "sent"))


def fired(engine: Engine, campaign_id: str) -> int:
    return count(engine, select(func.count()).select_from(audit_log).where(
        audit_log.c.campaign_id == campaign_id, audit_log.c.action == "fire"))


class Process:
    """`dispatcher run` in a subprocess, its stderr in a file."""

    def __init__(self, config: Path, log: Path) -> None:
        self.log = log
        self.child = subprocess.Popen(
            [sys.executable, "-m", "dispatcher", "--config", str(config), "run"],
            stdout=subprocess.DEVNULL, stderr=log.open("wb"), stdin=subprocess.DEVNULL,
            env={**os.environ, "DISPATCHER_DATABASE_URL": "",
                 TOKEN_VARIABLE: SANDBOX_AUTH_TOKEN})

    def said(self, line: str) -> bool:
        return line in self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> int:
        if self.child.poll() is None:
            self.child.send_signal(signal.SIGTERM)
        return self.child.wait(timeout=60)

    def kill(self) -> None:
        if self.child.poll() is None:
            self.child.kill()
        self.child.wait()


@pytest.fixture
def sandbox() -> Iterator[tuple[TwilioSandbox, str]]:
    box = TwilioSandbox(TwilioOptions(seed=4, latency_ms=2))
    with box.serve() as url:
        yield box, url


def test_two_processes_fire_once_and_the_standby_takes_over(
        engine: Engine, db_url: str, tmp_path: Path,
        sandbox: tuple[TwilioSandbox, str]) -> None:
    box, api_url = sandbox
    phones = "\n".join(f"1380000{i:04d},," for i in range(CONTACTS))
    import_contacts(engine, io.StringIO(f"phone,area,district\n{phones}\n"), "residents", "CN")
    config = tmp_path / "config.toml"
    config.write_text(sandbox_config_text(
        db_url, api_url, f"http://127.0.0.1:{free_port()}", status_callback=False,
        token_variable=TOKEN_VARIABLE), encoding="utf-8")
    now = datetime.now(UTC)
    store_campaign(engine, sms_campaign_text("first", now + timedelta(seconds=6)))

    processes = [Process(config, tmp_path / f"run-{n}.log") for n in range(2)]
    try:
        wait_for(lambda: all(p.said(LEADS) or p.said(STANDS_BY) for p in processes), 60,
                 "both processes to start")
        leaders = [p for p in processes if p.said(LEADS)]
        assert len(leaders) == 1, [p.log.read_text() for p in processes]
        [leader] = leaders
        [standby] = [p for p in processes if p is not leader]

        wait_for(lambda: sent(engine) == CONTACTS, 60, "the first campaign to be sent")
        assert fired(engine, "first") == 1

        leader.kill()
        store_campaign(engine, sms_campaign_text("second", datetime.now(UTC),
                                                 body="Second notice."))
        took = wait_for(lambda: runs_of(engine, "second") == 1, TAKEOVER_SECONDS,
                        "the standby to take over and fire the second campaign")
        assert standby.said("scheduler: leading"), standby.log.read_text()
        wait_for(lambda: sent(engine) == 2 * CONTACTS, 60, "the second campaign to be sent")
        assert standby.stop() == 0, standby.log.read_text()
    finally:
        for process in processes:
            process.kill()

    print(f"takeover and firing {took:.1f} s after the leader was killed")
    stats = box.stats()
    assert stats["created"] == 2 * CONTACTS
    assert stats["duplicates"] == 0 and stats["duplicate_messages"] == 0
    assert (runs_of(engine, "first"), fired(engine, "first")) == (1, 1)
    assert (runs_of(engine, "second"), fired(engine, "second")) == (1, 1)
    assert sent(engine) == 2 * CONTACTS
