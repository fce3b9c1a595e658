"""One simulated LED controller: its playlist, media, plays and proof-of-play reports.

A controller does nothing on its own: the fleet's worker threads call :meth:`poll` (pull
controllers), :meth:`report` and the push endpoint's :meth:`accept_push`. Plays are
worked out lazily, whenever the clock is read for a report or a playlist change: the
plays of ``[cursor, now)`` under the playlist that was current, so swapping playlists
never loses or repeats a play. New content is fetched (media hashed) before a playlist
becomes current, as a real controller prepares its next show; media that failed their
size or md5 check are skipped at play time and counted, not retried until the playlist
changes. A file is known by its (md5, size): fetched once, whatever items use it. While
offline a controller still plays and buffers, but makes no request.
"""

from __future__ import annotations

import hmac
import json
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urljoin

from dispatcher.sandbox.batches import Batch, flush
from dispatcher.sandbox.clock import SimClock
from dispatcher.sandbox.http_client import HttpClient, Unreachable
from dispatcher.sandbox.led.faults import OfflinePlan, replays
from dispatcher.sandbox.led.options import LedOptions, ScreenSpec
from dispatcher.sandbox.led.playlist import EMPTY, Playlist, PlaylistError, parse_playlist
from dispatcher.sandbox.led.reports import TALLY_NAMES, Play, pop_queue
from dispatcher.sandbox.led.schedule import ItemPlan
from dispatcher.sandbox.led.stats import Tally

Job = Callable[[], None]


@dataclass
class FleetContext:
    """What every controller of a fleet shares; ``clock`` and ``offline`` change on reset."""

    options: LedOptions
    dispatcher: str  # base URL without a trailing slash
    http: HttpClient
    tally: Tally
    clock: SimClock
    offline: OfflinePlan
    later: Callable[[Job], None]  # run a job on a worker thread soon


class Controller:
    def __init__(self, spec: ScreenSpec, fleet: FleetContext, run_token: str) -> None:
        self.spec, self.fleet = spec, fleet
        self._lock = threading.Lock()
        self._auth = {"Authorization": f"Bearer {spec.token}"}
        # The screen is named in the URL: the dispatcher checks its token before the body.
        self._pop_url = (f"{fleet.dispatcher}/hooks/led/pop?screen="
                         f"{quote(spec.id, safe='')}")
        self._epoch = 0  # bumped by reset: results of jobs begun before are dropped
        self.reset(run_token)

    def reset(self, run_token: str) -> None:
        """Forget the playlist, media, plays and reports; earlier jobs' results are dropped."""
        with self._lock:
            self._epoch += 1
            self._playlist: Playlist = EMPTY
            self._plans: list[ItemPlan] = []
            self._etag: str | None = None
            self._verified: set[tuple[str, int]] = set()  # (md5, size)
            self._bad: dict[tuple[str, int], str] = {}  # -> the version it failed in
            self._cursor = self.fleet.clock.now_us()
            self._plays: Counter[str] = Counter()
            self.pop = pop_queue(self.spec.id, run_token)

    # Read from the fleet -------------------------------------------------------------

    def online(self) -> bool:
        return not self.fleet.offline.offline(self.spec.id, self.fleet.clock.elapsed())

    def summary(self) -> dict[str, Any]:
        buffered, pending, replays_queued = self.pop.backlog()
        with self._lock:
            return {"id": self.spec.id, "controller": self.spec.controller,
                    "version": self._playlist.version or None, "etag": self._etag,
                    "online": self.online(), "plays": dict(sorted(self._plays.items())),
                    "buffered": buffered, "pending_batches": pending,
                    "pending_replays": replays_queued, "cursor_us": self._cursor}

    def settled(self, target_us: int) -> bool:
        """Played up to ``target_us`` with every play acknowledged and no replay queued."""
        with self._lock:
            cursor = self._cursor
        return cursor >= target_us and self.pop.backlog() == (0, 0, 0)

    # Pull ----------------------------------------------------------------------------

    def poll(self) -> None:
        """One feed request (skipped while offline); a new version becomes current."""
        if not self.online():
            return
        tally = self.fleet.tally
        with self._lock:
            epoch, etag, current = self._epoch, self._etag, self._playlist.version
        headers = self._auth | ({"If-None-Match": etag} if etag else {})
        url = f"{self.fleet.dispatcher}/feeds/led/{quote(self.spec.id, safe='')}"
        tally.add("polls")
        try:
            reply = self.fleet.http.request("GET", url, headers)
        except Unreachable:
            tally.add("feed_errors.connection")
            return
        if reply.status == 304:
            tally.add("not_modified")
            self._heal_media()
        elif reply.status != 200:
            tally.add(f"feed_errors.{reply.status}")
        else:
            self._take_feed(reply.body, reply.headers.get("etag"), epoch, current)

    def _take_feed(self, body: bytes, etag: str | None, epoch: int, current: str) -> None:
        try:
            playlist = parse_playlist(json.loads(body), self.spec.id)
        except (ValueError, PlaylistError):
            self.fleet.tally.add("feed_errors.malformed")
            self.fleet.tally.add("playlists.malformed")
            return
        if playlist.version == current:
            with self._lock:
                if self._epoch == epoch:
                    self._etag = etag
            self._heal_media()
            return
        self._prepare(playlist)
        self._activate(playlist, etag, epoch)

    # Push ----------------------------------------------------------------------------

    def accept_push(self, authorization: str, body: bytes) -> tuple[int, dict[str, Any]]:
        """The push endpoint's answer; an accepted playlist becomes current on a worker
        thread once its media are fetched."""
        if not self.online():
            return self._refuse(503, "the controller is offline")
        if not hmac.compare_digest(authorization.encode(), self._auth["Authorization"].encode()):
            return self._refuse(401, "bad bearer token")
        try:
            playlist = parse_playlist(json.loads(body), self.spec.id)
        except (ValueError, PlaylistError) as exc:
            self.fleet.tally.add("playlists.malformed")
            return self._refuse(400, str(exc))
        self.fleet.tally.add("pushes.accepted")
        with self._lock:
            epoch = self._epoch

        def install() -> None:
            self._prepare(playlist)
            self._activate(playlist, None, epoch)

        self.fleet.later(install)
        return 200, {"accepted": True, "version": playlist.version}

    def _refuse(self, status: int, reason: str) -> tuple[int, dict[str, Any]]:
        self.fleet.tally.add(f"pushes.{status}")
        return status, {"accepted": False, "error": reason}

    # Playlist and media --------------------------------------------------------------

    def _activate(self, playlist: Playlist, etag: str | None, epoch: int) -> None:
        plans = [ItemPlan.of(item, self.fleet.options.seed, self.spec.id)
                 for item in playlist.items]
        with self._lock:
            if self._epoch != epoch:
                return
            self._advance(self.fleet.clock.now_us())
            self._playlist, self._plans, self._etag = playlist, plans, etag
        self.fleet.tally.add("playlists.activated")

    def _heal_media(self) -> None:
        """Fetch the current playlist's media that are neither verified nor known bad."""
        with self._lock:
            playlist = self._playlist
        self._prepare(playlist)

    def _prepare(self, playlist: Playlist) -> None:
        for item in playlist.items:
            media = item.media
            if media is None:
                continue
            key = (media.md5, media.size)
            with self._lock:
                done = key in self._verified or self._bad.get(key) == playlist.version
            if not done and self.online():
                self._download(media.url, media.size, media.md5, playlist.version)

    def _download(self, url: str, size: int, md5: str, version: str) -> None:
        tally = self.fleet.tally
        try:
            got = self.fleet.http.download(urljoin(self.fleet.dispatcher + "/", url),
                                           self._auth, size)
        except Unreachable:
            tally.add("media.errors")
            return
        if got.status != 200:
            tally.add("media.errors")
            return
        tally.add("media.downloads")
        problem = "size" if got.size != size else "md5" if got.md5 != md5 else None
        with self._lock:
            if problem is None:
                self._verified.add((md5, size))
            else:
                self._bad[(md5, size)] = version
        tally.add("media.verified" if problem is None else f"media.{problem}_failures")

    # Playing and reporting -----------------------------------------------------------

    def report(self) -> None:
        """Play up to now, then (when online) post what is unreported."""
        with self._lock:
            self._advance(self.fleet.clock.now_us())
        if self.online():
            if self.spec.controller == "push":
                self._heal_media()
            self._flush()

    def _advance(self, now_us: int) -> None:
        """Buffer the plays of ``[cursor, now_us)`` under the current playlist (locked)."""
        if now_us <= self._cursor:
            return
        plays: list[Play] = []
        skipped = 0
        for plan in self._plans:
            media = plan.item.media
            playable = media is None or (media.md5, media.size) in self._verified
            for start in plan.plays(self._cursor, now_us):
                if playable:
                    plays.append((start, plan.item.id, plan.duration_us))
                else:
                    skipped += 1
        self._cursor = now_us
        if skipped:
            self.fleet.tally.add("plays.skipped_media", skipped)
        if plays:
            plays.sort()
            self.pop.add(plays)
            by_item = Counter(item for _, item, _ in plays)
            self._plays.update(by_item)
            self.fleet.tally.add_plays(by_item)

    def _flush(self) -> None:
        """Post batches oldest first until one fails, then any replays."""
        options, tally, screen = self.fleet.options, self.fleet.tally, self.spec.id
        flush(self.pop, options.max_batch, self._post,
              lambda number: replays(options.seed, screen, number, options.replay_rate),
              lambda event, amount: tally.add(TALLY_NAMES[event], amount))

    def _post(self, batch: Batch) -> int | None:
        """The answer's status (errors counted under ``report_errors``), None if none."""
        headers = self._auth | {"Content-Type": "application/json"}
        try:
            reply = self.fleet.http.request("POST", self._pop_url, headers, batch.body)
        except Unreachable:
            self.fleet.tally.add("report_errors.connection")
            return None
        if not 200 <= reply.status < 300:
            self.fleet.tally.add(f"report_errors.{reply.status}")
        return reply.status
