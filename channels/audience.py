"""The ``audience`` table shared by person-addressed channels (SMS, WeChat, partner apps).

```toml
audience = { lists = ["residents"], areas = ["residential", "work"], districts = ["Xinan"] }
```

Every problem is reported at once, at a path relative to the placement, so a planner can
fix a campaign file in one pass. List names are checked against ``context.known_lists``
only when the core could look them up; the check is skipped otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from channels.base import (
    AREA_TYPES,
    Audience,
    PathPart,
    Placement,
    Problem,
    ValidationContext,
    type_name,
)
from channels.placement_checks import unknown_keys

AUDIENCE_KEYS = ("areas", "districts", "lists", "tags")
LISTS_REQUIRED = ("is required: the contact lists to send to, "
                  'such as audience = { lists = ["residents"] }')
LISTS_SHAPE = 'must be a non-empty list of contact list names, such as ["residents"]'
KNOWN_LISTS_SHOWN = 10
CREATE_LIST_HINT = "create one with: dispatcher contacts import FILE.csv --list NAME"


def got(value: object) -> str:
    """``got a string``, ``got an integer``: the tail of a wrong-type message."""
    return f"got {type_name(value)}"


def parse_audience(value: object, context: ValidationContext,
                   ) -> tuple[Audience | None, list[Problem]]:
    """Check a placement's ``audience`` (None when the key is missing).

    Returns the Audience when there is no problem, else None and every problem found.
    """
    here: tuple[PathPart, ...] = ("audience",)
    if value is None:
        return None, [Problem(here, LISTS_REQUIRED)]
    if not isinstance(value, Mapping):
        return None, [Problem(here, 'must be a table such as { lists = ["residents"] }, '
                                    + got(value))]
    problems = unknown_keys(value, AUDIENCE_KEYS, here)
    lists = _lists(value.get("lists"), context, problems)
    areas = _strings(value.get("areas", []), (*here, "areas"), problems, ("area", AREA_TYPES))
    districts = _strings(value.get("districts", []), (*here, "districts"), problems)
    tags = _strings(value.get("tags", []), (*here, "tags"), problems)
    if problems:
        return None, problems
    return Audience(lists, areas, districts, tags), []


def planned_audience(placement: Placement) -> Audience:
    """The audience of a placement that was validated: planning a placement that was not
    is a bug in the caller (ValueError naming the placement)."""
    audience, problems = parse_audience(placement.options.get("audience"), ValidationContext())
    if audience is None:
        raise ValueError(f"placement {placement.index} was not validated: "
                         f"audience: {problems[0].message}")
    return audience


def _lists(value: object, context: ValidationContext,
           problems: list[Problem]) -> tuple[str, ...]:
    path: tuple[PathPart, ...] = ("audience", "lists")
    if value is None:
        problems.append(Problem(path, LISTS_REQUIRED))
        return ()
    if not isinstance(value, list):
        problems.append(Problem(path, f"{LISTS_SHAPE}, {got(value)}"))
        return ()
    if not value:
        problems.append(Problem(path, LISTS_SHAPE))
        return ()
    names = _strings(value, path, problems)
    seen: set[str] = set()
    for index, name in enumerate(value):
        if not isinstance(name, str) or not name.strip():
            continue
        if name in seen:
            problems.append(Problem((*path, index), f'repeats "{name}"; name each list once'))
        elif context.known_lists is not None and name not in context.known_lists:
            problems.append(Problem((*path, index), _unknown_list(name, context.known_lists)))
        seen.add(name)
    return names


def _unknown_list(name: str, known: frozenset[str]) -> str:
    if not known:
        return f'unknown contact list "{name}"; no contact lists exist yet: {CREATE_LIST_HINT}'
    shown = sorted(known)[:KNOWN_LISTS_SHOWN]
    more = ", ..." if len(known) > KNOWN_LISTS_SHOWN else ""
    return f'unknown contact list "{name}"; known lists: {", ".join(shown)}{more}'


def _strings(value: Any, path: tuple[PathPart, ...], problems: list[Problem],
             choice: tuple[str, tuple[str, ...]] | None = None) -> tuple[str, ...]:
    """Check a list of non-empty strings; with ``choice = (noun, allowed)`` each must be
    one of ``allowed``. Returns the strings once each, in order; problems are appended.
    """
    noun, allowed = choice or ("value", ())
    choices = f"; allowed: {', '.join(allowed)}" if allowed else ""
    if not isinstance(value, list):
        problems.append(Problem(path, f"must be a list of strings, {got(value)}{choices}"))
        return ()
    for index, item in enumerate(value):
        if not isinstance(item, str):
            problems.append(Problem((*path, index), f"must be a string, {got(item)}{choices}"))
        elif not item.strip():
            problems.append(Problem((*path, index), f"must not be empty{choices}"))
        elif allowed and item not in allowed:
            problems.append(Problem((*path, index), f'unknown {noun} "{item}"{choices}'))
    return tuple(dict.fromkeys(item for item in value if isinstance(item, str)))
