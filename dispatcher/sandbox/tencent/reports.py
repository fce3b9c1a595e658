"""The shapes a status report takes: an entry of PullSmsSendStatusByPhoneNumber, an item
of a status push, and an item of a reply push."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dispatcher.sandbox.tencent.store import SentNumber
from dispatcher.sandbox.tencent.wire import beijing

DELIVERED = ("DELIVRD", "用户短信送达成功")


def _outcome(sent: SentNumber) -> tuple[str, str]:
    return DELIVERED if sent.failure is None else sent.failure


def pull_entry(sent: SentNumber) -> dict[str, Any]:
    """One ``PullSmsSendStatusSet`` entry (``UserReceiveTime`` in unix seconds)."""
    assert sent.received is not None and sent.report_status is not None
    return {"UserReceiveTime": int(sent.received.timestamp()), "CountryCode": "86",
            "SubscriberNumber": sent.phone, "PhoneNumber": f"+86{sent.phone}",
            "SerialNo": sent.serial_no, "ReportStatus": sent.report_status,
            "Description": _outcome(sent)[1], "SessionContext": sent.session_context}


def status_item(sent: SentNumber) -> dict[str, Any]:
    """One item of a status push to the report URL (``sid`` is the SerialNo)."""
    assert sent.received is not None and sent.report_status is not None
    errmsg, description = _outcome(sent)
    return {"user_receive_time": beijing(sent.received), "nationcode": "86",
            "mobile": sent.phone, "report_status": sent.report_status, "errmsg": errmsg,
            "description": description, "sid": sent.serial_no}


def reply_item(phone: str, text: str, sign: str, when: datetime) -> dict[str, Any]:
    """One item of a reply push to the reply URL (``time`` in unix seconds)."""
    return {"extend": "", "mobile": phone, "nationcode": "86", "sign": sign, "text": text,
            "time": int(when.timestamp())}
