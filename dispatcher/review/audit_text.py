"""An audit entry's detail as people read it: in their language, times in the campaign's zone.

The core writes each detail once, in English, in a fixed shape (``run 3 firing at
2026-12-07T01:00:00+00:00: 5000 rows``) so the CLI and the JSON stay stable. The
dashboard reads those shapes back here and says them in the reader's language; a
detail in no known shape is shown as it was written (never hidden).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from dispatcher.i18n import _

_ISO = r"(?P<at>\d{4}-\d\d-\d\dT[\d:.]+(?:[+-]\d\d:\d\d|Z)?)"
Render = Callable[[dict[str, str], ZoneInfo], str]


def _local(text: str, zone: ZoneInfo) -> str:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    if moment.tzinfo is None:
        return text
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _apply(m: dict[str, str], _zone: ZoneInfo) -> str:
    text = _("stored from {file}").format(file=m["file"])
    return text + (_("; the approved version keeps running") if m.get("keep") else "")


def _plan(m: dict[str, str], zone: ZoneInfo) -> str:
    return _("run {run}, firing at {at}: {rows} rows planned").format(
        run=m["run"], at=_local(m["at"], zone), rows=m["rows"])


def _fire(m: dict[str, str], zone: ZoneInfo) -> str:
    text = _("firing at {at}: run {run}").format(at=_local(m["at"], zone), run=m["run"])
    return text + (_(" ({late} late)").format(late=m["late"]) if m.get("late") else "")


def _missed(m: dict[str, str], zone: ZoneInfo) -> str:
    return _("firing at {at} missed: {why}").format(at=_local(m["at"], zone),
                                                    why=_missed_why(m["why"], zone))


def _missed_why(why: str, zone: ZoneInfo) -> str:
    ended = re.fullmatch(r"too late: the campaign ended at " + _ISO, why)
    if ended:
        return _("too late, the campaign ended at {at}").format(at=_local(ended["at"], zone))
    late = re.fullmatch(r'misfire = "skip" and it was (?P<late>[\d:]+) late: nothing sent', why)
    if late:
        return _('misfire = "skip" and it was {late} late: nothing sent').format(
            late=late["late"])
    if why == 'misfire = "skip": nothing sent':
        return _('misfire = "skip": nothing sent')
    return why


def _runs(m: dict[str, str], _zone: ZoneInfo) -> str:
    text = _("run(s) {runs}").format(runs=m["runs"])
    return text + (_("; reason: {reason}").format(reason=m["reason"]) if m.get("reason")
                   else "")


def _retried_rows(m: dict[str, str], _zone: ZoneInfo) -> str:
    return _("{rows} failed row(s)").format(rows=m["rows"])


def _retried_row(m: dict[str, str], _zone: ZoneInfo) -> str:
    return _("row {row}").format(row=m["row"])


def _reach(m: dict[str, str], _zone: ZoneInfo) -> str:
    text = _("entered by hand: {channel}.{metric} = {value}").format(
        channel=m["channel"], metric=m["metric"], value=m["value"])
    return text + (_(" in {district}").format(district=m["district"]) if m.get("district")
                   else "")


def _preview(m: dict[str, str], _zone: ZoneInfo) -> str:
    return _("placement {placement} on {channel} to {to}: provider reference {ref}").format(
        placement=m["placement"], channel=m["channel"], to=m["to"], ref=m["ref"])


SHAPES: dict[str, list[tuple[re.Pattern[str], Render]]] = {
    "apply": [(re.compile(r"stored from (?P<file>.*?)"
                          r"(?P<keep>; the approved version keeps running)?"), _apply)],
    "plan": [(re.compile(r"run (?P<run>\d+) firing at " + _ISO + r": (?P<rows>\d+) rows"),
              _plan)],
    "fire": [(re.compile(r"firing at " + _ISO + r": run (?P<run>\d+)"
                         r"(?: \((?P<late>[\d:, a-z]+) late\))?"), _fire)],
    "missed": [(re.compile(r"firing at " + _ISO + r" missed: (?P<why>.*)"), _missed)],
    "pause": [(re.compile(r"run\(s\) (?P<runs>[\d, ]+)"), _runs)],
    "resume": [(re.compile(r"run\(s\) (?P<runs>[\d, ]+)"), _runs)],
    "cancel": [(re.compile(r"run\(s\) (?P<runs>[\d, ]+)(?:; reason: (?P<reason>.*))?",
                           re.DOTALL), _runs)],
    "retry": [(re.compile(r"(?P<rows>\d+) failed row\(s\)"), _retried_rows),
              (re.compile(r"row (?P<row>\d+)"), _retried_row)],
    "reach": [(re.compile(r"manual (?P<channel>[\w-]+)\.(?P<metric>\w+) = (?P<value>[\d.]+)"
                          r"(?: in (?P<district>.*))?"), _reach)],
    "preview": [(re.compile(r"placement (?P<placement>\d+) on (?P<channel>[\w-]+) to "
                            r"(?P<to>.*?): provider ref (?P<ref>.*)"), _preview)],
}


def detail_text(action: str, detail: str | None, zone: ZoneInfo) -> str:
    """``detail`` of an ``action`` entry in the current locale, times in ``zone``."""
    if not detail:
        return ""
    for pattern, render in SHAPES.get(action, []):
        found = pattern.fullmatch(detail)
        if found:
            return render({k: v for k, v in found.groupdict().items() if v is not None},
                          zone)
    return detail
