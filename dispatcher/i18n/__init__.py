"""Translations: gettext catalogs (managed with Babel) and the locale of the current work.

Every string a planner, approver or operator reads goes through :func:`_` (or
:func:`ngettext`, :func:`pgettext` for a word whose meaning needs a context, such as a
delivery state). The catalogs live in ``dispatcher/i18n/locale/<locale>/LC_MESSAGES/`` as
``messages.po`` (committed; ``scripts/catalogs`` extracts and updates them) and
``messages.mo`` (compiled by the build; a source checkout compiles the ``.po`` in memory
on first use).

The locale is a context variable: the web app sets it per request (``?lang=``, the user's
remembered choice, ``Accept-Language``, then ``[web] locale``), ``dispatcher report
--lang`` sets it around a report, and it is English elsewhere (CLI help and operator
output may stay English). Machine names (states, channels, metrics in JSON, CSV headers
for machines, the API) are never translated.
"""

from __future__ import annotations

import gettext as _gettext
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
LOCALES = ("zh_CN", "en", "zh_TW")
DEFAULT_LOCALE = "zh_CN"
# What each locale is called in its own language: the dashboard's language choice.
LOCALE_NAMES = {"zh_CN": "简体中文", "en": "English", "zh_TW": "繁體中文"}
# The HTML ``lang`` of each locale: the script matters for fonts and screen readers.
HTML_LANG = {"zh_CN": "zh-Hans", "en": "en", "zh_TW": "zh-Hant"}

_current: ContextVar[str] = ContextVar("dispatcher_locale", default="en")
_TRADITIONAL = re.compile(r"^zh[-_](tw|hk|mo|hant)", re.IGNORECASE)


def normalise(tag: str | None) -> str | None:
    """``zh-CN``, ``zh_cn``, ``zh-Hans``, ``zh`` -> ``zh_CN``; ``zh-TW``, ``zh-HK``,
    ``zh-Hant`` -> ``zh_TW``; ``en``, ``en-US`` -> ``en``; anything else None."""
    if not tag:
        return None
    tag = tag.strip()
    if _TRADITIONAL.match(tag):
        return "zh_TW"
    low = tag.lower()
    if low == "zh" or low.startswith(("zh-", "zh_")):
        return "zh_CN"
    if low == "en" or low.startswith(("en-", "en_")):
        return "en"
    return None


def negotiate(accept_language: str | None) -> str | None:
    """The best of our locales for an ``Accept-Language`` header, or None."""
    if not accept_language:
        return None
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")[:32]):
        tag, _sep, params = part.partition(";")
        quality = 1.0
        match = re.search(r"q=([^;\s]*)", params)
        if match:
            try:
                quality = float(match.group(1))
            except ValueError:
                quality = 0.0
        locale = normalise(tag)
        if locale is not None and quality > 0:
            ranked.append((-quality, position, locale))
    return min(ranked)[2] if ranked else None


@cache
def translations(locale: str) -> _gettext.NullTranslations:
    """The compiled catalog of ``locale``; English (the message ids) for an unknown one."""
    if locale not in LOCALES or locale == "en":
        return _gettext.NullTranslations()
    folder = LOCALE_DIR / locale / "LC_MESSAGES"
    compiled = folder / f"{DOMAIN}.mo"
    source = folder / f"{DOMAIN}.po"
    if compiled.exists() and (not source.exists()
                              or compiled.stat().st_mtime >= source.stat().st_mtime):
        with compiled.open("rb") as handle:
            return _gettext.GNUTranslations(handle)
    return _gettext.GNUTranslations(io.BytesIO(compile_po(source)))


def compile_po(source: Path) -> bytes:
    """A ``.po`` file compiled to ``.mo`` bytes with Babel (fuzzy entries left out)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with source.open("rb") as handle:
        catalog = read_po(handle)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    return buffer.getvalue()


def current_locale() -> str:
    return _current.get()


def set_locale(locale: str) -> None:
    """Set the locale of the current context (a request's task, a CLI command)."""
    _current.set(locale if locale in LOCALES else DEFAULT_LOCALE)


@contextmanager
def use_locale(locale: str) -> Iterator[None]:
    token = _current.set(locale if locale in LOCALES else DEFAULT_LOCALE)
    try:
        yield
    finally:
        _current.reset(token)


def _(message: str) -> str:
    """``message`` in the current locale."""
    return translations(_current.get()).gettext(message)


gettext = _


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_current.get()).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """A short word whose meaning depends on ``context`` (``state``, ``channel``...)."""
    return translations(_current.get()).pgettext(context, message)


def npgettext(context: str, singular: str, plural: str, n: int) -> str:
    return translations(_current.get()).npgettext(context, singular, plural, n)


def N_(message: str) -> str:
    """Mark ``message`` for the catalogs without translating it now (translated where it
    is shown, with :func:`_`)."""
    return message
