"""``dispatcher user``: people who use the web app and the REST API, their roles, their
names as pages show them (display name, department), their API tokens, and disabling
them. Times are shown in config's time zone, named in the column header."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime

import click
from click.decorators import FC

from dispatcher.accounts.users import (
    ROLES,
    TokenInfo,
    User,
    add_user,
    create_token,
    disable_user,
    enable_user,
    list_accounts,
    list_tokens,
    revoke_tokens,
    set_profile,
    set_role,
)
from dispatcher.approval.lifecycle import default_actor
from dispatcher.cli.output import local_time, print_json, print_table, time_header
from dispatcher.context import AppContext
from dispatcher.errors import DispatcherError


def by_option(kept: str) -> Callable[[FC], FC]:
    return click.option("--by", default=default_actor, show_default="your login name",
                        help=f"Who is doing this (kept with {kept}).")


@click.group()
def user() -> None:
    """Users of the web app and the REST API: planner, approver, operator or admin."""


def profile_options(command: FC) -> FC:
    """--display-name and --department, shared by `user add` and `user set`."""
    command = click.option("--department", metavar="TEXT",
                           help="The department the user works in, such as 宣传科 "
                                "(1-64 characters; an empty value clears it).")(command)
    return click.option("--display-name", metavar="TEXT",
                        help="The name pages show beside the user name, such as 王小明 "
                             "(1-64 characters; an empty value clears it).")(command)


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True,
              help="planner: reads (numbers masked); approver: also approves; operator: "
                   "reads full numbers, pauses, resumes, cancels, retries; admin: all.")
@profile_options
@click.option("--password-stdin", is_flag=True,
              help="Read the password from standard input instead of prompting.")
@click.pass_obj
def add(app: AppContext, name: str, role: str, display_name: str | None,
        department: str | None, password_stdin: bool) -> None:
    """Add user NAME with a role and a password (at least 10 characters).

    NAME is what the user signs in with: 1-64 letters of any script (王小明, wang.xm),
    digits, _ . or -, starting with a letter or digit.
    """
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    added = add_user(app.engine, name, role, password, display_name, department)
    click.echo(f"user {added.name} added with role {added.role}{_profile(added)}")


@user.command("set")
@click.argument("name")
@profile_options
@click.pass_obj
def set_(app: AppContext, name: str, display_name: str | None,
         department: str | None) -> None:
    """Change user NAME's display name or department (what pages show beside NAME).

    Sessions go on; the role changes with `dispatcher user role`."""
    changed = set_profile(app.engine, name, display_name, department)
    click.echo(f"user {changed.name}{_profile(changed) or ': no display name or department'}")


def _profile(found: User) -> str:
    parts = [f"display name {found.display_name}" if found.display_name else "",
             f"department {found.department}" if found.department else ""]
    shown = ", ".join(part for part in parts if part)
    return f": {shown}" if shown else ""


@user.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def list_(app: AppContext, as_json: bool) -> None:
    """List the users: display name, department, role, and who disabled whom when.

    --json keys: name, role, disabled, disabled_at (ISO 8601), disabled_by,
    display_name, department."""
    found = list_accounts(app.engine)
    if as_json:
        print_json([asdict(account) for account in found])
        return
    zone = app.config.timezone
    print_table(["user", "display name", "department", "role",
                 time_header("disabled", zone)],
                [[a.name, a.display_name, a.department, a.role,
                  _disabled(a.disabled, a.disabled_at, a.disabled_by, zone)]
                 for a in found], title="users")


@user.command("role")
@click.argument("name")
@click.argument("role", type=click.Choice(ROLES))
@click.pass_obj
def role(app: AppContext, name: str, role: str) -> None:
    """Give user NAME another ROLE (their sessions end: they sign in again)."""
    set_role(app.engine, name, role)
    click.echo(f"user {name} now has role {role}")


@user.command("disable")
@click.argument("name")
@by_option("the user, shown by `dispatcher user list`")
@click.pass_obj
def disable(app: AppContext, name: str, by: str) -> None:
    """Disable user NAME: their sessions end and their API tokens answer 401 at once,
    and they cannot sign in, until `dispatcher user enable NAME`."""
    if disable_user(app.engine, name, by):
        click.echo(f"user {name} disabled by {by}: sessions ended, API tokens refused")
    else:
        click.echo(f"user {name} was disabled already")


@user.command("enable")
@click.argument("name")
@click.pass_obj
def enable(app: AppContext, name: str) -> None:
    """Enable user NAME again: they may sign in, and their API tokens that were not
    revoked work again (revoke them first with `dispatcher user token NAME
    --revoke-all` if they must not)."""
    if enable_user(app.engine, name):
        click.echo(f"user {name} enabled")
    else:
        click.echo(f"user {name} was not disabled")


@user.command("token")
@click.argument("name")
@click.option("--label", help="What the token is for, to tell it apart later (default: api).")
@click.option("--revoke", "selector", metavar="LABEL|ID|PREFIX",
              help="Revoke the active token with this label, id or prefix (as `dispatcher "
                   "user tokens NAME` lists them) instead of creating one.")
@click.option("--revoke-all", is_flag=True, help="Revoke every active token of NAME.")
@by_option("a revoked token, shown by `dispatcher user tokens`")
@click.pass_obj
def token(app: AppContext, name: str, label: str | None, selector: str | None,
          revoke_all: bool, by: str) -> None:
    """Create an API token for NAME (printed once; use it as `Authorization: Bearer`),
    or revoke tokens: a revoked token answers 401 at once.

    A user may hold several tokens: make the new one, move the client to it, then revoke
    the old one by its label."""
    if selector is not None or revoke_all:
        if label is not None or (selector is not None and revoke_all):
            raise DispatcherError("use one of --label (to create a token), --revoke LABEL "
                                  "or --revoke-all")
        revoked = revoke_tokens(app.engine, name, None if revoke_all else selector, by)
        for found in revoked:
            click.echo(f"revoked token {found.id} of {name}: {found.label} ({_prefix(found)})")
        if not revoked:
            click.echo(f"user {name} has no active API tokens")
        return
    click.echo(create_token(app.engine, name, "api" if label is None else label))


@user.command("tokens")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def tokens(app: AppContext, name: str, as_json: bool) -> None:
    """List NAME's API tokens: label, start of the token, created, last used, revoked
    (never the token itself: it is not stored)."""
    found = list_tokens(app.engine, name)
    if as_json:
        print_json([asdict(t) for t in found])
        return
    zone = app.config.timezone
    print_table(["id", "label", "token", time_header("created", zone),
                 time_header("last used", zone), time_header("revoked", zone)],
                [[t.id, t.label, _prefix(t), local_time(t.created_at, zone),
                  local_time(t.last_used_at, zone, missing="never"), _revoked(t, zone)]
                 for t in found], title=f"API tokens of {name}")


def _prefix(found: TokenInfo) -> str:
    return f"{found.prefix}..." if found.prefix else "(made before prefixes were kept)"


def _revoked(found: TokenInfo, zone: str) -> str:
    return _disabled(found.revoked_at is not None, found.revoked_at, found.revoked_by, zone)


def _disabled(done: bool, at: datetime | None, by: str | None, zone: str) -> str:
    """When and by whom, in ``zone`` (the column header names it); blank if not done."""
    return f"{local_time(at, zone, missing='unknown time')} by {by or 'unknown'}" if done else ""


COMMANDS = [user]
