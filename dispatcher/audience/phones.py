"""Phone numbers: E.164 normalisation with the line type, and masking for logs and screens.

``normalize`` runs once per imported row (millions of times), so the common shapes
(``13812345678``, ``138 1234 5678``, ``+86 138-1234-5678``) take a fast path: the
separators are dropped and the national number is checked directly against the
region's numbering-plan patterns from ``phonenumbers``, in the same order as
``phonenumbers.number_type``. Anything the fast path cannot prove it reads exactly as
``phonenumbers.parse`` would (letters, full-width digits, a national or international
prefix, a carrier code, a foreign country code, an invalid number) goes through
``phonenumbers`` itself, which also words the reason for an invalid number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType, ValidationResult

from dispatcher.errors import InvalidPhone

__all__ = ["Normalized", "line_type_name", "mask", "normalize"]


class Normalized(NamedTuple):
    e164: str  # "+8613812345678"
    line_type: str  # "mobile", "fixed_line", "fixed_line_or_mobile", "voip", ...


_TYPE_NAMES: dict[int, str] = {
    value: name.lower() for name, value in vars(PhoneNumberType).items()
    if name.isupper() and isinstance(value, int)
}


def line_type_name(number_type: int) -> str:
    """``PhoneNumberType.MOBILE`` -> ``"mobile"``."""
    return _TYPE_NAMES.get(number_type, "unknown")


def normalize(raw: str, region: str) -> Normalized:
    """E.164 form and line type of ``raw``, read as dialled in ``region`` (e.g. "CN").

    Raises InvalidPhone with a short reason ("not a phone number", "too short",
    "not a valid number for region CN", ...).
    """
    fast = _fast_region(region)
    if fast is not None:
        national = fast.national_number(raw)
        if national is not None:
            number_type = fast.number_type(national)
            if number_type != PhoneNumberType.UNKNOWN:
                return Normalized(fast.plus_code + national, _TYPE_NAMES[number_type])
    return _normalize_slow(raw, region)


def _normalize_slow(raw: str, region: str) -> Normalized:
    """The full ``phonenumbers`` path; also the reference the fast path is tested against."""
    text = raw.strip()
    if not text:
        raise InvalidPhone(raw, "empty")
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        raise InvalidPhone(raw, _PARSE_REASONS.get(exc.error_type, "not a phone number")) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone(raw, _invalid_reason(number))
    return Normalized(
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        line_type_name(phonenumbers.number_type(number)),
    )


_PARSE_REASONS = {
    NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
    NumberParseException.NOT_A_NUMBER: "not a phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "too short after the international prefix",
    NumberParseException.TOO_SHORT_NSN: "too short",
    NumberParseException.TOO_LONG: "too long",
}


def _invalid_reason(number: phonenumbers.PhoneNumber) -> str:
    result = phonenumbers.is_possible_number_with_reason(number)
    number_region = phonenumbers.region_code_for_country_code(number.country_code or 0)
    if result == ValidationResult.INVALID_COUNTRY_CODE:
        return f"unknown country code +{number.country_code}"
    if result == ValidationResult.TOO_SHORT:
        return "too short"
    if result == ValidationResult.IS_POSSIBLE_LOCAL_ONLY:
        return "too short: a local number without its area code"
    if result == ValidationResult.TOO_LONG:
        return "too long"
    if result == ValidationResult.INVALID_LENGTH:
        return f"wrong number of digits for region {number_region}"
    return f"not a valid number for region {number_region}"


_SEPARATORS = str.maketrans("", "", " -.()\t/")


@dataclass(frozen=True)
class _FastRegion:
    """The precompiled patterns of one region whose country code is its own."""

    country_code: str  # "86"
    plus_code: str  # "+86"
    international_prefix: re.Pattern[str] | None
    national_prefix: re.Pattern[str] | None
    # (PhoneNumberType, possible lengths or empty for any, pattern) in number_type's order
    general: tuple[frozenset[int], re.Pattern[str]]
    specific: tuple[tuple[int, frozenset[int], re.Pattern[str]], ...]
    fixed_line: tuple[frozenset[int], re.Pattern[str]] | None
    mobile: tuple[frozenset[int], re.Pattern[str]] | None
    same_mobile_and_fixed_line: bool

    def national_number(self, raw: str) -> str | None:
        """The national significant number, or None when only phonenumbers can tell."""
        if raw.isdigit() and raw.isascii():
            text = raw  # the common case, already clean
        else:
            text = raw.strip().translate(_SEPARATORS)
            if not text.isascii():
                return None
        if text.startswith("+"):
            if not text.startswith(self.plus_code):
                return None
            national = text[len(self.plus_code):]
        else:
            if text.startswith(self.country_code):
                return None
            if self.international_prefix is not None and self.international_prefix.match(text):
                return None
            national = text
        if (not national.isdigit() or national[0] == "0" or not 2 <= len(national) <= 17
                or (self.national_prefix is not None and self.national_prefix.match(national))):
            return None
        return national

    def number_type(self, national: str) -> int:
        """Mirrors phonenumbers' ``_number_type_helper`` for this region."""
        if not _matches(national, self.general):
            return PhoneNumberType.UNKNOWN
        for number_type, lengths, pattern in self.specific:
            if (not lengths or len(national) in lengths) and pattern.fullmatch(national):
                return number_type
        if self.fixed_line is not None and _matches(national, self.fixed_line):
            if self.same_mobile_and_fixed_line or (
                    self.mobile is not None and _matches(national, self.mobile)):
                return PhoneNumberType.FIXED_LINE_OR_MOBILE
            return PhoneNumberType.FIXED_LINE
        if (not self.same_mobile_and_fixed_line and self.mobile is not None
                and _matches(national, self.mobile)):
            return PhoneNumberType.MOBILE
        return PhoneNumberType.UNKNOWN


def _matches(national: str, desc: tuple[frozenset[int], re.Pattern[str]]) -> bool:
    lengths, pattern = desc
    return (not lengths or len(national) in lengths) and pattern.fullmatch(national) is not None


_SPECIFIC_TYPES = (
    ("premium_rate", PhoneNumberType.PREMIUM_RATE),
    ("toll_free", PhoneNumberType.TOLL_FREE),
    ("shared_cost", PhoneNumberType.SHARED_COST),
    ("voip", PhoneNumberType.VOIP),
    ("personal_number", PhoneNumberType.PERSONAL_NUMBER),
    ("pager", PhoneNumberType.PAGER),
    ("uan", PhoneNumberType.UAN),
    ("voicemail", PhoneNumberType.VOICEMAIL),
)


def _desc(desc: Any) -> tuple[frozenset[int], re.Pattern[str]] | None:
    if desc is None or not desc.national_number_pattern:
        return None
    return frozenset(desc.possible_length or ()), re.compile(desc.national_number_pattern)


def _optional_pattern(pattern: str | None) -> re.Pattern[str] | None:
    return re.compile(pattern) if pattern else None


@lru_cache(maxsize=32)
def _fast_region(region: str) -> _FastRegion | None:
    """Patterns for ``region``, or None when its country code is shared (e.g. +1)."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region.upper())
    if metadata is None:
        return None
    code = metadata.country_code
    if code is None or phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code) != (region.upper(),):
        return None
    general = _desc(metadata.general_desc)
    if general is None:
        return None
    specific = []
    for attribute, number_type in _SPECIFIC_TYPES:
        desc = _desc(getattr(metadata, attribute))
        if desc is not None:
            specific.append((number_type, *desc))
    return _FastRegion(
        country_code=str(code),
        plus_code=f"+{code}",
        international_prefix=_optional_pattern(metadata.international_prefix),
        national_prefix=_optional_pattern(metadata.national_prefix_for_parsing),
        general=general,
        specific=tuple(specific),
        fixed_line=_desc(metadata.fixed_line),
        mobile=_desc(metadata.mobile),
        same_mobile_and_fixed_line=bool(metadata.same_mobile_and_fixed_line_pattern),
    )


_HIDDEN = "****"


def mask(value: str) -> str:
    """``+8613812345678`` -> ``+86 138****5678``; anything else is masked too, never shown whole.

    The hidden part is always four stars, so the mask does not tell the length.
    """
    text = value.strip()
    if text.startswith("+") and text[1:].isdigit() and text.isascii():
        code, national = _split_country_code(text[1:])
        return f"+{code} {_mask_digits(national)}" if code else _mask_digits(text[1:])
    return _mask_digits(text)


def _split_country_code(digits: str) -> tuple[str, str]:
    for length in (1, 2, 3):
        code = digits[:length]
        if int(code or 0) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return code, digits[length:]
    return "", digits


def _mask_digits(text: str) -> str:
    """Keep at most 3 leading and 4 trailing characters; at least 4 stay hidden."""
    n = len(text)
    if n >= 11:
        head, tail = 3, 4
    elif n == 10:
        head, tail = 3, 3
    elif n >= 8:
        head, tail = 2, 2
    elif n >= 5:
        head, tail = 1, 1
    else:
        return _HIDDEN
    return f"{text[:head]}{_HIDDEN}{text[n - tail:]}"
