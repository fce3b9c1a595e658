"""Checks shared by every channel's placement options (its ``[[placements]]`` table)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from channels.base import PathPart, Problem, type_name


def unknown_keys(options: Mapping[str, Any], allowed: Sequence[str],
                 here: tuple[PathPart, ...] = ()) -> list[Problem]:
    """A problem for each key of the table at ``here`` that is not one of ``allowed``."""
    return [Problem((*here, key), f'unknown key "{key}"; allowed: ' + ", ".join(allowed))
            for key in options if key not in allowed]


def text_problem(value: Any, example: str, most: int, why: str = "") -> str | None:
    """What is wrong with a placement's words (None: good): ``example`` completes "is
    required: ...", ``most`` is the longest it may be and ``why`` follows that limit."""
    if value is None:
        return f"is required: {example}"
    if not isinstance(value, str):
        return f"must be a string, got {type_name(value)}"
    if not value.strip():
        return "must not be empty or only whitespace"
    if len(value) > most:
        return f"is {len(value)} characters, more than {most}{why}"
    return None


def name_problem(value: Any) -> str | None:
    """The placement's optional ``name``, a label people read: a non-empty string."""
    if value is None:
        return None
    if not isinstance(value, str):
        return f"must be a string (a label for this placement), got {type_name(value)}"
    return None if value.strip() else "must not be empty (a label for this placement)"


def name_problems(options: Mapping[str, Any]) -> list[Problem]:
    """:func:`name_problem` as the list of problems a validator returns."""
    problem = name_problem(options.get("name"))
    return [Problem(("name",), problem)] if problem else []
