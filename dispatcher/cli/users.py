"""``dispatcher user``: people who use the web app and the REST API, and their roles."""

from __future__ import annotations

import sys

import click

from dispatcher.cli.output import print_json, print_table
from dispatcher.context import AppContext
from dispatcher.users import ROLES, add_user, create_token, list_users, set_role


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
    """List the users and their roles."""
    found = list_users(app.engine)
    if as_json:
        print_json([u.__dict__ for u in found])
    else:
        print_table(["user", "role"], [[u.name, u.role] for u in found], title="users")


@user.command("role")
@click.argument("name")
@click.argument("role", type=click.Choice(ROLES))
@click.pass_obj
def role(app: AppContext, name: str, role: str) -> None:
    """Give user NAME another ROLE."""
    set_role(app.engine, name, role)
    click.echo(f"user {name} now has role {role}")


@user.command("token")
@click.argument("name")
@click.option("--label", default="api", show_default=True, help="What the token is for.")
@click.pass_obj
def token(app: AppContext, name: str, label: str) -> None:
    """Create an API token for NAME (printed once; use it as `Authorization: Bearer`)."""
    click.echo(create_token(app.engine, name, label))


COMMANDS = [user]
