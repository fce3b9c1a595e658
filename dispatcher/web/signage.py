"""LED screens' side of the web app: playlist feeds and proof-of-play reports.

``GET /feeds/{channel}/{screen}``: the screen's playlist as JSON with an ETag (304 when
the controller's ``If-None-Match`` is current); the fetch acknowledges new items.
``POST /hooks/{channel}/pop``: a batch of proof-of-play records (see
:mod:`dispatcher.led_pop`). Both take the screen's own token as ``Authorization: Bearer``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import Engine

from channels.base import Channel, Screen, SignageChannel
from dispatcher.errors import NotFoundError
from dispatcher.led_feeds import acknowledge, build_playlist, token_version
from dispatcher.led_pop import BadBatch, ingest
from dispatcher.run_context import RunPlacements
from dispatcher.screens import as_screen, get_screen
from dispatcher.web import urls

log = logging.getLogger(__name__)


def signage_router(engine: Engine, channels: Mapping[str, Channel], public_url: str
                   ) -> APIRouter:
    signage = {n: c for n, c in channels.items() if isinstance(c, SignageChannel)}
    router = APIRouter(tags=["screens"])

    def screen_for(channel: str, screen_id: str, request: Request) -> tuple[SignageChannel,
                                                                             Screen]:
        owner = signage.get(channel)
        if owner is None:
            raise HTTPException(404, f"no screen channel named {channel!r}")
        version = token_version(engine, screen_id)
        if version is None:
            raise HTTPException(404, f"no screen {screen_id!r}")
        presented = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        try:
            good = bool(presented) and owner.token_matches(screen_id, version, presented)
        except Exception as exc:  # the channel is not configured: no secret to check with
            log.error("cannot check screen tokens: %s", exc)
            raise HTTPException(503, "screen tokens cannot be checked: the channel is not "
                                     "configured") from None
        if not good:
            raise HTTPException(401, "missing or wrong screen token",
                                headers={"WWW-Authenticate": "Bearer"})
        try:
            return owner, as_screen(get_screen(engine, screen_id))
        except NotFoundError as exc:
            raise HTTPException(404, str(exc)) from None

    @router.get(urls.FEED_PATH, summary="A screen's playlist (JSON, ETag)")
    def feed(channel: str, screen: str, request: Request) -> Response:
        _owner, found = screen_for(channel, screen, request)
        playlist = build_playlist(engine, found, RunPlacements(engine, public_url))
        acknowledge(engine, playlist.unacknowledged, "feed fetched")
        if request.headers.get("if-none-match") == playlist.etag:
            return Response(status_code=304, headers={"ETag": playlist.etag})
        return JSONResponse(playlist.body, headers={"ETag": playlist.etag,
                                                    "Cache-Control": "no-cache"})

    @router.post(urls.POP_PATH, summary="Proof-of-play records from a screen")
    async def pop(channel: str, request: Request) -> JSONResponse:
        try:
            batch: Any = json.loads(await request.body())
        except ValueError:
            raise HTTPException(400, "the body must be JSON") from None
        if not isinstance(batch, dict) or not isinstance(batch.get("screen"), str):
            raise HTTPException(400, 'the body must be {"screen", "batch", "records"}')

        def store() -> JSONResponse:
            owner, found = screen_for(channel, batch["screen"], request)
            try:
                result = ingest(engine, found, batch, owner.pop_max_age_days())
            except BadBatch as exc:
                raise HTTPException(400, str(exc)) from None
            return JSONResponse(result.as_json())

        return await run_in_threadpool(store)

    return router
