"""The campaign file format: a validated :class:`Campaign` or every problem, with its line.

A campaign file is TOML (DESIGN.md "Campaign files"). :func:`load_campaign` never stores
anything; it returns the campaign and a list of :class:`Issue` that print as
``FILE:LINE: field.path: what is wrong and what is allowed``. Each placement's own keys
are checked by its channel plugin.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from channels.base import (
    CampaignCheck,
    Channel,
    Placement,
    Problem,
    ValidationContext,
    toml_value,
    type_name,
)
from dispatcher.campaigns import schedule as schedule_rules
from dispatcher.campaigns.schedule import Schedule
from dispatcher.campaigns.toml_lines import KeyPath, PathPart, key_lines, line_of

TOP_KEYS = ("id", "title", "owner", "timezone", "description", "schedule", "placements")
REQUIRED_TOP = ("id", "title", "owner", "schedule", "placements")
SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")

ChannelLookup = Callable[[str], Channel | None]


@dataclass(frozen=True)
class Issue:
    """One problem in a campaign file, printed the way editors and CI logs link it."""

    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.path}: {self.message}"


@dataclass(frozen=True)
class Campaign:
    id: str
    title: str
    owner: str
    timezone: str
    description: str | None
    schedule: Schedule
    placements: tuple[Placement, ...]

    @property
    def channels(self) -> list[str]:
        return sorted({p.channel for p in self.placements})

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "title": self.title, "owner": self.owner,
            "timezone": self.timezone, "description": self.description,
            "schedule": self.schedule.to_json(),
            "placements": [{"channel": p.channel, **_jsonable(p.options)}
                           for p in self.placements],
        }


    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Campaign:
        """Rebuild a stored, already validated campaign (no checks run again)."""
        placements = tuple(
            Placement(i, p["channel"], {k: v for k, v in p.items() if k != "channel"})
            for i, p in enumerate(data["placements"]))
        return cls(data["id"], data["title"], data["owner"], data["timezone"],
                   data.get("description"), Schedule.from_json(data["schedule"]), placements)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return value


def render_path(path: Sequence[PathPart]) -> str:
    """("placements", 0, "body") -> "placements[0].body"."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "(file)"


@dataclass
class _Checker:
    """Collects problems with their lines while one file is checked."""

    file: str
    lines: dict[KeyPath, int]
    issues: list[Issue]

    def add(self, path: Sequence[PathPart], message: str) -> None:
        self.issues.append(Issue(self.file, line_of(self.lines, path), render_path(path),
                                 message))

    def string(self, raw: Mapping[str, Any], key: str, *, required: bool) -> str | None:
        if key not in raw:
            if required:
                self.add((key,), "is required: a non-empty string")
            return None
        value = raw[key]
        if not isinstance(value, str):
            self.add((key,), f"must be a string, got {type_name(value)}")
            return None
        if not value.strip():
            self.add((key,), "must not be empty")
            return None
        return value


def load_campaign(path: str | Path, *, default_timezone: str, channel_for: ChannelLookup,
                  context: ValidationContext, display_name: str | None = None,
                  ) -> tuple[Campaign | None, list[Issue]]:
    """Read and check one campaign file; the campaign is None when any issue was found."""
    name = display_name or str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [unreadable(name, exc)]
    return parse_campaign(text, name, default_timezone=default_timezone,
                          channel_for=channel_for, context=context)


def unreadable(file: str, exc: OSError | UnicodeDecodeError) -> Issue:
    if isinstance(exc, UnicodeDecodeError):
        reason = "it is not UTF-8 text; save it as UTF-8"
    else:
        reason = exc.strerror or str(exc)
    return Issue(file, 1, "(file)", f"cannot be read: {reason}")


_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


def parse_campaign(text: str, file: str, *, default_timezone: str, channel_for: ChannelLookup,
                   context: ValidationContext) -> tuple[Campaign | None, list[Issue]]:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_POSITION.search(str(exc))
        line = int(match.group(1)) if match else 1
        what = _TOML_POSITION.sub("", str(exc))
        column = f" at column {match.group(2)}" if match else ""
        return None, [Issue(file, line, "(toml)",
                            f"not valid TOML: {what}{column}; see https://toml.io for the syntax")]
    check = _Checker(file, key_lines(text), [])
    campaign = _check_campaign(raw, check, default_timezone, channel_for, context)
    issues = sorted(check.issues, key=lambda issue: issue.line)
    return (campaign if not issues else None), issues


def _check_campaign(raw: dict[str, Any], check: _Checker, default_timezone: str,
                    channel_for: ChannelLookup, context: ValidationContext) -> Campaign | None:
    for key in raw:
        if key not in TOP_KEYS:
            check.add((key,), f"unknown key; allowed at the top level: {', '.join(TOP_KEYS)}")
    campaign_id = check.string(raw, "id", required=True)
    if campaign_id is not None and not SLUG.match(campaign_id):
        check.add(("id",), f"{toml_value(campaign_id)} is not a valid id; use 1-64 lowercase "
                  "letters, digits and inner hyphens, such as \"pingan-ding\"")
        campaign_id = None
    title = check.string(raw, "title", required=True)
    owner = check.string(raw, "owner", required=True)
    description = check.string(raw, "description", required=False)
    tz_name = _timezone(raw, check, default_timezone)
    schedule = _schedule(raw, check, ZoneInfo(tz_name or default_timezone))
    placements = _placements(raw, check, channel_for, context)
    if None in (campaign_id, title, owner, tz_name, schedule, placements) or check.issues:
        return None
    assert campaign_id and title and owner and tz_name and schedule and placements
    _check_together(schedule, placements, check, channel_for, context)
    if check.issues:
        return None
    return Campaign(campaign_id, title, owner, tz_name, description, schedule, placements)


QUOTA_HORIZON = timedelta(days=62)  # firings looked at for provider quotas
QUOTA_FIRINGS = 500


def _check_together(schedule: Schedule, placements: tuple[Placement, ...], check: _Checker,
                    channel_for: ChannelLookup, context: ValidationContext) -> None:
    """Channels that check placements together (WeChat quotas over the firings, LED share
    of voice on one screen) see all of theirs at once."""
    firings = [f for f in schedule.next_firings(schedule.start - timedelta(seconds=1),
                                                QUOTA_FIRINGS)
               if f < schedule.start + QUOTA_HORIZON]
    for name in sorted({p.channel for p in placements}):
        channel = channel_for(name)
        if not isinstance(channel, CampaignCheck):
            continue
        mine = [p for p in placements if p.channel == name]
        for index, problem in channel.check_campaign(mine, firings, context):
            check.add(("placements", index, *problem.path), problem.message)


def _timezone(raw: Mapping[str, Any], check: _Checker, default: str) -> str | None:
    if "timezone" not in raw:
        return default
    name = check.string(raw, "timezone", required=False)
    if name is None:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        check.add(("timezone",), f"{toml_value(name)} is not an IANA time zone; use a name such as "
                  "\"Asia/Shanghai\" or \"Asia/Hong_Kong\"")
        return None
    return name


def _schedule(raw: Mapping[str, Any], check: _Checker, tz: ZoneInfo) -> Schedule | None:
    if "schedule" not in raw:
        check.add(("schedule",), "is required: a [schedule] table with at least start")
        return None
    table = raw["schedule"]
    if not isinstance(table, dict):
        check.add(("schedule",), f"must be a table ([schedule]), got {type_name(table)}")
        return None
    return schedule_rules.check(table, tz, check.add)


def _placements(raw: Mapping[str, Any], check: _Checker, channel_for: ChannelLookup,
                context: ValidationContext) -> tuple[Placement, ...] | None:
    if "placements" not in raw:
        check.add(("placements",), "is required: at least one [[placements]] table "
                  "with a channel, such as channel = \"sms\"")
        return None
    tables = raw["placements"]
    if not isinstance(tables, list) or not tables or not all(isinstance(t, dict) for t in tables):
        check.add(("placements",), "must be one or more [[placements]] tables, got "
                  f"{type_name(tables)}")
        return None
    checked = [_placement(i, t, check, channel_for, context) for i, t in enumerate(tables)]
    return None if None in checked else tuple(p for p in checked if p is not None)


def _placement(index: int, table: dict[str, Any], check: _Checker, channel_for: ChannelLookup,
               context: ValidationContext) -> Placement | None:
    from dispatcher.registry import installed

    here: KeyPath = ("placements", index)
    name = table.get("channel")
    plugins = f"installed channels: {', '.join(installed())}"
    if name is None:
        check.add((*here, "channel"), f"is required: the channel plugin's name, such as "
                  f"channel = \"sms\"; {plugins}")
        return None
    if not isinstance(name, str):
        check.add((*here, "channel"), f"must be a channel plugin's name, got "
                  f"{type_name(name)}; {plugins}")
        return None
    channel = channel_for(name)
    if channel is None:
        check.add((*here, "channel"), f"unknown channel {toml_value(name)}; {plugins}")
        return None
    options = {k: v for k, v in table.items() if k != "channel"}
    problems: list[Problem] = channel.validate(options, context)
    for problem in problems:
        check.add((*here, *problem.path), problem.message)
    return Placement(index, name, options) if not problems else None
