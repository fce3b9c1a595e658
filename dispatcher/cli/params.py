"""Option types that refuse what click's own let through."""

from __future__ import annotations

import math
from typing import Any

import click


class FloatRange(click.FloatRange):
    """click's FloatRange that also refuses ``nan``: nan compares false with every bound,
    so click passes it on, and ``timedelta(seconds=nan)`` fails far from the option."""

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if isinstance(number, float) and math.isnan(number):
            self.fail(f"{value!r} is not a number; allowed: {self._describe_range()}",
                      param, ctx)
        return number


class Language(click.ParamType):  # type: ignore[type-arg]  # generic from click 8.3
    """A language people read: ``zh-CN``, ``zh_TW``, ``en-US``... -> the locale name
    (``zh_CN``, ``zh_TW``, ``en``); anything else is refused with the choices."""

    name = "zh-CN|zh-TW|en"

    def __init__(self, of: str) -> None:
        self.of = of  # "the report": what the language is for, in the refusal

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        from dispatcher.i18n import normalise

        locale = normalise(str(value))
        if locale is None:
            self.fail(f"{value!r} is not a language of {self.of}; use zh-CN (简体中文), "
                      "zh-TW (繁體中文) or en (English)", param, ctx)
        return locale
