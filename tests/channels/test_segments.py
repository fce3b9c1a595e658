"""Segment counting as a phone splits a body: GSM-7 septets or UCS-2 code units."""

from __future__ import annotations

import pytest

from channels.sms.segments import GSM_BASIC, GSM_EXTENSION, SegmentCount, count_segments

PINGAN_BODY = "【平安高新】扫黑除恶，人人有责。举报电话110。回TD退订"
EMOJI = "😀"  # outside the BMP: a surrogate pair, two UTF-16 units


def test_empty_body_is_zero_segments() -> None:
    assert count_segments("") == SegmentCount("GSM-7", 0, 0)


@pytest.mark.parametrize(("length", "segments"), [
    (1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4)])
def test_gsm_boundaries(length: int, segments: int) -> None:
    assert count_segments("a" * length) == SegmentCount("GSM-7", length, segments)


def test_whole_basic_table_is_gsm_and_one_septet_each() -> None:
    body = "".join(sorted(GSM_BASIC))
    assert len(body) == 127  # 128 codes less the escape
    assert count_segments(body) == SegmentCount("GSM-7", 127, 1)


@pytest.mark.parametrize("char", [
    "@", "£", "$", "¥", "è", "é", "ù", "ì", "ò", "Ç", "\n", "Ø", "ø", "\r", "Å", "å", "Δ", "_",
    "Φ", "Γ", "Λ", "Ω", "Π", "Ψ", "Σ", "Θ", "Ξ", "Æ", "æ", "ß", "É", " ", "¤", "¡", "Ä", "Ö",
    "Ñ", "Ü", "§", "¿", "ä", "ö", "ñ", "ü", "à"])
def test_basic_table_specials_are_one_septet(char: str) -> None:
    assert count_segments(char) == SegmentCount("GSM-7", 1, 1)


@pytest.mark.parametrize("char", ["^", "{", "}", "\\", "[", "]", "~", "|", "€", "\f"])
def test_extension_characters_take_two_septets(char: str) -> None:
    assert char in GSM_EXTENSION
    assert count_segments(char) == SegmentCount("GSM-7", 2, 1)


def test_extension_characters_fill_a_single_segment_at_80() -> None:
    assert count_segments("€" * 80) == SegmentCount("GSM-7", 160, 1)
    # 162 septets: 76 euros (152 septets) fit a 153-septet part, the rest go to the next.
    assert count_segments("€" * 81) == SegmentCount("GSM-7", 162, 2)


def test_escape_pair_is_never_split_across_parts() -> None:
    # 306 septets would be 2 parts of 153, but the euro cannot start at septet 153.
    body = "a" * 152 + "€" + "a" * 152
    assert count_segments(body) == SegmentCount("GSM-7", 306, 3)
    # One fewer septet before it and the pair fits the first part exactly.
    assert count_segments("a" * 151 + "€" + "a" * 152) == SegmentCount("GSM-7", 305, 2)


@pytest.mark.parametrize("char", ["中", EMOJI, "’", "ç", "\t", "`"])
def test_one_non_gsm_character_makes_the_whole_body_ucs2(char: str) -> None:
    count = count_segments("a" * 60 + char)
    assert count.encoding == "UCS-2"
    assert count.units == 60 + len(char.encode("utf-16-le")) // 2


@pytest.mark.parametrize(("length", "segments"), [
    (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)])
def test_ucs2_boundaries(length: int, segments: int) -> None:
    assert count_segments("中" * length) == SegmentCount("UCS-2", length, segments)


def test_gsm_text_with_one_chinese_character_drops_to_70() -> None:
    assert count_segments("a" * 69 + "中") == SegmentCount("UCS-2", 70, 1)
    assert count_segments("a" * 70 + "中") == SegmentCount("UCS-2", 71, 2)


def test_emoji_counts_two_units() -> None:
    assert count_segments(EMOJI) == SegmentCount("UCS-2", 2, 1)
    assert count_segments(EMOJI * 35) == SegmentCount("UCS-2", 70, 1)
    # 72 units: 33 emoji (66 units) per 67-unit part, then 3 more.
    assert count_segments(EMOJI * 36) == SegmentCount("UCS-2", 72, 2)


def test_surrogate_pair_is_never_split_across_parts() -> None:
    body = "中" * 66 + EMOJI + "中" * 66
    assert count_segments(body) == SegmentCount("UCS-2", 134, 3)
    assert count_segments("中" * 65 + EMOJI + "中" * 66) == SegmentCount("UCS-2", 133, 2)


def test_extension_characters_are_single_units_in_ucs2() -> None:
    assert count_segments("€中") == SegmentCount("UCS-2", 2, 1)


def test_pingan_body_is_one_ucs2_segment() -> None:
    assert count_segments(PINGAN_BODY) == SegmentCount("UCS-2", 29, 1)
