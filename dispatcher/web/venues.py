"""Reports from venues' systems: ``POST /hooks/{channel}/playlog?cinema=ID`` (cinemas).

Each venue signs with its own token (``Authorization: Bearer``), given by its channel at
the venue's current token version. The venue is named in the query, so the token is
checked before the body is read (401), the body is read up to :data:`MAX_BODY` bytes
(413) and only then parsed (400 for anything but a JSON object, whatever its nesting);
the body's ``cinema`` must be the one named in the query (400).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import Engine

from channels.base import Channel
from dispatcher.delivery import callback_urls as urls
from dispatcher.delivery.venue_tokens import token_version
from dispatcher.venues.cinema_logs import BadLog, ingest
from dispatcher.venues.protocols import VenueChannel
from dispatcher.web.bodies import parse_json, read_capped

log = logging.getLogger(__name__)

MAX_BODY = 2 * 1024 * 1024  # bytes: a log of 5,000 entries is about 700 kB
VENUE_PARAM = "cinema"
LOG_SHAPE = '{"cinema", "batch", "entries": [...]}'


def venues_router(engine: Engine, channels: Mapping[str, Channel]) -> APIRouter:
    venues = {n: c for n, c in channels.items() if isinstance(c, VenueChannel)}
    router = APIRouter(tags=["venues"])

    @router.post(urls.PLAYLOG_PATH, summary="A cinema's play log: plays, drops, admissions")
    async def playlog(channel: str, request: Request) -> JSONResponse:
        owner = venues.get(channel)
        if owner is None:
            raise HTTPException(404, f"no venue channel named {channel!r}")
        venue = request.query_params.get(VENUE_PARAM, "")
        if not venue:
            raise HTTPException(400, f"name the cinema in the query: "
                                     f"{urls.PLAYLOG_PATH.format(channel=channel)}"
                                     f"?{VENUE_PARAM}=ID")
        presented = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        await run_in_threadpool(_authenticate, engine, owner, venue, presented)
        body = parse_log(await read_capped(request, MAX_BODY))
        if body.get("cinema") != venue:
            raise HTTPException(400, f'the body\'s "cinema" must be the cinema named in the '
                                     f"query ({VENUE_PARAM}=)")

        def store() -> JSONResponse:
            try:
                return JSONResponse(ingest(engine, venue, body).as_json())
            except BadLog as exc:
                raise HTTPException(400, str(exc)) from None

        return await run_in_threadpool(store)

    return router


def _authenticate(engine: Engine, owner: VenueChannel, venue: str, presented: str) -> None:
    """401 unless ``presented`` is ``venue``'s current token (an unknown venue has none)."""
    version = token_version(engine, venue)
    try:
        expected = None if version is None else owner.venue_token(venue, version)
    except Exception as exc:  # not configured: no secret to check with
        log.error("cannot check venue tokens: %s", exc)
        raise HTTPException(503, "venue tokens cannot be checked: the channel is "
                                 "not configured") from None
    if not presented or expected is None or not hmac.compare_digest(
            expected.encode(), presented.encode()):
        raise HTTPException(401, "missing or wrong cinema token",
                            headers={"WWW-Authenticate": "Bearer"})


def parse_log(raw: bytes) -> dict[str, Any]:
    """A JSON object, or 400: not UTF-8, not JSON, nested too deep, or not an object."""
    body = parse_json(raw, LOG_SHAPE)
    if not isinstance(body, dict):
        raise HTTPException(400, f"the body must be {LOG_SHAPE}")
    return body
