"""``dispatcher report ID --out DIR [--lang zh-CN|zh-TW|en]``: the drive's report.

Files: ``report.html`` (self-contained: inline CSS and SVG charts, printable, offline),
``report.md`` (the same text, charts linked), ``figures.xlsx`` and ``figures.csv`` (the
figures for spreadsheets, headers and names in the report's language), ``reach.csv`` (one
line per figure with its source and method, machine names), ``reach.json`` (everything
the report shows) and ``charts/*.svg``: reach per unit (one panel and scale each), the
daily timeline per channel, the coverage of the four area types by district, and the top
failure reasons.

The report is written in one language, the locale given (the config's ``[web] locale``
by default: Simplified Chinese): every heading, label, footnote and chart word is
translated through the catalogs while it is written (``i18n.use_locale``), and the HTML
says which script it is in (``lang="zh-Hans"``, ``zh-Hant`` or ``en``) so fonts and
screen readers pick the right one. Machine names stay in reach.csv and reach.json.
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
from dispatcher.files.csvfile import spreadsheet_safe
from dispatcher.i18n import HTML_LANG, _, current_locale, pgettext, use_locale
from dispatcher.i18n.labels import label
from dispatcher.reports.charts import Panel, bars, daily, heatmap, panels
from dispatcher.reports.data import NO_DISTRICT, ReportData, gather
from dispatcher.reports.figures import write_figures
from dispatcher.reports.sections import (
    Table,
    byline,
    failure_table,
    headings,
    manual_lines,
    no_code,
    reach_table,
)
from dispatcher.reports.text import Figure, Summary, channel_label, figures, summary
from dispatcher.storage.db import utcnow

CHARTS = ("reach", "timeline", "coverage", "failures")


@dataclass(frozen=True)
class WrittenReport:
    directory: Path
    files: list[Path]
    summary: str  # the summary paragraph, in the report's language


def write_report(engine: Engine, config: Config, campaign_id: str, out: Path,
                 locale: str | None = None) -> WrittenReport:
    """Write the report of ``campaign_id`` into ``out`` in ``locale`` ("zh_CN", "zh_TW",
    "en"; the config's ``[web] locale`` when None)."""
    with use_locale(locale or config.web.locale):
        return _write_all(gather(engine, config, campaign_id), out)


def _write_all(data: ReportData, out: Path) -> WrittenReport:
    (out / "charts").mkdir(parents=True, exist_ok=True)
    charts = _charts(data)
    files = [_write(out / "charts" / f"{name}.svg", svg) for name, svg in charts.items()]
    said = summary(data.campaign.title, data.reach)
    files.append(_write(out / "reach.json", json.dumps(
        data.as_json() | {"summary": {"locale": current_locale(), "text": said.text,
                                      "notes": said.notes}},
        ensure_ascii=False, indent=2, default=str)))
    files.append(_write_csv(out / "reach.csv", data))
    files += write_figures(out, data)
    line = byline(data, utcnow())
    files.append(_write(out / "report.md", _markdown(data, line, said)))
    files.append(_write(out / "report.html", _html(data, charts, line, said)))
    return WrittenReport(out, files, said.text)


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _charts(data: ReportData) -> dict[str, str]:
    return {
        "reach": reach_chart(data.reach),
        "timeline": daily(_("What went out per day, per channel"),
                          {channel_label(c): days for c, days in data.timeline.items()},
                          {channel_label(c): _timeline_unit(c) for c in data.timeline}),
        "coverage": heatmap(_("Messages and plays by district and area type"),
                            {_district(d): cells for d, cells in data.coverage.items()},
                            AREA_TYPES, [label("area", a) for a in AREA_TYPES]),
        "failures": bars(_("Top failure reasons (rows)"),
                         [(f"{channel_label(f['channel'])} {label('state', f['status'])} "
                           f"{_code(f['code'])}", f["rows"]) for f in data.failures]),
    }


def reach_chart(reach: dict[str, Any]) -> str:
    """The reach figures as bars, one panel per unit, each panel on its own scale."""
    return panels(_("Reach by unit (gross counts; each panel has its own scale)"),
                  _reach_panels(figures(reach)))


def _reach_panels(found: list[Figure]) -> list[Panel]:
    """The figures grouped by unit, in the order their units first appear."""
    groups: dict[str, list[tuple[str, int]]] = {}
    for figure in found:
        groups.setdefault(figure.unit_heading(), []).append(
            (f"{channel_label(figure.channel)} · {label('metric', figure.metric)}",
             figure.value))
    return list(groups.items())


def _timeline_unit(channel: str) -> str:
    if channel == "led":
        return pgettext("per day", "plays")
    if channel == "cinema":
        return pgettext("per day", "screenings")
    return pgettext("per day", "messages")


def _district(name: str) -> str:
    return _("(district unknown)") if name == NO_DISTRICT else name


def _code(code: str) -> str:
    return no_code() if code == "(none)" else code


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


def _markdown(data: ReportData, byline: str, said: Summary) -> str:
    """report.md: the language in its front matter (as Pandoc reads it), then the text."""
    md = markdown_text
    heads = {key: md(text) for key, text in headings().items()}
    lines_ = ["---", f"lang: {HTML_LANG[current_locale()]}", "---", "",
              f"# {md(data.campaign.title)}", "", md(byline), "", md(said.text), "",
              f"## {heads['reach']}", "", *_md_table(reach_table(data)), "",
              *(f"![{name}](charts/{name}.svg)" for name in CHARTS)]
    failures = failure_table(data)
    if failures.rows:
        lines_ += ["", f"## {heads['failures']}", "", *_md_table(failures)]
    manual = manual_lines(data)
    if manual:
        lines_ += ["", f"## {heads['manual']}", "", *(f"- {md(m)}" for m in manual)]
    lines_ += ["", f"## {heads['methods']}", "", *(f"- {md(note)}" for note in said.notes)]
    return "\n".join(lines_) + "\n"


def _md_table(table: Table) -> list[str]:
    md = markdown_text
    rule = ["--:" if i in table.numeric else "---" for i in range(len(table.header))]
    return ["| " + " | ".join(md(cell) for cell in table.header) + " |",
            "|" + "|".join(rule) + "|",
            *("| " + " | ".join(md(cell) for cell in row) + " |" for row in table.rows)]


_CSS = """body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:60rem;color:#1d2330}
:lang(zh-Hans){font-family:"Noto Sans CJK SC","Source Han Sans SC","PingFang SC",
"Microsoft YaHei",system-ui,sans-serif}
:lang(zh-Hant){font-family:"Noto Sans CJK TC","Source Han Sans TC","PingFang TC",
"Microsoft JhengHei",system-ui,sans-serif}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #ddd;padding:.3rem .5rem;
text-align:left}td.n{text-align:right}figure{margin:1rem 0}.summary{font-size:1.1rem}
ul.notes{list-style:none;padding-left:0}
@media print{body{margin:0;max-width:none}figure{break-inside:avoid}}"""


def _html(data: ReportData, charts: dict[str, str], byline: str, said: Summary) -> str:
    figures_html = "".join(f"<figure>{charts[name]}</figure>" for name in CHARTS)
    failures = failure_table(data)
    manual = "".join(f"<li>{escape(m)}</li>" for m in manual_lines(data))
    title = escape(data.campaign.title)
    heads = {key: escape(text) for key, text in headings().items()}
    return (f'<!doctype html><html lang="{HTML_LANG[current_locale()]}"><head>'
            f'<meta charset="utf-8"><title>{title}</title><style>{_CSS}</style></head>'
            f"<body><h1>{title}</h1><p>{escape(byline)}</p>"
            f'<p class="summary">{escape(said.text)}</p>'
            f"<h2>{heads['reach']}</h2>{_html_table(reach_table(data))}{figures_html}"
            + (f"<h2>{heads['failures']}</h2>{_html_table(failures)}" if failures.rows
               else "")
            + (f"<h2>{heads['manual']}</h2><ul>{manual}</ul>" if manual else "")
            + f"<h2>{heads['methods']}</h2><ul class=\"notes\">"
            + "".join(f"<li>{escape(n)}</li>" for n in said.notes) + "</ul></body></html>")


def _html_table(table: Table) -> str:
    head = "".join(f"<th>{escape(cell)}</th>" for cell in table.header)
    body = "".join("<tr>" + "".join(
        f'<td class="n">{escape(cell)}</td>' if i in table.numeric
        else f"<td>{escape(cell)}</td>" for i, cell in enumerate(row)) + "</tr>"
        for row in table.rows)
    return f"<table><tr>{head}</tr>{body}</table>"
