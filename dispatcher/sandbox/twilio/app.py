"""The sandbox's HTTP face: Twilio's Messages routes and the ``/_sandbox/`` test routes.

Handlers do their work at once (under short locks) and only then wait, with
``asyncio.sleep``, for the configured latency or timeout delay: hundreds of concurrent
requests cost nothing but sockets. Long waits end early when the client hangs up or the
sandbox is closing, so a stopped server never hangs on a simulated timeout.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from dispatcher.sandbox.serving import hold, listing
from dispatcher.sandbox.twilio.store import Query
from dispatcher.sandbox.twilio.wire import (
    API_VERSION,
    Outcome,
    date_bound,
    error_body,
    error_outcome,
    message_json,
)

if TYPE_CHECKING:
    from dispatcher.sandbox.twilio.server import TwilioSandbox

MAX_PAGE_SIZE = 1000
PAGING_PARAMS = ("Page", "PageSize", "PageToken")


def build_app(sandbox: TwilioSandbox) -> Starlette:
    api = _Api(sandbox)
    messages = f"/{API_VERSION}/Accounts/{{account}}/Messages"
    app = Starlette(routes=[
        Route(f"{messages}.json", api.create, methods=["POST"]),
        Route(f"{messages}.json", api.list, methods=["GET"]),
        Route(f"{messages}/{{sid}}.json", api.fetch, methods=["GET"]),
        Route("/_sandbox/messages", api.sandbox_messages, methods=["GET"]),
        Route("/_sandbox/stats", api.sandbox_stats, methods=["GET"]),
        Route("/_sandbox/inbound", api.sandbox_inbound, methods=["POST"]),
        Route("/_sandbox/reset", api.sandbox_reset, methods=["POST"]),
    ])
    app.state.sandbox = sandbox
    return app


class _Api:
    def __init__(self, sandbox: TwilioSandbox) -> None:
        self.sandbox = sandbox
        self.options = sandbox.options

    async def create(self, request: Request) -> Response:
        refused = self._refuse(request)
        if refused is not None:
            return await self._answer(request, refused)
        form = await request.form()
        fields = {key: value for key, value in form.items() if isinstance(value, str)}
        return await self._answer(request, self.sandbox.create(fields))

    async def fetch(self, request: Request) -> Response:
        outcome = self._refuse(request)
        if outcome is None:
            self.sandbox.store.count("requests.fetch")
            message = self.sandbox.store.get(request.path_params["sid"])
            outcome = (error_outcome(20404, 404, path=request.url.path) if message is None
                       else Outcome(200, message_json(message, self.options.account_sid)))
        return await self._answer(request, outcome)

    async def list(self, request: Request) -> Response:
        outcome = self._refuse(request)
        if outcome is None:
            self.sandbox.store.count("requests.list")
            outcome = self._page(request.url.path, request.query_params)
        return await self._answer(request, outcome)

    def _page(self, path: str, params: QueryParams) -> Outcome:
        try:
            query = _query(params)
            size = min(MAX_PAGE_SIZE, max(1, int(params.get("PageSize", "50"))))
            page = int(params.get("Page", "0"))
            token = params.get("PageToken")
            before = int(token.removeprefix("PA")) if token else None
        except ValueError as exc:
            return error_outcome(20001, 400, detail=str(exc))
        found, more = self.sandbox.store.page(query, size, before)
        filters = [(k, v) for k, v in params.multi_items() if k not in PAGING_PARAMS]

        def uri(page: int, token: str | None = None) -> str:
            paging = [("PageSize", str(size)), ("Page", str(page))]
            paging += [("PageToken", token)] if token else []
            return f"{path}?{urlencode(filters + paging)}"

        account = self.options.account_sid
        return Outcome(200, {
            "messages": [message_json(message, account) for message in found],
            "end": page * size + max(len(found) - 1, 0), "start": page * size,
            "first_page_uri": uri(0), "page": page, "page_size": size,
            "next_page_uri": uri(page + 1, f"PA{found[-1].seq}") if more else None,
            "previous_page_uri": None, "uri": uri(page, token)})

    async def sandbox_messages(self, request: Request) -> Response:
        return listing(self.sandbox.messages(request.query_params.get("to")), request)

    async def sandbox_stats(self, request: Request) -> Response:
        return JSONResponse(self.sandbox.stats())

    async def sandbox_inbound(self, request: Request) -> Response:
        form = await request.form()
        fields = {key: value for key, value in form.items() if isinstance(value, str)}
        if not fields.get("From", "").strip():
            return JSONResponse({"error": "From is required: the number that replies"}, 400)
        hook, reply = self.sandbox.inbound(fields)
        webhook = None
        if hook is not None:
            status, error = await asyncio.to_thread(self.sandbox.poster.post_now, hook)
            webhook = {"url": hook.url, "status": status, "error": error}
        return JSONResponse(reply | {"webhook": webhook})

    async def sandbox_reset(self, request: Request) -> Response:
        self.sandbox.reset()
        return JSONResponse({"reset": True})

    def _refuse(self, request: Request) -> Outcome | None:
        """401 unless HTTP Basic auth carries the account SID and auth token; 404 for
        another account's URL."""
        user, password = _basic_auth(request.headers.get("authorization", ""))
        sid, token = self.options.account_sid, self.options.auth_token
        if not (hmac.compare_digest(user.encode(), sid.encode())
                & hmac.compare_digest(password.encode(), token.encode())):
            self.sandbox.store.count("requests.unauthorized")
            return Outcome(401, error_body(20003, 401),
                           headers={"WWW-Authenticate": 'Basic realm="Twilio API"'})
        if request.path_params["account"] != sid:
            return error_outcome(20404, 404, path=request.url.path)
        return None

    async def _answer(self, request: Request, outcome: Outcome) -> Response:
        await hold(request, self.options.latency_ms / 1000 + outcome.delay,
                   self.sandbox.closing)
        return JSONResponse(outcome.body, outcome.status, headers=dict(outcome.headers))


def _basic_auth(header: str) -> tuple[str, str]:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return "", ""
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    return user, password


def _query(params: QueryParams) -> Query:
    """``To``, ``From`` and ``DateSent>`` / ``DateSent>=`` / ``DateSent<`` / ``DateSent<=``
    (inclusive, to the second; a bare date means that whole UTC day), ``DateSent`` (the
    value's UTC day)."""
    lower: list[datetime] = []
    upper: list[datetime] = []
    for key, value in params.multi_items():
        if not key.startswith("DateSent"):
            continue
        op = key.removeprefix("DateSent")
        low, high = date_bound(value, upper=False), date_bound(value, upper=True)
        if op not in ("", ">", ">=", "<", "<=") or low is None or high is None:
            raise ValueError(f"{key}: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, got {value}")
        if op == "":  # that whole UTC day, even as a date-time (twilio-python sends those)
            low, high = (date_bound(low.date().isoformat(), upper) for upper in (False, True))
            assert low is not None and high is not None
        if op in ("", ">", ">="):
            lower.append(low)
        if op in ("", "<", "<="):
            upper.append(high)
    return Query(to=params.get("To"), sender=params.get("From"),
                 sent_from=max(lower, default=None), sent_until=min(upper, default=None))
