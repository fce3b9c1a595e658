"""The three roles' work in a zh-CN Chromium, end to end (issue 16's "done when").

Config: two review stages (初审, 复审). An admin stored version 2 of ``pingan``; version 1
ran and two of its SMS failed with Twilio's 30003.

- The author (an admin, who may approve in general) gets no approve button for their own
  version. An approver reads what version 2 sends, to whom and what changed (content,
  audience, diff) above the button, passes 初审, and then cannot pass 复审 too; a second
  approver passes 复审 and only then is the version approved.
- The operator filters the log to the failed rows, reads 30003's explanation in Chinese,
  opens a row's history, retries that row, and downloads the log as .xlsx, whose cells
  are checked with openpyxl: Chinese headers, phone numbers as text, real dates.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import Engine

from dispatcher import registry
from dispatcher.accounts.users import add_user
from dispatcher.approval import lifecycle
from dispatcher.audience.contacts import import_contacts
from dispatcher.config import parse_config
from dispatcher.serving import BackgroundServer
from dispatcher.storage.db import make_engine
from dispatcher.testing import fail_first, plan_stored, sms_campaign_text, store_campaign
from dispatcher.web.app import create_app
from tests.e2e import test_browser
from tests.e2e.test_browser import TIMEOUT_MS, artifacts_dir

browser = test_browser.browser  # the fixture: Debian's Chromium, headless

PASSWORD = "correct horse battery"
CAMPAIGN = "pingan"
PEOPLE = {"chenjing": ("admin", "陈静"), "lina": ("approver", "李娜"),
          "zhaogang": ("approver", "赵刚"), "wangqiang": ("operator", "王强")}
CONTACTS = ("phone,area,district,name\n13800000001,residential,丈八街道,刘洋\n"
            "13800000002,residential,丈八街道,孙丽\n13800000003,work,鱼化寨街道,周杰\n")
FIRST_BODY = "【平安建设】发现涉黑涉恶线索，请拨打110举报。"
SECOND_BODY = "【平安建设】扫黑除恶，人人有责。发现线索请拨打110举报。"
CJK = re.compile(r"[\u4e00-\u9fff]")


def _store(engine: Engine, body: str, author: str) -> None:
    text = sms_campaign_text(CAMPAIGN, title="平安建设宣传月", owner="区委宣传部", body=body)
    store_campaign(engine, text, "pingan.toml", approve_as=None, actor=author)


def seed(engine: Engine) -> None:
    import_contacts(engine, io.StringIO(CONTACTS), "residents", "CN")
    for name, (role, shown) in PEOPLE.items():
        add_user(engine, name, role, PASSWORD, display_name=shown, department="宣传科")
    _store(engine, FIRST_BODY, author="chenjing")
    lifecycle.approve(engine, CAMPAIGN, "lina")  # version 1: one stage, as configured then
    plan_stored(engine, CAMPAIGN)
    fail_first(engine, 2, "30003")
    _store(engine, SECOND_BODY, author="chenjing")  # version 2, awaiting two stages


@pytest.fixture
def server(sqlite_url: str) -> Iterator[BackgroundServer]:
    engine = make_engine(sqlite_url)
    seed(engine)
    config = parse_config({"web": {"public_url": "http://127.0.0.1"},
                           "review": {"stages": ["初审", "复审"]}})
    with BackgroundServer(create_app(engine, config, registry.build_channels({}))) as running:
        yield running
    engine.dispose()


def sign_in(browser: Browser, server: BackgroundServer, name: str) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN",
                                  accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(f"{server.url}/campaigns/{CAMPAIGN}")
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{server.url}/campaigns/{CAMPAIGN}")
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
    return page


def above(page: Page, first: str, second: str) -> bool:
    """Whether element ``first`` comes before ``second`` in the document."""
    return bool(page.evaluate(
        "([a, b]) => !!(document.querySelector(a).compareDocumentPosition("
        "document.querySelector(b)) & Node.DOCUMENT_POSITION_FOLLOWING)", [first, second]))


def test_two_approvers_review_and_the_author_cannot(browser: Browser,
                                                    server: BackgroundServer) -> None:
    shots = artifacts_dir()
    author = sign_in(browser, server, "chenjing")
    expect(author.locator("#actions form[action$='/approve']")).to_have_count(0)
    assert CJK.search(author.locator("#approve-note").inner_text())

    lina = sign_in(browser, server, "lina")
    content = lina.locator("#review-content")
    expect(content).to_contain_text("扫黑除恶，人人有责")  # the SMS as it goes out
    expect(content).to_contain_text("UCS-2")
    expect(lina.locator("table.audience")).to_contain_text("丈八街道")
    expect(lina.locator("#diff")).to_contain_text("扫黑除恶，人人有责")
    assert above(lina, "#review-content", "#actions form[action$='/approve']")
    assert above(lina, "#diff", "#actions form[action$='/approve']")
    lina.screenshot(path=str(shots / "zh-approver-review.png"), full_page=True)
    lina.get_by_role("button", name="通过初审").click()
    expect(lina.locator("#status")).to_have_text("审核中")
    expect(lina.get_by_role("button", name="通过复审")).to_have_count(0)  # one stage each
    expect(lina.locator("#history")).to_contain_text("初审")

    zhao = sign_in(browser, server, "zhaogang")
    zhao.get_by_role("button", name="通过复审").click()
    expect(zhao.locator("#status")).not_to_have_text("审核中")
    expect(zhao.locator("#review")).to_contain_text("zhaogang")
    zhao.screenshot(path=str(shots / "zh-approved.png"), full_page=True)


def test_operator_explains_a_failure_retries_it_and_exports(
        browser: Browser, server: BackgroundServer, tmp_path: Path) -> None:
    shots = artifacts_dir()
    ops = sign_in(browser, server, "wangqiang")
    ops.goto(f"{server.url}/logs?campaign={CAMPAIGN}&status=failed")
    expect(ops.locator("#total")).to_contain_text("2")
    meaning = ops.locator("#log td.error .meaning").first
    expect(meaning).to_be_visible()
    assert CJK.search(meaning.inner_text()), meaning.inner_text()
    ops.screenshot(path=str(shots / "zh-operator-log.png"), full_page=True)

    ops.locator("#log tbody a[href^='/logs/']").first.click()
    expect(ops.locator("#history")).to_contain_text("30003")
    sources = ops.locator("#history td.source").all_inner_texts()
    assert sources and all(CJK.search(s) for s in sources), sources
    ops.get_by_role("button", name="重试此条").click()
    ops.goto(f"{server.url}/logs?campaign={CAMPAIGN}&status=failed")
    expect(ops.locator("#log tbody tr")).to_have_count(1)

    ops.goto(f"{server.url}/logs?campaign={CAMPAIGN}")
    with ops.expect_download() as download:
        ops.get_by_role("link", name="下载 Excel").click()
    saved = tmp_path / "log.xlsx"
    download.value.save_as(saved)
    sheet = openpyxl.load_workbook(saved).worksheets[0]
    rows = list(sheet.iter_rows())
    headers = [cell.value for cell in rows[0]]
    assert "号码/地址" in headers and "时间" in " ".join(map(str, headers)), headers
    phone = rows[1][headers.index("号码/地址")]
    assert isinstance(phone.value, str) and phone.value.startswith("+86")
    assert phone.number_format == "@"
    moment = next(c.value for c in rows[1] if isinstance(c.value, datetime))
    assert moment.year >= 2019
    assert len(rows) == 1 + 3  # the three rows of the run, every one
