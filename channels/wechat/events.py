"""WeChat's events, mapped to receipts and reach reports.

The push carrying an event is proven first (:mod:`channels.wechat.push`); its XML is read
here safely (:mod:`channels.wechat.safe_xml`), and a value out of shape or range is a
:class:`~channels.base.MalformedRequest` (400), never a server error.

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

import re
from collections.abc import Mapping

from channels.base import MalformedRequest, ProviderEvents, ReachReport, Receipt
from channels.wechat.safe_xml import xml_fields

MASS_SUCCESS = "send success"
JOB_COUNTS = (("TotalCount", "audience"), ("FilterCount", "filtered"),
              ("SentCount", "recipients"), ("ErrorCount", "errors"))
MAX_COUNT = 2**63 - 1  # what the database stores
MAX_STATUS = 200  # characters of a Status kept (it becomes a row's code and detail)
_DIGITS = re.compile(r"[0-9]{1,20}")


def events_from(xml: str) -> ProviderEvents:
    """The receipts and reports of one event document (its push already proven)."""
    fields = xml_fields(xml, "the event")
    if fields.get("MsgType", "").lower() != "event":
        return ProviderEvents([], [])
    kind = fields.get("Event", "").upper()
    if kind == "MASSSENDJOBFINISH":
        return _mass_job(fields)
    if kind == "TEMPLATESENDJOBFINISH":
        return _template(fields)
    return ProviderEvents([], [])


def _mass_job(fields: Mapping[str, str]) -> ProviderEvents:
    ref, status = _msg_id(fields), _status(fields)
    done = status == MASS_SUCCESS
    receipt = Receipt(provider_ref=ref, state="delivered" if done else "failed",
                      code=None if done else status, detail=f"wechat {status}")
    reports = [ReachReport(metric, _count(fields, name), provider_ref=ref)
               for name, metric in JOB_COUNTS]
    return ProviderEvents([receipt], reports)


def _template(fields: Mapping[str, str]) -> ProviderEvents:
    status = _status(fields)
    ok = status == "success"
    return ProviderEvents([Receipt(
        provider_ref=_msg_id(fields), state="delivered" if ok else "failed",
        code=None if ok else status, detail=f"wechat {status}",
        opt_out="user block" in status)], [])


def _msg_id(fields: Mapping[str, str]) -> str:
    """``MsgID`` as WeChat writes it (digits); the row's provider reference."""
    value = fields.get("MsgID", "").strip()
    if not _DIGITS.fullmatch(value):
        raise MalformedRequest(f"MsgID must be 1 to 20 digits, got {value[:40]!r}")
    return str(int(value))


def _status(fields: Mapping[str, str]) -> str:
    value = fields.get("Status", "").strip()
    if not value or len(value) > MAX_STATUS:
        raise MalformedRequest(f"Status must be 1 to {MAX_STATUS} characters")
    return value


def _count(fields: Mapping[str, str], name: str) -> int:
    """A job count: digits from 0 to MAX_COUNT (absent: 0, as wechatpy reads it)."""
    value = fields.get(name, "").strip() or "0"
    if not _DIGITS.fullmatch(value) or int(value) > MAX_COUNT:
        raise MalformedRequest(f"{name} must be a whole number from 0 to {MAX_COUNT}, "
                               f"got {value[:40]!r}")
    return int(value)
