"""Reports from venues' systems: ``POST /hooks/{channel}/playlog`` (cinemas).

Each venue signs with its own token (``Authorization: Bearer``), given by its channel.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import Engine

from channels.base import Channel, VenueChannel
from dispatcher.cinema_logs import BadLog, ingest
from dispatcher.web import urls

log = logging.getLogger(__name__)


def venues_router(engine: Engine, channels: Mapping[str, Channel]) -> APIRouter:
    venues = {n: c for n, c in channels.items() if isinstance(c, VenueChannel)}
    router = APIRouter(tags=["venues"])

    @router.post(urls.PLAYLOG_PATH, summary="A cinema's play log: plays, drops, admissions")
    async def playlog(channel: str, request: Request) -> JSONResponse:
        owner = venues.get(channel)
        if owner is None:
            raise HTTPException(404, f"no venue channel named {channel!r}")
        try:
            body: Any = json.loads(await request.body())
        except ValueError:
            raise HTTPException(400, "the body must be JSON") from None
        if not isinstance(body, dict) or not isinstance(body.get("cinema"), str):
            raise HTTPException(400, 'the body must be {"cinema", "batch", "entries"}')
        presented = request.headers.get("authorization", "").removeprefix("Bearer ").strip()

        def store() -> JSONResponse:
            try:
                expected = owner.venue_token(body["cinema"])
            except Exception as exc:  # not configured: no secret to check with
                log.error("cannot check venue tokens: %s", exc)
                raise HTTPException(503, "venue tokens cannot be checked: the channel is "
                                         "not configured") from None
            if not presented or not hmac.compare_digest(expected, presented):
                raise HTTPException(401, "missing or wrong cinema token",
                                    headers={"WWW-Authenticate": "Bearer"})
            try:
                return JSONResponse(ingest(engine, body["cinema"], body).as_json())
            except BadLog as exc:
                raise HTTPException(400, str(exc)) from None

        return await run_in_threadpool(store)

    return router
