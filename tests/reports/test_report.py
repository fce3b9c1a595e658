"""The reach report in the office's language: amounts, summary, footnotes, chart, --lang.

The Chinese words come from the catalogs (``dispatcher/locale``): the tests that read
Chinese text check the catalogs' zh_CN and zh_TW translations as the report uses them.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from html import escape
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, select

from channels.base import Placement
from dispatcher import registry
from dispatcher.audience.contacts import import_contacts
from dispatcher.cli import main
from dispatcher.delivery.transitions import Transition, advance
from dispatcher.error_codes import explain
from dispatcher.i18n import use_locale
from dispatcher.i18n.amounts import approximate
from dispatcher.reach import manual as manual_reach
from dispatcher.reports.text import summary, translate_method
from dispatcher.reports.writer import reach_chart
from dispatcher.storage.db import make_engine
from dispatcher.storage.tables import deliveries
from dispatcher.testing import plan_campaign, sms_campaign_text

SVG = "{http://www.w3.org/2000/svg}"
TRADITIONAL_ONLY = set("萬餘億條區廣電傳報場觀眾閱讀張塊冊講計數應進運們說這資訊為與實際體驗網絡來")
SIMPLIFIED_ONLY = set("万余亿条区广电传报场观众阅读张块册讲计数应进运们说这资讯为与实际体验网络来")


def _figure(value: int, source: str, method: str) -> dict[str, Any]:
    return {"value": value, "source": source, "method": method}


def drive_reach() -> dict[str, Any]:
    """A reach object shaped like the 2019 drive's (DESIGN.md "Who uses it")."""
    figures = {
        "sms": {"message_times": _figure(3_215_432, "computed", "rows sent, delivered or "
                                         "undelivered (gross: one per message, not per "
                                         "person)")},
        "wechat": {"recipients": _figure(41_230, "provider", "SentCount of each broadcast's "
                                         "MASSSENDJOBFINISH event (gross)"),
                   "reads": _figure(33_012, "provider", "share_count of datacube "
                                    "getarticletotal, latest day reported (gross)")},
        "led": {"screens": _figure(531, "provider", "screens with at least one proof-of-play "
                                   "record"),
                "plays": _figure(95_580, "provider", "sum of proof-of-play counts (each play "
                                 "once, however often its batch was sent)"),
                "impressions": _figure(2_390_400, "computed", "plays x audience_per_play of "
                                       "each screen (its audience_source in the registry; "
                                       "gross)")},
        "cinema": {"screenings": _figure(517, "provider", "screenings whose play log "
                                         "confirms the spot played"),
                   "admissions": _figure(100_234, "provider", "attendance of those "
                                         "screenings as the cinemas report it (gross: a "
                                         "person at two screenings counts twice)")},
        "print": {"posters": _figure(60_000, "manual", "entered by hand by 王伟"),
                  "boards": _figure(700, "manual", "entered by hand by 王伟, 李娜")},
    }
    return {"channels": {channel: {
        "reach": {metric: f["value"] for metric, f in metrics.items()},
        "reach_sources": {metric: {"source": f["source"], "method": f["method"]}
                          for metric, f in metrics.items()}}
        for channel, metrics in figures.items()}}


# --- amounts -----------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "english"), [
    (3_215_432, "3,210,000+"), (3_200_000, "3,200,000"), (100_234, "100,000+"),
    (517, "500+"), (500, "500"), (87, "87"), (0, "0")])
def test_amounts_round_down_and_say_more_than_in_english(value: int, english: str) -> None:
    with use_locale("en"):
        assert approximate(value) == english


@pytest.mark.parametrize(("value", "simplified", "traditional"), [
    (3_215_432, "321万余", "321萬餘"), (3_200_000, "320万", "320萬"),
    (100_234, "10万余", "10萬餘"), (517, "500余", "500餘"), (1_968, "1900余", "1900餘"),
    (87, "87", "87"), (123_456_789, "1亿2345万余", "1億2345萬餘"),
    (200_000_000, "2亿", "2億")])
def test_amounts_count_in_wan_and_follow_the_script(value: int, simplified: str,
                                                    traditional: str) -> None:
    with use_locale("zh_CN"):
        assert approximate(value) == simplified
    with use_locale("zh_TW"):
        assert approximate(value) == traditional


# --- the summary and its footnotes -------------------------------------------------------


def test_summary_reads_like_the_offices_own_in_simplified() -> None:
    with use_locale("zh_CN"):
        said = summary("平安高新 · 扫黑除恶专项斗争宣传", drive_reach())
    assert "短信 321万余条次[1]" in said.text
    assert "影院映前广告 500余场次[7]、观众 10万余人次[8]" in said.text
    assert "海报 6万张[9]" in said.text  # an exact figure has no 余
    assert "；" in said.text and "。" in said.text
    assert not TRADITIONAL_ONLY & set(said.text + "".join(said.notes))
    assert len(said.notes) == 10 and said.notes[0].startswith("[1] ")
    assert "状态为已发送、已送达或未送达的记录数" in said.notes[0]  # the method, translated
    assert "王伟, 李娜" in said.notes[9]  # who entered it, as entered


def test_summary_in_traditional_only_when_asked() -> None:
    with use_locale("zh_TW"):
        said = summary("平安高新", drive_reach())
    assert "321萬餘" in said.text and "500餘場次" in said.text
    assert not {"万", "余", "条", "场", "观", "众"} & set(said.text)


def test_summary_in_english() -> None:
    with use_locale("en"):
        said = summary("Ping An Ding", drive_reach())
    assert "SMS 3,210,000+ message-times[1]" in said.text
    assert "cinema pre-show spots 500+ screenings[7], audience 100,000+ person-times[8]" \
        in said.text
    assert not SIMPLIFIED_ONLY & set(said.text) and said.text.isascii()
    assert "method: plays x audience_per_play" in said.notes[5]


def test_summary_without_figures_says_so() -> None:
    with use_locale("en"):
        said = summary("Drive", {"channels": {}})
    assert said.text == "Drive: no reach figures yet." and said.notes == []


def _every_channels_figures() -> Iterator[tuple[str, str, str]]:
    """(channel, metric, method) of every figure the installed channels give, for the
    placements they take, plus hand-entered ones."""
    channels = registry.build_channels({})
    states = {"sent": 3, "delivered": 5, "undelivered": 1}
    reports = {"played": 2, "plays": 9, "impressions": 90, "screenings": 4, "admissions": 80,
               "recipients": 7, "reads": 6, "shares": 1}
    options: dict[str, list[dict[str, Any]]] = {
        "sms": [{"body": "【平安高新】扫黑除恶，人人有责。"}],
        "wechat": [{"msgtype": "mpnews"}, {"msgtype": "template"}], "led": [{}],
        "cinema": [{}], "webhook": [{}]}
    for name, channel in channels.items():
        for index, placement_options in enumerate(options.get(name, [{}])):
            placement = Placement(index, name, placement_options)
            for metric, figure in channel.reach(placement, states, reports).items():
                yield name, metric, figure.method


def test_every_method_the_channels_give_has_a_translation_template() -> None:
    seen = list(_every_channels_figures())
    assert {channel for channel, _m, _method in seen} >= {"sms", "wechat", "led", "cinema",
                                                          "webhook"}
    with use_locale("en"):
        untranslatable = [(c, m, method) for c, m, method in seen
                          if translate_method(method) is None]
        assert untranslatable == []
        methods = sorted({method for _c, _m, method in seen})
        joined = "; ".join(methods[:3])  # two placements summed: their methods joined
        assert translate_method(joined) == joined
        assert translate_method("entered by hand by 王伟, =1+1") == "entered by hand by 王伟, =1+1"
        assert translate_method("counted somehow") is None


def test_methods_translate_with_their_values() -> None:
    with use_locale("zh_CN"):
        text = translate_method("message_times x 2 segment(s) per message; entered by hand "
                                "by 王伟")
    assert text is not None and "2" in text and "王伟" in text and "segment" not in text


# --- the reach chart ---------------------------------------------------------------------


def _panels(svg: str) -> dict[str, list[float]]:
    """Each panel's unit and the widths of its bars."""
    root = ElementTree.fromstring(svg)
    return {group.attrib["data-unit"]: [float(rect.attrib["width"])
                                        for rect in group.iter(f"{SVG}rect")]
            for group in root.iter(f"{SVG}g") if group.attrib.get("class") == "panel"}


def test_reach_chart_draws_one_panel_per_unit_each_on_its_own_scale() -> None:
    with use_locale("en"):
        panels = _panels(reach_chart(drive_reach()))
    assert list(panels) == ["Messages (message-times)", "People reached (person-times, gross)",
                            "Article reads (times)", "Screens", "Plays (times)",
                            "Screenings", "Posters (sheets)", "Display boards"]
    full = max(width for widths in panels.values() for width in widths)
    # 531 screens next to 2,390,400 impressions would be a 0 px sliver on one scale.
    assert panels["Screens"] == [full]
    assert panels["Screenings"] == [full]
    people = panels["People reached (person-times, gross)"]  # recipients, impressions,
    assert max(people) == full and min(people) > 5  # admissions: one unit, one scale


def test_reach_chart_words_follow_the_locale() -> None:
    with use_locale("zh_CN"):
        svg = reach_chart(drive_reach())
    assert "屏幕（块）" in _panels(svg) and "海报（张）" in _panels(svg)


# --- dispatcher report --lang ------------------------------------------------------------


@pytest.fixture
def drive_db(tmp_path: Path) -> Iterator[tuple[Engine, Path]]:
    """A planned SMS drive: 10 rows sent, 2 undelivered (30003: the phone was off), 8
    still planned; and a hand-entered print run."""
    url = f"sqlite:///{tmp_path / 'report.db'}"
    engine = make_engine(url)
    people = "phone,area,district\n" + "".join(
        f"1380013{i:04d},residential,丈八街道\n" for i in range(20))
    import_contacts(engine, io.StringIO(people), "residents", "CN")
    plan_campaign(engine, sms_campaign_text("drive", title="平安高新 · 扫黑除恶专项斗争宣传",
                                            owner="高新区党工委宣传部"))
    with engine.begin() as conn:
        ids = list(conn.execute(select(deliveries.c.id)).scalars())
        advance(conn, [Transition("sent", delivery_id=row) for row in ids[:10]]
                + [Transition("undelivered", delivery_id=row, code="30003")
                   for row in ids[10:12]], actor="engine")
    manual_reach.record(engine, "drive", "print", "posters", 60_000, by="王伟")
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "{url}"\n', encoding="utf-8")
    yield engine, config
    engine.dispose()


def _report(config: Path, out: Path, *lang: str, code: int = 0) -> str:
    result = CliRunner().invoke(main, ["--config", str(config), "report", "drive", "--out",
                                       str(out), *lang])
    assert result.exit_code == code, result.output
    return result.output


def test_report_language_follows_lang(drive_db: tuple[Engine, Path], tmp_path: Path) -> None:
    _engine, config = drive_db
    for lang, html_lang in (("en", "en"), ("zh-TW", "zh-Hant"), ("zh_cn", "zh-Hans")):
        out = tmp_path / lang
        _report(config, out, "--lang", lang)
        html = (out / "report.html").read_text(encoding="utf-8")
        markdown = (out / "report.md").read_text(encoding="utf-8")
        assert html.startswith(f'<!doctype html><html lang="{html_lang}">')
        assert markdown.startswith(f"---\nlang: {html_lang}\n---\n")
    english = (tmp_path / "en" / "report.html").read_text(encoding="utf-8")
    assert "SMS 12 message-times[1]" in english and "Sources and methods" in english
    assert "(Asia/Shanghai)" in english  # the time written, in the campaign's zone
    with use_locale("en"):
        off = explain("sms", "30003")
    assert off is not None and off.known  # the failure table says what 30003 means
    assert f'<td>30003</td><td class="n">2</td><td>{escape(off.meaning)}</td>' in english


def test_report_is_simplified_by_default(drive_db: tuple[Engine, Path],
                                         tmp_path: Path) -> None:
    _engine, config = drive_db
    _report(config, tmp_path / "report")
    html = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    assert '<html lang="zh-Hans">' in html
    assert "短信 12条次[1]" in html and "海报 6万张[2]" in html
    assert "投放数据" in html and "数据来源与统计方法" in html
    text = html.split("<body>", 1)[1]
    assert not TRADITIONAL_ONLY & set(text)


def test_config_locale_is_the_default_and_a_bad_lang_is_refused(
        drive_db: tuple[Engine, Path], tmp_path: Path) -> None:
    _engine, config = drive_db
    config.write_text(config.read_text(encoding="utf-8") + '[web]\nlocale = "en"\n',
                      encoding="utf-8")
    _report(config, tmp_path / "en")
    assert '<html lang="en">' in (tmp_path / "en" / "report.html").read_text(encoding="utf-8")
    refused = _report(config, tmp_path / "fr", "--lang", "fr", code=2)
    assert "'fr' is not a language of the report" in refused and "zh-CN" in refused
    assert not (tmp_path / "fr").exists()


# --- figures.xlsx and figures.csv --------------------------------------------------------


def _sheet(path: Path) -> list[tuple[object, ...]]:
    from openpyxl import load_workbook

    book = load_workbook(path)
    assert book.sheetnames and len(book.sheetnames) == 1
    return [tuple(row) for row in book.worksheets[0].iter_rows(values_only=True)]


def test_figures_for_spreadsheets_in_english(drive_db: tuple[Engine, Path],
                                             tmp_path: Path) -> None:
    _engine, config = drive_db
    _report(config, tmp_path / "en", "--lang", "en")
    rows = _sheet(tmp_path / "en" / "figures.xlsx")
    assert rows[0] == ("Campaign", "Channel", "Metric", "Value", "Source", "Method")
    title = "平安高新 · 扫黑除恶专项斗争宣传"
    assert rows[1][:5] == (title, "sms", "message_times", 12, "computed")
    assert rows[2][:5] == (title, "print", "posters", 60_000, "manual")
    assert rows[3][:4] == (title, "sms", "segments", 12)  # beyond the summary's figures
    raw = (tmp_path / "en" / "figures.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel and WPS read Chinese right
    lines = raw.decode("utf-8-sig").splitlines()
    assert lines[0] == "Campaign,Channel,Metric,Value,Source,Method"
    assert lines[2].startswith(f"{title},print,posters,60000,manual,entered by hand by 王伟")


def test_figures_for_spreadsheets_have_chinese_headers(drive_db: tuple[Engine, Path],
                                                      tmp_path: Path) -> None:
    _engine, config = drive_db
    _report(config, tmp_path / "zh")
    rows = _sheet(tmp_path / "zh" / "figures.xlsx")
    assert rows[0] == ("活动", "渠道", "指标", "数值", "来源", "统计方法")
    assert rows[2][3] == 60_000 and isinstance(rows[2][3], int)
    assert rows[2][5] == "由 王伟 手工录入"
    csv_head = (tmp_path / "zh" / "figures.csv").read_bytes().decode("utf-8-sig")
    assert csv_head.startswith("活动,渠道,指标,数值,来源,统计方法\r\n")
