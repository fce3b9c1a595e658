"""Receipts and replies the domestic platforms push: unsigned JSON arrays.

Neither Aliyun nor Tencent signs its pushes, so an account authenticates them itself: an
unguessable token in the URL it registered with the platform (the previous token keeps
working while a new one is rolled out), and optionally the addresses they may come from.
A push that fails either check is refused (SignatureError: 403) before its body is read.

Each platform takes only its exact answer as "received" and pushes again otherwise:
Aliyun ``{"code":0,"msg":"成功"}``, Tencent ``{"result":0,"errmsg":"OK"}``.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Callable, Mapping
from typing import Any, Literal

from channels.base import (
    CallbackRequest,
    InboundMessage,
    MalformedRequest,
    PushedEvents,
    Receipt,
    SignatureError,
)
from channels.delivery_ids import shown
from channels.sms import aliyun_codes, tencent_codes
from channels.sms.domestic import MAINLAND
from channels.sms.settings import AliyunSettings, DomesticSettings, TencentSettings

KINDS = ("report", "reply")
MAX_ITEMS = 10_000  # receipts in one push; Aliyun pushes in batches of at most a few hundred
# A reply that asks us to stop: the platforms' hints say 回T退订 / 拒收请回复R.
OPT_OUT_REPLIES = frozenset({"T", "TD", "R", "N", "0000", "STOP", "退订", "取消", "拒收",
                             "退订短信", "取消订阅"})
ANSWERS = {
    "aliyun": (json.dumps({"code": 0, "msg": "成功"}, ensure_ascii=False),
               json.dumps({"code": 1, "msg": "稍后重推"}, ensure_ascii=False)),
    "tencent": (json.dumps({"result": 0, "errmsg": "OK"}),
                json.dumps({"result": 1, "errmsg": "retry later"})),
}

Domestic = AliyunSettings | TencentSettings


def authenticate(account: DomesticSettings, token: str, client: str | None) -> None:
    """SignatureError unless ``token`` is the account's (or its previous) callback token
    and ``client`` is in its allow-list (when it has one)."""
    tokens = [t.reveal() for t in (account.callback_token, account.previous_callback_token)
              if t is not None]
    if not tokens:
        raise SignatureError(f"SMS account {account.name} has no callback_token: its pushes "
                             "cannot be authenticated")
    if not any(hmac.compare_digest(token.encode(), t.encode()) for t in tokens):
        raise SignatureError("the push URL's token is not this account's")
    if account.callback_sources and not _allowed(client, account):
        raise SignatureError(f"pushes from {client or 'an unknown address'} are not in "
                             "the account's callback_sources")


def parse_push(account: Domestic, kind: str, request: CallbackRequest) -> PushedEvents:
    """The receipts or replies of one authenticated push."""
    if kind not in KINDS:
        raise MalformedRequest(f"unknown push {shown(kind)}; expected report or reply")
    items = _items(request.body)
    received, again = ANSWERS[account.provider]
    readers = _READERS[account.provider]
    if kind == "report":
        return PushedEvents([readers[0](item) for item in items], [], received, again)
    return PushedEvents([], [readers[1](item) for item in items], received, again)


def _allowed(client: str | None, account: DomesticSettings) -> bool:
    try:
        address = ipaddress.ip_address(client or "")
    except ValueError:
        return False
    return any(address in network for network in account.callback_sources)


def _items(body: bytes) -> list[Mapping[str, Any]]:
    try:
        items = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedRequest(f"the push is not UTF-8 JSON: {exc}") from None
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise MalformedRequest("the push must be a JSON array of objects")
    if len(items) > MAX_ITEMS:
        raise MalformedRequest(f"the push holds {len(items)} items, more than {MAX_ITEMS}")
    return items


def _text(item: Mapping[str, Any], key: str, most: int, required: bool = True) -> str:
    value = item.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str | int) or isinstance(value, bool) or len(str(value)) > most:
        raise MalformedRequest(f"{key} must be a string of at most {most} characters, "
                               f"got {shown(str(value))}")
    return str(value)


def _mobile(item: Mapping[str, Any], key: str) -> str:
    number = _text(item, key, 16)
    found = MAINLAND.fullmatch(number)
    if not found:
        raise MalformedRequest(f"{key} must be a mainland mobile number, got {shown(number)}")
    return found.group(1)


def _aliyun_receipt(item: Mapping[str, Any]) -> Receipt:
    number = _mobile(item, "phone_number")
    out_id = _text(item, "out_id", 256)
    success = item.get("success")
    if not isinstance(success, bool):
        raise MalformedRequest("success must be true or false")
    if success:
        return Receipt(f"{out_id}:{number}"[:64], "delivered", detail="aliyun DELIVERED")
    code = _text(item, "err_code", 64, required=False) or "FAILED"
    known = aliyun_codes.classify(code, _text(item, "err_msg", 500, required=False))
    return Receipt(f"{out_id}:{number}"[:64], _failure_state(code), code=code,
                   detail=f"aliyun {known.description}"[:500], opt_out=known.opt_out)


def _tencent_receipt(item: Mapping[str, Any]) -> Receipt:
    _mobile(item, "mobile")
    serial = _text(item, "sid", 64)
    status = _text(item, "report_status", 16)
    if status == "SUCCESS":
        return Receipt(serial, "delivered", detail="tencent SUCCESS")
    if status != "FAIL":
        raise MalformedRequest(f"report_status must be SUCCESS or FAIL, got {shown(status)}")
    code = _text(item, "errmsg", 64, required=False) or "FAIL"
    known = tencent_codes.classify(code, _text(item, "description", 500, required=False))
    return Receipt(serial, _failure_state(code), code=code,
                   detail=f"tencent {known.description}"[:500], opt_out=known.opt_out)


def _failure_state(code: str) -> Literal["undelivered", "failed"]:
    """The platform refused it (its own error codes, dotted) or the carrier did not
    deliver it (carrier status codes such as MK:0001)."""
    return "failed" if "." in code else "undelivered"


def _reply(number: str, text: str) -> InboundMessage:
    return InboundMessage(address=f"+86{number}", body=text,
                          opt_out=text.strip().upper() in OPT_OUT_REPLIES)


def _aliyun_reply(item: Mapping[str, Any]) -> InboundMessage:
    return _reply(_mobile(item, "phone_number"), _text(item, "content", 1000))


def _tencent_reply(item: Mapping[str, Any]) -> InboundMessage:
    return _reply(_mobile(item, "mobile"), _text(item, "text", 1000))


_READERS: Mapping[str, tuple[Callable[[Mapping[str, Any]], Receipt],
                             Callable[[Mapping[str, Any]], InboundMessage]]] = {
    "aliyun": (_aliyun_receipt, _aliyun_reply), "tencent": (_tencent_receipt, _tencent_reply)}
