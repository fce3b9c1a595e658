"""Checks shared by the channels' ``[channels.NAME]`` tables.

Each takes the table's ``fail(key, message)`` so the error names the channel's own key
(``channels.wechat.timeout: ...``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn, Protocol, TypeGuard
from urllib.parse import urlsplit

from channels.base import ConfigError, toml_value

Fail = Callable[[str, str], NoReturn]
MAX_TIMEOUT = 300.0  # seconds: a provider API call that takes longer has failed


class SecretValue(Protocol):
    """A credential from the config (``"env:NAME"``), read only when a client is built."""

    def reveal(self) -> str: ...


def failing(table: str) -> Fail:
    """The ``fail`` of the table ``table`` (``"channels.sms"``): a ConfigError naming the key."""
    def fail(key: str, message: str) -> NoReturn:
        raise ConfigError(f"{table}.{key}", message)

    return fail


def known_keys(table: Mapping[str, Any], allowed: Sequence[str], fail: Fail) -> None:
    """Fail on the first key of ``table`` that is not one of ``allowed``."""
    for key in table:
        if key not in allowed:
            fail(key, "unknown key; allowed: " + ", ".join(allowed))


def is_int(value: Any) -> bool:
    """An integer that is not a boolean (TOML ``true`` is an int in Python)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_secret(value: Any) -> TypeGuard[SecretValue]:
    return callable(getattr(value, "reveal", None))


def secret(value: Any, key: str, fail: Fail, advice: str) -> SecretValue:
    """A credential given as a reference (``"env:NAME"``); else ``fail`` with ``advice``."""
    if not is_secret(value):
        fail(key, advice)
    return value


def api_base(value: Any, fail: Fail, example: str) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        fail("api_base", f'must be an http or https URL such as "{example}", '
                         f"got {toml_value(value)}")
    return str(value).rstrip("/")


def positive_number(value: Any, key: str, fail: Fail, what: str, most: float | None = None
                    ) -> float:
    """``what`` completes "must be a positive number of ...": "segments per second, such
    as 10"."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not number or not math.isfinite(value) or value <= 0 or (most and value > most):
        limit = f" (at most {most:g})" if most else ""
        fail(key, f"must be a positive number of {what}{limit}, got {toml_value(value)}")
    return float(value)


def timeout(value: Any, fail: Fail) -> float:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not number or not math.isfinite(value) or not 0 < value <= MAX_TIMEOUT:
        fail("timeout", f"must be a number of seconds above 0 and at most {MAX_TIMEOUT:g}, "
                        f"such as 10, got {toml_value(value)}")
    return float(value)


def integer(value: Any, key: str, fail: Fail, most: int | None) -> int:
    if not is_int(value) or value < 1 or (most is not None and value > most):
        allowed = f"an integer from 1 to {most}" if most else "a positive integer"
        fail(key, f"must be {allowed}, got {toml_value(value)}")
    return int(value)


def boolean(value: Any, key: str, fail: Fail) -> bool:
    if not isinstance(value, bool):
        fail(key, f"must be true or false, got {toml_value(value)}")
    return value
