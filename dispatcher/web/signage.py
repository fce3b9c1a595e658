"""LED screens' side of the web app: playlist feeds and proof-of-play reports.

``GET /feeds/{channel}/{screen}``: the screen's playlist as JSON with an ETag (304 when
the controller's ``If-None-Match`` is current); the fetch acknowledges new items.
``POST /hooks/{channel}/pop?screen={id}``: a batch of proof-of-play records (see
:mod:`dispatcher.venues.led_proof`). Both take the screen's own token as ``Authorization: Bearer``.
The screen is named in the URL, so its token is checked before the body is read: an
unauthenticated body is never parsed; an authenticated one is capped at
:data:`MAX_POP_BODY` bytes (413) and must be UTF-8 JSON (400), naming the same screen.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import Engine

from channels.base import Channel, ConfigError
from channels.delivery_ids import shown
from channels.venues import Screen
from dispatcher.delivery import callback_urls as urls
from dispatcher.delivery.run_context import RunPlacements
from dispatcher.errors import NotFoundError
from dispatcher.venues.led_feeds import acknowledge, build_playlist, token_version
from dispatcher.venues.led_proof import BadBatch, ingest
from dispatcher.venues.protocols import SignageChannel
from dispatcher.venues.screens import as_screen, get_screen
from dispatcher.web.bodies import parse_json, read_capped

log = logging.getLogger(__name__)

MAX_POP_BODY = 2 * 1024 * 1024  # a full batch (5,000 records) is about 650 kB
POP_SHAPE = '{"screen", "batch", "records"}'


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
            raise HTTPException(404, f"no screen {shown(screen_id)}")
        presented = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        try:
            good = bool(presented) and owner.token_matches(screen_id, version, presented)
        except ConfigError as exc:  # the channel is not configured: no secret to check with
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
        screen_id = request.query_params.get("screen", "")
        if not screen_id:
            raise HTTPException(400, f"name the screen in the URL: POST "
                                     f"{urls.pop_url('', channel)}?screen=ID, with its token")
        owner, found = await run_in_threadpool(screen_for, channel, screen_id, request)
        batch: Any = parse_json(await read_capped(request, MAX_POP_BODY), POP_SHAPE)
        if not isinstance(batch, dict):
            raise HTTPException(400, f"the body must be a JSON object {POP_SHAPE}")

        def store() -> JSONResponse:
            try:
                result = ingest(engine, found, batch, owner.pop_max_age_days())
            except BadBatch as exc:
                raise HTTPException(400, str(exc)) from None
            return JSONResponse(result.as_json())

        return await run_in_threadpool(store)

    return router
