"""A campaign file's version beside the last approved one, line by line, for the approver.

The stored source text of each version (``campaign_versions.source_text``) is compared
with :mod:`difflib`; lines that changed are paired and their changed characters marked
(character by character, which is what reads well in Chinese, where words have no
spaces). Long unchanged stretches fold to a count. The rows carry plain text only: the
page escapes it (the file is user text), nothing here makes HTML.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Literal

from sqlalchemy import Engine, func, select

from dispatcher.errors import NotFoundError
from dispatcher.storage.tables import campaign_versions, campaigns

CONTEXT = 3  # unchanged lines kept around a change
SIMILAR = 0.5  # below this share of tokens in common, a changed line is marked whole
# Latin words and numbers as one token each, every other character (Chinese) alone.
_TOKEN = re.compile(r"[A-Za-z0-9_]+|\s+|.", re.DOTALL)
Kind = Literal["equal", "replace", "delete", "insert", "skip"]


@dataclass(frozen=True)
class Side:
    """One side of a row: its line number and its text in pieces, each marked changed."""

    number: int
    pieces: tuple[tuple[str, bool], ...]


@dataclass(frozen=True)
class DiffRow:
    kind: Kind
    left: Side | None = None  # the approved version's line
    right: Side | None = None  # this version's line
    skipped: int = 0  # "skip" rows: unchanged lines folded away


@dataclass(frozen=True)
class VersionDiff:
    version: int
    base: int | None  # the approved version compared with; None: none was approved before
    rows: tuple[DiffRow, ...]
    changed: int  # rows that differ

    @property
    def first(self) -> bool:
        return self.base is None


def version_diff(engine: Engine, campaign_id: str, version: int | None = None) -> VersionDiff:
    """``version`` (default: the current one) against the latest approved version before
    it; with none approved before, the whole file as new ("first version")."""
    with engine.connect() as conn:
        current = version or conn.execute(select(campaigns.c.current_version).where(
            campaigns.c.id == campaign_id)).scalar()
        if current is None:
            raise NotFoundError(f"no campaign {campaign_id!r}; see `dispatcher campaign list`")
        base = conn.execute(select(func.max(campaign_versions.c.version)).where(
            campaign_versions.c.campaign_id == campaign_id,
            campaign_versions.c.version < current,
            campaign_versions.c.approved_by.is_not(None))).scalar()
        texts = dict(conn.execute(select(campaign_versions.c.version,
                                         campaign_versions.c.source_text).where(
            campaign_versions.c.campaign_id == campaign_id,
            campaign_versions.c.version.in_([current, base or current]))).all())
    new = texts.get(current, "")
    rows = side_by_side("" if base is None else texts[base], new)
    return VersionDiff(int(current), base, tuple(rows),
                       sum(1 for row in rows if row.kind not in ("equal", "skip")))


def side_by_side(old: str, new: str, context: int = CONTEXT) -> list[DiffRow]:
    """The rows of a side-by-side diff of two texts, unchanged stretches longer than
    ``2 * context + 1`` lines folded to one "skip" row."""
    before, after = old.splitlines(), new.splitlines()
    matcher = SequenceMatcher(None, before, after, autojunk=False)
    rows: list[DiffRow] = []
    opcodes = matcher.get_opcodes()
    for position, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        if tag == "equal":
            rows += _unchanged(before, i1, i2, j1, context, position == 0,
                               position == len(opcodes) - 1)
        else:
            rows += _changed(before[i1:i2], after[j1:j2], i1, j1)
    return rows


def _unchanged(lines: list[str], i1: int, i2: int, j1: int, context: int,
               at_start: bool, at_end: bool) -> list[DiffRow]:
    def row(i: int) -> DiffRow:
        return DiffRow("equal", Side(i + 1, ((lines[i], False),)),
                       Side(j1 + (i - i1) + 1, ((lines[i], False),)))

    head = 0 if at_start else context
    tail = 0 if at_end else context
    if i2 - i1 <= head + tail + 1:
        return [row(i) for i in range(i1, i2)]
    return [*(row(i) for i in range(i1, i1 + head)), DiffRow("skip", skipped=i2 - i1 - head - tail),
            *(row(i) for i in range(i2 - tail, i2))]


def _changed(old: list[str], new: list[str], i1: int, j1: int) -> list[DiffRow]:
    rows = []
    for k in range(max(len(old), len(new))):
        left = old[k] if k < len(old) else None
        right = new[k] if k < len(new) else None
        if left is not None and right is not None:
            marked_left, marked_right = _marked(left, right)
            rows.append(DiffRow("replace", Side(i1 + k + 1, marked_left),
                                Side(j1 + k + 1, marked_right)))
        elif left is not None:
            rows.append(DiffRow("delete", left=Side(i1 + k + 1, ((left, True),))))
        elif right is not None:
            rows.append(DiffRow("insert", right=Side(j1 + k + 1, ((right, True),))))
    return rows


def _marked(old: str, new: str) -> tuple[tuple[tuple[str, bool], ...],
                                         tuple[tuple[str, bool], ...]]:
    """Both lines in pieces, the words that differ marked: a Latin word (or number) is
    one token, each Chinese character another; lines with little in common are marked
    whole, as scattered marks would be harder to read than none."""
    before, after = _TOKEN.findall(old), _TOKEN.findall(new)
    matcher = SequenceMatcher(None, before, after, autojunk=False)
    if matcher.ratio() < SIMILAR:
        return ((old, True),), ((new, True),)
    left: list[tuple[str, bool]] = []
    right: list[tuple[str, bool]] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        _append(left, "".join(before[i1:i2]), tag != "equal")
        _append(right, "".join(after[j1:j2]), tag != "equal")
    return tuple(left), tuple(right)


def _append(pieces: list[tuple[str, bool]], text: str, changed: bool) -> None:
    """Add a piece, joined to the one before when both are alike."""
    if not text:
        return
    if pieces and pieces[-1][1] == changed:
        pieces[-1] = (pieces[-1][0] + text, changed)
    else:
        pieces.append((text, changed))
