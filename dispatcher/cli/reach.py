"""``dispatcher reach``: reach per channel for one campaign."""

from __future__ import annotations

from typing import Any

import click

from dispatcher import campaign_store, registry
from dispatcher.cli.output import print_json, print_table
from dispatcher.context import AppContext
from dispatcher.reach import COUNTED_STATES, campaign_reach
from dispatcher.reach_polling import poll_reach


@click.command()
@click.argument("campaign_id")
@click.option("--json", "as_json", is_flag=True, help="Print the reach object as JSON.")
@click.option("--poll", is_flag=True,
              help="First ask the providers for figures they report later (WeChat article "
                   "reads and shares, by day); `dispatcher run` does this hourly.")
@click.pass_obj
def reach(app: AppContext, campaign_id: str, as_json: bool, poll: bool) -> None:
    """Show CAMPAIGN_ID's delivery states and reach figures per channel, over all runs."""
    campaign, _version = campaign_store.load_stored(app.engine, campaign_id)
    if poll:
        channels = registry.build_channels(app.config.channels, app.config.source)
        polled = poll_reach(app.engine, channels, campaign_id)
        for name, rows in polled.rows.items():
            click.echo(f"{name}: asked about {rows} row(s), stored {polled.stored[name]} "
                       "figure(s)", err=True)
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
