"""The demo's cinema part: 12 sample cinemas with a month of screenings, and their system.

The cinemas and showtimes are imported before the campaign is applied (validation checks
the spots fit). The booking system starts its play clock two simulated days before the
drive, so the bookings, made first, find every screening still ahead; then the clock
runs (six simulated hours a second) while the rest of the drive is sent, the booked
screenings play (a few spots are dropped, a few screenings cancelled) and the play logs
come back with admissions.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from channels.base import Channel
from dispatcher.demo.cinema_samples import (
    AUDITORIUM_COLUMNS,
    CINEMA_COLUMNS,
    SHOWTIME_COLUMNS,
    sample_cinemas,
    sample_showtimes,
    write_csv,
)
from dispatcher.sandbox import CinemaOptions, CinemaSystem
from dispatcher.storage.db import as_utc
from dispatcher.storage.tables import deliveries, screenings
from dispatcher.venues.cinemas import (
    import_auditoriums,
    import_cinemas,
    import_showtimes,
    screening_of,
)
from dispatcher.venues.protocols import VenueChannel

SECRET_VARIABLE = "DISPATCHER_DEMO_CINEMA_SECRET"
DRIVE_CINEMAS = 12
DAYS = 30
TIME_SCALE = 6 * 3600.0  # six simulated hours a second


def cinema_table(system_url: str) -> dict[str, Any]:
    os.environ.setdefault(SECRET_VARIABLE, os.urandom(16).hex())
    return {"token_secret": f"env:{SECRET_VARIABLE}", "systems": {"cms": system_url},
            "rate": 200, "concurrency": 8}


@dataclass
class CinemaData:
    cinemas: list[dict[str, str]]
    auditoriums: list[dict[str, str]]
    showtimes: list[dict[str, str]]


def import_sample_cinemas(engine: Engine, workdir: Path, first_day: date, count: int,
                          seed: int, timezone: str) -> CinemaData:
    cinemas, halls = sample_cinemas(count, seed)
    shows = sample_showtimes(cinemas, halls, first_day, DAYS, seed)
    for name, rows, columns in (("cinemas", cinemas, CINEMA_COLUMNS),
                                ("auditoriums", halls, AUDITORIUM_COLUMNS),
                                ("showtimes", shows, SHOWTIME_COLUMNS)):
        write_csv(workdir / f"{name}.csv", rows, columns)
    import_cinemas(engine, workdir / "cinemas.csv", timezone)
    import_auditoriums(engine, workdir / "auditoriums.csv")
    import_showtimes(engine, workdir / "showtimes.csv")
    return CinemaData(cinemas, halls, shows)


def cinema_system(data: CinemaData, channel: Channel, public_url: str, first: datetime,
                  seed: int) -> CinemaSystem:
    assert isinstance(channel, VenueChannel)
    tokens = {row["id"]: channel.venue_token(row["id"]) for row in data.cinemas}
    return CinemaSystem.from_rows(data.cinemas, data.auditoriums, data.showtimes, tokens,
                                  public_url, CinemaOptions(
                                      seed=seed, start=first - timedelta(days=2),
                                      time_scale=TIME_SCALE,
                                      drop_rate=0.02, cancel_rate=0.01, replay_rate=0.05,
                                      error_rate=0.02))


def wait_for_the_plays(engine: Engine, system: CinemaSystem, say: Callable[[str], None]
                       ) -> dict[str, Any]:
    """Until the last booked screening has started and its log has come back."""
    with engine.connect() as conn:
        targets = list(conn.execute(select(deliveries.c.target).where(
            deliveries.c.channel == "cinema")).scalars())
        ids = sorted({screening_of(t) for t in targets})
        latest = conn.execute(select(func.max(screenings.c.starts_at))
                              .where(screenings.c.id.in_(ids))).scalar() if ids else None
    if latest is not None:
        latest = as_utc(latest)
        say(f"cinema: {len(ids)} screenings booked; they play on the system's clock until "
            f"{latest:%Y-%m-%d %H:%M} UTC (six simulated hours a second)")
        system.wait_for_clock(latest + timedelta(hours=1), timeout=600)
    system.wait_for_logs(timeout=60)
    return system.stats()
