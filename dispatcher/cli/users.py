"""``dispatcher user``: people who use the web app and the REST API, their roles, their
API tokens, and disabling them."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime

import click
from click.decorators import FC

from dispatcher.cli.output import print_json, print_table
from dispatcher.context import AppContext
from dispatcher.errors import DispatcherError
from dispatcher.lifecycle import default_actor
from dispatcher.users import (
    ROLES,
    TokenInfo,
    add_user,
    create_token,
    disable_user,
    enable_user,
    list_accounts,
    list_tokens,
    revoke_tokens,
    set_role,
)


def by_option(kept: str) -> Callable[[FC], FC]:
    return click.option("--by", default=default_actor, show_default="your login name",
                        help=f"Who is doing this (kept with {kept}).")


@click.group()
def user() -> None:
    """Users of the web app and the REST API: planner, approver, operator or admin."""


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True,
              help="planner: reads (numbers masked); approver: also approves; operator: "
                   "reads full numbers, pauses, resumes, cancels, retries; admin: all.")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from standard input instead of prompting.")
@click.pass_obj
def add(app: AppContext, name: str, role: str, password_stdin: bool) -> None:
    """Add user NAME with a role and a password (at least 10 characters)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    added = add_user(app.engine, name, role, password)
    click.echo(f"user {added.name} added with role {added.role}")


@user.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def list_(app: AppContext, as_json: bool) -> None:
    """List the users, their roles and who disabled whom."""
    found = list_accounts(app.engine)
    if as_json:
        print_json([asdict(account) for account in found])
    else:
        print_table(["user", "role", "disabled"],
                    [[a.name, a.role, _disabled(a.disabled, a.disabled_at, a.disabled_by)]
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
    print_table(["id", "label", "token", "created", "last used", "revoked"],
                [[t.id, t.label, _prefix(t), _when(t.created_at), _when(t.last_used_at),
                  _revoked(t)] for t in found], title=f"API tokens of {name}")


def _prefix(found: TokenInfo) -> str:
    return f"{found.prefix}..." if found.prefix else "(made before prefixes were kept)"


def _revoked(found: TokenInfo) -> str:
    return _disabled(found.revoked_at is not None, found.revoked_at, found.revoked_by)


def _disabled(done: bool, at: datetime | None, by: str | None) -> str:
    return f"{_when(at)} by {by or 'unknown'}" if done else ""


def _when(at: datetime | None) -> str:
    return "never" if at is None else at.strftime("%Y-%m-%d %H:%M UTC")


COMMANDS = [user]
