from __future__ import annotations

import random

import pytest

from dispatcher.audience.phones import Normalized, _normalize_slow, mask, normalize
from dispatcher.errors import InvalidPhone


@pytest.mark.parametrize("raw", [
    "13812345678",
    " 13812345678 ",
    "138 1234 5678",
    "138-1234-5678",
    "+86 138 1234 5678",
    "+8613812345678",
    "+86-138-1234-5678",
    "(+86) 138 1234 5678",
    "008613812345678",
    "8613812345678",
    "１３８１２３４５６７８",  # full-width digits, as typed with a Chinese input method
])
def test_mobile_numbers_in_every_local_form(raw: str) -> None:
    assert normalize(raw, "CN") == Normalized("+8613812345678", "mobile")


@pytest.mark.parametrize("raw", ["029-88123456", "(029) 8812 3456", "02988123456",
                                 "+86 29 8812 3456"])
def test_xian_landlines_are_fixed_lines(raw: str) -> None:
    assert normalize(raw, "CN") == Normalized("+862988123456", "fixed_line")


def test_foreign_numbers_keep_their_country_and_type() -> None:
    assert normalize("+852 9123 4567", "CN") == Normalized("+85291234567", "mobile")
    assert normalize("+1 650-253-0000", "CN").e164 == "+16502530000"
    assert normalize("+1 650-253-0000", "CN").line_type == "fixed_line_or_mobile"
    assert normalize("9123 4567", "HK") == Normalized("+85291234567", "mobile")
    assert normalize("020 7946 0018", "GB") == Normalized("+442079460018", "fixed_line")


def test_other_line_types_are_named_in_lowercase() -> None:
    assert normalize("400 810 8888", "CN").line_type == "shared_cost"
    assert normalize("800 810 8888", "CN").line_type == "toll_free"


@pytest.mark.parametrize(("raw", "reason"), [
    ("", "empty"),
    ("   ", "empty"),
    ("abc", "not a phone number"),
    ("n/a", "not a phone number"),
    ("1381234567", "not a valid number for region CN"),
    ("23812345678", "not a valid number for region CN"),
    ("1", "not a phone number"),
    ("12345", "too short: a local number without its area code"),
    ("+999 1234 5678", "unknown country code"),
    ("1381234567812345678901", "too long"),
])
def test_invalid_numbers_say_why(raw: str, reason: str) -> None:
    with pytest.raises(InvalidPhone) as caught:
        normalize(raw, "CN")
    assert caught.value.reason == reason
    assert caught.value.raw == raw
    assert isinstance(caught.value, ValueError)


def _outcome(raw: str, region: str, slow: bool) -> object:
    try:
        return (_normalize_slow if slow else normalize)(raw, region)
    except InvalidPhone as exc:
        return exc.reason


def _random_inputs(count: int) -> list[str]:
    rng = random.Random(20190601)
    out = []
    for _ in range(count):
        digits = str(rng.randrange(10 ** rng.randint(1, 14)))
        shape = rng.random()
        if shape < 0.35:
            digits = rng.choice("1") + str(rng.randrange(10**10)).zfill(10)
        elif shape < 0.45:
            digits = "+86" + rng.choice(["", " ", "-"]) + digits
        elif shape < 0.55:
            digits = "0" + digits
        elif shape < 0.6:
            digits = "86" + digits
        elif shape < 0.65:
            digits = "00" + digits
        elif shape < 0.7:
            digits = "+" + digits
        if rng.random() < 0.2:
            cut = rng.randrange(len(digits) + 1)
            digits = digits[:cut] + rng.choice(" -.()") + digits[cut:]
        out.append(digits)
    return out


@pytest.mark.parametrize("region", ["CN", "HK", "GB", "DE", "US"])
def test_fast_path_agrees_with_phonenumbers(region: str) -> None:
    for raw in _random_inputs(20_000):
        assert _outcome(raw, region, slow=False) == _outcome(raw, region, slow=True), raw


@pytest.mark.parametrize(("value", "shown"), [
    ("+8613812345678", "+86 138****5678"),
    ("+862988123456", "+86 298****456"),
    ("+85291234567", "+852 91****67"),
    ("+12025550123", "+1 202****123"),
    ("+86123", "+86 ****"),
    ("13812345678", "138****5678"),
    ("12345", "1****5"),
    ("abc", "****"),
    ("", "****"),
])
def test_mask(value: str, shown: str) -> None:
    assert mask(value) == shown


@pytest.mark.parametrize("value", ["+8613812345678", "+447911123456", "oAbCdEfGh1234567890",
                                   "someone@example.com", "029-88123456", "+999123456789"])
def test_mask_never_shows_the_whole_value(value: str) -> None:
    shown = mask(value)
    assert "****" in shown
    assert value not in shown
    digits = "".join(c for c in value if c.isdigit())
    if len(digits) >= 8:
        assert digits[-8:] not in shown.replace(" ", "")
