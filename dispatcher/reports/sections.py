"""The report's text parts in its language: byline, headings, the reach table, the
failure table with what each error code means, and the hand-entered figures.

Plain strings and rows, no markup: ``report.py`` writes them as Markdown and as HTML,
escaping every cell (titles, names, districts and provider codes come from outside).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from dispatcher.error_codes import explain
from dispatcher.i18n import _, pgettext
from dispatcher.i18n.labels import label
from dispatcher.reports.data import ReportData
from dispatcher.reports.text import channel_label, figures, source_label


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list[str]]
    numeric: frozenset[int]  # the columns aligned right


def byline(data: ReportData, now: datetime) -> str:
    """Who ran the campaign, which one, and when the report was written, in the
    campaign's time zone (named)."""
    zone = data.campaign.timezone
    return _("{owner} · campaign {campaign} · written {when} ({zone})").format(
        owner=data.campaign.owner, campaign=data.campaign.id,
        when=f"{now.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M}", zone=zone)


def headings() -> dict[str, str]:
    return {"reach": _("Reach figures"), "failures": _("Failure reasons"),
            "manual": _("Entered by hand"), "methods": _("Sources and methods")}


def reach_table(data: ReportData) -> Table:
    return Table([_("Channel"), _("Metric"), pgettext("figure", "Value"), _("Source")],
                 [[channel_label(f.channel), label("metric", f.metric), f"{f.value:,}",
                   source_label(f.source)] for f in figures(data.reach)],
                 frozenset({2}))


def failure_table(data: ReportData) -> Table:
    """The most frequent failures, each code with its meaning and what to do about it."""
    rows = []
    for failure in data.failures:
        code = failure["code"]
        explained = None if code == "(none)" else explain(failure["channel"], code)
        rows.append([channel_label(failure["channel"]), label("state", failure["status"]),
                     no_code() if code == "(none)" else code, f"{failure['rows']:,}",
                     explained.meaning if explained else "",
                     explained.action if explained else ""])
    return Table([_("Channel"), _("State"), _("Error code"), _("Rows"), _("Meaning"),
                  _("What to do")], rows, frozenset({3}))


def no_code() -> str:
    return _("(no error code)")


def manual_lines(data: ReportData) -> list[str]:
    """Every hand-entered figure, who entered it and on which day (campaign's zone)."""
    found = []
    zone = ZoneInfo(data.campaign.timezone)
    for m in data.manual:
        day = datetime.fromisoformat(m["entered_at"]).astimezone(zone)
        words = {"channel": channel_label(m["channel"]), "metric": label("metric", m["metric"]),
                 "value": f"{m['value']:,}", "district": m["district"], "who": m["entered_by"],
                 "day": f"{day:%Y-%m-%d}"}
        if m["district"]:
            found.append(_("{channel} · {metric}: {value} in {district}, entered by {who} on "
                           "{day}").format(**words))
        else:
            found.append(_("{channel} · {metric}: {value}, entered by {who} on {day}")
                         .format(**words))
    return found
