"""Event pushes to the account's server, as WeChat makes them.

An event is an XML document POSTed to the callback URL with ``signature``, ``timestamp``
and ``nonce`` in the query (``signature`` = sha1 of the sorted token, timestamp and
nonce). In encrypted mode the body is ``<xml><ToUserName/><Encrypt/></xml>`` and the query
adds ``encrypt_type=aes`` and ``msg_signature``, made with wechatpy's own ``WeChatCrypto``.
Each attempt is signed afresh. A push that fails (connection error, timeout, any answer
but 2xx) is tried again after ``backoff * 2**attempt`` seconds, ``retries`` more times;
a push drawn as duplicated is posted a second time after the first got through, the way
WeChat repeats an event when the receiver answered too slowly.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

import requests
from wechatpy.crypto import WeChatCrypto

from dispatcher.sandbox.callbacks import Scheduler
from dispatcher.sandbox.wechat.options import WeChatOptions

log = logging.getLogger(__name__)

# wechatpy's MassSendJobFinishEvent ignores it; WeChat sends it for news (mpnews) jobs.
COPYRIGHT_CHECKED = ("<CopyrightCheckResult><Count>0</Count><ResultList></ResultList>"
                     "<CheckState>1</CheckState></CopyrightCheckResult>")


@dataclass(frozen=True)
class Event:
    """One event document and the follower it is "from" (the ``openid`` query parameter)."""

    msg_id: int
    sender: str
    xml: str


def event_xml(to: str, sender: str, event: str, fields: Sequence[tuple[str, int | str]],
              extra: str = "", created: int | None = None) -> str:
    """``<xml>`` with ToUserName, FromUserName, CreateTime, MsgType ``event``, Event, then
    ``fields`` (numbers bare, text in CDATA) and ``extra`` (ready-made elements).

    CreateTime (like the signature's timestamp) is the wall clock, not the sandbox's day
    clock, so a receiver that rejects stale or future timestamps accepts the events."""
    head: list[tuple[str, int | str]] = [
        ("ToUserName", to), ("FromUserName", sender),
        ("CreateTime", int(time.time()) if created is None else created),
        ("MsgType", "event"), ("Event", event)]
    return "<xml>" + "".join(_element(n, v) for n, v in [*head, *fields]) + extra + "</xml>"


def _element(name: str, value: int | str) -> str:
    if isinstance(value, int):
        return f"<{name}>{value}</{name}>"
    return f"<{name}><![CDATA[{value}]]></{name}>"


def signature(token: str, timestamp: str, nonce: str, *more: str) -> str:
    """WeChat's signature: sha1 of the sorted strings, joined without separators."""
    return hashlib.sha1("".join(sorted((token, timestamp, nonce, *more))).encode()).hexdigest()


class Signer:
    """The query and body of one push attempt: plain, or encrypted when ``encrypt``."""

    def __init__(self, options: WeChatOptions) -> None:
        self.token, self.to = options.token, options.original_id
        self.crypto = (WeChatCrypto(options.token, options.aes_key, options.appid)
                       if options.encrypt else None)

    def sign(self, event: Event) -> tuple[dict[str, str], bytes]:
        """A fresh timestamp (the wall clock) and a new nonce for each attempt, as WeChat
        signs each push: receivers refuse stale timestamps and nonces seen before."""
        query, body = self.sign_xml(event.xml, str(int(time.time())),
                                    str(secrets.randbelow(10**10)))
        return query | {"openid": event.sender}, body

    def sign_xml(self, xml: str, timestamp: str, nonce: str) -> tuple[dict[str, str], bytes]:
        """The query and body of a push of ``xml`` signed with this timestamp and nonce."""
        query = {"signature": signature(self.token, timestamp, nonce),
                 "timestamp": timestamp, "nonce": nonce}
        if self.crypto is None:
            return query, xml.encode()
        packed = ET.fromstring(cast(str, self.crypto.encrypt_message(xml, nonce, timestamp)))
        encrypted = packed.findtext("Encrypt") or ""
        body = (f"<xml><ToUserName><![CDATA[{self.to}]]></ToUserName>"
                f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>")
        return query | {"encrypt_type": "aes",
                        "msg_signature": packed.findtext("MsgSignature") or ""}, body.encode()


Done = Callable[[bool], None]


class EventPoster:
    """Posts events on the scheduler's threads; counts ``events.posted`` (2xx answers,
    copies included), ``events.failed`` (given up), ``events.retried``, ``events.duplicated``."""

    def __init__(self, scheduler: Scheduler, options: WeChatOptions,
                 count: Callable[[str], None]) -> None:
        self.scheduler, self.count = scheduler, count
        self.url = options.callback_url
        self.retries, self.backoff = options.event_retries, options.event_backoff_s
        self.timeout = options.event_timeout_s
        self.signer = Signer(options)
        self._local = threading.local()

    def push(self, event: Event, delay: float, done: Done, twice: bool = False) -> None:
        """Post ``event`` after ``delay`` seconds, then call ``done(delivered)``."""
        self.scheduler.at(delay, lambda: self._attempt(event, 0, done, twice))

    def _attempt(self, event: Event, attempt: int, done: Done, twice: bool) -> None:
        error = self._post(event)
        if error is not None and attempt < self.retries:
            self.count("events.retried")
            self.scheduler.at(self.backoff * 2 ** attempt,
                              lambda: self._attempt(event, attempt + 1, done, twice))
            return
        self.count("events.failed" if error else "events.posted")
        if error:
            log.warning("event %s to %s failed: %s", event.msg_id, self.url, error)
        done(error is None)
        if error is None and twice:
            self.count("events.duplicated")
            self._attempt(event, 0, lambda delivered: None, False)

    def _post(self, event: Event) -> str | None:
        """None when the receiver answered 2xx, else what went wrong."""
        if self.url is None:
            return "no callback_url"
        query, body = self.signer.sign(event)
        try:
            response = self._session().post(
                self.url, params=query, data=body, timeout=self.timeout,
                headers={"Content-Type": "text/xml; charset=utf-8",
                         "User-Agent": "Mozilla/4.0 (dispatcher WeChat sandbox)"})
        except requests.RequestException as exc:
            return f"{type(exc).__name__}: {exc}"
        return None if response.status_code < 300 else f"HTTP {response.status_code}"

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.trust_env = False  # never through a proxy from the environment
        return session
