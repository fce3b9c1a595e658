"""A provider client built on first use, once, and shared by the engine's sending threads.

A channel builds its client lazily because building it reads the secrets: an unconfigured
or never-sending channel must not need them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Once(Generic[T]):
    """``get()`` calls ``build`` the first time only, even when threads ask at once."""

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._value: T | None = None
        self._lock = threading.Lock()

    def get(self) -> T:
        value = self._value
        if value is None:
            with self._lock:
                if self._value is None:
                    self._value = self._build()
                value = self._value
        return value
