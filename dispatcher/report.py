"""``dispatcher report ID --out DIR``: the drive's report, written from the database.

Files: ``report.html`` (self-contained: inline CSS and SVG charts, printable, offline),
``report.md`` (the same text, charts linked), ``reach.csv`` (one line per figure with its
source and method), ``reach.json`` (everything the report shows) and ``charts/*.svg``:
reach per channel, the daily timeline per channel, the coverage of the four area types
by district, and the top failure reasons.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from channels.base import AREA_TYPES
from dispatcher.config import Config
from dispatcher.csvfile import spreadsheet_safe
from dispatcher.db import utcnow
from dispatcher.report_charts import bars, daily, heatmap
from dispatcher.report_data import ReportData, gather
from dispatcher.report_text import figures, summary

CHARTS = ("reach", "timeline", "coverage", "failures")


@dataclass(frozen=True)
class WrittenReport:
    directory: Path
    files: list[Path]


def write_report(engine: Engine, config: Config, campaign_id: str, out: Path
                 ) -> WrittenReport:
    data = gather(engine, config, campaign_id)
    (out / "charts").mkdir(parents=True, exist_ok=True)
    charts = _charts(data)
    files = []
    for name, svg in charts.items():
        files.append(_write(out / "charts" / f"{name}.svg", svg))
    chinese, english, notes = summary(data.campaign.title, data.reach)
    files.append(_write(out / "reach.json", json.dumps(
        data.as_json() | {"summary": {"zh": chinese, "en": english, "notes": notes}},
        ensure_ascii=False, indent=2, default=str)))
    files.append(_write_csv(out / "reach.csv", data))
    files.append(_write(out / "report.md", _markdown(data, chinese, english, notes)))
    files.append(_write(out / "report.html", _html(data, charts, chinese, english, notes)))
    return WrittenReport(out, files)


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _charts(data: ReportData) -> dict[str, str]:
    shown = [(f"{f.channel}: {f.metric}", f.value) for f in figures(data.reach)]
    return {
        "reach": bars("Reach per channel (gross)", shown),
        "timeline": daily("What went out per day, per channel", data.timeline),
        "coverage": heatmap("Messages and plays by district and area type", data.coverage,
                            AREA_TYPES),
        "failures": bars("Top failure reasons (rows)",
                         [(f"{f['channel']} {f['status']} {f['code']}", f["rows"])
                          for f in data.failures]),
    }


def _write_csv(path: Path, data: ReportData) -> Path:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)

        def row(*cells: object) -> None:
            writer.writerow([spreadsheet_safe(cell) for cell in cells])

        row("channel", "metric", "value", "source", "method")
        for channel, entry in sorted(data.reach["channels"].items()):
            for state in ("targets", "pending", "sending", "sent", "delivered", "undelivered",
                          "failed"):
                row(channel, state, entry[state], "computed", "delivery rows")
            for reason, count in entry["skipped"].items():
                row(channel, f"skipped:{reason}", count, "computed", "delivery rows")
            for metric, value in sorted(entry["reach"].items()):
                source = entry["reach_sources"][metric]
                row(channel, metric, value, source["source"], source["method"])
    return path


# Characters Markdown gives a meaning to (emphasis, links, images, code, tables, headings,
# lists); a backslash before each makes it plain text. HTML's < > & become entities.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~:=])")
_LINE_BREAKS = re.compile(r"[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]+")


def markdown_text(text: object) -> str:
    """``text`` as Markdown that renders as exactly that text, on one line.

    Titles, owners, districts, names and methods come from people: ``<script>``,
    ``<img onerror=...>``, ``[x](javascript:...)`` or ``![x](https://...)`` in them must
    reach the reader as text, not as HTML, a link or an image a renderer fetches.
    """
    flat = _LINE_BREAKS.sub(" ", str(text))
    return _MARKDOWN_SPECIAL.sub(r"\\\1", escape(flat, quote=False))


def _markdown(data: ReportData, chinese: str, english: str, notes: list[str]) -> str:
    md = markdown_text
    lines_ = [f"# {md(data.campaign.title)}", "", f"{md(data.campaign.owner)} · campaign "
              f"`{data.campaign.id}` · written {utcnow():%Y-%m-%d %H:%M} UTC", "",
              md(chinese), "", md(english), "", "## Reach", "",
              "| channel | metric | value | source |", "|---|---|---|---|"]
    for f in figures(data.reach):
        lines_.append(f"| {md(f.channel)} | {md(f.metric)} | {f.value:,} | {md(f.source)} |")
    lines_ += ["", *(f"![{name}](charts/{name}.svg)" for name in CHARTS), "", "## Methods",
               "", *(f"- {md(note)}" for note in notes)]
    if data.manual:
        lines_ += ["", "## Entered by hand", ""] + [
            f"- {md(m['channel'])}.{md(m['metric'])} = {m['value']:,}"
            f"{' in ' + md(m['district']) if m['district'] else ''}, by "
            f"{md(m['entered_by'])} on {md(m['entered_at'][:10])}" for m in data.manual]
    return "\n".join(lines_) + "\n"


_CSS = """body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:60rem;color:#1d2330}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #ddd;padding:.3rem .5rem;
text-align:left}td.n{text-align:right}figure{margin:1rem 0}.zh{font-size:1.1rem}
@media print{body{margin:0;max-width:none}figure{break-inside:avoid}}"""


def _html(data: ReportData, charts: dict[str, str], chinese: str, english: str,
          notes: list[str]) -> str:
    rows = "".join(f"<tr><td>{escape(f.channel)}</td><td>{escape(f.metric)}</td>"
                   f'<td class="n">{f.value:,}</td><td>{escape(f.source)}</td></tr>'
                   for f in figures(data.reach))
    figures_html = "".join(f"<figure>{charts[name]}</figure>" for name in CHARTS)
    manual = "".join(f"<li>{escape(m['channel'])}.{escape(m['metric'])} = {m['value']:,}"
                     f"{escape(' in ' + m['district']) if m['district'] else ''}, by "
                     f"{escape(m['entered_by'])} on {escape(m['entered_at'][:10])}</li>"
                     for m in data.manual)
    title = escape(data.campaign.title)
    return (f'<!doctype html><html lang="zh-Hant"><head><meta charset="utf-8">'
            f"<title>{title}</title><style>{_CSS}</style></head><body>"
            f"<h1>{title}</h1><p>{escape(data.campaign.owner)} · campaign "
            f"<code>{escape(data.campaign.id)}</code> · written "
            f"{utcnow():%Y-%m-%d %H:%M} UTC</p>"
            f'<p class="zh" lang="zh-Hant">{escape(chinese)}</p><p lang="en">'
            f"{escape(english)}</p><h2>Reach</h2><table><tr><th>channel</th><th>metric</th>"
            f"<th>value</th><th>source</th></tr>{rows}</table>{figures_html}"
            + (f"<h2>Entered by hand</h2><ul>{manual}</ul>" if manual else "")
            + "<h2>Methods</h2><ol>" + "".join(f"<li>{escape(n)}</li>" for n in notes)
            + "</ol></body></html>")


def summary_of(path: Path) -> dict[str, Any]:
    """The reach.json a report wrote (for tests and tools)."""
    found: dict[str, Any] = json.loads((path / "reach.json").read_text(encoding="utf-8"))
    return found
