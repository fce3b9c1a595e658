"""The ``dispatcher`` command: a thin face over the core functions."""

from __future__ import annotations

import sys
from typing import Any

import click

from dispatcher.cli import (
    campaign,
    cinemas,
    contacts,
    database,
    demo,
    logs,
    optout,
    reach,
    report,
    run,
    sandbox,
    schedule,
    screens,
    serve,
    status,
    users,
    worker,
)
from dispatcher.context import AppContext
from dispatcher.errors import ConfigError, DispatcherError


class _Group(click.Group):
    """Prints user errors as one line (``error: ...``) instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (DispatcherError, ConfigError) as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              envvar="DISPATCHER_CONFIG", help="config.toml to use (default: ./config.toml).")
@click.version_option(package_name="publicity-dispatcher")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """Multi-channel publicity campaign dispatcher: plan, send and report reach."""
    ctx.obj = AppContext(config_path=config_path)


for module in (campaign, cinemas, contacts, database, demo, logs, optout, reach, report, run,
               sandbox, schedule, screens, serve, status, users, worker):
    for command in module.COMMANDS:
        main.add_command(command)
for command in run.LIFECYCLE:
    campaign.campaign.add_command(command)
