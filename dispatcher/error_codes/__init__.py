"""What a delivery row's error code means and what an operator does about it.

One table per provider (:mod:`.twilio`, :mod:`.aliyun` and :mod:`.tencent` for SMS,
whose codes never collide: Twilio's are numbers, the others dotted names; :mod:`.wechat`,
:mod:`.partner` for the webhook channel, :mod:`.venues` for cinemas and LED screens) and
the codes every channel can record (:mod:`.common`: the engine's own, HTTP statuses, skip
reasons). The log page, the campaign's failure table, ``dispatcher logs`` and exports all
call :func:`explain`, which translates at call time into the current locale (Chinese on
a page, English in the CLI).

A code missing from the tables still gets a hint where one is possible (any Twilio,
Aliyun or Tencent Cloud code: the provider's page for it; any HTTP status: what its class
means), marked ``known=False``; the coverage test keeps every code the channels emit in
the tables.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dispatcher.error_codes import aliyun, common, partner, tencent, twilio, venues, wechat
from dispatcher.error_codes.entry import Code, Table, key, keyed
from dispatcher.i18n import _

__all__ = ["Code", "Explanation", "explain", "explain_row", "explain_skip", "one_line",
           "tables"]

# Each channel's own table first; every channel then falls back on the shared ones.
_OWN: Mapping[str, Table] = {
    "sms": {**twilio.CODES, **aliyun.CODES, **tencent.CODES}, "wechat": wechat.CODES,
    "webhook": partner.CODES, "cinema": venues.CINEMA, "led": venues.LED,
}
_SHARED: tuple[Table, ...] = (common.ENGINE, common.HTTP)
_KEYED = {channel: keyed(table) for channel, table in _OWN.items()}
_KEYED_SHARED = tuple(keyed(table) for table in _SHARED)
_SKIPS = keyed(common.SKIP_REASONS)
# A delivery row keeps 32 characters of its code (``error_code`` in storage/tables.py) and
# many of Tencent Cloud's are longer: a code cut there still finds its entry, when only
# one code of the table starts that way.
STORED_CODE_LENGTH = 32


def _cut(table: Mapping[str, Code]) -> dict[str, Code]:
    """``table``'s codes longer than a row keeps, by the part a row keeps (unambiguous
    ones only)."""
    cuts: dict[str, list[Code]] = {}
    for code, entry in table.items():
        if len(code) > STORED_CODE_LENGTH:
            cuts.setdefault(code[:STORED_CODE_LENGTH], []).append(entry)
    return {cut: entries[0] for cut, entries in cuts.items()
            if len(entries) == 1 and cut not in table}


_CUT = {channel: _cut(table) for channel, table in _KEYED.items()}
_TWILIO_CODE = re.compile(r"[1-9][0-9]{4}")
# Compared with codes as ``entry.key`` makes them (lower case).
_ALIYUN_CODE = re.compile(r"(isv|isp)\.[a-z0-9_]+")
_TENCENT_CODE = re.compile(r"(failedoperation|invalidparameter(value)?|missingparameter|"
                           r"unsupportedoperation|unauthorizedoperation|authfailure|"
                           r"(request)?limitexceeded|internalerror)(\.[a-z0-9]+)*")
_WECHAT_CODE = re.compile(r"-?[0-9]{1,7}")
_REVIEW_STATUS = re.compile(r"err\(-?[0-9]{1,9}\)")
_HTTP_STATUS = re.compile(r"[45][0-9]{2}")


@dataclass(frozen=True)
class Explanation:
    """``meaning`` and ``action`` in the current locale; ``retry``: whether requeueing
    the row can help; ``known``: False for a hint about a code not in the tables."""

    code: str
    meaning: str
    action: str
    retry: bool
    known: bool = True


def explain(channel: str, code: str | None) -> Explanation | None:
    """What ``code`` recorded on a ``channel`` row means, translated now; None for no
    code, or one nothing can be said about."""
    if code is None or not code.strip():
        return None
    wanted = key(code)
    for table in (_KEYED.get(channel, {}), *_KEYED_SHARED):
        found = table.get(wanted)
        if found is not None:
            return _translated(code, found, known=True)
    found = _CUT.get(channel, {}).get(wanted)
    if found is not None:
        return _translated(code, found, known=True)
    hint = _fallback(channel, wanted)
    return None if hint is None else _translated(code, hint, known=False)


def explain_skip(reason: str | None) -> Explanation | None:
    """Why a ``skipped`` row was not sent (its ``reason``), translated now."""
    found = None if reason is None else _SKIPS.get(key(reason))
    return None if found is None or reason is None else _translated(reason, found, True)


def explain_row(row: Mapping[str, Any]) -> Explanation | None:
    """A delivery row's explanation: why it was skipped, else what its error code means
    (``row`` has ``channel``, ``status``, ``reason`` and ``error_code``)."""
    if row["status"] == "skipped":
        return explain_skip(row["reason"])
    return explain(row["channel"], row["error_code"])


def one_line(row: Mapping[str, Any]) -> str:
    """``explain_row`` as one line, meaning then action ("" when there is nothing to say):
    the CLI's table column."""
    found = explain_row(row)
    return f"{found.meaning} {found.action}" if found else ""


def tables() -> dict[str, frozenset[str]]:
    """Every code each channel's tables explain (as looked up: see ``entry.key``)."""
    shared = frozenset(code for table in _KEYED_SHARED for code in table)
    return {channel: frozenset(table) | shared for channel, table in _KEYED.items()}


def _fallback(channel: str, wanted: str) -> Code | None:
    if channel == "sms" and _TWILIO_CODE.fullmatch(wanted):
        return twilio.UNKNOWN
    if channel == "sms" and _ALIYUN_CODE.fullmatch(wanted):
        return aliyun.UNKNOWN
    if channel == "sms" and _TENCENT_CODE.fullmatch(wanted):
        return tencent.UNKNOWN
    if channel == "wechat" and _REVIEW_STATUS.fullmatch(wanted):
        return wechat.UNKNOWN_REVIEW
    if channel == "wechat" and _WECHAT_CODE.fullmatch(wanted):
        return wechat.UNKNOWN
    if _HTTP_STATUS.fullmatch(wanted):
        return common.CLIENT_ERROR if wanted.startswith("4") else common.SERVER_ERROR
    return None


def _translated(code: str, entry: Code, known: bool) -> Explanation:
    meaning, action = _(entry.meaning), _(entry.action)
    if not known:  # the hints name the code: "Twilio error {code}: ..."
        shown = code.strip()[:40]
        meaning, action = meaning.format(code=shown), action.format(code=shown)
    return Explanation(code=code, meaning=meaning, action=action, retry=entry.retry,
                       known=known)
