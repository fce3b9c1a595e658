from __future__ import annotations

import csv
import random
from collections import Counter
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

import pytest

from dispatcher.audience.contacts import AREAS
from dispatcher.audience.phones import normalize
from dispatcher.demo.contact_samples import (
    COLUMNS,
    DISTRICTS,
    MOBILE_PREFIXES,
    Permutation,
    SampleGenerator,
    SampleMix,
    sample_contacts,
    write_csv,
)
from dispatcher.errors import InvalidPhone

NO_NOISE = SampleMix(invalid_rate=0, landline_rate=0, repeat_rate=0)


def _e164(phone: str) -> str | None:
    try:
        return normalize(phone, "CN").e164
    except InvalidPhone:
        return None


def test_same_seed_same_rows_other_seed_other_rows() -> None:
    first = list(sample_contacts(2_000, seed=42))
    assert first == list(sample_contacts(2_000, seed=42))
    other = list(sample_contacts(2_000, seed=43))
    assert sum(a.phone == b.phone for a, b in zip(first, other, strict=True)) < 20


def test_rows_stream_and_a_prefix_is_the_same_as_a_shorter_file() -> None:
    rows = sample_contacts(10**9, seed=1)  # a billion rows: only streaming makes this instant
    assert isinstance(rows, Iterator)
    assert list(islice(rows, 500)) == list(sample_contacts(500, seed=1))
    assert SampleGenerator(seed=1).row(123) == list(sample_contacts(124, seed=1))[123]


def test_bad_count_fails_at_once() -> None:
    with pytest.raises(ValueError, match="count"):
        sample_contacts(-1)
    with pytest.raises(ValueError, match="count"):
        sample_contacts(SampleGenerator().capacity + 1)


@pytest.mark.parametrize(("a", "b"), [(1, 1), (7, 3), (300, 70), (10**3, 10)])
def test_permutation_is_a_bijection(a: int, b: int) -> None:
    permutation = Permutation(a, b, key=99)
    assert sorted(map(permutation, range(a * b))) == list(range(a * b))


def test_new_people_have_distinct_numbers() -> None:
    phones = [_e164(row.phone) for row in sample_contacts(50_000, seed=7, mix=NO_NOISE)]
    assert None not in phones
    assert len(set(phones)) == len(phones)


def test_mobile_numbers_look_local_and_are_valid_mobiles() -> None:
    mix = SampleMix(invalid_rate=0, landline_rate=0, repeat_rate=0, formatted_rate=0)
    for row in sample_contacts(5_000, seed=3, mix=mix):
        assert len(row.phone) == 11 and row.phone.isdigit()
        assert row.phone[:3] in MOBILE_PREFIXES
        assert normalize(row.phone, "CN").line_type == "mobile"


def test_every_prefix_is_a_valid_mobile_prefix() -> None:
    rng = random.Random(5)
    for prefix in MOBILE_PREFIXES:
        for _ in range(50):
            number = f"{prefix}{rng.randrange(10**8):08d}"
            assert normalize(number, "CN").line_type == "mobile", number


def test_realistic_mix_of_rows() -> None:
    count = 40_000
    mix = SampleMix(invalid_rate=0.01, landline_rate=0.05, repeat_rate=0.03)
    rows = list(sample_contacts(count, seed=11, mix=mix))
    types: Counter[str] = Counter()
    for row in rows:
        try:
            types[normalize(row.phone, "CN").line_type] += 1
        except InvalidPhone:
            types["invalid"] += 1
    assert set(types) == {"mobile", "fixed_line", "invalid"}
    assert types["invalid"] / count == pytest.approx(0.01, abs=0.003)
    # landlines: their own rows plus repeats of them
    assert types["fixed_line"] / count == pytest.approx(0.05, abs=0.01)
    formatted = sum(not row.phone.isdigit() for row in rows if _e164(row.phone))
    assert 0.05 < formatted / count < 0.2  # some written with +86, spaces, dashes

    phones = Counter(e for e in map(_e164, (r.phone for r in rows)) if e)
    repeats = sum(n - 1 for n in phones.values())
    assert repeats / count == pytest.approx(0.03, abs=0.006)

    areas = Counter(row.area for row in rows)
    assert set(areas) == set(AREAS)
    assert areas.most_common(1)[0][0] == "residential"
    assert {row.district for row in rows} == {name for name, _ in DISTRICTS}
    named = [row.name for row in rows if row.name]
    assert 0.6 < len(named) / count < 0.8
    assert all(2 <= len(name) <= 3 for name in named)
    assert any(row.tags for row in rows)


def test_a_repeated_phone_is_the_same_person() -> None:
    mix = SampleMix(invalid_rate=0, landline_rate=0.1, repeat_rate=0.2)
    first_seen: dict[str, tuple[str, str, str, str]] = {}
    repeats = 0
    for row in sample_contacts(5_000, seed=2, mix=mix):
        e164 = normalize(row.phone, "CN").e164
        person = (row.area, row.district, row.name, row.tags)
        if e164 in first_seen:
            repeats += 1
            assert first_seen[e164] == person
        first_seen[e164] = person
    assert repeats > 500


def test_rates_are_checked() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        SampleMix(invalid_rate=1.5)
    with pytest.raises(ValueError, match="must not exceed 1"):
        SampleMix(invalid_rate=0.5, landline_rate=0.5, repeat_rate=0.5)


def test_write_csv(tmp_path: Path) -> None:
    path = tmp_path / "sample.csv"
    seen: list[int] = []
    assert write_csv(path, 25_000, seed=9, progress=seen.append) == 25_000
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == COLUMNS
    assert [tuple(r) for r in rows[1:]] == [tuple(r) for r in sample_contacts(25_000, seed=9)]
    assert seen == [10_000, 20_000, 25_000]
