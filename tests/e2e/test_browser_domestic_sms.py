"""An approver reads an Aliyun SMS placement in real headless Chromium, in Chinese: the
text as the phone shows it (the template rendered, 【signature】 in front, a contact's
district at its sample value), the platform, the template and its kind, and the count
the platform bills; no English word on the page."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser
from sqlalchemy import Engine

from dispatcher import registry
from dispatcher.accounts.users import add_user
from dispatcher.audience.contacts import import_contacts
from dispatcher.config import parse_config
from dispatcher.serving import BackgroundServer
from dispatcher.storage.db import make_engine
from dispatcher.testing import campaign_text, store_campaign
from dispatcher.web.app import create_app
from tests.e2e import test_browser
from tests.e2e.test_browser_chinese import PASSWORD, Reader

browser = test_browser.browser  # the fixture: Debian's Chromium, headless

CAMPAIGN = "pingan"
TEMPLATE = "${district}居民您好：平安宣传周开始了，发现涉黑涉恶线索请拨打${hotline}。拒收请回复R"
SMS = {"provider": "aliyun", "access_key_id": "LTAI5tExample",
       "access_key_secret": "env:ALIYUN_ACCESS_KEY_SECRET", "sign_name": "平安高新",
       "templates": {"SMS_465810001": {"text": TEMPLATE, "kind": "marketing"}}}
PLACEMENT = {"channel": "sms", "name": "居民短信", "audience": {"lists": ["residents"]},
             "template": "SMS_465810001",
             "params": {"district": {"contact": "district"}, "hotline": "110"}}


def seed(engine: Engine) -> None:
    import_contacts(engine, io.StringIO("phone,area,district\n13800000001,residential,"
                                        "丈八街道\n"), "residents", "CN")
    store_campaign(engine, campaign_text(CAMPAIGN, PLACEMENT, title="平安宣传周",
                                         owner="区委宣传部"),
                   "pingan.toml", approve_as=None, actor="zhangwei")
    add_user(engine, "zhangwei", "planner", PASSWORD, display_name="张伟")
    add_user(engine, "lina", "approver", PASSWORD, display_name="李娜")


@pytest.fixture
def server(sqlite_url: str) -> Iterator[BackgroundServer]:
    engine = make_engine(sqlite_url)
    seed(engine)
    config = parse_config({"web": {"public_url": "http://127.0.0.1"},
                           "channels": {"sms": SMS}})
    with BackgroundServer(create_app(engine, config,
                                     registry.build_channels(config.channels))) as running:
        yield running
    engine.dispose()


def test_the_approver_reads_the_rendered_template_in_chinese(
        browser: Browser, server: BackgroundServer) -> None:
    reader = Reader(browser, server, "approver-aliyun")
    reader.sign_in("lina")
    reader.read(f"/campaigns/{CAMPAIGN}")
    text = reader.page.inner_text("body")
    reader.context.close()
    rendered = TEMPLATE.replace("${district}", "高新区").replace("${hotline}", "110")
    assert f"【平安高新】{rendered}" in text
    for words in ("阿里云短信", "SMS_465810001", "推广短信", "每人计费条数"):
        assert words in text, words
    assert reader.english == {}, f"English words left: {reader.english}"
