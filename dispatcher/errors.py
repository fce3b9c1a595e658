"""Errors that reach the user: each one says what was wrong, where, and what is allowed."""

from __future__ import annotations

from channels.base import ConfigError

__all__ = ["ConfigError", "DatabaseUnavailable", "DispatcherError", "InvalidPhone", "NotFoundError"]


class DispatcherError(Exception):
    """Base of every error the CLI prints as one line and exits with ``exit_code``."""

    exit_code = 1


class NotFoundError(DispatcherError):
    """A campaign, run or list named on the command line does not exist."""


class DatabaseUnavailable(DispatcherError):
    """The database cannot be used: its URL cannot be read, its driver is not installed,
    or it does not answer."""


class InvalidPhone(ValueError):
    """The input is not a valid phone number; ``reason`` says why, in a few words.

    Raised by :mod:`dispatcher.audience.phones`; here so that CSV reading (below the
    audience in the layers) can report it as an invalid row."""

    def __init__(self, raw: str, reason: str) -> None:
        self.raw = raw
        self.reason = reason
        super().__init__(reason)
