"""``dispatcher schedule``: what the scheduler will fire next."""

from __future__ import annotations

import click

from dispatcher.cli.output import print_json, print_table
from dispatcher.context import AppContext
from dispatcher.planning.firings import approved_campaigns, coming_firings


@click.group()
def schedule() -> None:
    """The scheduled firings of approved campaigns."""


@schedule.command("list")
@click.option("--limit", type=click.IntRange(min=1, max=10_000), default=20, show_default=True,
              help="How many coming firings to show.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def list_(app: AppContext, limit: int, as_json: bool) -> None:
    """List the coming firings of approved campaigns, soonest first, each in its
    campaign's local time. Campaigns awaiting approval do not fire and are not listed."""
    found = coming_firings(app.engine, limit=limit)
    zones = {campaign.id: campaign.timezone
             for campaign, _version in approved_campaigns(app.engine)}
    if as_json:
        print_json([{"campaign": f.campaign_id, "fire_time": f.fire_time.isoformat(),
                     "timezone": zones.get(f.campaign_id)} for f in found])
        return
    if not found:
        click.echo("no coming firings (approved campaigns have none left)")
        return
    print_table(["fire time (local)", "time zone", "campaign"],
                [[f.fire_time.strftime("%Y-%m-%d %a %H:%M %z"), zones.get(f.campaign_id),
                  f.campaign_id] for f in found], title="coming firings")


COMMANDS = [schedule]
