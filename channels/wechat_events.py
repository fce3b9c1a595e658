"""WeChat's pushes to the account's server URL: the URL check, signatures, events.

WeChat signs every push with the server token: ``signature`` = sha1 of the sorted token,
``timestamp`` and ``nonce`` (query parameters). In safe (encrypted) mode the body's
``Encrypt`` element is AES-encrypted with the EncodingAESKey and ``msg_signature`` also
covers it; :class:`wechatpy.crypto.WeChatCrypto` checks and decrypts it.

Mapped events:

- ``MASSSENDJOBFINISH``: the job row (found by ``MsgID``) ends ``delivered`` when
  ``Status`` is "send success", else ``failed``; its counts become reach reports:
  ``TotalCount`` (``audience``), ``FilterCount`` (``filtered``: after WeChat's own
  filtering), ``SentCount`` (``recipients``) and ``ErrorCount`` (``errors``).
- ``TEMPLATESENDJOBFINISH``: the template row ends ``delivered`` on "success", else
  ``failed``; "failed:user block" also opts the follower out.

Anything else (follows, menu clicks, messages) is acknowledged and ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qs, urlsplit

from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.events import MassSendJobFinishEvent, TemplateSendJobFinishEvent
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.utils import check_signature

from channels.base import (
    CallbackRequest,
    ProviderEvents,
    ReachReport,
    Receipt,
    SignatureError,
)

MASS_SUCCESS = "send success"
JOB_COUNTS = (("total_count", "audience"), ("filter_count", "filtered"),
              ("sent_count", "recipients"), ("error_count", "errors"))


def query(request: CallbackRequest) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}


def check_url_signature(token: str, params: Mapping[str, str]) -> None:
    try:
        check_signature(token, params.get("signature", ""), params.get("timestamp", ""),
                        params.get("nonce", ""))
    except InvalidSignatureException:
        raise SignatureError("signature is missing or does not match the server "
                             "token") from None


def echo(token: str, request: CallbackRequest) -> str:
    """The URL check WeChat makes when the server URL is saved: echo ``echostr``."""
    params = query(request)
    check_url_signature(token, params)
    return params.get("echostr", "")


def decrypted_xml(token: str, aes_key: str | None, appid: str,
                  request: CallbackRequest) -> str:
    """The event's XML, signature checked, decrypted in safe mode."""
    params = query(request)
    check_url_signature(token, params)
    body = request.body.decode("utf-8")
    if params.get("encrypt_type") != "aes":
        return body
    if aes_key is None:
        raise SignatureError("an encrypted event arrived but [channels.wechat] has no "
                             "encoding_aes_key to decrypt it")
    crypto = WeChatCrypto(token, aes_key, appid)
    try:
        return str(crypto.decrypt_message(body, params.get("msg_signature", ""),
                                          params.get("timestamp", ""), params.get("nonce", "")))
    except (InvalidSignatureException, InvalidAppIdException):
        raise SignatureError("msg_signature does not match, or the event is not for this "
                             "account") from None


def events_from(xml: str) -> ProviderEvents:
    message = parse_message(xml)
    if isinstance(message, MassSendJobFinishEvent):
        ref = str(message.id)
        status = str(message.status)
        done = status == MASS_SUCCESS
        receipt = Receipt(provider_ref=ref, state="delivered" if done else "failed",
                          code=None if done else status, detail=f"wechat {status}")
        reports = [ReachReport(metric, int(getattr(message, field) or 0), provider_ref=ref)
                   for field, metric in JOB_COUNTS]
        return ProviderEvents([receipt], reports)
    if isinstance(message, TemplateSendJobFinishEvent):
        status = str(message.status)
        ok = status == "success"
        return ProviderEvents([Receipt(
            provider_ref=str(message.id), state="delivered" if ok else "failed",
            code=None if ok else status, detail=f"wechat {status}",
            opt_out="user block" in status)], [])
    return ProviderEvents([], [])
