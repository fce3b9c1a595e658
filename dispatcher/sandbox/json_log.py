"""A sandbox's log of what it accepted: JSON objects appended to a file, one a line."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from typing import IO, Any


class JsonLinesLog:
    """Appends from any thread, flushed at once (a test or a person reads it while the
    sandbox runs); without a path it writes nothing."""

    def __init__(self, path: str | None) -> None:
        self._lock = threading.Lock()
        self._file: IO[str] | None = (open(path, "a", encoding="utf-8")  # noqa: SIM115
                                      if path else None)

    def write(self, items: Iterable[Mapping[str, Any]]) -> None:
        with self._lock:
            if self._file is not None:
                self._file.writelines(json.dumps(item, ensure_ascii=False) + "\n"
                                      for item in items)
                self._file.flush()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
