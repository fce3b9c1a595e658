"""``dispatcher report``: the campaign's reach report, written from the database."""

from __future__ import annotations

from pathlib import Path

import click

from dispatcher.campaigns.versions import load_stored
from dispatcher.cli.output import cannot_write, output_folder
from dispatcher.cli.params import Language
from dispatcher.context import AppContext
from dispatcher.reports.writer import write_report


@click.command()
@click.argument("campaign_id")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path),
              required=True, help="The folder to write the report into (created).")
@click.option("--lang", "locale", type=Language("the report"), metavar="zh-CN|zh-TW|en",
              help="The report's language: zh-CN (Simplified Chinese), zh-TW (Traditional) "
                   "or en (English). Default: the config's [web] locale (zh-CN unless set).")
@click.pass_obj
def report(app: AppContext, campaign_id: str, out: Path, locale: str | None) -> None:
    """Write CAMPAIGN_ID's report into --out: report.html (self-contained, printable),
    report.md, figures.xlsx and figures.csv (for spreadsheets), reach.csv and reach.json
    (machine names) and charts/*.svg (reach per unit, daily timeline,
    area types by district, top failure reasons), with a summary in the drive's style
    and the source and method of every figure, all in the --lang language."""
    load_stored(app.engine, campaign_id)  # an unknown id: no folder made
    try:
        written = write_report(app.engine, app.config, campaign_id,
                               output_folder(out, "--out"), locale)
    except OSError as exc:  # a file in the folder that cannot be replaced
        raise cannot_write("--out", exc.filename or out, exc) from None
    for path in written.files:
        click.echo(str(path))
    click.echo(f"report: {written.directory / 'report.html'}", err=True)


COMMANDS = [report]
