"""Realistic sample contacts for tests, benchmarks and the demo, generated as a stream.

Rows look like a Xi'an high-tech zone contact sheet: mobile numbers as people write them
locally (``13812345678``, sometimes ``+86 138 1234 5678``), the zone's street offices as
districts, the four area types, optional Chinese names and tags, and a small share of
Xi'an landlines (``029-8xxxxxxx``), broken numbers and people listed twice.

Everything is a pure function of ``(seed, row index)``: the same seed gives the same
file, and no state grows with the row count. Phone numbers come from a keyed
permutation of the row index (a Feistel network with cycle walking), so they are unique
by construction without remembering the numbers already used. The operator prefixes are
real; the digits after them are not the real allocation of Xi'an number blocks.
"""

from __future__ import annotations

import csv
import os
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import NamedTuple

COLUMNS = ("phone", "area", "district", "name", "tags")

# Mainland operator prefixes (China Mobile, Unicom, Telecom, Broadnet), virtual operators left out.
MOBILE_PREFIXES = (
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139",
    "145", "147", "150", "151", "152", "153", "155", "156", "157", "158", "159",
    "166", "172", "173", "175", "176", "177", "178",
    "180", "181", "182", "183", "184", "185", "186", "187", "188", "189",
    "190", "191", "192", "193", "195", "196", "197", "198", "199",
)
_BLOCK = 10**8  # the 8 digits after a prefix
_LANDLINES = 10**7  # Xi'an numbers 8xxxxxxx after the area code 029

# The street offices of the Xi'an high-tech zone, weighted roughly by population.
DISTRICTS: tuple[tuple[str, int], ...] = (
    ("丈八街道", 24), ("鱼化寨街道", 20), ("细柳街道", 12), ("兴隆街道", 10),
    ("东大街道", 9), ("五星街道", 7), ("灵沼街道", 6), ("鱼斗路街道", 12),
)
AREA_MIX: tuple[tuple[str, int], ...] = (
    ("residential", 58), ("work", 24), ("activity", 11), ("street", 7),
)
_SURNAMES: tuple[tuple[str, int], ...] = (
    ("王", 10), ("李", 10), ("张", 9), ("刘", 8), ("陈", 6), ("杨", 6), ("赵", 4), ("黄", 3),
    ("周", 3), ("吴", 3), ("徐", 2), ("孙", 2), ("胡", 2), ("朱", 2), ("高", 3), ("林", 1),
    ("何", 1), ("郭", 2), ("马", 2), ("罗", 1), ("梁", 1), ("宋", 1), ("郑", 1), ("韩", 1),
    ("冯", 1), ("雷", 2), ("薛", 1), ("杜", 1), ("田", 1), ("贺", 1),
)
_GIVEN = ("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"
          "玉兰萍红建国志鹏浩宇欣怡子涵梓轩博文雨婷佳琪晨阳思远嘉豪")
_TAGS = ("志愿者", "楼长", "网格员", "商户", "物业", "教师", "学生家长", "企业员工",
         "快递驿站", "老年人", "出租屋", "外来务工")
_GARBAGE = ("n/a", "无", "-", "未知", "电话", "138****5678", "abc", "0", "1", "见备注",
            "138１２３４", "#N/A")

_MASK64 = (1 << 64) - 1


def _mix(x: int) -> int:
    """SplitMix64's finaliser: a fast, well-spread 64-bit hash of an integer."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def _table(weights: Sequence[tuple[str, int]]) -> tuple[str, ...]:
    """A 256-entry look-up table for picking by weight with one byte of hash."""
    bounds = list(accumulate(w for _, w in weights))
    return tuple(weights[bisect_right(bounds, (i + 0.5) * bounds[-1] / 256)][0]
                 for i in range(256))


_DISTRICT_TABLE = _table(DISTRICTS)
_AREA_TABLE = _table(AREA_MIX)
_SURNAME_TABLE = _table(_SURNAMES)


class Permutation:
    """A keyed bijection of ``range(a * b)``: distinct indexes give distinct values.

    A Feistel network over mixed radix ``Z_a x Z_b`` (each round swaps the halves, so
    an even number of rounds ends in the shape it started with); no cycle walking.
    """

    def __init__(self, a: int, b: int, key: int, rounds: int = 4) -> None:
        if a < 1 or b < 1 or rounds % 2:
            raise ValueError("a and b must be positive and rounds even")
        self.a, self.b, self.size = a, b, a * b
        self.keys = tuple(_mix(key * 8 + r) for r in range(rounds))

    def __call__(self, index: int) -> int:
        if not 0 <= index < self.size:
            raise ValueError(f"index {index} outside 0..{self.size - 1}")
        left, right = divmod(index, self.b)
        moduli = (self.a, self.b)
        for round_, key in enumerate(self.keys):
            left, right = right, (left + _mix(right ^ key)) % moduli[round_ & 1]
        return left * self.b + right


@dataclass(frozen=True)
class SampleMix:
    """Shares of each kind of row; the rest are new people with a mobile number."""

    invalid_rate: float = 0.005  # garbage or too short
    landline_rate: float = 0.02  # Xi'an fixed lines, 029-8xxxxxxx
    repeat_rate: float = 0.01  # a person already listed, perhaps written differently
    formatted_rate: float = 0.1  # numbers written with +86, spaces or dashes
    name_rate: float = 0.7
    tag_rate: float = 0.25

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        if self.invalid_rate + self.landline_rate + self.repeat_rate > 1.0:
            raise ValueError("invalid_rate + landline_rate + repeat_rate must not exceed 1")


class SampleContact(NamedTuple):
    phone: str
    area: str
    district: str
    name: str
    tags: str


_NEW, _LANDLINE, _INVALID, _REPEAT = range(4)
_UNIT = float(1 << 32)


class SampleGenerator:
    """Row ``i`` of the sample with ``seed``; ``rows(count)`` streams them in order."""

    def __init__(self, seed: int = 0, mix: SampleMix | None = None) -> None:
        self.seed = seed
        self.mix = mix or SampleMix()
        self._key = _mix(seed & _MASK64 ^ 0x5EED)
        self._mobiles = Permutation(len(MOBILE_PREFIXES) * 10**4, 10**4, self._key ^ 1)
        self._landlines = Permutation(10**4, 10**3, self._key ^ 2)

    @property
    def capacity(self) -> int:
        """How many rows can have distinct mobile numbers."""
        return self._mobiles.size

    def rows(self, count: int) -> Iterator[SampleContact]:
        """Rows 0 to count - 1; ValueError at once (not on first use) for a bad count."""
        if not 0 <= count <= self.capacity:
            raise ValueError(f"count must be between 0 and {self.capacity}, got {count}")
        return map(self.row, range(count))

    def kind(self, index: int) -> int:
        m = self.mix
        u = (_mix(self._key ^ (index * 4 + 1)) >> 32) / _UNIT
        if u < m.invalid_rate:
            return _INVALID
        if u < m.invalid_rate + m.landline_rate:
            return _LANDLINE
        if u < m.invalid_rate + m.landline_rate + m.repeat_rate and index > 0:
            return _REPEAT
        return _NEW

    def row(self, index: int) -> SampleContact:
        kind = self.kind(index)
        noise = _mix(self._key ^ (index * 4 + 2))
        if kind == _INVALID:
            return self._person(index, noise)._replace(phone=_broken(noise))
        person = index
        if kind == _REPEAT:
            person = self._earlier_person(index, noise)
        return self._person(person, noise)

    def _earlier_person(self, index: int, noise: int) -> int:
        """An earlier row that introduced a person (a new mobile or a landline)."""
        earlier = noise % index
        while earlier > 0 and self.kind(earlier) in (_INVALID, _REPEAT):
            earlier -= 1
        return earlier

    def _person(self, index: int, noise: int = 0) -> SampleContact:
        if self.kind(index) == _LANDLINE:
            phone = _landline(self._landlines(index % _LANDLINES), noise)
        else:
            phone = _mobile(self._mobiles(index), noise, self.mix.formatted_rate)
        h = _mix(self._key ^ (index * 4 + 3))
        name = ""
        if (h & 0xFF) / 256 < self.mix.name_rate:
            given = _GIVEN[((h >> 24) & 0xFF) % len(_GIVEN)]
            if (h >> 40) & 3:  # three in four given names have two characters
                given += _GIVEN[((h >> 32) & 0xFF) % len(_GIVEN)]
            name = _SURNAME_TABLE[(h >> 16) & 0xFF] + given
        return SampleContact(phone, _AREA_TABLE[(h >> 8) & 0xFF],
                             _DISTRICT_TABLE[(h >> 48) & 0xFF], name, self._tags(_mix(h)))

    def _tags(self, h: int) -> str:
        if (h & 0xFF) / 256 >= self.mix.tag_rate:
            return ""
        first = _TAGS[((h >> 8) & 0xFF) % len(_TAGS)]
        second = _TAGS[((h >> 16) & 0xFF) % len(_TAGS)]
        return first if (h >> 24) & 1 or second == first else f"{first},{second}"


def _mobile(value: int, noise: int, formatted_rate: float) -> str:
    prefix, rest = MOBILE_PREFIXES[value // _BLOCK], f"{value % _BLOCK:08d}"
    if (noise & 0xFFFF) / 65536 >= formatted_rate:
        return prefix + rest
    style = (noise >> 16) % 5
    if style == 0:
        return f"+86 {prefix} {rest[:4]} {rest[4:]}"
    if style == 1:
        return f"{prefix} {rest[:4]} {rest[4:]}"
    if style == 2:
        return f"+86{prefix}{rest}"
    if style == 3:
        return f"{prefix}-{rest[:4]}-{rest[4:]}"
    return f" {prefix}{rest} "


def _landline(value: int, noise: int) -> str:
    digits = f"8{value:07d}"
    style = (noise >> 16) % 4
    if style == 0:
        return f"029-{digits}"
    if style == 1:
        return f"029 {digits[:4]} {digits[4:]}"
    if style == 2:
        return f"(029){digits}"
    return f"029{digits}"


def _broken(noise: int) -> str:
    """Garbage, or a mobile number with digits missing."""
    if noise & 1:
        return _GARBAGE[(noise >> 8) % len(_GARBAGE)]
    length = 3 + (noise >> 8) % 6  # 3 to 8 digits: too short for any Chinese number
    return ("1" + f"{noise >> 16:019d}")[:length]


def sample_contacts(count: int, seed: int = 0,
                    mix: SampleMix | None = None) -> Iterator[SampleContact]:
    """Stream ``count`` sample rows; the same seed and mix always give the same rows."""
    return SampleGenerator(seed, mix).rows(count)


def write_csv(path: str | os.PathLike[str], count: int, seed: int = 0,
              mix: SampleMix | None = None, *,
              progress: Callable[[int], None] | None = None) -> int:
    """Write a contact CSV (UTF-8, header ``phone,area,district,name,tags``); rows written."""
    rows = sample_contacts(count, seed, mix)  # checks count before the file is created
    written = 0
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow(row)
            written += 1
            if progress is not None and written % 10_000 == 0:
                progress(written)
    if progress is not None:
        progress(written)
    return written
