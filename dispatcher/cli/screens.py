"""``dispatcher screens``: the LED screen registry, groups, tokens, plays, and the venue
reports refused as implausible."""

from __future__ import annotations

import csv
import sys
from datetime import UTC
from pathlib import Path

import click
from sqlalchemy import update

from dispatcher import registry
from dispatcher.campaigns.versions import load_stored
from dispatcher.cli.contacts import print_invalid
from dispatcher.cli.output import local_time, print_json, print_table, time_header
from dispatcher.context import AppContext
from dispatcher.errors import DispatcherError
from dispatcher.storage.db import as_utc
from dispatcher.storage.tables import screens as screens_table
from dispatcher.venues.led_proof import audience_of, rollup
from dispatcher.venues.protocols import SignageChannel
from dispatcher.venues.refused_reports import recent_refusals
from dispatcher.venues.screens import add_group, all_screens, get_screen, group_rules, groups
from dispatcher.venues.screens import import_screens as import_registry


@click.group()
def screens() -> None:
    """LED screens: the registry, groups, feed tokens, and proof of play per hour or day."""


@screens.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--tokens-out", type=click.Path(dir_okay=False, writable=True),
              help="Write id,token,controller of every screen to this CSV, for installing "
                   "the controllers (keep it secret).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_obj
def import_(app: AppContext, file: str, tokens_out: str | None, as_json: bool) -> None:
    """Add or update screens from FILE (CSV, UTF-8).

    Columns: id, name, kind (building, outdoor, facade, shopfront), resolution (1920x1080),
    audience_per_play, audience_source, controller (pull or push) are required;
    district, area, address, latitude, longitude, timezone, endpoint (push URL), tags and
    formats (;-separated) optional. Invalid rows are printed as FILE:LINE: reason.
    """
    report = import_registry(app.engine, file, app.config.timezone)
    print_invalid(report, 20)
    if tokens_out:
        _write_tokens(app, Path(tokens_out))
    if as_json:
        print_json({"file": report.source, "added": report.added, "updated": report.updated,
                    "invalid": report.invalid})
    else:
        click.echo(f"{report.source}: {report.added} screen(s) added, {report.updated} "
                   f"updated, {report.invalid} invalid row(s) skipped")
    if report.imported == 0 and report.invalid:
        sys.exit(1)


def _signage(app: AppContext) -> SignageChannel:
    channel = registry.build_channels(app.config.channels, app.config.source).get("led")
    if not isinstance(channel, SignageChannel):
        raise DispatcherError("the led channel is not installed")
    return channel


def _write_tokens(app: AppContext, path: Path) -> None:
    channel = _signage(app)
    with app.engine.connect() as conn:
        rows = conn.execute(screens_table.select().order_by(screens_table.c.id)).all()
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["id", "token", "controller"])
        for row in rows:
            writer.writerow([row.id, channel.screen_token(row.id, row.token_version),
                             row.controller])
    path.chmod(0o600)
    click.echo(f"tokens of {len(rows)} screen(s) written to {path}", err=True)


@screens.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def list_(app: AppContext, as_json: bool) -> None:
    """List the registry: one line per screen."""
    found = all_screens(app.engine)
    if as_json:
        print_json([s._asdict() for s in found])
        return
    print_table(["id", "name", "kind", "district", "area", "resolution", "audience/play",
                 "controller"],
                [[s.id, s.name, s.kind, s.district, s.area, f"{s.width}x{s.height}",
                  s.audience_per_play, s.controller] for s in found],
                title=f"{len(found)} screen(s)")


@screens.command()
@click.argument("screen_id")
@click.pass_obj
def show(app: AppContext, screen_id: str) -> None:
    """Show one screen's registry entry and its groups."""
    entry = get_screen(app.engine, screen_id)
    member_of = sorted(name for name, ids in groups(app.engine).items() if screen_id in ids)
    print_json({k: v for k, v in entry.items() if k != "updated_at"} | {"groups": member_of})


@screens.command()
@click.argument("screen_id")
@click.option("--rotate", is_flag=True, help="Issue a new token; the old one stops working.")
@click.pass_obj
def token(app: AppContext, screen_id: str, rotate: bool) -> None:
    """Print SCREEN_ID's feed and proof-of-play token (to install on its controller)."""
    entry = get_screen(app.engine, screen_id)
    version = int(str(entry["token_version"])) + (1 if rotate else 0)
    if rotate:
        with app.engine.begin() as conn:
            conn.execute(update(screens_table).where(screens_table.c.id == screen_id)
                         .values(token_version=version))
    click.echo(_signage(app).screen_token(screen_id, version))


@screens.group()
def group() -> None:
    """Named screen groups, each a rule over the registry."""


@group.command("add")
@click.argument("name")
@click.argument("rule")
@click.pass_obj
def group_add(app: AppContext, name: str, rule: str) -> None:
    """Store group NAME as RULE: key=value[,value...] terms (all must hold) over id, kind,
    district, area, tag, controller; e.g. "kind=outdoor,facade district=丈八街道"."""
    count = add_group(app.engine, name, rule)
    click.echo(f"group {name}: {rule} ({count} screen(s) now)")


@group.command("list")
@click.pass_obj
def group_list(app: AppContext) -> None:
    """List the groups, their rules and sizes."""
    members = groups(app.engine)
    print_table(["group", "rule", "screens"],
                [[name, rule, len(members[name])] for name, rule in
                 group_rules(app.engine).items()], title="screen groups")


@screens.command()
@click.argument("campaign_id")
@click.option("--by", type=click.Choice(["hour", "day"]), default="day", show_default=True,
              help="Roll the plays up per hour or per day (campaign time).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def plays(app: AppContext, campaign_id: str, by: str, as_json: bool) -> None:
    """Proof of play of CAMPAIGN_ID: screens, plays and impressions per hour or day."""
    campaign, _ = load_stored(app.engine, campaign_id)
    rows = rollup(app.engine, campaign_id, campaign.timezone, by,
                  audience_of(all_screens(app.engine)))
    if as_json:
        print_json([r.__dict__ for r in rows])
        return
    print_table([by, "screens", "plays", "impressions"],
                [[r.period, r.screens, r.plays, r.impressions] for r in rows],
                title=f"{campaign_id}: plays per {by} ({campaign.timezone})")


@screens.command()
@click.option("--channel", type=click.Choice(["led", "cinema"]),
              help="Only this channel's refused reports (default: both).")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True,
              help="How many of the newest to list.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def refused(app: AppContext, channel: str | None, limit: int, as_json: bool) -> None:
    """Venue reports refused as implausible, newest first: proof of play from screens
    (above the schedule, outside the campaign's dates, near-duplicates) and cinemas' play
    logs (admissions above seats ...). They never count in reach. Times in config's time
    zone (named in the header); --json gives ISO 8601 with the offset."""
    found = recent_refusals(app.engine, channel, limit)
    if as_json:
        print_json([{"received_at": as_utc(r.received_at).astimezone(UTC).isoformat(),
                     "channel": r.channel, "venue": r.venue, "delivery_id": r.delivery_id,
                     "reason": r.reason, "detail": r.detail} for r in found])
        return
    zone = app.config.timezone
    print_table([time_header("received", zone), "channel", "venue", "row", "reason", "detail"],
                [[local_time(r.received_at, zone, seconds=True), r.channel, r.venue,
                  r.delivery_id, r.reason, r.detail] for r in found],
                title=f"{len(found)} refused report(s), newest first")


COMMANDS = [screens]
