"""The demo's LED part: a sample registry like the drive's and its simulated controllers.

The screens are imported before the campaign is applied (validation checks the text
against them). After the rows are published, the fleet starts: pull controllers fetch
their feeds, push controllers get their playlists, and all play the drive's first day
on a fast clock (one simulated hour per second) and report proof of play. The plays are
dated June 2019, so the demo's deployment accepts proof of play up to 100 years old.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from channels.base import Channel
from dispatcher.campaigns.schedule import Schedule
from dispatcher.demo.screen_samples import FLEET, sample_screens, write_screens_csv
from dispatcher.sandbox import LedFleet, LedOptions, ScreenSpec
from dispatcher.venues.led_feeds import PlaylistPusher
from dispatcher.venues.protocols import SignageChannel
from dispatcher.venues.screens import import_screens

SECRET_VARIABLE = "DISPATCHER_DEMO_LED_SECRET"
DRIVE_SCREENS = sum(count for _kind, count, *_rest in FLEET)  # 530, like the drive
PLAY_HOURS = 12  # simulated hours of the drive's first day the fleet plays


def led_table() -> dict[str, Any]:
    os.environ.setdefault(SECRET_VARIABLE, os.urandom(16).hex())
    return {"token_secret": f"env:{SECRET_VARIABLE}", "rate": 1000,
            "pop_max_age_days": 36_500}


def import_sample_screens(engine: Engine, workdir: Path, count: int, seed: int,
                          push_port: int, timezone: str) -> list[dict[str, str]]:
    """Write and import a registry of ``count`` screens; every tenth takes pushes."""
    rows = sample_screens(count / DRIVE_SCREENS, seed,
                          push_endpoint=f"http://127.0.0.1:{push_port}/controllers/{{id}}/"
                                        "playlist")
    path = workdir / "screens.csv"
    write_screens_csv(path, rows)
    import_screens(engine, path, timezone)
    return rows


def play_the_first_day(engine: Engine, channel: Channel, rows: list[dict[str, str]],
                       public_url: str, push_port: int, schedule: Schedule, seed: int,
                       say: Callable[[str], None]) -> dict[str, Any]:
    """Run the fleet over the drive's first day; returns the fleet's stats."""
    assert isinstance(channel, SignageChannel)
    specs = [ScreenSpec(r["id"], channel.screen_token(r["id"], 1),
                        "push" if r["controller"] == "push" else "pull") for r in rows]
    start = schedule.start - timedelta(hours=1)
    until = schedule.start + timedelta(hours=PLAY_HOURS)
    fleet = LedFleet(specs, public_url, LedOptions(
        seed=seed, start=start, until=until, poll_every_s=2.0, report_every_s=1.0,
        offline_rate=0.02, offline_s=3.0, replay_rate=0.05, workers=8))
    say(f"LED: {len(specs)} simulated controllers play {start:%Y-%m-%d %H:%M} to "
        f"{until:%H:%M} on a fast clock (one hour a second); 2% go offline for a while")
    pusher = PlaylistPusher(engine, {"led": channel}, public_url, every=1.0)
    with fleet.run(port=push_port):
        pusher.push_once()
        pusher.start()  # a push controller that was offline gets its playlist later
        try:
            fleet.wait_for_clock(until, timeout=PLAY_HOURS * 4 + 30)
            fleet.wait_for_reports(timeout=60)
        finally:
            pusher.close()
        return fleet.stats()
