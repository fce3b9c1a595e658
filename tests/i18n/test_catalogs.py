"""The translation catalogs are complete, compile, and keep every placeholder.

Strings are extracted exactly as ``scripts/catalogs`` does; a string marked in the code
or a template that ``zh_CN`` (or ``zh_TW``) lacks, leaves empty or marks fuzzy fails here
with its text, so a page never shows English to a Chinese user by accident.
"""

from __future__ import annotations

import re

import pytest
from babel.messages.catalog import Catalog, Message

from dispatcher import i18n
from dispatcher.i18n import catalogs

PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\w*\}")


@pytest.fixture(scope="module")
def extracted() -> Catalog:
    return catalogs.extract()


def _key(message: Message) -> tuple[str, str | None]:
    msgid = message.id if isinstance(message.id, str) else message.id[0]
    return msgid, message.context


@pytest.mark.parametrize("locale", ["zh_CN", "zh_TW"])
def test_every_marked_string_is_translated(extracted: Catalog, locale: str) -> None:
    catalog = catalogs.load(locale)
    missing = []
    for message in extracted:
        if not message.id:
            continue
        found = catalog.get(message.id, message.context)
        strings = [] if found is None else (
            list(found.string) if isinstance(found.string, tuple) else [found.string])
        if found is None or found.fuzzy or not all(strings):
            missing.append(_key(message))
    assert not missing, (f"{len(missing)} string(s) without a {locale} translation "
                         f"(run scripts/catalogs, then translate): {missing[:20]}")


@pytest.mark.parametrize("locale", i18n.LOCALES)
def test_translations_keep_their_placeholders(locale: str) -> None:
    catalog = catalogs.load(locale)
    wrong = []
    for message in catalog:
        if not message.id or not message.string:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set(PLACEHOLDER.findall(ids[0]))
        for string in strings:
            if string and set(PLACEHOLDER.findall(string)) != wanted:
                wrong.append((ids[0], string))
    assert not wrong, wrong[:10]


@pytest.mark.parametrize("locale", i18n.LOCALES)
def test_catalogs_compile(locale: str) -> None:
    if locale != "en":
        assert i18n.compile_po(catalogs.po_path(locale))


def test_a_string_is_translated_in_the_locale_of_its_context() -> None:
    with i18n.use_locale("zh_CN"):
        chinese = i18n._("Campaigns")
    with i18n.use_locale("zh_TW"):
        traditional = i18n._("Campaigns")
    with i18n.use_locale("en"):
        english = i18n._("Campaigns")
    assert english == "Campaigns"
    assert chinese != english and traditional != english and chinese != traditional


@pytest.mark.parametrize(("header", "expected"), [
    ("zh-CN,zh;q=0.9,en;q=0.8", "zh_CN"), ("en-US,en;q=0.9", "en"),
    ("zh-TW", "zh_TW"), ("zh-Hant-HK;q=1", "zh_TW"), ("zh-Hans", "zh_CN"),
    ("fr-FR,en;q=0.5", "en"), ("fr-FR", None), ("", None), ("en;q=0,zh;q=0.1", "zh_CN"),
    ("en;q=abc,zh-HK", "zh_TW"),
])
def test_accept_language_picks_the_best_of_our_locales(header: str,
                                                       expected: str | None) -> None:
    assert i18n.negotiate(header) == expected
