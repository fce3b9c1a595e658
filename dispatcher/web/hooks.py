"""Provider webhooks: delivery receipts and replies, each verified by its channel.

The channel plugin checks the provider's signature against the URL the provider called.
Behind a proxy the Host and scheme the app sees differ from that URL, so the URL is
rebuilt from ``web.public_url``, exactly as it was given to the provider (see
:mod:`dispatcher.web.urls`), plus the query string as received.

Handlers read the form on the event loop, then verify and write in the threadpool: the
database calls block.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol, TypeVar, runtime_checkable

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine

from channels.base import (
    CallbackReceiver,
    CallbackRequest,
    Channel,
    MalformedRequest,
    Placement,
    ProviderEvents,
    PushedEvents,
    SignatureError,
)
from dispatcher.config import Config
from dispatcher.delivery import callback_urls as urls
from dispatcher.delivery import seen_nonces
from dispatcher.delivery.receipts import Origin, ReceiptBatcher, record_inbound
from dispatcher.errors import ConfigError
from dispatcher.reach.provider_reports import apply_reports

log = logging.getLogger(__name__)


@runtime_checkable
class EventReceiver(Protocol):
    """A channel whose provider posts signed events (XML or JSON) to one URL (WeChat)."""

    def verify_url(self, request: CallbackRequest) -> str:
        """Answer the provider's URL check: the text to echo (SignatureError if forged)."""
        ...

    def parse_events(self, request: CallbackRequest) -> ProviderEvents:
        """Verify the signature (SignatureError otherwise), decrypt, and map the events."""
        ...


@runtime_checkable
class PushReceiver(Protocol):
    """A channel whose providers push unsigned JSON to a URL holding an account's secret
    token (the domestic SMS platforms)."""

    def parse_push(self, request: CallbackRequest, account: str, kind: str, token: str
                   ) -> PushedEvents:
        """Check the token and the sender's address (SignatureError), read the body."""
        ...

    def push_accounts(self) -> list[str]:
        """The accounts whose platforms push (their URLs are registered in its console)."""
        ...


@runtime_checkable
class AccountScoped(Protocol):
    """A channel whose placements each go through one of several accounts, each signing
    its callbacks with its own secret: a callback signed by one account moves only the
    rows of placements that name that account (partner endpoints)."""

    def placement_account(self, placement: Placement) -> str | None:
        """The account ``placement`` sends through (None: any)."""
        ...


if TYPE_CHECKING:  # mypy checks that the plugins still have what the core calls
    from channels.sms import SmsChannel
    from channels.webhook import WebhookChannel
    from channels.wechat import WeChatChannel

    _events: type[EventReceiver] = WeChatChannel
    _scoped: type[AccountScoped] = WebhookChannel
    _pushes: type[PushReceiver] = SmsChannel


Receiver = TypeVar("Receiver", CallbackReceiver, EventReceiver, PushReceiver)

# Twilio takes an empty TwiML document as "nothing to send back" for a reply.
EMPTY_TWIML = "<Response></Response>"


def hooks_router(engine: Engine, config: Config, channels: Mapping[str, Channel]) -> APIRouter:
    """``POST /hooks/{channel}/status`` and ``/inbound`` for each channel taking callbacks."""
    receivers: dict[str, CallbackReceiver] = {
        name: ch for name, ch in channels.items() if isinstance(ch, CallbackReceiver)}
    public_url = config.web.public_url
    region = config.default_region
    batcher = ReceiptBatcher(engine)
    router = APIRouter(prefix=urls.HOOKS_PREFIX, tags=["provider webhooks"])

    @router.post(urls.STATUS_PATH, summary="Delivery receipts posted by a channel's provider")
    async def status(channel: str, request: Request) -> Response:
        receiver = _receiver(receivers, channel)
        origin = Origin(channel, receiver.placement_account
                        if isinstance(receiver, AccountScoped) else None)
        read = _raw_request if _is_json(request) else _callback_request  # partner apps: JSON
        callback = await read(request, urls.status_url(public_url, channel))

        def apply() -> Response:
            receipts = receiver.parse_callback(callback)
            report = batcher.apply(receipts, origin)
            log.debug("%s status callback: %s", channel, report)
            return Response(status_code=200)

        return await run_in_threadpool(_verified, channel, "status", _client(request), apply)

    @router.post(urls.INBOUND_PATH, summary="Replies people sent, posted by the provider")
    async def inbound(channel: str, request: Request) -> Response:
        receiver = _receiver(receivers, channel)
        callback = await _callback_request(request, urls.inbound_url(public_url, channel))

        def record() -> Response:
            message = receiver.parse_inbound(callback)
            record_inbound(engine, channel, message, region=region)
            return Response(EMPTY_TWIML, media_type="text/xml")

        return await run_in_threadpool(_verified, channel, "inbound", _client(request), record)

    push_receivers: dict[str, PushReceiver] = {
        name: ch for name, ch in channels.items() if isinstance(ch, PushReceiver)}

    @router.post(urls.PUSH_PATH, summary="Receipts or replies an SMS platform pushes "
                                         "(Aliyun, Tencent: unsigned JSON arrays)")
    async def push(channel: str, account: str, kind: str, token: str,
                   request: Request) -> Response:
        receiver = _receiver(push_receivers, channel, "pushes")
        callback = await _raw_request(request, urls.push_url(public_url, channel, account,
                                                             kind, "-"))
        callback = callback._replace(client=_client(request))

        def apply() -> Response:
            found = receiver.parse_push(callback, account, kind, token)
            receipts = batcher.apply(found.receipts, Origin(channel))
            for reply in found.replies:
                record_inbound(engine, channel, reply, region=region)
            log.info("%s %s push for account %s: %s receipt(s), %s applied, %s repl(ies)",
                     channel, kind, account, receipts.received, receipts.applied,
                     len(found.replies))
            # A receipt can overtake the send's answer (or its lookup): ask the platform to
            # push it again later rather than lose it. Both take only their exact "received".
            body = found.again if receipts.unmatched else found.received
            return Response(body, media_type="application/json")

        return await run_in_threadpool(_verified, channel, "push", _client(request), apply)

    event_receivers: dict[str, EventReceiver] = {
        name: ch for name, ch in channels.items() if isinstance(ch, EventReceiver)}

    @router.get(urls.EVENTS_PATH, summary="The provider's check of the events URL (echo)")
    async def events_check(channel: str, request: Request) -> Response:
        receiver = _receiver(event_receivers, channel, "events")
        callback = await _raw_request(request, urls.events_url(public_url, channel))

        def answer() -> Response:
            return Response(receiver.verify_url(callback), media_type="text/plain")

        return await run_in_threadpool(_verified, channel, "URL check", _client(request),
                                       answer)

    @router.post(urls.EVENTS_PATH, summary="Signed events pushed by the provider (WeChat)")
    async def events(channel: str, request: Request) -> Response:
        receiver = _receiver(event_receivers, channel, "events")
        callback = await _raw_request(request, urls.events_url(public_url, channel))

        def apply() -> Response:
            found = receiver.parse_events(callback)
            nonce = seen_nonces.claim(engine, channel, receiver, callback)  # 403: a replay
            try:
                answer = record(found)
            except Exception:  # not recorded (500): the provider's retry must be taken
                seen_nonces.release(engine, channel, nonce)
                raise
            if answer.status_code == 503:
                seen_nonces.release(engine, channel, nonce)
            return answer

        def record(found: ProviderEvents) -> Response:
            receipts = batcher.apply(found.receipts, Origin(channel))
            reports = apply_reports(engine, channel, found.reports)
            log.info("%s events: %s receipt(s) applied %s, %s report(s) stored", channel,
                     receipts.received, receipts.applied, reports.stored)
            if receipts.unmatched or reports.unmatched:
                # The send's answer may not be recorded yet (an event can overtake it):
                # ask the provider to push again later rather than lose the event.
                return Response("no such message yet", status_code=503,
                                media_type="text/plain")
            # WeChat takes "success" (or an empty body) as "received, do not push again".
            return Response("success", media_type="text/plain")

        return await run_in_threadpool(_verified, channel, "event", _client(request), apply)

    return router


async def _raw_request(request: Request, public_url: str) -> CallbackRequest:
    """The request with its raw body (XML, JSON), for providers that do not post forms."""
    query = request.scope.get("query_string", b"").decode("latin-1")
    return CallbackRequest(url=f"{public_url}?{query}" if query else public_url,
                           headers=dict(request.headers), form={}, body=await request.body())


def _is_json(request: Request) -> bool:
    """A JSON body (partner apps' acknowledgements) is passed raw, for its signature."""
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return kind == "application/json"


def _receiver(receivers: Mapping[str, Receiver], channel: str, what: str = "callbacks"
              ) -> Receiver:
    receiver = receivers.get(channel)
    if receiver is None:
        raise HTTPException(404, f"no channel named {channel!r} takes {what}; "
                                 f"channels that do: {', '.join(sorted(receivers)) or 'none'}")
    return receiver


async def _callback_request(request: Request, public_url: str) -> CallbackRequest:
    """The request as the provider sent it: public URL with the query, headers, form."""
    query = request.scope.get("query_string", b"").decode("latin-1")
    async with request.form() as form:
        fields = {key: value for key, value in form.multi_items() if isinstance(value, str)}
    return CallbackRequest(url=f"{public_url}?{query}" if query else public_url,
                           headers=dict(request.headers), form=fields)


def _verified(channel: str, kind: str, client: str, handle: Callable[[], Response]) -> Response:
    """Run ``handle``; 403 when the signature is wrong, 400 when the body is malformed,
    503 when the channel cannot check."""
    try:
        return handle()
    except SignatureError as exc:
        log.warning("refused %s callback for %s from %s: %s", kind, channel, client, exc)
        return Response("invalid signature", status_code=403, media_type="text/plain")
    except MalformedRequest as exc:
        log.warning("refused malformed %s callback for %s from %s: %s", kind, channel, client,
                    exc)
        return Response(f"malformed request: {exc}", status_code=400, media_type="text/plain")
    except ConfigError as exc:  # e.g. the auth token's environment variable is not set
        log.error("cannot check %s callback for %s: %s", kind, channel, exc)
        return Response("channel not configured", status_code=503, media_type="text/plain")


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown client"


# The token in a push URL is a secret: uvicorn's access log writes each request's path.
_PUSH_TOKEN = re.compile(r"(/push/[^/\s]+/[^/\s]+/)[^/\s?\"]+")


class HidePushTokens(logging.Filter):
    """Replaces the token of push URLs in log records (uvicorn's access log) by ***."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_PUSH_TOKEN.sub(r"\1***", a) if isinstance(a, str) else a
                                for a in record.args)
        if isinstance(record.msg, str):
            record.msg = _PUSH_TOKEN.sub(r"\1***", record.msg)
        return True
