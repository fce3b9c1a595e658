"""``dispatcher cinemas`` and ``dispatcher showtimes``: cinemas, auditoriums, screenings."""

from __future__ import annotations

import sys

import click

from dispatcher import registry
from dispatcher.cli.contacts import print_invalid
from dispatcher.cli.output import print_json, print_table
from dispatcher.context import AppContext
from dispatcher.delivery.venue_tokens import token_version
from dispatcher.errors import DispatcherError, NotFoundError
from dispatcher.venues.cinemas import (
    ImportReport,
    cinema_summaries,
    import_auditoriums,
    import_cinemas,
    import_showtimes,
    rotate_token,
)
from dispatcher.venues.protocols import VenueChannel


def _report(report: ImportReport, what: str, as_json: bool) -> None:
    print_invalid(report, 20)
    if as_json:
        print_json({"file": report.source, "added": report.added, "updated": report.updated,
                    "invalid": report.invalid,
                    "cancelled_bookings": report.cancelled_bookings})
    else:
        extra = (f"; {report.cancelled_bookings} booking(s) of cancelled screenings failed"
                 if report.cancelled_bookings else "")
        click.echo(f"{report.source}: {report.added} {what} added, {report.updated} updated, "
                   f"{report.invalid} invalid row(s) skipped{extra}")
    if report.imported == 0 and report.invalid:
        sys.exit(1)


@click.group()
def cinemas() -> None:
    """Cinemas and their auditoriums; tokens for their systems' play logs."""


@cinemas.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--auditoriums", "auditoriums_file", type=click.Path(exists=True,
                                                                     dir_okay=False),
              help="Also import auditoriums from this CSV (cinema,id,name,seats).")
@click.option("--json", "as_json", is_flag=True, help="Print the reports as JSON.")
@click.pass_obj
def import_(app: AppContext, file: str, auditoriums_file: str | None, as_json: bool) -> None:
    """Add or update cinemas from FILE: id, name, system (its booking system in
    [channels.cinema] systems) and preshow (blocks and seconds, ads:240;trailers:600)
    required; district, address, timezone optional."""
    _report(import_cinemas(app.engine, file, app.config.timezone), "cinema(s)", as_json)
    if auditoriums_file:
        _report(import_auditoriums(app.engine, auditoriums_file), "auditorium(s)", as_json)


@cinemas.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def list_(app: AppContext, as_json: bool) -> None:
    """List cinemas with their auditoriums, seats and scheduled screenings."""
    rows = cinema_summaries(app.engine)
    if as_json:
        print_json(rows)
        return
    print_table(["id", "name", "district", "system", "preshow", "auditoriums", "seats",
                 "screenings"],
                [[r["id"], r["name"], r["district"], r["system"], r["preshow"],
                  len(r["auditoriums"]), r["seats"], r["screenings"]] for r in rows],
                title=f"{len(rows)} cinema(s)")


@cinemas.command()
@click.argument("cinema_id")
@click.option("--rotate", is_flag=True,
              help="Issue a new token; the old one stops working at once.")
@click.pass_obj
def token(app: AppContext, cinema_id: str, rotate: bool) -> None:
    """Print CINEMA_ID's token: its system signs play logs with it (and receives it with
    bookings). Derived from [channels.cinema] token_secret and the cinema's token version;
    --rotate bumps the version: install the new token on the cinema's system."""
    channel = registry.build_channels(app.config.channels, app.config.source).get("cinema")
    if not isinstance(channel, VenueChannel):
        raise DispatcherError("the cinema channel is not installed")
    unknown = NotFoundError(f"no cinema {cinema_id!r}; see `dispatcher cinemas list`")
    version = token_version(app.engine, cinema_id)
    if version is None:
        raise unknown
    token_now = channel.venue_token(cinema_id, version)  # not configured: stop before rotating
    if rotate:
        version = rotate_token(app.engine, cinema_id)
        if version is None:
            raise unknown
        token_now = channel.venue_token(cinema_id, version)
    click.echo(token_now)


@click.group()
def showtimes() -> None:
    """Screening schedules of the cinemas."""


@showtimes.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_obj
def showtimes_import(app: AppContext, file: str, as_json: bool) -> None:
    """Add or update screenings from FILE: id, cinema, auditorium, film, rating (G, PG,
    PG-13, R, NC-17), start (ISO date-time), expected_seats; sold_seats and status
    (scheduled or cancelled) optional. Import again whenever schedules change: bookings of
    screenings now cancelled fail with that reason."""
    _report(import_showtimes(app.engine, file), "screening(s)", as_json)


COMMANDS = [cinemas, showtimes]
