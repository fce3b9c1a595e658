"""A campaign's ``[schedule]`` table: when it fires, its send window and misfire policy."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from channels.base import toml_value, type_name
from dispatcher.storage.bounds import year_problem

SCHEDULE_KEYS = ("start", "end", "cron", "send_window", "misfire")
MISFIRE_POLICIES = ("run-late", "skip")
_HH_MM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")

AddProblem = Callable[[Sequence[str | int], str], None]


@dataclass(frozen=True)
class Schedule:
    start: datetime  # aware, in the campaign's time zone
    end: datetime | None
    cron: str | None
    send_window: tuple[time, time] | None
    misfire: str

    def to_json(self) -> dict[str, Any]:
        window = self.send_window
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat() if self.end else None,
            "cron": self.cron,
            "send_window": [t.strftime("%H:%M") for t in window] if window else None,
            "misfire": self.misfire,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Schedule:
        window = data.get("send_window")
        return cls(
            start=datetime.fromisoformat(data["start"]),
            end=datetime.fromisoformat(data["end"]) if data.get("end") else None,
            cron=data.get("cron"),
            send_window=(time.fromisoformat(window[0]), time.fromisoformat(window[1]))
            if window else None,
            misfire=data["misfire"],
        )

    def trigger(self) -> CronTrigger | None:
        if self.cron is None:
            return None
        return cron_trigger(self.cron, self.start.tzinfo)

    def next_firing_after(self, now: datetime) -> datetime | None:
        """The first firing later than ``now`` (None once the schedule is over)."""
        found = self.next_firings(now, 1)
        return found[0] if found else None

    def next_firings(self, after: datetime, limit: int) -> list[datetime]:
        """Up to ``limit`` firings strictly after ``after`` and not after ``end``."""
        trigger = self.trigger()
        if trigger is None:
            return [self.start] if self.start > after and limit > 0 else []
        found: list[datetime] = []
        fire = trigger.get_next_fire_time(None, max(after + timedelta(seconds=1), self.start))
        while fire is not None and len(found) < limit and (self.end is None or fire <= self.end):
            found.append(fire)
            fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
        return found

    def latest_firing(self, now: datetime) -> datetime | None:
        """The latest firing at or before ``now`` and ``end`` (None before ``start``).

        Looks back from ``now`` in growing windows rather than walking every firing since
        ``start``: a campaign that fires every minute for a year stays cheap.
        """
        if now < self.start:
            return None
        last = now if self.end is None else min(now, self.end)
        trigger = self.trigger()
        if trigger is None:
            return self.start
        span = timedelta(hours=1)
        while True:
            begin = max(self.start, last - span)
            fire: datetime | None = trigger.get_next_fire_time(None, begin)
            if fire is not None and fire <= last:
                break
            if begin == self.start:
                return None
            span *= 4
        while (following := trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))) \
                is not None and following <= last:
            fire = following
        return fire


_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")
_NUMERIC_DAYS = re.compile(r"^(\*|[0-7])(?:-([0-7]))?(?:/([1-9]\d*))?$")


def cron_trigger(expr: str, tz: Any) -> CronTrigger:
    """A trigger for a standard five-field crontab line.

    APScheduler 3 counts weekdays from 0 = Monday, crontab from 0 = Sunday; numeric
    day-of-week terms are rewritten as names so "1-5" means Monday to Friday, as planners
    expect.
    """
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"got {len(fields)} fields, expected 5")
    fields[4] = ",".join(_weekday_names(term) for term in fields[4].split(","))
    minute, hour, day, month, day_of_week = fields
    return CronTrigger(minute=minute, hour=hour, day=day, month=month,
                       day_of_week=day_of_week, timezone=tz)


def _weekday_names(term: str) -> str:
    match = _NUMERIC_DAYS.match(term)
    if match is None or term == "*":
        return term
    first, last, step = match.groups()
    low, high = (0, 6) if first == "*" else (int(first), int(last or first))
    if first != "*" and last is None and step:
        high = 6
    if low > high:
        raise ValueError(f"day-of-week range {term!r} runs backwards")
    return ",".join(dict.fromkeys(_DAY_NAMES[d] for d in range(low, high + 1, int(step or 1))))


def check(table: Mapping[str, Any], tz: ZoneInfo, add: AddProblem) -> Schedule | None:
    """Validate ``[schedule]``; report each problem through ``add(path, message)``."""
    here = ("schedule",)
    before = _Counter(add)
    for key in table:
        if key not in SCHEDULE_KEYS:
            before.add((*here, key), "unknown key; allowed in [schedule]: "
                       + ", ".join(SCHEDULE_KEYS))
    start = _moment(table, "start", tz, before, required=True)
    end = _moment(table, "end", tz, before, required=False)
    if start and end and end <= start:
        before.add((*here, "end"), f"{_show(end)} is not after schedule.start "
                   f"({_show(start)}); end must be later than start")
    cron = _cron(table, tz, before, start, end)
    window = _send_window(table, before)
    misfire = table.get("misfire", "run-late")
    if misfire not in MISFIRE_POLICIES:
        before.add((*here, "misfire"), f"{toml_value(misfire)} is not a misfire policy; allowed: "
                   "\"run-late\" (fire once after downtime) or \"skip\" (record and send nothing)")
    if before.count or start is None:
        return None
    return Schedule(start, end, cron, window, str(misfire))


class _Counter:
    def __init__(self, add: AddProblem) -> None:
        self._add = add
        self.count = 0

    def add(self, path: Sequence[str | int], message: str) -> None:
        self.count += 1
        self._add(path, message)


def _show(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


def _moment(table: Mapping[str, Any], key: str, tz: ZoneInfo, out: _Counter,
            *, required: bool) -> datetime | None:
    path = ("schedule", key)
    example = (f"{key} = 2019-06-01T09:00:00 (in the campaign's time zone) "
               "or 2019-06-01T09:00:00+08:00")
    if key not in table:
        if required:
            out.add(path, f"is required: when the campaign starts, such as {example}")
        return None
    value = table[key]
    if isinstance(value, datetime):
        if (problem := year_problem(value)) is not None:  # year 1 cannot be moved to UTC
            out.add(path, f"{value.isoformat()}: {problem}; such as {example}")
            return None
        return value.replace(tzinfo=tz) if value.tzinfo is None else value.astimezone(tz)
    if isinstance(value, date):
        got = "a date without a time"
    elif isinstance(value, str):
        got = "a string (write the date-time without quotes)"
    else:
        got = type_name(value)
    out.add(path, f"must be a TOML date-time, got {got}; such as {example}")
    return None


def _cron(table: Mapping[str, Any], tz: ZoneInfo, out: _Counter, start: datetime | None,
          end: datetime | None) -> str | None:
    if "cron" not in table:
        return None
    path = ("schedule", "cron")
    expr = table["cron"]
    if not isinstance(expr, str):
        out.add(path, f"must be a string, got {type_name(expr)}; such as \"0 9 * * 1-5\"")
        return None
    try:
        trigger = cron_trigger(expr, tz)
    except ValueError as exc:
        out.add(path, f"{toml_value(expr)} is not a valid cron expression ({exc}); use five "
                "fields, minute hour day month day-of-week, such as \"0 9 * * 1-5\"")
        return None
    if end is None:
        out.add(("schedule", "end"), "is required with cron: the time after which the "
                "campaign no longer fires")
        return None
    first = trigger.get_next_fire_time(None, start) if start else None
    if start and (first is None or first > end):
        out.add(path, f"{toml_value(expr)} never fires between schedule.start ({_show(start)}) and "
                f"schedule.end ({_show(end)})")
        return None
    return expr


def _send_window(table: Mapping[str, Any], out: _Counter) -> tuple[time, time] | None:
    if "send_window" not in table:
        return None
    path = ("schedule", "send_window")
    value = table["send_window"]
    allowed = "write two local times \"HH:MM\", such as [\"08:00\", \"21:00\"]"
    if not isinstance(value, list) or len(value) != 2:
        out.add(path, f"must be a list of two times, got {type_name(value)}; {allowed}")
        return None
    times = []
    for i, item in enumerate(value):
        match = _HH_MM.match(item) if isinstance(item, str) else None
        if match is None:
            out.add((*path, i), f"{toml_value(item)} is not a time of day; {allowed}")
            return None
        times.append(time(int(match.group(1)), int(match.group(2))))
    if times[0] == times[1]:
        out.add(path, f"opens and closes at the same time; {allowed} "
                "(a window may cross midnight, such as [\"20:00\", \"02:00\"])")
        return None
    return times[0], times[1]
