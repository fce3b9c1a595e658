"""The cinema system's HTTP face: the booking API and the ``/_sandbox/`` routes.

``POST /bookings`` and ``DELETE /bookings/{booking}`` (``Authorization: Bearer {token of
the cinema}``; answers in :mod:`~dispatcher.sandbox.cinema.bookings`) do their work at
once and only then wait ``latency_ms``. ``GET /_sandbox/stats``, ``GET /_sandbox/bookings``
(``?cinema=&screening=&state=``), ``POST /_sandbox/reset``, ``POST
/_sandbox/screenings/{screening}/cancel`` (a cancellation by hand) and ``PUT
/_sandbox/tokens/{cinema}`` (``{"token": ...}``: install a rotated token) need no token.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from dispatcher.sandbox.cinema.bookings import Answer

if TYPE_CHECKING:
    from dispatcher.sandbox.cinema.server import CinemaSystem

MAX_BODY = 64 * 1024


def build_app(system: CinemaSystem) -> Starlette:
    delay = system.options.latency_ms / 1000

    async def answer(result: Answer) -> Response:
        if delay:
            await asyncio.sleep(delay)
        return JSONResponse(result.body, result.status)

    async def create(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_BODY:
            return await answer(Answer(413, {"confirmed": False, "error": "body too large"}))
        return await answer(system.desk.create(request.headers.get("authorization", ""), body))

    async def delete(request: Request) -> Response:
        return await answer(system.desk.delete(request.headers.get("authorization", ""),
                                               request.path_params["booking"]))

    async def stats(request: Request) -> Response:
        return JSONResponse(system.stats())

    async def bookings(request: Request) -> Response:
        query = request.query_params
        return JSONResponse(system.desk.summaries(
            query.get("cinema"), query.get("screening"), query.get("state")))

    async def reset(request: Request) -> Response:
        await asyncio.to_thread(system.reset)  # waits for running jobs: not on the loop
        return JSONResponse({"reset": True})

    async def cancel(request: Request) -> Response:
        screening = request.path_params["screening"]
        try:
            count = system.cancel(screening)
        except KeyError:
            return JSONResponse({"error": f"unknown screening {screening}"}, 404)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, 409)
        return JSONResponse({"cancelled": True, "screening": screening, "bookings": count})

    async def install(request: Request) -> Response:
        cinema = request.path_params["cinema"]
        raw = await request.body()
        try:
            token = json.loads(raw).get("token") if len(raw) <= MAX_BODY else None
        except (ValueError, AttributeError, RecursionError):
            token = None
        if not isinstance(token, str) or not token:
            return JSONResponse({"error": 'send {"token": "..."}'}, 400)
        try:
            system.install_token(cinema, token)
        except KeyError:
            return JSONResponse({"error": f"unknown cinema {cinema}"}, 404)
        return JSONResponse({"installed": True, "cinema": cinema})

    app = Starlette(routes=[
        Route("/bookings", create, methods=["POST"]),
        Route("/bookings/{booking}", delete, methods=["DELETE"]),
        Route("/_sandbox/stats", stats, methods=["GET"]),
        Route("/_sandbox/bookings", bookings, methods=["GET"]),
        Route("/_sandbox/reset", reset, methods=["POST"]),
        Route("/_sandbox/screenings/{screening}/cancel", cancel, methods=["POST"]),
        Route("/_sandbox/tokens/{cinema}", install, methods=["PUT"]),
    ])
    app.state.system = system
    return app
