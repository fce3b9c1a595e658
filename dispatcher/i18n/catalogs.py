"""Keeping the translation catalogs: extract the strings, merge them into each locale.

``python -m dispatcher.i18n.catalogs`` (what ``scripts/catalogs`` runs) extracts every string
marked in the Python code and the Jinja2 templates into ``dispatcher/i18n/locale/messages.pot``
and merges it into the ``zh_CN``, ``en`` and ``zh_TW`` catalogs: new strings arrive
untranslated, strings no longer used are dropped. The completeness test extracts the
same way and fails on any string ``zh_CN`` or ``zh_TW`` lacks.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from dispatcher.i18n import DOMAIN, LOCALE_DIR, LOCALES

ROOT = Path(__file__).resolve().parents[2]
# Where strings are marked, and how: Python modules and the dashboard's templates.
METHOD_MAP = [("dispatcher/**.py", "python"), ("channels/**.py", "python"),
              ("dispatcher/web/templates/**.html", "jinja2")]
OPTIONS_MAP = {"dispatcher/web/templates/**.html": {"extensions": "jinja2.ext.i18n",
                                                    "newstyle_gettext": "true"}}
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2),
            "npgettext": ((1, "c"), 2, 3), "N_": None, "L_": ((1, "c"), 2)}
HEADER = ("# The dashboard's, reports' and exports' words for people.\n"
          "# Updated by scripts/catalogs; translate the empty msgstr lines.")
SKIP = ("dispatcher/sandbox/", "dispatcher/i18n/catalogs.py")  # simulators speak to programs


def extract() -> Catalog:
    """Every marked string of the project, with the files it comes from."""
    catalog = Catalog(project="publicity-dispatcher", charset="utf-8")
    for filename, lineno, message, comments, context in extract_from_dir(
            ROOT, METHOD_MAP, OPTIONS_MAP, keywords=KEYWORDS, comment_tags=("TRANSLATORS:",),
            strip_comment_tags=True):
        if filename.startswith(SKIP):
            continue
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments,
                    context=context)
    return catalog


def po_path(locale: str) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def load(locale: str) -> Catalog:
    with po_path(locale).open("rb") as handle:
        return read_po(handle, locale=locale)


def update() -> None:
    template = extract()
    LOCALE_DIR.mkdir(exist_ok=True)
    _write(LOCALE_DIR / f"{DOMAIN}.pot", template)
    for locale in LOCALES:
        path = po_path(locale)
        if path.exists():
            catalog = load(locale)
            catalog.update(template, no_fuzzy_matching=True)
            catalog.obsolete.clear()
        else:
            catalog = Catalog(locale=locale, project="publicity-dispatcher", charset="utf-8")
            catalog.update(template, no_fuzzy_matching=True)
        catalog.fuzzy = False  # the header: a fuzzy header hides the plural rule
        catalog.header_comment = HEADER
        path.parent.mkdir(parents=True, exist_ok=True)
        _write(path, catalog)
        missing = sum(1 for m in catalog if m.id and not m.string)
        print(f"{locale}: {len(catalog)} strings, {missing} untranslated")


def _write(path: Path, catalog: Catalog) -> None:
    with path.open("wb") as handle:
        write_po(handle, catalog, omit_header=False, no_location=True, width=100,
                 sort_output=True)


if __name__ == "__main__":
    update()
    sys.exit(0)
