"""``dispatcher contacts``: import contact lists, show them, generate sample files."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from dispatcher.audience.contacts import import_contacts
from dispatcher.audience.contacts import list_sizes as stored_list_sizes
from dispatcher.cli.output import (
    PercentColumn,
    cannot_write,
    finish_task,
    print_json,
    print_table,
    progress_bar,
)
from dispatcher.context import AppContext
from dispatcher.demo import contact_samples as samples
from dispatcher.errors import DispatcherError
from dispatcher.files.csvfile import ProgressCallback, RowsReport

SHOW_INVALID = 20


@click.group()
def contacts() -> None:
    """Contact lists: import CSV files, list them, generate realistic sample files."""


@contacts.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--list", "list_name", required=True, metavar="NAME",
              help="The list to add the contacts to; created when missing.")
@click.option("--show-invalid", type=click.IntRange(min=0), default=SHOW_INVALID,
              show_default=True, help="How many invalid rows to print (the total is always shown).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_obj
def import_(app: AppContext, file: str, list_name: str, show_invalid: int, as_json: bool) -> None:
    """Import contacts from FILE (CSV, UTF-8) into the list NAME.

    Columns: phone, area, district (required); name, tags (optional). Phones are
    normalised to E.164 (default region from the config); area is one of residential,
    work, activity, street or empty. Each row is one line: no field may span lines.
    Invalid rows (a bad value, a quote left open, a field over 131,072 characters) are
    printed as FILE:LINE: reason and skipped, with their count; the valid rows before and
    after them are imported. Importing the same file again changes nothing. Exits 1 when
    no row could be imported.
    """
    with bytes_progress(f"importing {os.path.basename(file)}", os.path.getsize(file),
                        "contacts") as step:
        report = import_contacts(app.engine, file, list_name, app.config.default_region,
                                 progress=step)
    print_invalid(report, show_invalid)
    if as_json:
        print_json(report_json(report) | {"list": report.list_name,
                                          "members_added": report.members_added})
    else:
        click.echo(f"{report.source}: imported {report.imported:,} of {report.rows_read:,} "
                   f"rows into list {report.list_name!r} ({report.members_added:,} new members;"
                   f" {report.invalid:,} invalid rows skipped) in {report.elapsed:.1f} s")
    exit_if_nothing_imported(report)


@contextmanager
def bytes_progress(description: str, total: int, unit: str = "rows"
                   ) -> Iterator[ProgressCallback]:
    """A progress bar on stderr counting the rows read (as ``unit``: contacts, numbers),
    placed by the bytes read.

    How many rows a file holds is not known before reading it all (blank, over-long and
    broken lines are not rows), and counting its lines first would read a file of
    millions of rows twice. The bytes read are known at every step, so they place the
    bar and its share done; the count shown is of rows. When the file has been read to
    its end, the bar shows 100 %, whatever rows were skipped on the way.
    It appears with the first batch, so an error in the header shows alone.
    """
    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), PercentColumn(),
                   TextColumn("{task.fields[rows]:,} " + unit), TimeElapsedColumn(),
                   TimeRemainingColumn(), console=Console(stderr=True), transient=False)
    task = bar.add_task(description, total=total, rows=0)
    read = [0]

    def step(bytes_read: int, rows: int) -> None:
        if not bar.live.is_started:
            bar.start()
        read[0] = bytes_read
        bar.update(task, completed=bytes_read, rows=rows)

    try:
        yield step
        # Read to the end: the file's size now may differ from when the bar was made.
        bar.update(task, total=read[0])
        finish_task(bar, task, read[0])
    finally:
        if bar.live.is_started:
            bar.stop()


def print_invalid(report: RowsReport, limit: int) -> None:
    """``FILE:LINE: reason`` on stderr for the first ``limit`` invalid rows, and the total."""
    for row in report.invalid_rows[:limit]:
        click.echo(f"{report.source}:{row.line}: {row.reason}", err=True)
    hidden = report.invalid - min(limit, len(report.invalid_rows))
    if hidden > 0:
        click.echo(f"{report.source}: ... and {hidden:,} more invalid rows "
                   f"({report.invalid:,} in all)", err=True)


def report_json(report: RowsReport) -> dict[str, object]:
    return {"file": report.source, "rows_read": report.rows_read, "imported": report.imported,
            "invalid": report.invalid, "elapsed_s": round(report.elapsed, 3),
            "invalid_rows": [{"line": r.line, "reason": r.reason}
                             for r in report.invalid_rows]}


def exit_if_nothing_imported(report: RowsReport) -> None:
    if report.imported == 0:
        what = "no data rows" if report.rows_read == 0 else "no valid rows"
        click.echo(f"error: {report.source}: {what}; nothing was imported", err=True)
        sys.exit(1)


@contacts.command("lists")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def lists(app: AppContext, as_json: bool) -> None:
    """Show the contact lists and how many members each has."""
    sizes = stored_list_sizes(app.engine)
    if as_json:
        print_json([{"name": s.name, "members": s.members} for s in sizes])
    elif not sizes:
        click.echo("no contact lists yet; import one with: "
                   "dispatcher contacts import FILE.csv --list NAME")
    else:
        print_table(["list", "members"], [[s.name, f"{s.members:,}"] for s in sizes],
                    title="contact lists")


@contacts.command()
@click.option("--count", type=click.IntRange(min=0, max=100_000_000), required=True,
              help="Rows to write.")
@click.option("--out", "out", type=click.Path(dir_okay=False, writable=True), required=True,
              help="The CSV file to write (replaced if it exists).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="The same seed gives the same file.")
@click.option("--invalid-rate", type=click.FloatRange(0, 1),
              default=samples.SampleMix.invalid_rate, show_default=True,
              help="Share of rows with a broken phone number (garbage, too short).")
@click.option("--landline-rate", type=click.FloatRange(0, 1),
              default=samples.SampleMix.landline_rate, show_default=True,
              help="Share of rows with a Xi'an landline (029-8xxxxxxx).")
@click.option("--repeat-rate", type=click.FloatRange(0, 1),
              default=samples.SampleMix.repeat_rate, show_default=True,
              help="Share of rows repeating a person listed earlier.")
def generate(count: int, out: str, seed: int, invalid_rate: float, landline_rate: float,
             repeat_rate: float) -> None:
    """Write a realistic sample contact CSV (Xi'an high-tech zone) for demos and tests."""
    try:
        mix = samples.SampleMix(invalid_rate=invalid_rate, landline_rate=landline_rate,
                                repeat_rate=repeat_rate)
    except ValueError as exc:
        raise DispatcherError(str(exc)) from None
    with progress_bar("writing") as bar:
        task = bar.add_task(f"writing {os.path.basename(out)}", total=count)
        try:
            written = samples.write_csv(out, count, seed, mix,
                                        progress=lambda n: bar.update(task, completed=n))
        except OSError as exc:
            raise cannot_write("--out", out, exc) from None
        finish_task(bar, task, written)
    click.echo(f"{out}: wrote {written:,} sample contacts (seed {seed})")


COMMANDS = [contacts]
