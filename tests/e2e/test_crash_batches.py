"""Crash test for batch calls: a sender killed with SIGKILL three times mid-batch loses
and duplicates nothing.

``dispatcher run --until-idle`` sends a 50,000-target campaign through the Aliyun
sandbox in calls of 200 numbers; it is killed at three random moments and restarted.
Rows killed in flight are looked up (QuerySendDetails by number, matched on the run's
OutId) before anything is sent again. At the end every target is in a final state and the
sandbox holds each number exactly once.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from dispatcher.config import Config
from dispatcher.storage.tables import deliveries
from tests.e2e.test_crash import kill_three_times_then_finish
from tests.e2e.test_send_domestic_sms import stack

TARGETS = 50_000
FAULTS = {"seed": 9, "latency_ms": 20, "error_rate": 0.01, "timeout_rate": 0.005,
          "timeout_delay_s": 3}


def toml(value: Any) -> str:
    """A config value as TOML (strings, numbers, booleans; Secrets as their reference)."""
    env = getattr(value, "env_name", None)
    if env is not None:
        return json.dumps(f"env:{env}")
    return json.dumps(value, ensure_ascii=False)


def config_file(path: Path, config: Config) -> Path:
    sms = dict(config.channels["sms"])
    templates = sms.pop("templates")
    lines = ["[database]", f"url = {toml(config.database_url)}", "[web]",
             f"listen = {toml(config.web.listen)}", f"public_url = {toml(config.web.public_url)}",
             "[channels.sms]", *(f"{k} = {toml(v)}" for k, v in sms.items()),
             "[channels.sms.templates]", *(f"{k} = {toml(v)}" for k, v in templates.items())]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.slow
def test_sigkill_mid_batch_three_times_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    rng = random.Random(int(os.environ.get("CRASH_SEED", "2019")))
    with stack(tmp_path, "aliyun", FAULTS, TARGETS, batch_size=200) as s:
        config = config_file(tmp_path / "config.toml", s.app.config)
        kills = kill_three_times_then_finish(config, rng, 2, 6)
        s.sandbox.wait_for_pushes(timeout=120)
        stats = s.sandbox.stats()
        with s.app.engine.connect() as conn:
            counts = dict(conn.execute(select(deliveries.c.status, func.count())
                                       .where(deliveries.c.channel == "sms")
                                       .group_by(deliveries.c.status)).all())
        assert set(counts) <= {"sent", "delivered", "undelivered", "failed", "skipped"}, (
            kills, counts)
        assert stats["duplicates"] == 0, (kills, stats)
        carried = counts.get("sent", 0) + counts.get("delivered", 0)
        assert carried == stats["accepted"], (kills, counts, stats)
        assert carried + counts.get("skipped", 0) + counts.get("failed", 0) == sum(
            counts.values())
        assert stats["accepted"] > TARGETS * 0.9
