"""``dispatcher logs``: the delivery log, filtered, newest first, paged by cursor.

``--json`` and ``--csv`` print machine names for programs; ``--format csv|xlsx --output
FILE`` writes the spreadsheet people open (``dispatcher.delivery.log_export``, as the dashboard's
downloads): headers in ``--lang``, names, districts, titles, dates in the campaign's zone.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
from rich.progress import Progress, TaskID

from dispatcher import i18n
from dispatcher.cli.output import (
    cannot_write,
    finish_task,
    print_table,
    progress_bar,
    write_csv,
)
from dispatcher.cli.params import Language
from dispatcher.context import AppContext
from dispatcher.delivery import log as delivery_log
from dispatcher.delivery import log_export
from dispatcher.delivery.log import (
    COLUMNS,
    Cursor,
    LogFilter,
    display_row,
    normalise_target,
    parse_moment,
    state_label,
)
from dispatcher.error_codes import one_line as explained
from dispatcher.files.exports import Column, write_xlsx
from dispatcher.files.exports import write_csv as write_sheet_csv

MAX_PAGE_ROWS = 1_000_000  # a larger page is an export: --limit 0
FORMATS = ("csv", "xlsx")
PROGRESS_STEP = 1_000  # rows between progress bar updates


@click.command()
@click.option("--campaign", help="Only this campaign id.")
@click.option("--channel", help="Only this channel (sms, wechat, ...).")
@click.option("--status", help="Only this state: planned, sending, sent, delivered, "
              "undelivered, failed, skipped, or skipped:REASON.")
@click.option("--since", help="Changed at or after this local time (ISO 8601).")
@click.option("--until", help="Changed before this local time (ISO 8601).")
@click.option("--target", help="Only this phone number (any format) or address.")
@click.option("--limit", default=50, show_default=True,
              type=click.IntRange(min=0, max=MAX_PAGE_ROWS),
              help="Rows to show; 0 means all (for --csv and --json exports). With "
              "--output: the most rows written (all unless given).")
@click.option("--cursor", help="Continue after the page that printed this cursor.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines, one row each.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV for programs (machine "
              "names) with a header; a cell starting with = + - @ (phone numbers too) gets "
              "a leading ' so spreadsheets show it as text. For people: --output.")
@click.option("--unmask", is_flag=True, help="Show full phone numbers (they are masked).")
@click.option("--format", "file_format", type=click.Choice(FORMATS),
              help="Write a spreadsheet for people to --output: headers in --lang, states "
              "and channels translated, error codes explained, names, districts and "
              "campaign titles, times as dates in the campaign's time zone (xlsx: phone "
              "numbers as text, a sheet per 1,048,575 rows; csv: UTF-8 with BOM). Every "
              "matching row unless --limit is given. Default: from --output's extension.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path),
              help="The file --format writes (replaced if it exists).")
@click.option("--lang", type=Language("the exports"), metavar="zh-CN|zh-TW|en",
              help="Language of the spreadsheet: zh-CN, en or zh-TW. [default: the "
              "config's web.locale]")
@click.pass_context
def logs(ctx: click.Context, campaign: str | None, channel: str | None, status: str | None,
         since: str | None, until: str | None, target: str | None, limit: int,
         cursor: str | None, as_json: bool, as_csv: bool, unmask: bool,
         file_format: str | None, output: Path | None, lang: str | None) -> None:
    """Show delivery rows, newest first, with their state and reason; or write them to a
    spreadsheet (--format, --output)."""
    app: AppContext = ctx.obj
    file_format = _checked_export(file_format, output, lang, as_json, as_csv)
    tz = app.config.tz
    if status:
        delivery_log.parse_status(status)
    flt = LogFilter(campaign=campaign, channel=channel, status=status,
                    since=parse_moment(since, "--since", tz),
                    until=parse_moment(until, "--until", tz),
                    target=normalise_target(target, app.config.default_region))
    after = Cursor.decode(cursor) if cursor else None
    if output is not None and file_format is not None:
        explicit = ctx.get_parameter_source("limit") is not click.core.ParameterSource.DEFAULT
        _export(app, flt, after, limit if explicit else 0, unmask, file_format, output,
                lang or app.config.web.locale)
        return
    if limit == 0:
        rows: Any = delivery_log.all_rows(app.engine, flt, after=after)
        next_cursor = None
    else:
        rows, next_cursor = delivery_log.page(app.engine, flt, limit, after)
    shown = (display_row(row, tz, unmask) for row in rows)
    if as_json:
        for row in shown:
            click.echo(_json_line(row))
    elif as_csv:
        write_csv(COLUMNS, ([row[c] for c in COLUMNS] for row in shown))
    else:
        table_rows = [[r["id"], r["updated_at"][:19].replace("T", " "), r["campaign"],
                       r["channel"], r["target"], state_label(r),
                       r["detail"] or r["error_code"] or "", explained(r)] for r in shown]
        print_table(["id", f"changed ({tz.key})", "campaign", "channel", "target", "state",
                     "detail", "what it means / what to do"], table_rows,
                    title="delivery log (newest first)")
    if next_cursor is not None:
        click.echo(f"more: --cursor {next_cursor.encode()}", err=True)


def _checked_export(file_format: str | None, output: Path | None, lang: str | None,
                    as_json: bool, as_csv: bool) -> str | None:
    """The spreadsheet format to write, or None for printing; UsageError for options that
    do not go together."""
    if output is None:
        if file_format is not None:
            raise click.UsageError(f"--format {file_format} writes a file: add --output FILE "
                                   f"(e.g. --output delivery-log.{file_format})")
        if lang is not None:
            raise click.UsageError("--lang is the language of a spreadsheet: use it with "
                                   "--output FILE")
        return None
    if as_json or as_csv:
        raise click.UsageError("--output writes a spreadsheet for people; --json and --csv "
                               "print for programs: choose one")
    found = file_format or output.suffix.lower().lstrip(".")
    if found not in FORMATS:
        raise click.UsageError(f"--output {output}: cannot tell the format from the "
                               "extension; name the file .xlsx or .csv, or add --format "
                               "xlsx|csv")
    return found


def _export(app: AppContext, flt: LogFilter, after: Cursor | None, limit: int, unmask: bool,
            file_format: str, output: Path, locale: str) -> None:
    """Write the people's spreadsheet to ``output`` (through a ``.part`` file, so a file
    under the final name is always whole), with a progress bar counting rows."""
    tz = log_export.export_zone(app.engine, flt, app.config.tz)
    total = None if after else delivery_log.count(app.engine, flt)
    if limit:
        total = limit if total is None else min(total, limit)
    partial = output.with_name(output.name + ".part")
    with i18n.use_locale(locale):
        columns = log_export.log_columns(tz)
        rows: Iterable[list[object]] = log_export.log_rows(app.engine, flt, unmask,
                                                           locale=locale, after=after)
        if limit:
            rows = islice(rows, limit)
        with progress_bar(f"exporting to {output.name}") as bar:
            task = bar.add_task(f"exporting to {output.name}", total=total)
            written = _write(partial, output, file_format, columns,
                             _counted(rows, bar, task), tz)
            finish_task(bar, task, written)
    try:
        os.replace(partial, output)
    except OSError as exc:
        raise cannot_write("--output", output, exc) from None
    click.echo(f"wrote {written:,} rows to {output} ({file_format}, times in {tz.key})")


def _write(path: Path, output: Path, file_format: str, columns: Sequence[Column],
           rows: Iterable[Sequence[object]], tz: ZoneInfo) -> int:
    """Rows written to ``path``; removed again if writing fails (``output`` names it)."""
    try:
        if file_format == "xlsx":
            with path.open("wb") as out:
                return write_xlsx(out, columns, rows, tz, log_export.sheet_title())
        with path.open("w", encoding="utf-8", newline="") as text:
            return write_sheet_csv(text, columns, rows, tz)
    except OSError as exc:
        path.unlink(missing_ok=True)
        raise cannot_write("--output", output, exc) from None
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _counted(rows: Iterable[list[object]], bar: Progress, task: TaskID
             ) -> Iterator[list[object]]:
    """The rows, advancing the bar every ``PROGRESS_STEP`` rows (not each: it locks)."""
    done = 0
    for row in rows:
        yield row
        done += 1
        if done % PROGRESS_STEP == 0:
            bar.update(task, completed=done)
    bar.update(task, completed=done)


def _json_line(row: dict[str, Any]) -> str:
    import json

    return json.dumps(row, ensure_ascii=False, default=str)


COMMANDS = [logs]
