"""An LED placement: which screens, what plays (text or a media asset), how often, when.

```toml
[[placements]]
channel = "led"
screens = { kinds = ["building"], districts = ["丈八街道"], areas = ["work"],
            groups = ["lobby"], ids = ["B-001"] }       # or { all = true }
text = "扫黑除恶 人人有责"                              # or media = { url, width, height,
duration = 15                                          #   format, size, md5 }
plays_per_hour = 4
dayparts = [["07:00", "10:00"], ["17:00", "22:00"]]    # the screen's local time
```

Selection keys combine with AND, the values of one key with OR. Each selected screen
gets one delivery row (``screen:B-001@2``: screen and placement index).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from channels.base import AREA_TYPES, ContentFact, Problem, ValidationContext, toml_value
from channels.placement_checks import name_problems, unknown_keys
from channels.venues import Screen

PLACEMENT_KEYS = ("dayparts", "duration", "media", "name", "plays_per_hour", "screens", "text")
SELECT_KEYS = ("all", "kinds", "districts", "areas", "groups", "ids")
MEDIA_KEYS = ("url", "width", "height", "format", "size", "md5")
KINDS = ("building", "outdoor", "facade", "shopfront")
MAX_DURATION = 300
MAX_PLAYS_PER_HOUR = 360
HOUR = 3600
_HH_MM = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
_MD5 = re.compile(r"[0-9a-f]{32}")


def address(screen_id: str, placement: int) -> str:
    return f"screen:{screen_id}@{placement}"


def problems(options: Mapping[str, Any], context: ValidationContext) -> list[Problem]:
    found = unknown_keys(options, PLACEMENT_KEYS)
    found += _selection_problems(options.get("screens"), context)
    has_text, has_media = "text" in options, "media" in options
    if has_text == has_media:
        found.append(Problem(("text",), "give either text = \"...\" or media = { url, width, "
                                        "height, format, size, md5 }, not both or neither"))
    elif has_text and (not isinstance(options["text"], str) or not options["text"].strip()):
        found.append(Problem(("text",), "must be a non-empty string"))
    elif has_media:
        found += _media_problems(options["media"])
    found += _number_problem(options, "duration", MAX_DURATION, "seconds one play lasts")
    found += _number_problem(options, "plays_per_hour", MAX_PLAYS_PER_HOUR,
                             "plays in each hour the placement is on")
    found += _daypart_problems(options.get("dayparts"))
    found += name_problems(options)
    return found


def _selection_problems(value: Any, context: ValidationContext) -> list[Problem]:
    example = 'screens = { kinds = ["building"], districts = ["..."] } or { all = true }'
    if not isinstance(value, dict) or not value:
        return [Problem(("screens",), f"is required: {example}")]
    found = [Problem(("screens", k), "unknown key; allowed: " + ", ".join(SELECT_KEYS))
             for k in value if k not in SELECT_KEYS]
    if "all" in value and (value["all"] is not True or len(value) > 1):
        found.append(Problem(("screens", "all"), "must be true, alone"))
    for key in SELECT_KEYS[1:]:
        items = value.get(key)
        if key in value and (not isinstance(items, list) or not items
                             or not all(isinstance(i, str) for i in items)):
            found.append(Problem(("screens", key), "must be a non-empty list of strings"))
    found += _unknown_values(value, "kinds", KINDS)
    found += _unknown_values(value, "areas", AREA_TYPES)
    if context.screen_groups is not None:
        found += _unknown_values(value, "groups", tuple(sorted(context.screen_groups)),
                                 "`dispatcher screens group add`")
    if context.screens is not None:
        found += _unknown_values(value, "ids", tuple(s.id for s in context.screens),
                                 "`dispatcher screens import`")
    return found


def _unknown_values(value: Mapping[str, Any], key: str, allowed: tuple[str, ...],
                    how: str | None = None) -> list[Problem]:
    items = value.get(key)
    if not isinstance(items, list):
        return []
    wrong = [i for i in items if isinstance(i, str) and i not in allowed]
    if not wrong:
        return []
    hint = f" (add with {how})" if how else ""
    shown = ", ".join(allowed[:12]) + (" ..." if len(allowed) > 12 else "")
    return [Problem(("screens", key), f"{toml_value(wrong[0])} is unknown{hint}; known: "
                                      f"{shown or 'none'}")]


def _media_problems(media: Any) -> list[Problem]:
    if not isinstance(media, dict):
        return [Problem(("media",), "must be a table: { url, width, height, format, size, "
                                    "md5 }")]
    found = [Problem(("media", k), "is required") for k in MEDIA_KEYS if k not in media]
    found += [Problem(("media", k), "unknown key; allowed: " + ", ".join(MEDIA_KEYS))
              for k in media if k not in MEDIA_KEYS]
    url = media.get("url")
    if "url" in media and (not isinstance(url, str) or not url.startswith(("http://",
                                                                           "https://"))):
        found.append(Problem(("media", "url"), "must be an http(s) URL the screens can fetch"))
    for key in ("width", "height", "size"):
        number = media.get(key)
        if key in media and (not isinstance(number, int) or isinstance(number, bool)
                             or number < 1):
            found.append(Problem(("media", key), "must be a positive whole number"))
    if "md5" in media and not (isinstance(media["md5"], str) and _MD5.fullmatch(media["md5"])):
        found.append(Problem(("media", "md5"), "must be 32 lowercase hex digits"))
    if "format" in media and not isinstance(media["format"], str):
        found.append(Problem(("media", "format"), "must be a string such as \"mp4\""))
    return found


def _number_problem(options: Mapping[str, Any], key: str, most: int, what: str
                    ) -> list[Problem]:
    value = options.get(key)
    if value is None:
        return [Problem((key,), f"is required: {what}")]
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= most:
        return [Problem((key,), f"must be a whole number from 1 to {most} ({what}), got "
                                f"{toml_value(value)}")]
    return []


def _daypart_problems(value: Any) -> list[Problem]:
    if value is None:
        return []
    good = isinstance(value, list) and value and all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(t, str) and _HH_MM.fullmatch(t)
                                                    for t in p) for p in value)
    if not good:
        return [Problem(("dayparts",), 'must be a list of ["HH:MM", "HH:MM"] pairs, such as '
                                       '[["07:00", "10:00"], ["17:00", "22:00"]]')]
    return []


# Screens -----------------------------------------------------------------------------------


def selected(options: Mapping[str, Any], registry: Sequence[Screen],
             groups: Mapping[str, frozenset[str]]) -> list[Screen]:
    """The screens a placement selects, in id order."""
    chosen = options["screens"]
    if chosen.get("all"):
        return sorted(registry, key=lambda s: s.id)
    in_groups = set().union(*(groups.get(g, frozenset()) for g in chosen.get("groups", [])))
    tests = {"kinds": lambda s: s.kind, "districts": lambda s: s.district,
             "areas": lambda s: s.area, "ids": lambda s: s.id}
    found = []
    for screen in registry:
        if all(key not in chosen or tests[key](screen) in chosen[key] for key in tests) and (
                "groups" not in chosen or screen.id in in_groups):
            found.append(screen)
    return sorted(found, key=lambda s: s.id)


def fit_problems(options: Mapping[str, Any], screens: Sequence[Screen]) -> list[Problem]:
    """The asset checked against each selected screen's resolution and formats."""
    if not screens:
        return [Problem(("screens",), "selects no screen of the registry (`dispatcher "
                                      "screens list` shows it)")]
    if "text" in options:
        bad = [s.id for s in screens if "text" not in s.formats]
        return [Problem(("text",), f"screens {_few(bad)} cannot show text")] if bad else []
    media = options["media"]
    size = (media["width"], media["height"])
    wrong_size = [s.id for s in screens if (s.width, s.height) != size]
    wrong_format = [s.id for s in screens if str(media["format"]).lower() not in s.formats]
    found = []
    if wrong_size:
        found.append(Problem(("media",), f"is {size[0]}x{size[1]} but screens "
                                         f"{_few(wrong_size)} have another resolution: give "
                                         "them a placement of their own with an asset of "
                                         "their size"))
    if wrong_format:
        found.append(Problem(("media", "format"), f"{media['format']!r} does not play on "
                                                  f"screens {_few(wrong_format)}"))
    return found


def seconds_per_hour(options: Mapping[str, Any]) -> int:
    return int(options["duration"]) * int(options["plays_per_hour"])


def _few(ids: list[str]) -> str:
    return ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")


# Review ------------------------------------------------------------------------------------


def content_facts(options: Mapping[str, Any], screens: Sequence[Screen]
                  ) -> tuple[ContentFact, ...]:
    """What one validated placement plays, for the approver: the text or the media, how
    long and how often, when in the day, and the ``screens`` it selects (by kind and
    district)."""
    if "text" in options:
        text = str(options["text"])
        facts = [ContentFact("text", text), ContentFact("characters", len(text))]
    else:
        media = options["media"]
        facts = [ContentFact("media_url", str(media["url"])),
                 ContentFact("media_format", str(media["format"])),
                 ContentFact("media_size", f"{media['width']}x{media['height']}"),
                 ContentFact("media_bytes", int(media["size"]))]
    per_day = int(options["plays_per_hour"]) * daypart_minutes(options.get("dayparts")) // 60
    by_kind = Counter((screen.kind, screen.district or "") for screen in screens)
    return (*facts, ContentFact("duration", int(options["duration"])),
            ContentFact("plays_per_hour", int(options["plays_per_hour"])),
            ContentFact("dayparts", ", ".join(f"{a}-{b}" for a, b in
                                             options.get("dayparts") or ())),
            ContentFact("plays_per_day", per_day), ContentFact("screens", len(screens)),
            ContentFact("plays_per_day_all", per_day * len(screens)),
            ContentFact("screens_by_kind", (("kind", "district", "screens"), *(
                (kind, district, count) for (kind, district), count in sorted(
                    by_kind.items())))))


def daypart_minutes(dayparts: Sequence[Sequence[str]] | None) -> int:
    """Minutes of the day the placement is on: all day without dayparts; a daypart
    that ends before it starts runs past midnight."""
    if not dayparts:
        return 24 * 60
    total = 0
    for start, end in dayparts:
        first, last = (int(t[:2]) * 60 + int(t[3:]) for t in (start, end))
        total += (last - first) % (24 * 60)
    return min(total, 24 * 60)
