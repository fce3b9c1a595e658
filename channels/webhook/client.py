"""Posting notices to partner apps with ``requests``, and what each answer means.

The partner dedupes notices by id, so sending one again is harmless. That changes the
reliability policy for this channel: every answer that may or may not have been taken
(5xx, a read timeout, a dropped connection) is ``retry``, never ``unknown``, because
repeating it is exactly what the partner's dedupe is for. Only a 4xx other than 429 is
final: the partner read the notice and refused it.

One :class:`PartnerClient` per configured channel, shared by the engine's sending
threads: a ``requests.Session``'s connection pool is thread-safe, and nothing here sets
cookies. Secrets are revealed at the first send to each endpoint.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import requests

from channels.base import Message, SendResult
from channels.http_outcomes import retry_after
from channels.http_pool import pooled_session
from channels.webhook.rate import endpoint_bucket
from channels.webhook.settings import Endpoint, WebhookSettings
from channels.webhook.wire import notice_body, provider_ref, signed_headers

MAX_DETAIL = 300  # characters of a partner's error text kept in the row


class PartnerClient:
    """Signs and posts notices, holding each endpoint to its own rate."""

    def __init__(self, settings: WebhookSettings,
                 clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.clock = clock
        self.session = pooled_session(settings.concurrency, hosts=len(settings.endpoints))
        self.buckets = {name: endpoint_bucket(e.rate) for name, e in settings.endpoints.items()}
        self._secrets: dict[str, str] = {}
        self._lock = threading.Lock()

    def secret(self, endpoint: Endpoint) -> str:
        """The endpoint's secret, read from the environment once (ConfigError if unset)."""
        with self._lock:
            found = self._secrets.get(endpoint.name)
            if found is None:
                found = self._secrets[endpoint.name] = endpoint.secret.reveal()
            return found

    def post(self, endpoint: Endpoint, message: Message) -> SendResult:
        """One signed POST after the endpoint's bucket lets it go; never raises for the
        partner's or the network's errors."""
        body = notice_body(message)
        secret = self.secret(endpoint)
        bucket = self.buckets[endpoint.name]
        bucket.acquire()
        headers = signed_headers(secret, body, self.clock())
        try:
            response = self.session.post(endpoint.url, data=body, headers=headers,
                                         timeout=self.settings.timeout)
        except requests.RequestException as exc:
            return SendResult(message.delivery_id, "retry",
                              detail=f"{type(exc).__name__}: {exc}"[:MAX_DETAIL])
        result = answer_result(message.delivery_id, response)
        if result.retry_after:
            bucket.pause(result.retry_after)
        return result


def answer_result(delivery_id: int, response: requests.Response) -> SendResult:
    """2xx accepted, 429 and 5xx retry (429 with its Retry-After), other codes failed."""
    status = response.status_code
    if 200 <= status < 300:
        duplicate = " (a repeat: the partner already had it)" if _said_duplicate(response) else ""
        return SendResult(delivery_id, "accepted", provider_ref=provider_ref(delivery_id),
                          detail=f"partner accepted{duplicate}")
    text = _error_text(response)
    if status == 429:
        return SendResult(delivery_id, "retry", code="429", detail=text,
                          retry_after=retry_after(response.headers.get("Retry-After")))
    if status >= 500:
        return SendResult(delivery_id, "retry", code=str(status), detail=text)
    return SendResult(delivery_id, "failed", code=str(status), detail=text)


def _json(response: requests.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return None


def _said_duplicate(response: requests.Response) -> bool:
    body = _json(response)
    return isinstance(body, dict) and body.get("duplicate") is True


def _error_text(response: requests.Response) -> str:
    """The partner's ``error`` field, else the start of its answer, else the reason."""
    body = _json(response)
    if isinstance(body, dict) and body.get("error"):
        text = str(body["error"])
    else:
        text = response.text.strip() or str(response.reason or "")
    return f"HTTP {response.status_code}: {text}"[:MAX_DETAIL]
