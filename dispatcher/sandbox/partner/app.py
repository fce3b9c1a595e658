"""The partner sandbox's HTTP face: ``POST /notices`` and the ``/_sandbox/`` test routes.

Handlers do their work at once (under short locks), then wait with ``asyncio.sleep`` for
the configured latency or timeout delay; a long wait ends early when the client hangs up
or the sandbox is closing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from dispatcher.sandbox.partner.options import NOTICES_PATH
from dispatcher.sandbox.serving import hold

if TYPE_CHECKING:
    from dispatcher.sandbox.partner.server import PartnerSandbox


def build_app(sandbox: PartnerSandbox) -> Starlette:
    api = _Api(sandbox)
    app = Starlette(routes=[
        Route(NOTICES_PATH, api.notices, methods=["POST"]),
        Route("/_sandbox/stats", api.stats, methods=["GET"]),
        Route("/_sandbox/notices", api.accepted, methods=["GET"]),
        Route("/_sandbox/reset", api.reset, methods=["POST"]),
    ])
    app.state.sandbox = sandbox
    return app


class _Api:
    def __init__(self, sandbox: PartnerSandbox) -> None:
        self.sandbox = sandbox

    async def notices(self, request: Request) -> Response:
        body = await request.body()
        headers = {key.lower(): value for key, value in request.headers.items()}
        outcome = self.sandbox.receive(headers, body)
        await hold(request, self.sandbox.options.latency_ms / 1000 + outcome.delay,
                   self.sandbox.closing)
        return JSONResponse(dict(outcome.body), outcome.status, headers=dict(outcome.headers))

    async def stats(self, request: Request) -> Response:
        return JSONResponse(self.sandbox.stats())

    async def accepted(self, request: Request) -> Response:
        return JSONResponse(self.sandbox.accepted())

    async def reset(self, request: Request) -> Response:
        self.sandbox.reset()
        return JSONResponse({"reset": True})
