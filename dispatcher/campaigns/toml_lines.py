"""Line numbers for the keys of a TOML document.

``tomllib`` gives values without positions, but a planner needs ``FILE:LINE`` in every
error. This scanner reads the text once and records the line where each key path starts:
``("schedule", "end")``, ``("placements", 1, "body")``, ``("placements", 0, "audience",
"lists", 2)`` for the third element of an array written one element a line, and keys of
inline tables. :func:`line_of` falls back to the nearest enclosing path it knows.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

PathPart = str | int
KeyPath = tuple[PathPart, ...]

_BARE_KEY = r"[A-Za-z0-9_-]+"
_KEY = rf'(?:{_BARE_KEY}|"[^"\\]*(?:\\.[^"\\]*)*"|\'[^\']*\')'
_DOTTED_KEY = rf"{_KEY}(?:\s*\.\s*{_KEY})*"
_TABLE_HEADER = re.compile(rf"^\s*(\[\[?)\s*({_DOTTED_KEY})\s*\]\]?\s*(?:#.*)?$")
_KEY_VALUE = re.compile(rf"^\s*({_DOTTED_KEY})\s*=\s*(.*)$")
_INLINE_KEY = re.compile(rf"(?:^|[{{,])\s*({_DOTTED_KEY})\s*=")


def _split_key(dotted: str) -> tuple[str, ...]:
    parts = re.findall(_KEY, dotted)
    return tuple(p[1:-1] if p[:1] in "\"'" else p for p in parts)


class _Scanner:
    def __init__(self) -> None:
        self.lines: dict[KeyPath, int] = {}
        self.array_counts: dict[KeyPath, int] = {}
        self.table: KeyPath = ()

    def header(self, brackets: str, dotted: str, lineno: int) -> None:
        path = self._resolve_arrays(_split_key(dotted))
        if brackets == "[[":
            index = self.array_counts.get(path, 0)
            self.array_counts[path] = index + 1
            self.lines.setdefault(path, lineno)
            path = (*path, index)
        self.table = path
        self.lines.setdefault(path, lineno)

    def _resolve_arrays(self, keys: tuple[str, ...]) -> KeyPath:
        """``[placements.audience]`` means the audience of the latest ``[[placements]]``."""
        path: KeyPath = ()
        for n, key in enumerate(keys):
            path = (*path, key)
            if n < len(keys) - 1 and path in self.array_counts:
                path = (*path, self.array_counts[path] - 1)
        return path

    def key_value(self, dotted: str, value: str, lineno: int) -> KeyPath:
        path = (*self.table, *_split_key(dotted))
        self.lines.setdefault(path, lineno)
        if value.lstrip().startswith("{"):
            self._inline_keys(path, value, lineno)
        return path

    def _inline_keys(self, path: KeyPath, value: str, lineno: int) -> None:
        for match in _INLINE_KEY.finditer(_blank_strings(value)):
            self.lines.setdefault((*path, *_split_key(match.group(1))), lineno)


def _blank_strings(text: str) -> str:
    """Replace string contents with spaces so brackets and '=' inside them are ignored."""
    return re.sub(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'', lambda m: '"' + " " * (len(m[0]) - 2) + '"',
                  text)


def _strip_comment(text: str) -> str:
    blanked = _blank_strings(text)
    cut = blanked.find("#")
    return text if cut < 0 else text[:cut]


def key_lines(text: str) -> dict[KeyPath, int]:
    """Map every key path found in ``text`` to its 1-based line number."""
    scanner = _Scanner()
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        lineno, line = i + 1, lines[i]
        header = _TABLE_HEADER.match(line)
        kv = None if header else _KEY_VALUE.match(line)
        if header:
            scanner.header(header.group(1), header.group(2), lineno)
        elif kv:
            path = scanner.key_value(kv.group(1), kv.group(2), lineno)
            i = _skip_multiline_value(lines, i, kv.group(2), path, scanner.lines)
        i += 1
    return scanner.lines


def _skip_multiline_value(lines: Sequence[str], i: int, value: str, path: KeyPath,
                          found: dict[KeyPath, int]) -> int:
    """Advance past a value that spans lines; record the lines of array elements."""
    stripped = value.lstrip()
    for quote in ('"""', "'''"):
        if stripped.startswith(quote) and stripped.count(quote) == 1:
            while i + 1 < len(lines) and quote not in lines[i + 1]:
                i += 1
            return i + 1
    depth = _bracket_depth(value)
    if depth <= 0:
        return i
    element = _count_elements(value)
    while depth > 0 and i + 1 < len(lines):
        i += 1
        body = _strip_comment(lines[i])
        starting = _count_elements(body) if depth == 1 else 0
        for k in range(starting):
            found.setdefault((*path, element + k), i + 1)
        element += starting
        depth += _bracket_depth(body)
    return i


def _bracket_depth(text: str) -> int:
    body = _blank_strings(_strip_comment(text))
    return body.count("[") + body.count("{") - body.count("]") - body.count("}")


def _count_elements(text: str) -> int:
    """Elements that start on this line of an array (commas at the top nesting level)."""
    body = _blank_strings(_strip_comment(text)).strip().lstrip("[").strip()
    if not body or body.startswith("]"):
        return 0
    return body.rstrip().rstrip("]").count(",") + (0 if body.rstrip().endswith(",") else 1)


def line_of(lines: dict[KeyPath, int], path: Sequence[PathPart]) -> int:
    """The line of ``path``, or of its nearest known ancestor, or 1."""
    path = tuple(path)
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return 1
