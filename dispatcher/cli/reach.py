"""``dispatcher reach``: reach per channel for one campaign."""

from __future__ import annotations

from typing import Any

import click

from dispatcher import campaign_store
from dispatcher.cli.output import print_json, print_table
from dispatcher.context import AppContext
from dispatcher.reach import COUNTED_STATES, campaign_reach


@click.command()
@click.argument("campaign_id")
@click.option("--json", "as_json", is_flag=True, help="Print the reach object as JSON.")
@click.pass_obj
def reach(app: AppContext, campaign_id: str, as_json: bool) -> None:
    """Show CAMPAIGN_ID's delivery states and reach figures per channel, over all runs."""
    campaign, _version = campaign_store.load_stored(app.engine, campaign_id)
    data = campaign_reach(app.engine, campaign, campaign_store.channel_lookup(app.config))
    if as_json:
        print_json(data)
    else:
        print_reach(data)


def print_reach(data: dict[str, Any]) -> None:
    """The reach object as a table: one row per channel."""
    click.echo(f"{data['campaign']}: {data['runs']} run(s)")
    states = ["targets", "pending", *COUNTED_STATES]
    rows = []
    for name, ch in data["channels"].items():
        skipped = ", ".join(f"{k} {v}" for k, v in ch["skipped"].items() if v) or "0"
        figures = ", ".join(f"{k} {v}" for k, v in ch["reach"].items())
        rows.append([name, *(ch[s] for s in states), skipped, figures])
    print_table(["channel", *states, "skipped", "reach"], rows, title="reach")


COMMANDS = [reach]
