"""Compiles the translation catalogs (``.po`` to ``.mo``) into the build; everything else
is in pyproject.toml. A source checkout (``pip install -e .``) compiles them in memory
on first use instead (see dispatcher.i18n)."""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithCatalogs(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        for source in Path(self.build_lib, "dispatcher", "locale").glob("*/LC_MESSAGES/*.po"):
            with source.open("rb") as handle:
                catalog = read_po(handle)
            with source.with_suffix(".mo").open("wb") as handle:
                write_mo(handle, catalog)


setup(cmdclass={"build_py": BuildWithCatalogs})
