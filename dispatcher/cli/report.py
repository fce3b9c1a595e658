"""``dispatcher report``: the campaign's reach report, written from the database."""

from __future__ import annotations

from pathlib import Path

import click

from dispatcher import campaign_store
from dispatcher.cli.output import cannot_write, output_folder
from dispatcher.context import AppContext
from dispatcher.report import write_report


@click.command()
@click.argument("campaign_id")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path),
              required=True, help="The folder to write the report into (created).")
@click.pass_obj
def report(app: AppContext, campaign_id: str, out: Path) -> None:
    """Write CAMPAIGN_ID's report into --out: report.html (self-contained, printable),
    report.md, reach.csv, reach.json and charts/*.svg (reach per channel, daily timeline,
    area types by district, top failure reasons), with a summary in Chinese and English
    and the method of every figure."""
    campaign_store.load_stored(app.engine, campaign_id)  # an unknown id: no folder made
    try:
        written = write_report(app.engine, app.config, campaign_id,
                               output_folder(out, "--out"))
    except OSError as exc:  # a file in the folder that cannot be replaced
        raise cannot_write("--out", exc.filename or out, exc) from None
    for path in written.files:
        click.echo(str(path))
    click.echo(f"report: {written.directory / 'report.html'}", err=True)


COMMANDS = [report]
