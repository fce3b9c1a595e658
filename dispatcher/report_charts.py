"""Small SVG charts for reports: horizontal bars, daily lines, a heatmap.

Plain SVG text, no plotting library and nothing fetched: the report's HTML embeds them,
and they print. Every label is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

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
        y = 34 + i * row
        length = round((WIDTH - left - right) * value / top)
        body.append(f'<text x="{left - 8}" y="{y + 14}" text-anchor="end" {FONT}>'
                    f'{escape(label)}</text>'
                    f'<rect x="{left}" y="{y + 2}" width="{max(length, 1)}" height="{row - 8}" '
                    f'fill="{PALETTE[i % len(PALETTE)]}"><title>{escape(label)}: {value:,}'
                    f'</title></rect>'
                    f'<text x="{left + length + 6}" y="{y + 14}" {FONT}>{value:,}</text>')
    return _svg(44 + row * max(len(items), 1), body, title)


def daily(title: str, series: Mapping[str, Mapping[str, int]]) -> str:
    """One panel per series, each over its own days (channels of one drive can run in
    different weeks): a column per day, scaled to that series' peak."""
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
            body.append(f'<text x="{left}" y="{top + panel_h + 14}" {FONT}>{escape(days[0])}'
                        f' to {escape(days[-1])}, peak {peak:,} a day</text>')
    return _svg(40 + len(series) * (panel_h + gap), body, title)


def heatmap(title: str, rows: Mapping[str, Mapping[str, int]], columns: Sequence[str]) -> str:
    """A cell per (row, column), darker for more; the value written in each cell."""
    top = max((v for cells in rows.values() for v in cells.values()), default=0) or 1
    left, cell_w, cell_h = 180, 120, 26
    body = [f'<text x="{left + cell_w * j + cell_w / 2}" y="40" text-anchor="middle" {FONT}>'
            f'{escape(c)}</text>' for j, c in enumerate(columns)]
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
