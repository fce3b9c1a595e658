"""Crash test: a sender killed with SIGKILL three times loses and duplicates nothing.

A subprocess runs ``dispatcher run --until-idle`` on a 50,000-target campaign against the
Twilio sandbox; it is killed at three random moments and restarted each time. At the
end every target is in a final state, the sandbox holds each number exactly once, and
reach equals the sandbox's counts.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from dispatcher.campaigns.versions import load_stored
from dispatcher.planning import campaign_store
from dispatcher.reach.figures import campaign_reach
from dispatcher.sandbox import TwilioOptions
from dispatcher.storage.tables import deliveries
from dispatcher.testing import sandbox_config_text
from tests.e2e.test_send_sms import stack

TARGETS = 50_000


def config_file(path: Path, app_config: object) -> Path:
    from dispatcher.config import Config

    assert isinstance(app_config, Config)
    sms = app_config.channels["sms"]
    path.write_text(sandbox_config_text(
        app_config.database_url, sms["api_base"], app_config.web.public_url,
        token_variable=sms["auth_token"].env_name), encoding="utf-8")
    return path


def sender(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "dispatcher", "--config", str(config), "run", "--until-idle",
         "--lease", "3"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env={**os.environ, "DISPATCHER_DATABASE_URL": ""})


def kill_three_times_then_finish(config: Path, rng: random.Random, earliest: float,
                                 latest: float) -> list[float]:
    """Start a sender, SIGKILL it after a random moment, three times; then let one finish
    (it must exit 0). The moments of the kills, for the failure message."""
    kills = []
    for _ in range(3):
        child = sender(config)
        moment = rng.uniform(earliest, latest)
        time.sleep(moment)
        child.send_signal(signal.SIGKILL)
        child.wait()
        kills.append(round(moment, 1))
    child = sender(config)
    assert child.wait(timeout=900) == 0, child.stderr.read() if child.stderr else ""
    return kills


@pytest.mark.slow
def test_sigkill_three_times_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    rng = random.Random(int(os.environ.get("CRASH_SEED", "2019")))
    options = TwilioOptions(seed=9, latency_ms=5, error_rate=0.01, timeout_rate=0.002,
                            timeout_delay_s=3, callback_workers=32)
    with stack(tmp_path, options, TARGETS) as s:
        config = config_file(tmp_path / "config.toml", s.app.config)
        kills = kill_three_times_then_finish(config, rng, 3, 12)
        assert s.sandbox.wait_for_callbacks(timeout=120)
        stats = s.sandbox.stats()
        with s.app.engine.connect() as conn:
            counts = dict(conn.execute(select(deliveries.c.status, func.count())
                                       .where(deliveries.c.channel == "sms")
                                       .group_by(deliveries.c.status)).all())
        assert set(counts) <= {"delivered", "undelivered", "failed", "skipped"}, (kills, counts)
        assert stats["duplicates"] == 0 and stats["duplicate_messages"] == 0, kills
        assert counts["delivered"] == stats["created"] == stats["by_status"]["delivered"]
        campaign, _ = load_stored(s.app.engine, "pingan-ding")
        lookup = campaign_store.channel_lookup(s.app.config)
        reach = campaign_reach(s.app.engine, campaign, lookup)["channels"]["sms"]
        assert reach["delivered"] == stats["by_status"]["delivered"]
        assert reach["reach"]["message_times"] == stats["created"]
