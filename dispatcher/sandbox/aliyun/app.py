"""The sandbox's HTTP face: Aliyun's RPC endpoint (``POST /``) and the ``/_sandbox/`` routes.

The SDK sends every action to ``POST /`` with the action in ``x-acs-action``, its
parameters in the query string (SendBatchSms's JSON arrays in a form body) and an
ACS3-HMAC-SHA256 ``Authorization``. Handlers do their work at once (under short locks)
and only then wait, with ``asyncio.sleep``, for the latency or a simulated timeout; long
waits end early when the client hangs up or the sandbox is closing.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from dispatcher.sandbox.aliyun.wire import API_VERSION, Outcome, answer
from dispatcher.sandbox.serving import hold, listing

if TYPE_CHECKING:
    from dispatcher.sandbox.aliyun.server import AliyunSandbox


def build_app(sandbox: AliyunSandbox) -> Starlette:
    api = _Api(sandbox)
    app = Starlette(routes=[
        Route("/", api.rpc, methods=["POST"]),
        Route("/_sandbox/messages", api.sandbox_messages, methods=["GET"]),
        Route("/_sandbox/stats", api.sandbox_stats, methods=["GET"]),
        Route("/_sandbox/reply", api.sandbox_reply, methods=["POST"]),
        Route("/_sandbox/reset", api.sandbox_reset, methods=["POST"]),
    ])
    app.state.sandbox = sandbox
    return app


class _Api:
    def __init__(self, sandbox: AliyunSandbox) -> None:
        self.sandbox = sandbox

    async def rpc(self, request: Request) -> Response:
        body = await request.body()
        headers = {key.lower(): value for key, value in request.headers.items()}
        outcome = self.sandbox.verifier.refusal(
            request.method, request.url.path, request.url.query, headers,
            request.headers.getlist, body)
        if outcome is not None:
            self.sandbox.store.count(f"unauthorized.{outcome.body['Code']}")
        elif headers.get("x-acs-version") != API_VERSION:
            outcome = answer("InvalidVersion")
        else:
            params = dict(parse_qsl(request.url.query, keep_blank_values=True))
            if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
                params |= dict(parse_qsl(body.decode("utf-8", "replace"),
                                         keep_blank_values=True))
            outcome = self.sandbox.call(headers.get("x-acs-action", ""), params)
        return await self._answer(request, outcome)

    async def sandbox_messages(self, request: Request) -> Response:
        return listing(self.sandbox.messages(request.query_params.get("phone")), request)

    async def sandbox_stats(self, request: Request) -> Response:
        return JSONResponse(self.sandbox.stats())

    async def sandbox_reply(self, request: Request) -> Response:
        """``{"phone": "...", "content": "..."}``: that person replies."""
        try:
            fields = json.loads(await request.body())
            phone, content = fields["phone"], fields["content"]
            if not isinstance(phone, str) or not isinstance(content, str):
                raise TypeError
            return JSONResponse(self.sandbox.reply(phone, content))
        except (ValueError, KeyError, TypeError) as exc:
            return JSONResponse({"error": 'expected JSON {"phone": "<mainland mobile>", '
                                          f'"content": "<text>"}} ({exc})'}, 400)

    async def sandbox_reset(self, request: Request) -> Response:
        self.sandbox.reset()
        return JSONResponse({"reset": True})

    async def _answer(self, request: Request, outcome: Outcome) -> Response:
        await hold(request, self.sandbox.options.latency_ms / 1000 + outcome.delay,
                   self.sandbox.closing)
        return JSONResponse(outcome.body, outcome.status)
