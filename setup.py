"""Two build steps pyproject.toml cannot declare: the translation catalogs are compiled
(``.po`` to ``.mo``), and the drive's campaign file is copied into the package, so
``dispatcher demo`` finds it from any directory. A source checkout (``pip install -e .``)
compiles the catalogs in memory and reads ``campaigns/`` in place instead."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithCatalogsAndDrive(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        shipped = Path(self.build_lib, "dispatcher", "demo", "campaigns")
        shipped.mkdir(parents=True, exist_ok=True)
        shutil.copy2(Path("campaigns", "pingan-ding.toml"), shipped / "pingan-ding.toml")
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        locale = Path(self.build_lib, "dispatcher", "i18n", "locale")
        for source in locale.glob("*/LC_MESSAGES/*.po"):
            with source.open("rb") as handle:
                catalog = read_po(handle)
            with source.with_suffix(".mo").open("wb") as handle:
                write_mo(handle, catalog)


setup(cmdclass={"build_py": BuildWithCatalogsAndDrive})
