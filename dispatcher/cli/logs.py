"""``dispatcher logs``: the delivery log, filtered, newest first, paged by cursor."""

from __future__ import annotations

from typing import Any

import click

from dispatcher import delivery_log
from dispatcher.cli.output import print_table, write_csv
from dispatcher.context import AppContext
from dispatcher.delivery_log import (
    COLUMNS,
    Cursor,
    LogFilter,
    display_row,
    normalise_target,
    parse_moment,
    state_label,
)

MAX_PAGE_ROWS = 1_000_000  # a larger page is an export: --limit 0


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
              help="Rows to show; 0 means all (for --csv and --json exports).")
@click.option("--cursor", help="Continue after the page that printed this cursor.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines, one row each.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV with a header; a cell "
              "starting with = + - @ (phone numbers too) gets a leading ' so spreadsheets "
              "show it as text.")
@click.option("--unmask", is_flag=True, help="Show full phone numbers (they are masked).")
@click.pass_obj
def logs(app: AppContext, campaign: str | None, channel: str | None, status: str | None,
         since: str | None, until: str | None, target: str | None, limit: int,
         cursor: str | None, as_json: bool, as_csv: bool, unmask: bool) -> None:
    """Show delivery rows, newest first, with their state and reason."""
    tz = app.config.tz
    if status:
        delivery_log.parse_status(status)
    flt = LogFilter(campaign=campaign, channel=channel, status=status,
                    since=parse_moment(since, "--since", tz),
                    until=parse_moment(until, "--until", tz),
                    target=normalise_target(target, app.config.default_region))
    after = Cursor.decode(cursor) if cursor else None
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
                       r["detail"] or r["error_code"] or ""] for r in shown]
        print_table(["id", f"changed ({tz.key})", "campaign", "channel", "target", "state",
                     "detail"], table_rows, title="delivery log (newest first)")
    if next_cursor is not None:
        click.echo(f"more: --cursor {next_cursor.encode()}", err=True)


def _json_line(row: dict[str, Any]) -> str:
    import json

    return json.dumps(row, ensure_ascii=False, default=str)


COMMANDS = [logs]
