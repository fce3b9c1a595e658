"""``dispatcher demo``: the drive of DESIGN.md, offline, on the configured database.

It generates realistic sample contacts, imports them, applies the drive's campaign file,
plans its run and shows reach and the first rows of the delivery log. Every step is
idempotent, so running the demo again changes nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from dispatcher import campaign_store, samples
from dispatcher.cli.campaign import plan_and_report
from dispatcher.cli.contacts import bytes_progress
from dispatcher.cli.logs import logs
from dispatcher.cli.reach import reach
from dispatcher.contacts import import_contacts
from dispatcher.context import AppContext
from dispatcher.errors import DispatcherError

DEFAULT_CAMPAIGN = Path("campaigns") / "pingan-ding.toml"


@click.command()
@click.option("--contacts", "count", default=20_000, show_default=True,
              type=click.IntRange(min=1), help="How many sample contacts to generate.")
@click.option("--seed", default=2019, show_default=True, help="Seed of the sample contacts.")
@click.option("--campaign", "campaign_file", default=str(DEFAULT_CAMPAIGN), show_default=True,
              type=click.Path(dir_okay=False), help="The drive's campaign file.")
@click.option("--workdir", default="var/demo", show_default=True, type=click.Path(),
              help="Where the generated contact file is written.")
@click.pass_context
def demo(ctx: click.Context, count: int, seed: int, campaign_file: str, workdir: str) -> None:
    """Run the Ping An Ding drive offline: contacts, campaign, plan, reach and log."""
    app: AppContext = ctx.obj
    if not Path(campaign_file).is_file():
        raise DispatcherError(f"{campaign_file} not found; run the demo from the repository "
                              "root or pass --campaign FILE")
    click.echo(f"database: {app.engine.url.render_as_string(hide_password=True)}")
    csv_path = Path(workdir) / f"contacts-{count}-{seed}.csv"
    _sample_file(csv_path, count, seed)
    with bytes_progress("importing contacts", os.path.getsize(csv_path)) as step:
        report = import_contacts(app.engine, csv_path, "residents",
                                 app.config.default_region, progress=step)
    click.echo(f"contacts: {report.imported:,} imported into 'residents', "
               f"{report.invalid:,} invalid rows skipped ({csv_path})")
    checked = campaign_store.check_file(app.config, app.engine, campaign_file)
    if checked.campaign is None:
        for issue in checked.issues:
            click.echo(str(issue))
        raise DispatcherError(f"{campaign_file} has problems; nothing was stored")
    applied = campaign_store.apply_campaign(app.engine, checked.campaign, campaign_file,
                                            checked.text)
    click.echo(f"campaign: {applied.campaign_id} version {applied.version}"
               + (" stored" if applied.changed else " (unchanged)"))
    plan_and_report(app, applied.campaign_id, at=None, as_json=False)
    ctx.invoke(reach, campaign_id=applied.campaign_id, as_json=False)
    ctx.invoke(logs, campaign=applied.campaign_id, limit=10)


def _sample_file(path: Path, count: int, seed: int) -> None:
    if path.is_file():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    samples.write_csv(partial, count, seed)
    partial.replace(path)


COMMANDS = [demo]
