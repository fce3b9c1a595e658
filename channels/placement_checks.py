"""Checks shared by every channel's placement options (its ``[[placements]]`` table)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from channels.base import Problem, type_name


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
