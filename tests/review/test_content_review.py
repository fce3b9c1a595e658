"""The approver's review on the campaign page: what each placement sends, to whom, when,
and how the file differs from the last approved version, before the approve button.

One SQLite database per test: contacts in two districts and three area types (one opted
out of SMS, one of every channel; that one and another at the frequency cap of 1 message
in 7 days after another campaign's SMS yesterday), LED screens, cinemas with showtimes,
and the campaign ``review`` with a placement on every channel, stored by the planner and
awaiting approval. The app's SMS and partner channels are configured (sender, endpoint URL).
English checks ask for English; the Chinese ones pass once the fragment
``/tmp/i18n/content.json`` is merged into the catalogs.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from channels.base import Audience, ContentDescriber, ContentFact
from channels.cinema.placement import content_facts as cinema_facts
from channels.led.placement import content_facts as led_facts
from channels.led.placement import daypart_minutes
from channels.sms.content import content_facts, signature
from channels.sms.segments import count_segments
from channels.venues import Booking, Screen, Screening
from channels.wechat.placement import content_facts as wechat_facts
from dispatcher import registry
from dispatcher.accounts.users import add_user
from dispatcher.approval import lifecycle
from dispatcher.audience import optouts
from dispatcher.audience.contacts import import_contacts
from dispatcher.campaigns.versions import load_stored
from dispatcher.config import Config, FrequencyCap, parse_config
from dispatcher.delivery.transitions import Transition, advance
from dispatcher.error_codes import explain
from dispatcher.planning.planner import plan_run
from dispatcher.review import content as content_review
from dispatcher.review.audience_counts import count_audience
from dispatcher.review.content import show
from dispatcher.review.diff import side_by_side, version_diff
from dispatcher.storage.db import make_engine
from dispatcher.storage.tables import deliveries
from dispatcher.testing import (
    plan_campaign,
    sms_campaign_text,
    store_campaign,
    unconfigured_channel,
)
from dispatcher.venues.cinemas import import_auditoriums, import_cinemas, import_showtimes
from dispatcher.venues.screens import import_screens
from dispatcher.web.app import create_app

PASSWORD = "correct horse battery"
BODY_70 = "【平安高新】" + "扫" * 64  # 70 UCS-2 units: one segment
BODY_71 = BODY_70 + "。"  # 71: two segments of 67 and 4
OPENID = "o" + "A" * 27
CONTACTS = """phone,area,district
13800000001,residential,丈八街道
13800000002,residential,丈八街道
13800000003,work,丈八街道
13800000004,residential,鱼化寨街道
13800000005,work,鱼化寨街道
13800000006,street,鱼化寨街道
13800000007,,
"""
SCREENS = """id,name,kind,district,area,resolution,audience_per_play,audience_source,\
controller,endpoint,tags
B-001,Tower A,building,丈八街道,work,1080x1920,10,count,pull,,
B-002,Tower B,building,丈八街道,residential,1080x1920,10,count,pull,,
O-001,Square,outdoor,丈八街道,street,1920x1080,50,count,pull,,
F-001,Mall,facade,鱼化寨街道,activity,1920x1080,80,count,pull,,
"""
SHOWTIMES = """id,cinema,auditorium,film,rating,start,expected_seats,status
S1,C01,1,长津湖,PG,2030-03-04T19:30:00+08:00,80,scheduled
S2,C01,1,流浪地球,PG,2030-03-05T20:00:00+08:00,60,scheduled
S3,C02,1,满江红,PG,2030-03-04T19:30:00+08:00,90,scheduled
S4,C01,1,独行月球,PG,2030-04-02T19:30:00+08:00,70,scheduled
"""


def campaign_text(sms_body: str = BODY_70, title: str = "平安高新宣传") -> str:
    return f"""id = "review"
title = "{title}"
owner = "宣传部"
timezone = "Asia/Shanghai"

[schedule]
start = 2030-01-01T09:00:00
end = 2030-12-31T21:00:00
cron = "0 9 * * *"
send_window = ["08:00", "21:00"]

[[placements]]
channel = "sms"
name = "居民"
audience = {{ lists = ["residents"] }}
body = "{sms_body}"
max_segments = 2

[[placements]]
channel = "sms"
audience = {{ lists = ["residents", "workers"], areas = ["work"] }}
body = "{BODY_71}"
max_segments = 2

[[placements]]
channel = "wechat"
msgtype = "mpnews"
media_id = "news-1"
audience = {{ all = true }}

[[placements]]
channel = "wechat"
msgtype = "template"
template_id = "tpl-1"
data = {{ first = "平安提醒", remark = "请拨打110" }}
audience = {{ openids = ["{OPENID}"] }}

[[placements]]
channel = "led"
screens = {{ districts = ["丈八街道"] }}
text = "平安高新 人人有责"
duration = 15
plays_per_hour = 4
dayparts = [["07:00", "10:00"], ["17:00", "22:00"]]

[[placements]]
channel = "cinema"
cinemas = {{ districts = ["丈八街道"] }}
spot = {{ asset = "pingan-30s", duration = 30 }}
position = "ads"
dates = [2030-03-01, 2030-03-31]

[[placements]]
channel = "webhook"
endpoint = "parcel"
audience = {{ lists = ["residents"], areas = ["residential"] }}
message = "【平安高新】请注意防范电信诈骗。"
"""


def make_config() -> Config:
    return parse_config({
        "timezone": "UTC",  # the page must show the campaign's zone, not this one
        "web": {"public_url": "http://testserver"},
        "channels": {
            "sms": {"account_sid": "env:TWILIO_ACCOUNT_SID",
                    "auth_token": "env:TWILIO_AUTH_TOKEN", "from": "+15005550006"},
            "webhook": {"endpoints": {"parcel": {"url": "http://127.0.0.1:8769/notices",
                                                 "secret": "env:PARCEL_SECRET"}}}},
        "limits": {"frequency_cap": {"messages": 1, "days": 7}}})


def seed(engine: Engine) -> None:
    import_contacts(engine, io.StringIO(CONTACTS), "residents", "CN")
    import_contacts(engine, io.StringIO("phone,area,district\n13800000003,work,丈八街道\n"
                                       "13800000005,work,鱼化寨街道\n"), "workers", "CN")
    import_contacts(engine, io.StringIO("phone,area,district\n13800000009,work,丈八街道\n"),
                    "others", "CN")
    import_contacts(engine, io.StringIO("phone,area,district\n13800000005,work,鱼化寨街道\n"
                                       "13800000004,residential,鱼化寨街道\n"), "capped", "CN")
    # Another campaign sent persons 4 and 5 an SMS yesterday: at the cap of 1 in 7 days.
    plan_campaign(engine, sms_campaign_text("earlier", audience_list="capped"),
                  fire_time=datetime.now(UTC) - timedelta(days=1))
    optouts.add(engine, "+8613800000002", "sms")
    optouts.add(engine, "+8613800000004", "*")  # since then: counted once, as opted out
    import_screens(engine, io.StringIO(SCREENS), "Asia/Shanghai")
    import_cinemas(engine, io.StringIO("id,name,district,system,preshow\n"
                                       "C01,Grand,丈八街道,cms,ads:60\n"
                                       "C02,Star,鱼化寨街道,cms,ads:60\n"), "Asia/Shanghai")
    import_auditoriums(engine, io.StringIO("cinema,id,name,seats\nC01,1,Hall 1,100\n"
                                           "C02,1,Hall 1,100\n"))
    import_showtimes(engine, io.StringIO(SHOWTIMES))
    store_campaign(engine, campaign_text(), approve_as=None)
    for role in ("planner", "approver"):
        add_user(engine, role, role, PASSWORD)


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    eng = make_engine(sqlite_url)
    seed(eng)
    yield eng
    eng.dispose()


def client_for(engine: Engine, language: str = "en") -> TestClient:
    config = make_config()
    app = create_app(engine, config, registry.build_channels(config.channels))
    client = TestClient(app, follow_redirects=False, headers={"Accept-Language": language})
    form = client.get("/login").text
    token = re.search(r'name="csrf" value="([^"]+)"', form)
    assert token is not None
    signed = client.post("/login", data={"name": "approver", "password": PASSWORD,
                                         "csrf": token.group(1), "next": "/campaigns"})
    assert signed.status_code == 303, signed.text
    return client


@pytest.fixture
def page(engine: Engine) -> str:
    with client_for(engine) as client:
        response = client.get("/campaigns/review")
    assert response.status_code == 200, response.text
    return response.text


def placement(page: str, index: int) -> str:
    """The HTML of placement ``index`` in the review section."""
    return page.split(f'id="placement-{index}"')[1].split('<div class="placement"')[0] \
        .split("</section>")[0]


def fact(html: str, key: str) -> str:
    found = re.search(rf'data-fact="{key}">(.*?)</dd>', html, re.S)
    assert found, f"no fact {key}"
    return found.group(1).strip()


# What goes out, per channel ----------------------------------------------------------------


def test_every_installed_channel_describes_its_placements() -> None:
    for name in registry.installed():
        assert isinstance(registry.build_channel(name, {}), ContentDescriber), name


def test_a_chinese_sms_is_ucs2_70_in_one_segment_67_per_part(page: str) -> None:
    one = placement(page, 0)
    assert f'<div class="message">{BODY_70}</div>' in one  # as the phone shows it
    assert fact(one, "sender") == "+15005550006"
    assert fact(one, "signature") == "平安高新"
    assert fact(one, "characters") == "70"
    assert fact(one, "encoding").startswith("UCS-2")
    assert fact(one, "segments") == "1"
    assert (fact(one, "single_segment_limit"), fact(one, "part_limit")) == ("70", "67")
    two = placement(page, 1)
    assert fact(two, "characters") == "71"
    assert fact(two, "segments").startswith("2 ")  # with its note: billed twice
    parts = two.split("<tbody>")[1].split("</tbody>")[0]  # where the network cuts it
    assert "<td>1</td><td>67</td>" in parts and "<td>2</td><td>4</td>" in parts
    assert f"<td>{BODY_71[67:]}</td>" in parts


def test_segment_facts_follow_the_projects_count() -> None:
    for body in ("Call 110 €", BODY_70, BODY_71, "x" * 161, "🙂" * 34 + "a", "【平安】" * 40):
        facts = dict(content_facts({"body": body}, None, 10))
        count = count_segments(body)
        assert (facts["encoding"], facts["segments"]) == (count.encoding, count.segments)
        if count.segments > 1:
            table = facts["parts"]
            assert isinstance(table, tuple)
            assert "".join(str(row[2]) for row in table[1:]) == body
            assert len(table) - 1 == count.segments
    assert signature("请拨打110。【平安高新】") == "平安高新" and signature("Call 110") == ""


def test_wechat_shows_msgtype_material_and_template_fields(page: str) -> None:
    news = placement(page, 2)
    assert fact(news, "msgtype") == "mpnews"
    assert fact(news, "media_id") == "<code>news-1</code>"  # an identifier: machine text
    assert fact(news, "to_all") == "yes" and fact(news, "requests") == "1"
    template = placement(page, 3)
    assert fact(template, "template_id") == "<code>tpl-1</code>"
    assert "<td>first</td><td>平安提醒</td>" in template
    assert "<td>remark</td><td>请拨打110</td>" in template
    assert fact(template, "openids") == "1"


def test_led_shows_its_text_screens_by_kind_and_district_and_plays(page: str) -> None:
    led = placement(page, 4)
    assert '<div class="message">平安高新 人人有责</div>' in led
    assert fact(led, "screens") == "3"  # not the facade in another district
    assert "<td>building</td><td>丈八街道</td><td>2</td>" in led
    assert "<td>outdoor</td><td>丈八街道</td><td>1</td>" in led
    assert "鱼化寨街道" not in led
    assert fact(led, "plays_per_hour") == "4"
    assert fact(led, "dayparts") == "07:00-10:00, 17:00-22:00"
    assert fact(led, "plays_per_day") == "32"  # 4 an hour over 8 hours
    assert fact(led, "plays_per_day_all") == "96"


def test_cinema_shows_the_spot_and_the_screenings_chosen(page: str) -> None:
    cinema = placement(page, 5)
    assert fact(cinema, "spot") == "pingan-30s" and fact(cinema, "duration") == "30"
    assert fact(cinema, "dates") == "2030-03-01 - 2030-03-31"
    assert fact(cinema, "screenings") == "2" and fact(cinema, "cinemas") == "1"
    assert fact(cinema, "expected_seats") == "140"
    assert "<td>C01</td><td>2030-03-04 19:30</td><td>长津湖</td>" in cinema
    assert "流浪地球" in cinema
    assert "满江红" not in cinema and "独行月球" not in cinema  # other district, other month


def test_webhook_shows_the_endpoint_and_the_message(page: str) -> None:
    partner = placement(page, 6)
    assert fact(partner, "endpoint") == "parcel"
    assert fact(partner, "endpoint_url") == "http://127.0.0.1:8769/notices"
    assert '<div class="message">【平安高新】请注意防范电信诈骗。</div>' in partner


def test_channel_facts_for_media_overnight_dayparts_text_and_full_blocks() -> None:
    screen = Screen("B-1", "Lobby", "building", None, "work", 1080, 1920, ("mp4",),
                    "Asia/Shanghai", 10, "pull", None)
    media = {"url": "https://cdn.example/a.mp4", "width": 1080, "height": 1920,
             "format": "mp4", "size": 3 << 20, "md5": "0" * 32}
    led = dict(led_facts({"media": media, "duration": 10, "plays_per_hour": 6,
                          "dayparts": [["22:00", "02:00"]]}, [screen]))
    assert (led["media_size"], led["media_bytes"]) == ("1080x1920", 3 << 20)
    assert led["plays_per_day"] == 24  # 6 an hour for the 4 hours past midnight
    assert led["screens_by_kind"] == (("kind", "district", "screens"), ("building", "", 1))
    assert show("led", ContentFact("media_bytes", 3 << 20)).value == "3.0 MB"
    assert daypart_minutes(None) == 24 * 60
    text = dict(wechat_facts({"msgtype": "text", "content": "平安",
                              "audience": {"tags": [100, 101]}}))
    assert (text["text"], text["tags"], text["requests"]) == ("平安", "100, 101", 2)
    starts = datetime(2030, 3, 4, 19, 30, tzinfo=UTC)
    full = Screening("S1", "C01", "cms", None, "A", "PG", starts, 100, 80, (("ads", 60),),
                     (Booking("ads", "other", 45),))
    room = full._replace(id="S2", booked=())
    cinema = dict(cinema_facts({"spot": {"asset": "a", "duration": 30}, "position": "ads",
                                "cinemas": {"all": True}, "dates": ["2030-03-01",
                                                                   "2030-03-31"]},
                               [full, room]))
    assert (cinema["screenings"], cinema["screenings_full"]) == (1, 1)
    assert show("cinema", ContentFact("screenings_full", 1)).note  # warned: skipped


# To whom -----------------------------------------------------------------------------------


def test_audience_by_district_and_area_minus_opted_out_and_capped(engine: Engine) -> None:
    cap = FrequencyCap(messages=1, days=7)
    counted = count_audience(engine, Audience(("residents",)), "sms", cap, ["sms"])
    cells = {(c.district, c.area): (c.people, c.opted_out, c.capped, c.reached)
             for c in counted.cells}
    assert cells == {("丈八街道", "residential"): (2, 1, 0, 1),
                     ("丈八街道", "work"): (1, 0, 0, 1),
                     ("鱼化寨街道", "residential"): (1, 1, 0, 0),
                     ("鱼化寨街道", "work"): (1, 0, 1, 0),
                     ("鱼化寨街道", "street"): (1, 0, 0, 1),
                     ("", ""): (1, 0, 0, 1)}
    assert [counted.total(f) for f in ("people", "opted_out", "capped", "reached")] == \
        [7, 2, 1, 4]
    # Two lists: each person once; areas filter; no cap configured: nobody capped.
    both = count_audience(engine, Audience(("residents", "workers"), areas=("work",)), "sms")
    assert [both.total(f) for f in ("people", "opted_out", "capped")] == [2, 0, 0]
    # Another channel: opted out of SMS only still counts; the cap is per channel.
    partner = count_audience(engine, Audience(("residents",), areas=("residential",)),
                             "webhook", cap, ["webhook"])
    assert [partner.total(f) for f in ("people", "opted_out", "capped")] == [3, 1, 0]


def test_the_page_counts_the_audience_as_the_database_is_now(engine: Engine,
                                                             page: str) -> None:
    one = placement(page, 0)
    assert ("7 people in its lists and filters, 2 opted out, 1 held back by the frequency "
            "cap: 4 will receive it.") in one
    row = one.split("<td>丈八街道</td>")[1].split("</tr>")[0]
    # residential, work, street, no area type; total
    assert re.findall(r'class="num">(\d+)<', row) == ["1", "1", "0", "0", "2"]
    partner = placement(page, 6)
    assert "3 people in its lists and filters, 1 opted out, 0 held back" in partner
    optouts.add(engine, "+8613800000001", "*")  # nothing cached: the next view counts it
    with client_for(engine) as client:
        again = placement(client.get("/campaigns/review").text, 0)
    assert "3 opted out, 1 held back by the frequency cap: 3 will receive it." in again


def test_an_unknown_list_is_said_not_a_server_error(engine: Engine) -> None:
    store_campaign(engine, sms_campaign_text("ghost", audience_list="nobody"),
                   approve_as=None)
    with client_for(engine) as client:
        response = client.get("/campaigns/ghost")
    assert response.status_code == 200
    assert "Contact list “nobody” does not exist, so nobody can be counted" in response.text


# When, what changed, and in which order ------------------------------------------------


def test_next_firings_in_the_campaigns_local_time(engine: Engine, page: str) -> None:
    firings = page.split('id="firings"')[1].split("</ol>")[0]
    assert re.findall(r"<li>(.*?)</li>", firings) == [
        f"2030-01-0{day} 09:00" for day in range(1, 6)]  # 09:00 in Shanghai, not 01:00 UTC
    assert "Times on this page are in Asia/Shanghai." in page
    campaign, _version = load_stored(engine, "review")
    shown = content_review.next_firings(campaign, datetime(2030, 1, 3, 2, tzinfo=UTC), 2)
    assert [f.isoformat() for f in shown] == ["2030-01-04T09:00:00+08:00",
                                              "2030-01-05T09:00:00+08:00"]


def test_a_first_version_says_so_and_shows_the_whole_file(page: str) -> None:
    diff = page.split('id="diff"')[1].split("</section>")[0]
    assert "Version 1: first version" in diff
    assert "No version was approved before it" in diff
    assert diff.count('<tr class="insert">') == len(campaign_text().splitlines())


def test_the_diff_shows_changed_lines_beside_the_approved_version(engine: Engine) -> None:
    lifecycle.approve(engine, "review", "approver")
    store_campaign(engine, campaign_text(sms_body=BODY_70.replace("扫", "防", 1),
                                         title="<b>平安</b>"), approve_as=None)
    with client_for(engine) as client:
        page = client.get("/campaigns/review").text
    diff = page.split('id="diff"')[1].split("</section>")[0]
    assert "Version 2 compared with approved version 1" in diff
    assert diff.count('<tr class="replace">') == 2
    assert '<mark>防</mark>' in diff and '<mark>扫</mark>' in diff  # the character changed
    assert "&lt;b&gt;" in diff and "<b>" not in diff  # user text escaped
    assert 'class="skip"' in diff  # long unchanged stretches fold
    assert version_diff(engine, "review").changed == 2


def test_side_by_side_pairs_changed_lines_and_folds_the_rest() -> None:
    old = "\n".join(f"line {n}" for n in range(20))
    new = old.replace("line 10", "line ten").replace("line 3\n", "") + "\nline 20"
    rows = side_by_side(old, new)
    kinds = [row.kind for row in rows]
    assert kinds.count("delete") == 1 and kinds.count("insert") == 1
    assert kinds.count("replace") == 1 and kinds.count("skip") == 1
    replaced = next(row for row in rows if row.kind == "replace")
    assert replaced.left is not None and replaced.right is not None
    assert replaced.left.pieces == (("line ", False), ("10", True))
    assert replaced.right.pieces == (("line ", False), ("ten", True))


def test_the_review_comes_before_the_approve_button(page: str) -> None:
    approve = page.index('action="/campaigns/review/approve"')
    assert page.index('id="review-content"') < page.index('id="diff"') < approve
    assert page.index('id="placement-6"') < approve


# Reach and failures ------------------------------------------------------------------------


def test_no_chart_mixes_units_and_failures_are_explained(engine: Engine) -> None:
    lifecycle.approve(engine, "review", "approver")
    campaign, version = load_stored(engine, "review")
    planned = plan_run(engine, campaign, version, datetime(2030, 1, 1, 1, tzinfo=UTC),
                       unconfigured_channel)
    with engine.begin() as conn:
        first = conn.execute(select(deliveries.c.id).where(
            deliveries.c.run_id == planned.run_id, deliveries.c.channel == "sms",
            deliveries.c.status == "planned").order_by(deliveries.c.id)).scalars().first()
        advance(conn, [Transition("failed", delivery_id=first, code="30003")], actor="engine")
    with client_for(engine) as client:
        page = client.get("/campaigns/review").text
    reach = page.split("<h2>Reach</h2>")[1].split('id="failures"')[0]
    charts = re.findall(r"<svg.*?</svg>", reach, re.S)
    assert charts and all("<title>" in chart for chart in charts)
    for chart in charts:  # rows by state, one unit; no reach figure on any scale
        assert not re.search(r"(screens|plays|impressions|segments|message_times):", chart)
    led = reach.split("<h3>led")[1].split("</section>")[0]
    assert re.findall(r'data-metric="(\w+)"', led) == ["screens", "plays", "impressions"]
    assert led.count('class="panel"') == 3  # each unit in a panel of its own
    failures = page.split('id="failures"')[1].split("</table>")[0]
    explained = explain("sms", "30003")
    assert explained is not None and explained.meaning in failures
    assert explained.action in failures and "30003" in failures


# In Chinese (passes once /tmp/i18n/content.json is merged into the catalogs) ---------------


def test_the_review_reads_in_simplified_chinese(engine: Engine) -> None:
    with client_for(engine, "zh-CN") as client:
        page = client.get("/campaigns/review").text
    assert '<html lang="zh-Hans">' in page
    assert "版本 1 将发送的内容" in page
    assert "手机上显示的短信" in page
    assert "UCS-2（含中文等 GSM-7 以外的字符）" in page
    assert "按辖区和区域类型统计的受众" in page
    assert "下次发送时间" in page and "第一个版本" in page
    assert "本页时间均为 Asia/Shanghai 时间。" in page
