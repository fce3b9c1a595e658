"""The WeChat API through ``wechatpy``: sends, previews and statistics, errors as results.

WeChat answers errors as HTTP 200 with an ``errcode``; wechatpy raises them
(``APILimitedException`` for 45009, ``WeChatClientException`` otherwise) after renewing an
expired token itself (40001, 40014, 42001). Here they become :class:`SendResult`\\ s:

- a mass send carries a ``clientmsgid``, so WeChat never runs it twice: 45065 ("already
  sent with this clientmsgid") is the first send's success, and a timeout, a 5xx or a
  busy answer (-1) is simply sent again (``retry``), never ``unknown``;
- a template message has no such key, so a timeout is ``unknown`` (not re-sent);
- 45009 (too many calls) waits a minute; 45028 (no broadcast quota left) fails;
  43004 (the follower has unfollowed) fails and opts the follower out.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import requests
from wechatpy import WeChatClient
from wechatpy.exceptions import APILimitedException, WeChatClientException

from channels.base import ChannelError, SendResult
from channels.http_outcomes import transport_result
from channels.wechat.settings import WeChatSettings
from channels.wechat.transport import route_client

ALREADY_SENT = 45065  # this clientmsgid was sent before: the answer carries its msg_id
BUSY = -1
RATE_LIMITED = 45009
NO_QUOTA = 45028
UNFOLLOWED = 43004
DATE_NOT_READY = (61500, 61501)  # statistics for that day are not available (yet)
HINTS = {
    NO_QUOTA: "no broadcast quota left (a subscription account broadcasts once a day, a "
              "service account reaches each follower at most 4 times a month)",
    40007: "the media_id is not in the account's material library",
    40130: "a mass send by openid needs 2 to 10,000 openids",
    UNFOLLOWED: "the follower no longer follows the account",
}


class WeChatAccount:
    """One official account's ``WeChatClient``, shared by the engine's sending threads."""

    def __init__(self, settings: WeChatSettings) -> None:
        self.settings = settings
        self.client = WeChatClient(settings.reveal_appid(), settings.secret.reveal(),
                                   timeout=settings.timeout)
        route_client(self.client, settings.api_base, settings.timeout, settings.concurrency)

    def mass_send(self, delivery_id: int, path: str, body: Mapping[str, Any]) -> SendResult:
        try:
            answer = self.client.post(path, data=dict(body))
        except APILimitedException:
            return SendResult(delivery_id, "retry", code=str(RATE_LIMITED),
                              detail="45009: too many mass-send calls",
                              retry_after=self.settings.limit_wait)
        except WeChatClientException as exc:
            return self._mass_refused(delivery_id, exc)
        except requests.RequestException as exc:  # safe to send again: same clientmsgid
            return SendResult(delivery_id, "retry", code="network", detail=str(exc)[:200])
        return _accepted(delivery_id, answer)

    def _mass_refused(self, delivery_id: int, exc: WeChatClientException) -> SendResult:
        code = exc.errcode
        if code == ALREADY_SENT:
            answer = _json(exc.response)
            if answer.get("msg_id"):
                return _accepted(delivery_id, answer, "already sent with this clientmsgid")
        if code is None or code == BUSY:  # HTTP error or busy: the clientmsgid keeps it once
            return SendResult(delivery_id, "retry", code=str(code or "http"),
                              detail=_describe(exc))
        return SendResult(delivery_id, "failed", code=str(code), detail=_describe(exc))

    def template_send(self, delivery_id: int, body: Mapping[str, Any]) -> SendResult:
        try:
            answer = self.client.post("message/template/send", data=dict(body))
        except APILimitedException:
            return SendResult(delivery_id, "retry", code=str(RATE_LIMITED),
                              detail="45009: too many calls", retry_after=self.settings.limit_wait)
        except WeChatClientException as exc:
            if exc.errcode is None or exc.errcode == BUSY:
                return SendResult(delivery_id, "unknown", code=str(exc.errcode or "http"),
                                  detail=_describe(exc))
            return SendResult(delivery_id, "failed", code=str(exc.errcode),
                              detail=_describe(exc), opt_out=exc.errcode == UNFOLLOWED)
        except requests.RequestException as exc:  # a timeout: WeChat may have sent it
            return transport_result(delivery_id, exc)
        return SendResult(delivery_id, "accepted", provider_ref=str(answer["msgid"]))

    def preview(self, body: Mapping[str, Any]) -> str:
        try:
            answer = self.client.post("message/mass/preview", data=dict(body))
        except WeChatClientException as exc:
            raise ChannelError(f"WeChat refused the preview: {_describe(exc)}") from None
        except requests.RequestException as exc:
            raise ChannelError(f"WeChat could not be reached: {exc}") from None
        return str(answer.get("msg_id", ""))

    def article_totals(self, day: date) -> list[dict[str, Any]] | None:
        """``getarticletotal`` for articles sent on ``day``; None while not available."""
        try:
            found: list[dict[str, Any]] = self.client.datacube.get_article_total(day, day)
        except WeChatClientException as exc:
            if exc.errcode in DATE_NOT_READY:
                return None
            raise
        return found


def _accepted(delivery_id: int, answer: Mapping[str, Any], detail: str | None = None
              ) -> SendResult:
    data = answer.get("msg_data_id")
    return SendResult(delivery_id, "accepted", provider_ref=str(answer["msg_id"]),
                      provider_data=None if data is None else str(data), detail=detail)


def _json(response: requests.Response | None) -> dict[str, Any]:
    try:
        found = response.json() if response is not None else {}
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _describe(exc: WeChatClientException) -> str:
    if exc.errcode is None:
        status = getattr(exc.response, "status_code", "?")
        return f"HTTP {status} from WeChat"
    hint = HINTS.get(exc.errcode)
    return f"{exc.errcode}: {exc.errmsg}" + (f" ({hint})" if hint else "")
