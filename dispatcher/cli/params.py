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
