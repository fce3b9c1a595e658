"""The fleet's HTTP face: push controllers' playlist endpoints and ``/_sandbox/`` routes.

``POST /controllers/{screen_id}/playlist`` (``Authorization: Bearer {token}``, the feed's
playlist JSON) answers 404 for a screen the fleet has no push controller for, 503 while
that controller is offline, 401 for a bad token, 400 for a malformed body, otherwise
200 ``{"accepted": true, "version": ...}``; errors carry ``{"accepted": false, "error"}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:
    from dispatcher.sandbox.led.fleet import LedFleet

MAX_BODY = 16 * 1024 * 1024


def build_app(fleet: LedFleet) -> Starlette:
    async def playlist(request: Request) -> Response:
        screen = request.path_params["screen_id"]
        body = await request.body()
        if len(body) > MAX_BODY:
            return JSONResponse({"accepted": False, "error": "body too large"}, 413)
        status, payload = fleet.push(screen, request.headers.get("authorization", ""), body)
        return JSONResponse(payload, status)

    async def stats(request: Request) -> Response:
        return JSONResponse(fleet.stats())

    async def screen(request: Request) -> Response:
        found = fleet.screen(request.path_params["screen_id"])
        return JSONResponse(found if found is not None else {"error": "unknown screen"},
                            200 if found is not None else 404)

    app = Starlette(routes=[
        Route("/controllers/{screen_id}/playlist", playlist, methods=["POST"]),
        Route("/_sandbox/stats", stats, methods=["GET"]),
        Route("/_sandbox/screens/{screen_id}", screen, methods=["GET"]),
    ])
    app.state.fleet = fleet
    return app
