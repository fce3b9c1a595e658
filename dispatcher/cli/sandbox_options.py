"""The options ``dispatcher sandbox`` commands share, each declared once.

Every factory returns one decorator for a family of options (listening, seed, faults,
the venue simulators' clock and run); a command's own words go in as arguments, so its
``--help`` says "create requests" or "notice requests" as before.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])
Decorator = Callable[[F], F]

RATE = click.FloatRange(0, 1)
PORT = click.IntRange(1, 65535)
PORT_OR_FREE = click.IntRange(0, 65535)  # 0: a free port
KEEP_LOOPBACK = "Address to bind. Keep loopback: the sandbox has no real security."


def stacked(*decorators: Callable[[Any], Any]) -> Callable[[F], F]:
    """Apply ``decorators`` as if written one above the other in this order."""

    def apply(function: F) -> F:
        for decorator in reversed(decorators):
            function = decorator(function)
        return function

    return apply


def listen(port: int, port_help: str, host_help: str = KEEP_LOOPBACK,
           port_type: click.IntRange = PORT) -> Callable[[F], F]:
    """``--port`` and ``--host``."""
    return stacked(
        click.option("--port", type=port_type, default=port, show_default=True,
                     help=port_help),
        click.option("--host", default="127.0.0.1", show_default=True, help=host_help))


def seed(help_text: str) -> Callable[[F], F]:
    return click.option("--seed", type=int, default=0, show_default=True, help=help_text)


def rate(name: str, help_text: str) -> Callable[[F], F]:
    """A fraction of 0 to 1, 0 by default (``--error-rate``, ``--drop-rate``, ...)."""
    return click.option(name, type=RATE, default=0.0, show_default=True, help=help_text)


def latency(answer: str) -> Callable[[F], F]:
    return click.option("--latency-ms", type=click.FloatRange(min=0), default=0.0,
                        show_default=True,
                        help=f"Delay every {answer} by this many milliseconds.")


def timeouts(rate_help: str, answer: str) -> Callable[[F], F]:
    """``--timeout-rate`` and ``--timeout-delay``: taken, answered only much later."""
    return stacked(
        rate("--timeout-rate", rate_help),
        click.option("--timeout-delay", type=click.FloatRange(min=0), default=30.0,
                     show_default=True,
                     help=f"Seconds a --timeout-rate {answer} is held back."))


def throttle(requests: str, answer: str, without: str) -> Callable[[F], F]:
    """``--throttle-every`` and ``--throttle-burst``: bursts of 429s (see
    :func:`check_throttle`)."""
    return stacked(
        click.option("--throttle-every", type=click.IntRange(min=0), default=0,
                     show_default=True,
                     help=f"After every N {requests}, answer the next --throttle-burst "
                          f"ones {answer} without {without}. 0: never."),
        click.option("--throttle-burst", type=click.IntRange(min=0), default=0,
                     show_default=True,
                     help=f"How many {requests} each throttle burst refuses."))


def max_rate(help_text: str) -> Callable[[F], F]:
    return click.option("--max-rate", type=click.FloatRange(min=0, min_open=True),
                        default=None, help=help_text)


def dispatcher_url(help_text: str) -> Callable[[F], F]:
    return click.option("--dispatcher", "dispatcher_url", required=True, metavar="URL",
                        help=help_text)


def _moment(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    """An ISO 8601 date-time option (``Z`` or an offset; UTC when it has none)."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO date-time, e.g. "
                                 "2026-03-02T02:00:00Z") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def sim_clock(start_help: str) -> Callable[[F], F]:
    """``--time-scale``, ``--start`` and ``--until`` of a venue simulator's fast clock."""
    return stacked(
        click.option("--time-scale", type=click.FloatRange(min=0, min_open=True),
                     default=3600.0, show_default=True,
                     help="Simulated seconds per real second."),
        click.option("--start", callback=_moment, metavar="DATETIME", help=start_help),
        click.option("--until", callback=_moment, metavar="DATETIME",
                     help="Simulated time at which the clock stands still (default: never)."))


def report_every(default: float, help_text: str) -> Callable[[F], F]:
    return click.option("--report-every", type=click.FloatRange(min=0, min_open=True),
                        default=default, show_default=True, help=help_text)


def max_batch(help_text: str) -> Callable[[F], F]:
    return click.option("--max-batch", type=click.IntRange(min=1), default=500,
                        show_default=True, help=help_text)


def workers(default: int, help_text: str) -> Callable[[F], F]:
    return click.option("--workers", type=click.IntRange(min=1), default=default,
                        show_default=True, help=help_text)


def run_for() -> Callable[[F], F]:
    """``--duration`` and ``--stats-every`` of a simulator that runs on its own."""
    return stacked(
        click.option("--duration", type=click.FloatRange(min=0, min_open=True),
                     help="Stop after this many real seconds (default: run until Ctrl-C)."),
        click.option("--stats-every", type=click.FloatRange(min=0), default=0.0,
                     show_default=True, help="Print the stats as a JSON line on stderr "
                                             "every so many seconds (0: never)."))


def check_throttle(every: int, burst: int) -> None:
    if (every > 0) != (burst > 0):
        raise click.UsageError("give --throttle-every and --throttle-burst together")


def secret_from(variable: str, what: str, flag: str) -> str:
    """The value of the environment ``variable`` naming a secret, or a usage error."""
    secret = os.environ.get(variable, "")
    if not secret:
        raise click.UsageError(f"set the environment variable {variable} to {what} (or "
                               f"name another with {flag})")
    return secret


@contextmanager
def usage_errors(kinds: tuple[type[Exception], ...] = (ValueError,)) -> Iterator[None]:
    """Options the simulator refuses (``ValueError``, ...) are usage errors."""
    try:
        yield
    except kinds as exc:
        raise click.UsageError(str(exc)) from None
