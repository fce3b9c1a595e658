"""WeChat's pushes to the account's server URL: the URL check and each event's proof.

WeChat signs every push with the server token: ``signature`` = sha1 of the sorted token,
``timestamp`` and ``nonce`` (query parameters). That covers the query, not the body, and
anyone who saw one request (access logs keep query strings) holds a valid triple. So:

- safe mode (``encoding_aes_key`` set): only ``encrypt_type=aes`` is taken, and
  ``msg_signature`` must cover the body's ``Encrypt`` element, which then decrypts with
  the EncodingAESKey to an event for this AppID (:class:`wechatpy.crypto.WeChatCrypto`
  checks both). A plain body is refused whatever its ``signature``.
- plain mode (no key): ``signature`` is all WeChat gives; the body is not signed, which
  is why safe mode is the one to configure.
- both: ``timestamp`` must be within :data:`FRESH_S` of the server's clock, and a nonce is
  taken once. The channel checks the first; the web app keeps the nonces it has taken
  (across processes, in the database) and refuses a repeat before writing anything.

Refusals raise :class:`~channels.base.SignatureError` (403); a signed body that cannot be
read raises :class:`~channels.base.MalformedRequest` (400).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Mapping
from urllib.parse import parse_qs, urlsplit

from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.utils import check_signature

from channels.base import CallbackRequest, MalformedRequest, SignatureError
from channels.wechat.safe_xml import body_text, xml_fields

FRESH_S = 300  # seconds a push's timestamp may be from the server's clock, either way
PLAIN_TYPES = (None, "raw")  # encrypt_type of a plain push: absent, or "raw"
_NONCE = re.compile(r"[\x21-\x7e]{1,64}")  # WeChat's are digits; printable ASCII allowed
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


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
    """The URL check WeChat makes when the server URL is saved: echo ``echostr``. It
    changes nothing, so it is not held to the freshness of events."""
    params = query(request)
    check_url_signature(token, params)
    return params.get("echostr", "")


def check_fresh(params: Mapping[str, str], now: float) -> None:
    """``timestamp`` within FRESH_S of ``now``, and a ``nonce`` of a sane shape."""
    stamp = params.get("timestamp", "")
    if not _TIMESTAMP.fullmatch(stamp):
        raise SignatureError("timestamp must be Unix seconds, as WeChat sends")
    skew = int(stamp) - now
    if abs(skew) > FRESH_S:
        when = "in the future" if skew > 0 else "old"
        raise SignatureError(f"timestamp is {abs(skew):,.0f} s {when}: events are taken "
                             f"within {FRESH_S} s of the server's clock (a replayed "
                             "request, or a clock to set right)")
    if not _NONCE.fullmatch(params.get("nonce", "")):
        raise SignatureError("nonce must be 1 to 64 printable ASCII characters")


def push_nonce(request: CallbackRequest) -> str:
    """The nonce of a push (read again after :func:`event_xml` has checked it)."""
    return query(request).get("nonce", "")


def event_xml(token: str, aes_key: str | None, appid: str, request: CallbackRequest,
              now: float) -> str:
    """The event's XML, the push proven (signatures, mode, freshness), decrypted in safe
    mode. The XML is not parsed yet: read it with :func:`channels.wechat_xml.xml_fields`."""
    params = query(request)
    check_url_signature(token, params)
    check_fresh(params, now)
    mode = params.get("encrypt_type")
    if aes_key is None:
        return _plain(mode, request.body)
    if mode != "aes":
        shown = "none" if mode is None else repr(mode[:20])
        raise SignatureError("safe mode ([channels.wechat] has an encoding_aes_key) takes "
                             "only encrypted events: encrypt_type=aes with msg_signature; "
                             f"this one's encrypt_type is {shown}")
    return _decrypted(WeChatCrypto(token, aes_key, appid), params, request.body)


def _plain(mode: str | None, body: bytes) -> str:
    if mode == "aes":
        raise SignatureError("an encrypted event arrived but [channels.wechat] has no "
                             "encoding_aes_key to decrypt it")
    if mode not in PLAIN_TYPES:
        raise SignatureError(f"encrypt_type {mode[:20]!r} is not one WeChat sends "
                             "(aes, raw or none)")
    return body_text(body)


def _decrypted(crypto: WeChatCrypto, params: Mapping[str, str], body: bytes) -> str:
    encrypted = xml_fields(body_text(body), "the body").get("Encrypt", "")
    if not encrypted:
        raise SignatureError("the body has no <Encrypt> element for msg_signature to "
                             "cover: safe mode takes only encrypted events")
    try:
        return str(crypto.decrypt_message(
            {"Encrypt": encrypted}, params.get("msg_signature", ""),
            params.get("timestamp", ""), params.get("nonce", "")))
    except InvalidSignatureException:
        raise SignatureError("msg_signature is missing or does not match the encrypted "
                             "body") from None
    except InvalidAppIdException:
        raise SignatureError("the event is for another account (its AppID differs)"
                             ) from None
    except (ValueError, IndexError, TypeError, struct.error):
        raise MalformedRequest("<Encrypt> does not decrypt with the EncodingAESKey to an "
                               "event (not base64 AES data of WeChat's layout)") from None
