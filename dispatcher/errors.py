"""Errors that reach the user: each one says what was wrong, where, and what is allowed."""

from __future__ import annotations

from channels.base import ConfigError

__all__ = ["ConfigError", "DatabaseUnavailable", "DispatcherError", "NotFoundError"]


class DispatcherError(Exception):
    """Base of every error the CLI prints as one line and exits with ``exit_code``."""

    exit_code = 1


class NotFoundError(DispatcherError):
    """A campaign, run or list named on the command line does not exist."""


class DatabaseUnavailable(DispatcherError):
    """The database cannot be used: its URL cannot be read, its driver is not installed,
    or it does not answer."""
