"""One row of an error-code table: what a code means and what an operator does about it.

The texts are English message ids marked with ``N_`` (extracted into the catalogs) and
translated only when :func:`dispatcher.error_codes.explain` is called, so a page shows
them in the request's language and the CLI in English.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import NamedTuple


class Code(NamedTuple):
    """``meaning``: what happened, for an operator. ``action``: what to do about it.
    ``retry``: whether requeueing the row ("retry failed") can help as things stand."""

    meaning: str
    action: str
    retry: bool = False


Table = Mapping[str, Code]

_SPACES = re.compile(r"\s+")


def key(code: str) -> str:
    """How a code is looked up: case and spaces ignored (WeChat writes ``failed: system
    failed`` and ``failed:user block``; a receipt may say ``Err(10001)``)."""
    return _SPACES.sub("", code).lower()


def keyed(table: Table) -> dict[str, Code]:
    """``table`` with its codes as :func:`key` makes them."""
    return {key(code): entry for code, entry in table.items()}
