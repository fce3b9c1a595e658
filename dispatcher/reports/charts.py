"""Small SVG charts for reports: horizontal bars, bars in panels, daily columns, a heatmap.

Plain SVG text, no plotting library and nothing fetched: the report's HTML embeds them,
and they print. Every label is escaped. The callers pass labels in the report's language;
the few words a chart writes itself go through the catalogs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from dispatcher.i18n import _

WIDTH = 720
PALETTE = ("#2f6fb3", "#d9822b", "#3a9b5c", "#b33f3f", "#7a5cb3", "#8c8c3a", "#3aa0a0")
FONT = 'font-family="system-ui, sans-serif" font-size="12"'


def _svg(height: int, body: list[str], title: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
            f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}">'
            f'<title>{escape(title)}</title>'
            f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>'
            f'<text x="10" y="20" {FONT} font-weight="bold">{escape(title)}</text>'
            + "".join(body) + "</svg>")


def bars(title: str, items: Sequence[tuple[str, int]]) -> str:
    """One horizontal bar per (label, value), scaled to the largest."""
    top = max((v for _, v in items), default=0) or 1
    row, left, right = 24, 200, 110
    body = []
    for i, (label, value) in enumerate(items):
        length = round((WIDTH - left - right) * value / top)
        body.append(_bar(label, value, length, 34 + i * row, left, row,
                         PALETTE[i % len(PALETTE)]))
    return _svg(44 + row * max(len(items), 1), body, title)


Panel = tuple[str, Sequence[tuple[str, int]]]  # (heading with the unit, bars)


def panels(title: str, groups: Sequence[Panel]) -> str:
    """One panel per unit, each scaled to its own largest value: estimated impressions in
    the millions, screens in the hundreds and posters in the thousands on one axis would
    leave the small ones a sliver and compare what cannot be compared."""
    row, left, right, heading = 24, 200, 110, 22
    body, y = [], 34
    for n, (unit, items) in enumerate(groups):
        top = max((v for _, v in items), default=0) or 1
        body.append(f'<g class="panel" data-unit="{escape(unit)}">'
                    f'<text x="10" y="{y + 15}" {FONT} font-weight="bold">{escape(unit)}'
                    f'</text>')
        y += heading
        for label, value in items:
            length = round((WIDTH - left - right) * value / top)
            body.append(_bar(label, value, length, y, left, row, PALETTE[n % len(PALETTE)]))
            y += row
        body.append("</g>")
        y += 10
    return _svg(y + 10, body, title)


def _bar(label: str, value: int, length: int, y: int, left: int, row: int,
         color: str) -> str:
    return (f'<text x="{left - 8}" y="{y + 14}" text-anchor="end" {FONT}>{escape(label)}'
            f'</text><rect x="{left}" y="{y + 2}" width="{max(length, 1)}" '
            f'height="{row - 8}" fill="{color}"><title>{escape(label)}: {value:,}</title>'
            f'</rect><text x="{left + length + 6}" y="{y + 14}" {FONT}>{value:,}</text>')


def daily(title: str, series: Mapping[str, Mapping[str, int]],
          units: Mapping[str, str] | None = None) -> str:
    """One panel per series, each over its own days (channels of one drive can run in
    different weeks): a column per day, scaled to that series' peak; ``units`` names what
    each series counts (messages, plays, screenings)."""
    left, panel_h, gap = 130, 70, 26
    body = []
    for i, (name, points) in enumerate(sorted(series.items())):
        days = sorted(points)
        top = 40 + i * (panel_h + gap)
        peak = max(points.values(), default=0) or 1
        width = (WIDTH - left - 20) / max(len(days), 1)
        color = PALETTE[i % len(PALETTE)]
        body.append(f'<text x="{left - 8}" y="{top + panel_h / 2}" text-anchor="end" {FONT}>'
                    f'{escape(name)}</text>')
        for j, day in enumerate(days):
            height = panel_h * points[day] / peak
            body.append(f'<rect x="{left + j * width:.1f}" y="{top + panel_h - height:.1f}" '
                        f'width="{max(width - 1, 1):.1f}" height="{max(height, 1):.1f}" '
                        f'fill="{color}"><title>{escape(day)}: {points[day]:,}</title></rect>')
        if days:
            caption = _("{first} to {last}, peak {peak} {unit} a day").format(
                first=days[0], last=days[-1], peak=f"{peak:,}",
                unit=(units or {}).get(name, ""))
            body.append(f'<text x="{left}" y="{top + panel_h + 14}" {FONT}>'
                        f'{escape(caption)}</text>')
    return _svg(40 + len(series) * (panel_h + gap), body, title)


def heatmap(title: str, rows: Mapping[str, Mapping[str, int]], columns: Sequence[str],
            headings: Sequence[str] | None = None) -> str:
    """A cell per (row, column), darker for more; the value written in each cell.
    ``headings`` are what the columns read as (their labels), the column keys if None."""
    top = max((v for cells in rows.values() for v in cells.values()), default=0) or 1
    left, cell_w, cell_h = 180, 120, 26
    body = [f'<text x="{left + cell_w * j + cell_w / 2}" y="40" text-anchor="middle" {FONT}>'
            f'{escape(c)}</text>' for j, c in enumerate(headings or columns)]
    for i, (name, cells) in enumerate(rows.items()):
        y = 48 + i * cell_h
        body.append(f'<text x="{left - 8}" y="{y + 17}" text-anchor="end" {FONT}>'
                    f'{escape(name)}</text>')
        for j, column in enumerate(columns):
            value = cells.get(column, 0)
            shade = round(235 - 180 * value / top)
            body.append(f'<rect x="{left + cell_w * j}" y="{y}" width="{cell_w - 2}" '
                        f'height="{cell_h - 2}" fill="rgb({shade},{shade + 10},255)"/>'
                        f'<text x="{left + cell_w * j + cell_w / 2}" y="{y + 17}" '
                        f'text-anchor="middle" {FONT}>{value:,}</text>')
    return _svg(60 + cell_h * max(len(rows), 1), body, title)
