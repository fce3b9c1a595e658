"""Channel plugins found by entry point (group ``dispatcher.channels``), loaded lazily.

The core never imports a plugin module by name: a third-party package adds a channel by
declaring ``[project.entry-points."dispatcher.channels"] NAME = "module:Class"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from channels.base import Channel, ConfigError

GROUP = "dispatcher.channels"


@cache
def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def installed() -> list[str]:
    """Names of the installed channel plugins, sorted."""
    return sorted(_entry_points())


def channel_class(name: str) -> type[Channel]:
    """The plugin class for ``name``; KeyError when no such plugin is installed."""
    cls: type[Channel] = _entry_points()[name].load()
    return cls


def build_channels(channel_tables: Mapping[str, Mapping[str, Any]],
                   source: str | None = None) -> dict[str, Channel]:
    """Every installed channel: configured from its table, or unconfigured without one.

    Called at start, so a bad ``[channels.NAME]`` table stops the command at once with an
    error naming the file and key.
    """
    try:
        for name in channel_tables:
            if name not in installed():
                raise ConfigError(f"channels.{name}", "no channel plugin of that name is "
                                  "installed; installed: " + ", ".join(installed()))
        return {name: build_channel(name, channel_tables) for name in installed()}
    except ConfigError as exc:
        if exc.source is None and source is not None:
            raise ConfigError(exc.key, exc.message, source) from None
        raise


def build_channel(name: str, channel_tables: Mapping[str, Mapping[str, Any]]) -> Channel:
    """An instance configured from ``[channels.NAME]``; unconfigured when the table is absent
    (able to validate and plan, not to send: see the Channel protocol)."""
    try:
        cls = channel_class(name)
    except KeyError:
        raise ConfigError(f"channels.{name}", "no channel plugin of that name is installed; "
                          "installed: " + ", ".join(installed())) from None
    table = channel_tables.get(name)
    return cls() if table is None else cls.from_config(table)
