"""The ``dispatcher`` command: a thin face over the core functions."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from dispatcher.cli import failures
from dispatcher.context import AppContext
from dispatcher.errors import ConfigError, DispatcherError

# Command name -> the module of dispatcher.cli that defines it (in its COMMANDS), imported
# when the command is used: `dispatcher worker` does not load the web app or the sandboxes.
COMMAND_MODULES = {
    "campaign": "campaign", "cinemas": "cinemas", "showtimes": "cinemas",
    "contacts": "contacts", "db": "database", "demo": "demo", "failures": "failure_codes",
    "logs": "logs",
    "optout": "optout", "reach": "reach", "report": "report", "run": "run", "retry": "run",
    "sandbox": "sandbox", "schedule": "schedule", "screens": "screens", "serve": "serve",
    "status": "status", "user": "users", "worker": "worker",
}


class _Group(click.Group):
    """Loads commands on first use; prints user errors as one line (``error: ...``)
    instead of a traceback, and anything else as one line too (see failures)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMAND_MODULES)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        module_name = COMMAND_MODULES.get(name)
        if module_name is None:
            return None
        module = importlib.import_module(f"dispatcher.cli.{module_name}")
        commands: list[click.Command] = module.COMMANDS
        return next(command for command in commands if command.name == name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (DispatcherError, ConfigError) as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.Abort):
            raise  # click prints these itself (usage errors, --help, Ctrl-C)
        except Exception as exc:
            if failures.debugging():
                raise
            sys.exit(failures.report(exc, _database_url(ctx)))


def _database_url(ctx: click.Context) -> str | None:
    """The database URL, if the command got as far as reading the config."""
    app = ctx.obj
    return app.database_url if isinstance(app, AppContext) else None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              envvar="DISPATCHER_CONFIG", help="config.toml to use (default: ./config.toml).")
@click.version_option(package_name="publicity-dispatcher")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """Multi-channel publicity campaign dispatcher: plan, send and report reach."""
    ctx.obj = AppContext(config_path=config_path)
