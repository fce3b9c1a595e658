"""``dispatcher reach``: reach per channel for one campaign."""

from __future__ import annotations

from typing import Any

import click

from channels.base import AREA_TYPES
from dispatcher import registry
from dispatcher.approval.lifecycle import default_actor
from dispatcher.campaigns.versions import load_stored
from dispatcher.cli.output import print_json, print_table
from dispatcher.context import AppContext
from dispatcher.planning import campaign_store
from dispatcher.reach.figures import COUNTED_STATES, campaign_reach
from dispatcher.reach.manual import MAX_VALUE
from dispatcher.reach.manual import record as record_manual
from dispatcher.reach.polling import poll_reach


class ReachGroup(click.Group):
    """`dispatcher reach ID` shows reach (the contract); `dispatcher reach record ID ...`
    enters a figure by hand. A first word that is no subcommand is a campaign id."""

    def resolve_command(self, ctx: click.Context, args: list[str]
                        ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["show", *args]
        return super().resolve_command(ctx, args)


@click.group(cls=ReachGroup)
def reach() -> None:
    """Reach per channel: `dispatcher reach ID [--json] [--poll]` shows it;
    `dispatcher reach record ID ...` enters an offline placement's figure."""


@reach.command("show")
@click.argument("campaign_id")
@click.option("--json", "as_json", is_flag=True, help="Print the reach object as JSON.")
@click.option("--poll", is_flag=True,
              help="First ask the providers for figures they report later (WeChat article "
                   "reads and shares, by day); `dispatcher run` does this hourly.")
@click.pass_obj
def show(app: AppContext, campaign_id: str, as_json: bool, poll: bool) -> None:
    """Show CAMPAIGN_ID's delivery states and reach figures per channel, over all runs."""
    campaign, _version = load_stored(app.engine, campaign_id)
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


@reach.command("record")
@click.argument("campaign_id")
@click.option("--channel", required=True, help="The offline channel, such as print or talks.")
@click.option("--metric", required=True,
              help="What was counted, such as posters, notice_sets, boards, brochures.")
@click.option("--value", type=click.IntRange(min=0, max=MAX_VALUE), required=True,
              help="How many.")
@click.option("--district", help="Where (a district or street office), if known.")
@click.option("--area", type=click.Choice(AREA_TYPES), help="The kind of area, if known.")
@click.option("--note", help="How it was counted, for the report's footnotes.")
@click.option("--by", default=default_actor, show_default="your login name",
              help="Who enters the figure (kept with it, and in the audit log).")
@click.pass_obj
def record_(app: AppContext, campaign_id: str, channel: str, metric: str, value: int,
            district: str | None, area: str | None, note: str | None, by: str) -> None:
    """Enter a figure of an offline placement of CAMPAIGN_ID by hand (source: manual)."""
    entry = record_manual(app.engine, campaign_id, channel, metric, value, by, district,
                          area, note)
    click.echo(f"{campaign_id}: {channel}.{metric} = {value:,} recorded (entry {entry}, "
               f"by {by})")


COMMANDS = [reach]
