"""Amounts as a district office states them in a summary: 320万余, 10万余, 500余.

A summary rounds a gross count down and says "more than": from 10,000 up to the 万
(ten thousand), from 100 up to the hundred; below 100 it is exact. Chinese groups the
digits by 万 and 亿 (100 million), English by thousands ("3,200,000+"). The unit words
and the "more than" mark are catalog strings with the context ``amount``, so 万/萬,
亿/億 and 余/餘 follow the locale of the report instead of being written into the code.
"""

from __future__ import annotations

from dispatcher.i18n import current_locale, pgettext

MYRIAD = 10_000
HUNDRED_MILLION = 100_000_000


def rounded_down(value: int) -> int:
    """``value`` to the precision a summary states (3,215,432 -> 3,210,000; 517 -> 500)."""
    if value >= MYRIAD:
        return value - value % MYRIAD
    if value >= 100:
        return value - value % 100
    return value


def approximate(value: int) -> str:
    """``value`` rounded down, with the locale's "more than" mark when something was cut:
    321万余 / 321萬餘 / 3,210,000+; an exact 3,200,000 reads 320万 / 3,200,000."""
    shown = rounded_down(value)
    text = grouped(shown)
    if shown == value:
        return text
    return pgettext("amount", "{amount}+").format(amount=text)


def grouped(value: int) -> str:
    """An exact amount in the locale's grouping: 1亿2345万 (Chinese, whole 万 only),
    1900 (Chinese below 万), 123,450,000 (English)."""
    if not current_locale().startswith("zh"):
        return f"{value:,}"
    if value < MYRIAD or value % MYRIAD:
        return str(value)
    hundred_millions, rest = divmod(value, HUNDRED_MILLION)
    parts = []
    if hundred_millions:
        parts.append(pgettext("amount", "{count} × 100,000,000").format(
            count=hundred_millions))
    if rest:
        parts.append(pgettext("amount", "{count} × 10,000").format(count=rest // MYRIAD))
    return "".join(parts)
