"""``dispatcher optout``: record, import and list the addresses that must not be sent to."""

from __future__ import annotations

import json
import os
from itertools import islice

import click

from dispatcher.audience import optouts
from dispatcher.audience.phones import mask
from dispatcher.cli.contacts import (
    SHOW_INVALID,
    bytes_progress,
    exit_if_nothing_imported,
    print_invalid,
    report_json,
)
from dispatcher.cli.output import local_time, print_json, time_header
from dispatcher.context import AppContext
from dispatcher.errors import DispatcherError, InvalidPhone

CHANNEL_HELP = 'A channel name such as sms, or "*" for every channel.'


@click.group()
def optout() -> None:
    """Opt-outs: people who must not get messages, on one channel or on all of them."""


@optout.command()
@click.argument("address")
@click.option("--channel", default=optouts.EVERY_CHANNEL, show_default=True, help=CHANNEL_HELP)
@click.option("--reason", help="Why, for the record (e.g. \"asked by phone\").")
@click.pass_obj
def add(app: AppContext, address: str, channel: str, reason: str | None) -> None:
    """Opt ADDRESS out (a phone number, normalised to E.164, or e.g. a WeChat openid)."""
    region = app.config.default_region
    try:
        stored = optouts.normalize_address(address, region)
    except InvalidPhone as exc:
        raise DispatcherError(f"{mask(address)} is not a valid phone number: "
                              f"{exc.reason}") from None
    added = optouts.add(app.engine, stored, channel, "operator", reason, region=region)
    state = "opted out" if added else "already opted out"
    click.echo(f"{mask(stored)}: {state} (channel {optouts.check_channel(channel)})")


@optout.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--channel", default=optouts.EVERY_CHANNEL, show_default=True,
              help="Channel for rows whose channel cell is empty or missing. " + CHANNEL_HELP)
@click.option("--show-invalid", type=click.IntRange(min=0), default=SHOW_INVALID,
              show_default=True, help="How many invalid rows to print (the total is always shown).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_obj
def import_(app: AppContext, file: str, channel: str, show_invalid: int, as_json: bool) -> None:
    """Import opt-outs from FILE (CSV, UTF-8): column phone; optional channel, reason.

    Invalid rows are printed as FILE:LINE: reason and skipped. Importing the same file
    again adds nothing. Exits 1 when no row could be imported.
    """
    with bytes_progress(f"importing {os.path.basename(file)}", os.path.getsize(file)) as step:
        report = optouts.import_optouts(app.engine, file, app.config.default_region,
                                        default_channel=channel, progress=step)
    print_invalid(report, show_invalid)
    if as_json:
        print_json(report_json(report) | {"added": report.added})
    else:
        click.echo(f"{report.source}: {report.imported:,} of {report.rows_read:,} rows valid, "
                   f"{report.added:,} new opt-outs, {report.invalid:,} invalid, "
                   f"in {report.elapsed:.1f} s")
    exit_if_nothing_imported(report)


@optout.command("list")
@click.option("--channel", help="Only the opt-outs that apply to this channel "
              "(its own and those of every channel); \"*\" for opt-outs of every channel.")
@click.option("--limit", type=click.IntRange(min=0, max=10**9), default=100, show_default=True,
              help="At most this many (0 for all).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.option("--unmask", is_flag=True, help="Show addresses in full (masked by default).")
@click.pass_obj
def list_(app: AppContext, channel: str | None, limit: int, as_json: bool,
          unmask: bool) -> None:
    """List opt-outs by channel and address; addresses masked unless --unmask. Times in
    config's time zone (named in the header); --json gives ISO 8601 with the offset."""
    if channel is not None:
        channel = optouts.check_channel(channel)
    found = optouts.iter_optouts(app.engine, channel)
    shown = islice(found, limit) if limit else found
    if as_json:
        click.echo("[", nl=False)
        for i, item in enumerate(shown):
            record = {"channel": item.channel,
                      "address": item.address if unmask else mask(item.address),
                      "source": item.source, "reason": item.reason,
                      "created_at": item.created_at.isoformat()}
            click.echo(("," if i else "") + "\n  " + json.dumps(record, ensure_ascii=False),
                       nl=False)
        click.echo("\n]")
        return
    count = 0
    zone = app.config.timezone
    since = time_header("since", zone)
    width = max(19, len(since))  # a time is 19 characters; the header may be longer
    for item in shown:
        if count == 0:
            click.echo(f"{'channel':<8} {'address':<18} {'source':<9} {since:<{width}}  reason")
        address = item.address if unmask else mask(item.address)
        at = local_time(item.created_at, zone, seconds=True)
        click.echo(f"{item.channel:<8} {address:<18} {item.source:<9} {at:<{width}}  "
                   f"{item.reason or ''}")
        count += 1
    if count == 0:
        click.echo("no opt-outs" + (f" for channel {channel}" if channel else ""))


COMMANDS = [optout]
