"""The sandbox's HTTP face: the SMS API at ``POST /`` and the ``/_sandbox/`` test routes.

Every API call is checked like the platform's gateway checks it (the TC3 signature, the
version, the region, the action, a JSON body) before the sandbox handles it; the answer
is then held back ``latency_ms`` (and a simulated timeout's delay) without blocking the
event loop, so hundreds of concurrent calls cost nothing but sockets.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from dispatcher.sandbox.serving import hold, listing
from dispatcher.sandbox.tencent.options import REGIONS, SIGNATURE_TTL_S
from dispatcher.sandbox.tencent.signing import SignedRequest, refusal
from dispatcher.sandbox.tencent.wire import API_VERSION, Outcome, error

if TYPE_CHECKING:
    from dispatcher.sandbox.tencent.server import TencentSandbox

ACTIONS = ("SendSms", "PullSmsSendStatusByPhoneNumber")


def build_app(sandbox: TencentSandbox) -> Starlette:
    api = _Api(sandbox)
    app = Starlette(routes=[
        Route("/", api.call, methods=["POST"]),
        Route("/_sandbox/messages", api.sandbox_messages, methods=["GET"]),
        Route("/_sandbox/stats", api.sandbox_stats, methods=["GET"]),
        Route("/_sandbox/reply", api.sandbox_reply, methods=["POST"]),
        Route("/_sandbox/reset", api.sandbox_reset, methods=["POST"]),
    ])
    app.state.sandbox = sandbox
    return app


class _Api:
    def __init__(self, sandbox: TencentSandbox) -> None:
        self.sandbox = sandbox
        self.options = sandbox.options

    async def call(self, request: Request) -> Response:
        body = await request.body()
        outcome = self._gateway(request, body)
        if outcome is None:
            action = request.headers["x-tc-action"]
            params = _json_object(body)
            outcome = (error("InvalidParameter", "The request body is not a JSON object.")
                       if params is None else self.sandbox.call(action, params))
        await hold(request, self.options.latency_ms / 1000 + outcome.delay,
                   self.sandbox.closing)
        if isinstance(outcome.body, str):
            return PlainTextResponse(outcome.body, outcome.status)
        return JSONResponse(outcome.body, outcome.status)

    def _gateway(self, request: Request, body: bytes) -> Outcome | None:
        """The gateway's refusal of a call, or None to hand it to the sandbox."""
        signed = SignedRequest(request.method, request.url.path, request.url.query,
                               dict(request.headers), body)
        code = refusal(signed, self.options.secret_id, self.options.secret_key, time.time(),
                       SIGNATURE_TTL_S)
        if code is not None:
            self.sandbox.store.count(f"auth.{code}")
            return error(code)
        headers = request.headers
        region = headers.get("x-tc-region", "")
        if headers.get("x-tc-version") != API_VERSION:
            return error("NoSuchVersion")
        if not region:
            return error("MissingParameter", "The request is missing a required parameter "
                                             "`Region`.")
        if region not in REGIONS:
            return error("UnsupportedRegion")
        if headers.get("x-tc-action") not in ACTIONS:
            return error("InvalidAction")
        return None

    async def sandbox_messages(self, request: Request) -> Response:
        return listing(self.sandbox.messages(request.query_params.get("phone")), request)

    async def sandbox_stats(self, request: Request) -> Response:
        return JSONResponse(self.sandbox.stats())

    async def sandbox_reply(self, request: Request) -> Response:
        fields = _json_object(await request.body()) or {}
        phone, content = fields.get("phone"), fields.get("content")
        if not isinstance(phone, str) or not isinstance(content, str) or not content:
            return JSONResponse({"error": 'send JSON {"phone": "+8613800138000", '
                                          '"content": "T"}'}, 400)
        try:
            reply = await asyncio.to_thread(self.sandbox.reply, phone, content)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, 400)
        return JSONResponse(reply)

    async def sandbox_reset(self, request: Request) -> Response:
        self.sandbox.reset()
        return JSONResponse({"reset": True})


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        found = json.loads(body)
    except ValueError:
        return None
    return found if isinstance(found, dict) else None
