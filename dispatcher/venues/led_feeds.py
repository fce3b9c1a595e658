"""LED playlists: what each screen plays now, fetched (pull) or pushed, and acknowledged.

A screen's playlist holds its published rows (``sent`` or ``delivered``) of runs that are
not paused or cancelled; its ``version`` is a hash of the items, sent as the feed's
ETag, so a controller polling an unchanged playlist gets 304. A pull controller's fetch,
or a push controller's 2xx answer, acknowledges the rows: they become ``delivered``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Engine, String, cast, literal, select

from channels.base import Channel, Sender
from channels.venues import Screen
from dispatcher.delivery.run_context import RunPlacements
from dispatcher.delivery.transitions import Transition, advance
from dispatcher.storage.db import utcnow
from dispatcher.storage.tables import deliveries, runs
from dispatcher.storage.tables import screens as screens_table
from dispatcher.venues.protocols import SignageChannel
from dispatcher.venues.screens import all_screens

log = logging.getLogger(__name__)

CHANNEL = "led"
LIVE_RUNS = ("planned", "completed")
ACTOR = "controller"


@dataclass(frozen=True)
class Playlist:
    screen_id: str
    version: str
    body: dict[str, Any]
    unacknowledged: list[int]  # rows still "sent": the fetch or push acknowledges them

    @property
    def etag(self) -> str:
        return f'"{self.version}"'


def token_version(engine: Engine, screen_id: str) -> int | None:
    with engine.connect() as conn:
        found = conn.execute(select(screens_table.c.token_version)
                             .where(screens_table.c.id == screen_id)).scalar()
    return None if found is None else int(found)


def on_screen(screen_id: str) -> ColumnElement[bool]:
    """LED rows addressed to exactly ``screen_id``.

    A row's target is ``screen:{id}@{placement}`` (:func:`channels.led_placement.address`);
    it is compared whole with the one this screen's row of that placement would have,
    never as a pattern: ``_`` and ``%`` in an id match only themselves, and no id matches
    another that it is a prefix of.
    """
    return deliveries.c.target == (literal(f"screen:{screen_id}@", String)
                                   + cast(deliveries.c.placement, String))


def build_playlist(engine: Engine, screen: Screen, placements: RunPlacements) -> Playlist:
    query = (select(deliveries.c.id, deliveries.c.run_id, deliveries.c.placement,
                    deliveries.c.status, runs.c.fire_time)
             .join(runs, runs.c.id == deliveries.c.run_id)
             .where(deliveries.c.channel == CHANNEL,
                    on_screen(screen.id),
                    deliveries.c.status.in_(("sent", "delivered")),
                    runs.c.status.in_(LIVE_RUNS))
             .order_by(deliveries.c.id))
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    items = [_item(row, screen, placements) for row in rows]
    version = hashlib.sha256(json.dumps(items, sort_keys=True, ensure_ascii=False)
                             .encode()).hexdigest()[:16]
    body = {"screen": screen.id, "version": version,
            "generated_at": utcnow().isoformat().replace("+00:00", "Z"), "items": items}
    return Playlist(screen.id, version, body, [r.id for r in rows if r.status == "sent"])


def _item(row: Any, screen: Screen, placements: RunPlacements) -> dict[str, Any]:
    campaign = placements.campaign(row.run_id)
    options = campaign.placements[row.placement].options
    end = campaign.schedule.end
    item: dict[str, Any] = {
        "id": str(row.id), "campaign": campaign.id,
        "kind": "text" if "text" in options else "media",
        "duration_s": options["duration"], "plays_per_hour": options["plays_per_hour"],
        "dayparts": options.get("dayparts", []),
        "start": campaign.schedule.start.isoformat(),
        "end": end.isoformat() if end else None, "timezone": screen.timezone}
    if "text" in options:
        item["text"] = options["text"]
    else:
        item["media"] = dict(options["media"])
    return item


def acknowledge(engine: Engine, delivery_ids: list[int], how: str) -> int:
    """The controller has the rows: ``sent`` -> ``delivered``. Returns rows moved."""
    if not delivery_ids:
        return 0
    with engine.begin() as conn:
        return len(advance(conn, [Transition("delivered", row, detail=how)
                                  for row in delivery_ids], actor=ACTOR))


@dataclass
class PushReport:
    pushed: int = 0
    acknowledged: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # screen: why


def push_playlists(engine: Engine, channel: Channel, public_url: str = "") -> PushReport:
    """Push the playlist of every push screen that has unacknowledged rows."""
    report = PushReport()
    if not isinstance(channel, SignageChannel) or not _ready(channel):
        return report
    placements = RunPlacements(engine, public_url)
    versions = _token_versions(engine)
    for screen in all_screens(engine):
        if screen.controller != "push" or not screen.endpoint:
            continue
        playlist = build_playlist(engine, screen, placements)
        if not playlist.unacknowledged:
            continue
        token = channel.screen_token(screen.id, versions[screen.id])
        result = channel.push(screen.endpoint, token, playlist.body)
        report.pushed += 1
        if result.accepted:
            report.acknowledged += acknowledge(engine, playlist.unacknowledged,
                                               f"push accepted ({result.detail})")
        else:
            report.failed[screen.id] = result.detail
    return report


def _ready(channel: Channel) -> bool:
    return not isinstance(channel, Sender) or channel.ready()


def _token_versions(engine: Engine) -> Mapping[str, int]:
    with engine.connect() as conn:
        return dict(conn.execute(select(screens_table.c.id, screens_table.c.token_version))
                    .all())


class PlaylistPusher:
    """Pushes changed playlists to push controllers every ``every`` seconds, in a thread
    (started by `dispatcher run`; a failed push is tried again next time)."""

    def __init__(self, engine: Engine, channels: Mapping[str, Channel], public_url: str,
                 every: float = 5.0) -> None:
        self.engine = engine
        self.channels = [c for c in channels.values() if isinstance(c, SignageChannel)]
        self.public_url = public_url
        self.every = every
        self.stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="playlist-pusher", daemon=True)

    def start(self) -> PlaylistPusher:
        if self.channels:
            self._thread.start()
        return self

    def close(self) -> None:
        self.stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def push_once(self) -> None:
        for channel in self.channels:
            report = push_playlists(self.engine, channel, self.public_url)
            if report.pushed:
                log.info("playlists pushed to %s screen(s), %s row(s) acknowledged; "
                         "failed: %s", report.pushed, report.acknowledged,
                         report.failed or "none")

    def _run(self) -> None:
        while not self.stop.wait(self.every):
            try:
                self.push_once()
            except Exception:
                log.exception("pushing playlists failed; trying again")
