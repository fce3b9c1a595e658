"""The main pages in Chinese, in real headless Chromium: no English words left.

A planner, an approver and an operator of a district office each sign in with a zh-CN
browser and read the sign-in page, the campaigns, a campaign's page (version 2 awaiting
approval, two failed rows), the delivery log and its failed rows, the LED screens, the
cinemas and a page that does not exist. On every page the visible text (the title and
``document.body.innerText``) may hold Latin letters only where they are data: the
campaign's id, user names, the time zone's name, the language chooser's "English", a few
technical names (LED, CSV, JPG...). Machine text a page marks as such (``<code>``,
``<pre>``, ``<kbd>``, ``<samp>``, ``translate="no"``: commands, cron, rules, a campaign
file) is left out. Everything else in Latin letters is an English word the page did not
translate, and the test names it with its page.

The data are the office's own, in Chinese, so that only the interface can be English.
This test passes once the zh_CN catalog holds every page's translations (all helpers'
fragments merged). Screenshots go to ``DISPATCHER_ARTIFACTS`` as ``zh-*.png``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Route
from sqlalchemy import Engine

from dispatcher import registry
from dispatcher.accounts.users import add_user
from dispatcher.audience.contacts import import_contacts
from dispatcher.config import parse_config
from dispatcher.serving import BackgroundServer
from dispatcher.storage.db import make_engine
from dispatcher.testing import fail_first, plan_stored, sms_campaign_text, store_campaign
from dispatcher.web.app import create_app
from tests.e2e import test_browser
from tests.e2e.test_browser import TIMEOUT_MS, artifacts_dir
from tests.web.test_pages import VenueNames, add_venues

browser = test_browser.browser  # the fixture: Debian's Chromium, headless

PASSWORD = "correct horse battery"
CAMPAIGN = "pingan"
# The office's people: user names in pinyin (data), display names in Chinese.
PEOPLE = {"planner": ("zhangwei", "张伟"), "approver": ("lina", "李娜"),
          "operator": ("wangqiang", "王强")}
CONTACTS = ("phone,area,district\n13800000001,residential,丈八街道\n"
            "13800000002,residential,丈八街道\n13800000003,work,鱼化寨街道\n")
BODY = "【平安建设】发现涉黑涉恶线索，请拨打110举报。"

# Latin words that may show on a Chinese page because they are data or names, never UI:
# the campaign id, file name, group name and user names seeded here, the time zone's
# name, the chooser's own name for English, and technical names written in Latin letters
# in Chinese too.
DATA_WORDS = {CAMPAIGN, *(name for name, _shown in PEOPLE.values()), "asia", "shanghai",
              "toml", "datang"}  # the campaign file's name, the screen group's name
NAMES = {"english", "led", "csv", "excel", "wps", "xlsx", "api", "jpg", "png", "mp",
         "gsm", "ucs", "twilio"}
ALLOWED = DATA_WORDS | NAMES
LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
# Machine text: hidden while the page's words are read, shown again after.
MACHINE = 'code, pre, kbd, samp, [translate="no"]'
VISIBLE_WORDS = """() => {
  const machine = [...document.body.querySelectorAll('MACHINE')];
  const before = machine.map(el => el.style.display);
  machine.forEach(el => { el.style.display = "none"; });
  const text = document.title + "\\n" + document.body.innerText;
  machine.forEach((el, i) => { el.style.display = before[i]; });
  return text;
}""".replace("MACHINE", MACHINE)


def seed(engine: Engine) -> None:
    """Residents of two streets, the campaign ``pingan`` (version 1 approved and planned,
    two rows failed with Twilio's 30003; version 2 awaiting approval), the people, an LED
    screen with its group, a cinema with two auditoriums and a screening."""
    import_contacts(engine, io.StringIO(CONTACTS), "residents", "CN")
    _store(engine, "平安建设宣传月", approve_as=PEOPLE["approver"][0])
    plan_stored(engine, CAMPAIGN)
    fail_first(engine, 2, "30003")
    _store(engine, "平安建设宣传月（第二版）", approve_as=None)
    for role, (name, shown) in PEOPLE.items():
        add_user(engine, name, role, PASSWORD, display_name=shown, department="宣传科")
    add_venues(engine, VenueNames("丈八街道办事处大厅屏", "大厅人流计数", "大厅", "datang",
                                  "高新万达影城", "{}号厅", "平安之路", "G"))


def _store(engine: Engine, title: str, approve_as: str | None) -> None:
    store_campaign(engine, sms_campaign_text(CAMPAIGN, title=title, owner="区委宣传部", body=BODY),
                   "pingan.toml", approve_as=approve_as, actor=PEOPLE["planner"][0])


@pytest.fixture
def server(sqlite_url: str) -> Iterator[BackgroundServer]:
    engine = make_engine(sqlite_url)
    seed(engine)
    config = parse_config({"web": {"public_url": "http://127.0.0.1"}})  # zh-CN by default
    with BackgroundServer(create_app(engine, config, registry.build_channels({}))) as running:
        yield running
    engine.dispose()


def english_words(page: Page) -> list[str]:
    """The Latin words of the page's visible text that are not data or names."""
    text = page.evaluate(VISIBLE_WORDS)
    return sorted({word for word in LATIN_WORD.findall(text) if word.lower() not in ALLOWED})


class Reader:
    """One person's zh-CN browser: reads pages, keeps what is English on each."""

    def __init__(self, chromium: Browser, server: BackgroundServer, who: str) -> None:
        self.server, self.who = server, who
        self.context = chromium.new_context(viewport={"width": 1280, "height": 900},
                                           locale="zh-CN")
        self.context.set_default_timeout(TIMEOUT_MS)
        self.context.route("**/*", self._local_only)
        self.page = self.context.new_page()
        self.english: dict[str, list[str]] = {}
        self.offsite: list[str] = []

    def _local_only(self, route: Route) -> None:
        if route.request.url.startswith(self.server.url):
            route.continue_()
        else:
            self.offsite.append(route.request.url)
            route.abort()

    def read(self, path: str) -> None:
        self.page.goto(self.server.url + path)
        assert self.page.evaluate("document.documentElement.lang") == "zh-Hans", path
        shot = re.sub(r"[^a-z0-9]+", "-", f"{self.who}{path}".lower()).strip("-")
        self.page.screenshot(path=str(artifacts_dir() / f"zh-{shot}.png"), full_page=True)
        found = english_words(self.page)
        if found:
            self.english[f"{self.who} {path}"] = found

    def sign_in(self, name: str) -> None:
        """Through the form, by its fields' names: the labels are in Chinese."""
        self.page.goto(f"{self.server.url}/login?next=/campaigns")
        self.page.locator("input[name=name]").fill(name)
        self.page.locator("input[name=password]").fill(PASSWORD)
        self.page.locator("form[action='/login'] button[type=submit]").click()
        self.page.wait_for_url(f"{self.server.url}/campaigns")


PAGES = {
    "planner": ["/campaigns", f"/campaigns/{CAMPAIGN}", "/logs", "/screens", "/cinemas",
                "/no-such-page"],
    "approver": [f"/campaigns/{CAMPAIGN}", "/campaigns"],
    "operator": [f"/campaigns/{CAMPAIGN}", "/logs?status=failed", f"/logs?campaign={CAMPAIGN}"],
}


def test_the_main_pages_speak_only_chinese(browser: Browser,
                                           server: BackgroundServer) -> None:
    anonymous = Reader(browser, server, "anonymous")
    anonymous.read("/login")
    english = dict(anonymous.english)
    offsite = list(anonymous.offsite)
    for role, paths in PAGES.items():
        name, shown = PEOPLE[role]
        reader = Reader(browser, server, role)
        reader.sign_in(name)
        assert shown in reader.page.locator("header").inner_text()  # the display name
        for path in paths:
            reader.read(path)
        english |= reader.english
        offsite += reader.offsite
        reader.context.close()
    anonymous.context.close()
    assert english == {}, f"English words left on the Chinese pages: {english}"
    assert offsite == []
