"""The report's figures for spreadsheets: ``figures.xlsx`` and ``figures.csv`` (UTF-8 BOM).

One row per reach figure of every channel (the report's table first, in its order, then
the figures a summary leaves out, such as SMS segments and article shares), with headers,
channel, metric and source names in the report's language and the value as a number, so
a clerk can paste them into the office's own tables. ``reach.csv`` stays the machine file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from dispatcher.files.exports import Column, write_csv, write_xlsx
from dispatcher.i18n import _, pgettext
from dispatcher.i18n.labels import label
from dispatcher.reports.data import ReportData
from dispatcher.reports.text import (
    ANY_METRIC,
    Figure,
    channel_label,
    figures,
    method_text,
    source_label,
)

XLSX = "figures.xlsx"
CSV = "figures.csv"


def columns() -> list[Column]:
    return [Column(_("Campaign")), Column(_("Channel")), Column(_("Metric")),
            Column(pgettext("figure", "Value"), "number"), Column(_("Source")), Column(_("Method"))]


def every_figure(reach: dict[str, Any]) -> list[Figure]:
    """The report's figures, then every other reach figure, by channel and metric."""
    shown = figures(reach)
    stated = {(f.channel, f.metric) for f in shown}
    rest = [Figure(channel, metric, int(value), entry["reach_sources"][metric]["source"],
                   entry["reach_sources"][metric]["method"], ANY_METRIC, metric)
            for channel, entry in sorted(reach["channels"].items())
            for metric, value in sorted(entry["reach"].items())
            if (channel, metric) not in stated]
    return shown + rest


def rows(data: ReportData) -> list[list[object]]:
    return [[data.campaign.title, channel_label(f.channel), label("metric", f.metric),
             f.value, source_label(f.source), method_text(f.method)]
            for f in every_figure(data.reach)]


def write_figures(out: Path, data: ReportData) -> list[Path]:
    """Write figures.xlsx and figures.csv into ``out``; the paths written."""
    zone = ZoneInfo(data.campaign.timezone)
    header, found = columns(), rows(data)
    workbook, table = out / XLSX, out / CSV
    with workbook.open("wb") as handle:
        write_xlsx(handle, header, found, zone, _("Reach figures"))
    with table.open("w", encoding="utf-8", newline="") as handle:
        write_csv(handle, header, found, zone)
    return [workbook, table]
