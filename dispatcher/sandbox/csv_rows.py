"""The CSV files the venue simulators are given (the cinemas' tokens, the LED screens)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path


def csv_rows(path: str | Path, columns: tuple[str, ...]) -> Iterator[tuple[str, dict[str, str]]]:
    """Each row of a CSV file whose header row names ``columns`` (extra columns are
    ignored): where it stands (``path:line``, for errors) and its ``columns``, stripped.
    A ValueError when a column is missing."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(missing)} "
                             f"(need {','.join(columns)})")
        for row in reader:
            yield f"{path}:{reader.line_num}", {c: (row[c] or "").strip() for c in columns}
