"""Signed acknowledgements from the partner sandbox to each notice's callback URL.

Posted from the scheduler's worker threads (:class:`dispatcher.sandbox.callbacks.Scheduler`),
never from a request handler. An acknowledgement that fails (connection error, timeout,
5xx, 429) is tried again after ``backoff * 2**attempt`` seconds, up to ``retries`` more
times, each time with a fresh timestamp and signature; any other answer (a 403 for a bad
signature) or the last failure counts as failed.

The signature is computed here, independently of the channel's code, exactly as a
partner would from the documented format: ``sha256=`` HMAC-SHA256 of
``"{timestamp}.{raw body}"``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import requests

from dispatcher.sandbox.callbacks import Scheduler

log = logging.getLogger(__name__)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


@dataclass(frozen=True)
class Ack:
    url: str
    notice_id: str
    status: str  # delivered or failed
    error: str | None = None
    endpoint: str | None = None

    def body(self) -> bytes:
        fields: dict[str, str] = {"id": self.notice_id, "status": self.status}
        if self.error:
            fields["error"] = self.error
        if self.endpoint:
            fields["endpoint"] = self.endpoint
        return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()


class AckPoster:
    """Posts acknowledgements on the scheduler, retrying; ``count`` takes counter names."""

    def __init__(self, scheduler: Scheduler, secret: str, count: Callable[[str], None],
                 retries: int, backoff: float, timeout: float) -> None:
        self.scheduler, self.secret, self.count = scheduler, secret, count
        self.retries, self.backoff, self.timeout = retries, backoff, timeout
        self._local = threading.local()

    def post_later(self, ack: Ack, delay: float, attempt: int = 0) -> None:
        self.scheduler.at(delay, lambda: self.post(ack, attempt))

    def post(self, ack: Ack, attempt: int = 0) -> None:
        error, retry = self._post(ack)
        if error is None:
            self.count("acks.posted")
        elif retry and attempt < self.retries:
            self.count("acks.retried")
            self.post_later(ack, self.backoff * 2 ** attempt, attempt + 1)
        else:
            self.count("acks.failed")
            log.warning("acknowledgement of notice %s to %s failed: %s", ack.notice_id,
                        ack.url, error)

    def headers(self, body: bytes, now: float | None = None) -> Mapping[str, str]:
        timestamp = str(int(time.time() if now is None else now))
        return {"Content-Type": "application/json", "X-Dispatcher-Timestamp": timestamp,
                "X-Dispatcher-Signature": sign(self.secret, timestamp, body),
                "User-Agent": "partner-sandbox/1.0"}

    def _post(self, ack: Ack) -> tuple[str | None, bool]:
        """(error or None, worth retrying)."""
        body = ack.body()
        try:
            response = self._session().post(ack.url, data=body, headers=self.headers(body),
                                            timeout=self.timeout)
        except requests.RequestException as exc:
            return f"{type(exc).__name__}: {exc}", True
        status = response.status_code
        if status < 300:
            return None, False
        return f"HTTP {status}", status >= 500 or status == 429

    def _session(self) -> requests.Session:
        """This worker thread's keep-alive session."""
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session
