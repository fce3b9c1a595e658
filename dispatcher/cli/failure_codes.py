"""``dispatcher failures CAMPAIGN_ID``: a campaign's failures by code, with what each
code means and what to do about it (``dispatcher.error_codes``), in English.

The same groups as the report's "top failure reasons" (``report_data.failures``: channel,
state, code, rows, one example detail); ``--json`` prints them with the explanation's
fields for programs. Phone numbers inside the providers' details are masked unless
``--unmask``.
"""

from __future__ import annotations

import re

import click

from dispatcher.audience.phones import mask
from dispatcher.campaigns.versions import load_stored
from dispatcher.cli.output import print_json, print_table
from dispatcher.context import AppContext
from dispatcher.error_codes import explain
from dispatcher.reports import data as report_data

NO_CODE = "(none)"  # report_data's word for a row without a code
_PHONE_IN_TEXT = re.compile(r"\+\d{7,15}")


@click.command()
@click.argument("campaign_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for programs.")
@click.option("--unmask", is_flag=True, help="Show full phone numbers in the details.")
@click.pass_obj
def failures(app: AppContext, campaign_id: str, as_json: bool, unmask: bool) -> None:
    """Show CAMPAIGN_ID's failed and undelivered rows by error code, most rows first, with
    what each code means and what to do."""
    load_stored(app.engine, campaign_id)  # NotFoundError for a wrong id
    groups = report_data.failures(app.engine, campaign_id)
    for group in groups:
        found = explain(group["channel"], None if group["code"] == NO_CODE else group["code"])
        group["meaning"] = found.meaning if found else ""
        group["action"] = found.action if found else ""
        group["retry_helps"] = found.retry if found else None
        group["example"] = _shown(group["example"], unmask)
    if as_json:
        print_json(groups)
        return
    if not groups:
        click.echo(f"campaign {campaign_id!r} has no failed or undelivered rows")
        return
    print_table(["channel", "state", "code", "rows", "what it means", "what to do",
                 "example"],
                [[g["channel"], g["status"], g["code"], f"{g['rows']:,}", g["meaning"],
                  g["action"], g["example"] or ""] for g in groups],
                title=f"failures of {campaign_id} (most rows first)")


def _shown(text: str | None, unmask: bool) -> str | None:
    if text is None or unmask:
        return text
    return _PHONE_IN_TEXT.sub(lambda found: mask(found.group()), text)


COMMANDS = [failures]
