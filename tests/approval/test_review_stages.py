"""Review stages before approval (issue 16 §2): each stage by a different approver, never
the version's author, in order, every stage in the audit log, and nothing planned before
the last one; in the core, the CLI and the dashboard. Also the dashboard's action area
(only the buttons the campaign's state allows) and cancelling with a reason.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import IntegrityError

from channels.base import ValidationContext
from dispatcher import registry
from dispatcher.accounts.users import add_user, create_token
from dispatcher.approval import lifecycle
from dispatcher.approval import stages as review
from dispatcher.audience.contacts import import_contacts
from dispatcher.campaigns.model import parse_campaign
from dispatcher.cli import main
from dispatcher.config import ReviewConfig, parse_config
from dispatcher.delivery.transitions import Transition, advance
from dispatcher.errors import ConfigError, DispatcherError
from dispatcher.planning import runs
from dispatcher.planning.campaign_store import apply_campaign
from dispatcher.storage.db import make_engine, utcnow
from dispatcher.storage.tables import audit_log, deliveries, review_approvals
from dispatcher.storage.tables import runs as runs_table
from dispatcher.testing import DRIVE_START, sms_campaign_text, unconfigured_channel
from dispatcher.web.app import create_app
from tests.web.test_pages import PASSWORD, sign_in

STAGES = ("初审", "复审")
REPO = Path(__file__).resolve().parents[2]
DRIVE = REPO / "campaigns" / "pingan-ding.toml"
CONTACTS = "phone,area,district\n13800000001,,\n13800000002,,\n13800000003,,\n"
FIRE = sms_campaign_text()  # campaign "drive", first firing 2019-06-03 09:00 Shanghai


def store(engine: Engine, author: str, text: str = FIRE) -> None:
    """Store ``text`` as a new version, applied by ``author`` (not approved)."""
    campaign, issues = parse_campaign(text, "drive.toml", default_timezone="Asia/Shanghai",
                                      channel_for=unconfigured_channel,
                                      context=ValidationContext())
    assert campaign is not None, issues
    apply_campaign(engine, campaign, "drive.toml", text, actor=author)


def audit(engine: Engine) -> list[tuple[str, str, str | None]]:
    return [(e["actor"], e["action"], e["detail"]) for e in lifecycle.history(engine, "drive")]


def state(engine: Engine) -> str:
    with engine.connect() as conn:
        return lifecycle.status(conn, "drive")


def plannable(engine: Engine) -> bool:
    with engine.connect() as conn:
        return lifecycle.version_to_run(conn, "drive") is not None


@pytest.fixture
def people(engine: Engine) -> Engine:
    import_contacts(engine, io.StringIO(CONTACTS), "residents", "CN")
    return engine


# The rules, in the core --------------------------------------------------------------


def test_two_stages_two_approvers_and_only_then_it_plans(people: Engine) -> None:
    store(people, "planner")
    first = lifecycle.approve(people, "drive", "wang", stages=STAGES)
    assert (first.changed, first.stage, first.remaining, first.approved) == (
        True, "初审", ("复审",), False)
    assert state(people) == "in review"
    assert not plannable(people)
    with pytest.raises(DispatcherError, match="is not approved"):
        lifecycle.require_approved(people, "drive")
    with pytest.raises(DispatcherError, match="wang already passed the stage “初审”"):
        lifecycle.approve(people, "drive", "wang", stages=STAGES)
    last = lifecycle.approve(people, "drive", "zhao", stages=STAGES)
    assert (last.stage, last.remaining, last.approved) == ("复审", (), True)
    assert lifecycle.require_approved(people, "drive") == 1
    assert state(people) != "in review"
    assert audit(people) == [
        ("planner", "apply", "stored from drive.toml"), ("wang", "review", "初审"),
        ("zhao", "review", "复审"), ("zhao", "approve", "初审: wang; 复审: zhao")]
    assert not lifecycle.approve(people, "drive", "li", stages=STAGES).changed
    planned = runs.plan_firing(people, "drive", DRIVE_START, unconfigured_channel)
    assert planned.created and sum(planned.rows.values()) == 3


def test_the_author_approves_no_stage_even_as_admin(people: Engine) -> None:
    store(people, "boss")  # an admin who stored the version
    for stages in (STAGES, review.DEFAULT_STAGES):
        with pytest.raises(DispatcherError, match="boss stored version 1, so they cannot "
                                                  "approve it"):
            lifecycle.approve(people, "drive", "boss", stages=stages)
    lifecycle.approve(people, "drive", "wang", stages=STAGES)
    with pytest.raises(DispatcherError, match="boss stored version 1"):
        lifecycle.approve(people, "drive", "boss", stages=STAGES)
    assert [a for _who, a, _d in audit(people)] == ["apply", "review"]
    assert not plannable(people)


def test_a_new_version_is_reviewed_from_the_first_stage(people: Engine) -> None:
    store(people, "planner")
    lifecycle.approve(people, "drive", "wang", stages=STAGES)
    lifecycle.approve(people, "drive", "zhao", stages=STAGES)
    store(people, "planner", FIRE.replace("call 110.", "call 110 now."))
    assert state(people) == "draft"  # version 2: no stage passed yet
    again = lifecycle.approve(people, "drive", "zhao", stages=STAGES)
    assert (again.version, again.stage) == (2, "初审")  # another version, another review


def test_a_stage_someone_passed_meanwhile_is_not_passed_twice(people: Engine) -> None:
    store(people, "planner")
    stale = review.review_of(people, "drive", 1, STAGES)  # what one approver's page showed
    lifecycle.approve(people, "drive", "wang", stages=STAGES, stage="初审")
    with pytest.raises(DispatcherError, match="The stage “初审” of version 1 no longer awaits"):
        lifecycle.approve(people, "drive", "zhao", stages=STAGES, stage="初审")
    # Two approvers submitting at the same instant: the database's unique key decides.
    with pytest.raises(IntegrityError), people.begin() as conn:
        review.record_pass(conn, stale, "初审", "zhao", utcnow())
    with people.connect() as conn:
        assert conn.execute(select(func.count()).select_from(review_approvals)).scalar() == 1


def test_one_stage_by_default_keeps_the_single_approve_entry(people: Engine) -> None:
    store(people, "planner")
    done = lifecycle.approve(people, "drive", "chief")
    assert (done.stage, done.approved) == ("approval", True)
    assert audit(people)[1:] == [("chief", "approve", None)]
    assert plannable(people)


def test_a_cancel_reason_is_in_its_audit_entry(people: Engine) -> None:
    store(people, "planner")
    lifecycle.approve(people, "drive", "chief")
    runs.plan_firing(people, "drive", DRIVE_START, unconfigured_channel)
    runs.cancel(people, "drive", "ops", "活动延期")
    assert audit(people)[-1] == ("ops", "cancel", "run(s) 1; reason: 活动延期")
    with pytest.raises(DispatcherError, match="no run to cancel"):
        runs.cancel(people, "drive", "ops", "again")
    assert audit(people)[-1] == ("ops", "cancel", "run(s) 1; reason: 活动延期")


def test_config_names_the_stages() -> None:
    assert parse_config({}).review == ReviewConfig(("approval",))
    assert parse_config({"review": {"stages": [" 初审", "复审", "终审"]}}).review.stages == (
        "初审", "复审", "终审")
    for stages, message in (("初审", "must be a list of 1 to 5"), ([], "must be a list of 1"),
                            (list("一二三四五六"), "must be a list of 1 to 5"),
                            (["初审", " "], r"review.stages\[2\]: must be a non-empty name"),
                            (["初审", 3], r"review.stages\[2\]: must be a non-empty name"),
                            (["初审", "初审"], "is named twice"),
                            (["x" * 33], "at most 32 printable characters")):
        with pytest.raises(ConfigError, match=message):
            parse_config({"review": {"stages": stages}})
    with pytest.raises(ConfigError, match=r"review\.levels: unknown key; allowed here: stages"):
        parse_config({"review": {"levels": 2}})


# The CLI ---------------------------------------------------------------------------


class Cli:
    """``dispatcher`` on a temporary SQLite database with two review stages."""

    def __init__(self, tmp_path: Path) -> None:
        self.config = tmp_path / "config.toml"
        self.config.write_text(f'[database]\nurl = "sqlite:///{tmp_path}/test.db"\n'
                               '[review]\nstages = ["初审", "复审"]\n', encoding="utf-8")
        contacts = tmp_path / "residents.csv"
        contacts.write_text("phone,area,district\n13800138000,residential,丈八街道\n", "utf-8")
        self("contacts", "import", str(contacts), "--list", "residents")
        for name, role in (("li", "admin"), ("wang", "approver"), ("zhao", "approver"),
                           ("zhang", "planner")):
            self("user", "add", name, "--role", role, "--password-stdin", stdin=PASSWORD)

    def __call__(self, *args: str, code: int = 0, stdin: str | None = None) -> Result:
        result = CliRunner(env={"COLUMNS": "200"}).invoke(
            main, ["--config", str(self.config), *args], input=stdin)
        assert result.exit_code == code, result.output
        return result


def test_cli_approves_stage_by_stage_and_says_what_remains(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    cli("campaign", "apply", str(DRIVE), "--by", "li")

    def refused(by: str) -> str:
        return str(cli("campaign", "approve", "pingan-ding", "--by", by, code=1).stderr)

    assert "--by nobody: no such user" in refused("nobody")
    assert "--by zhang: the user has the role planner; approving needs the approver" \
        in refused("zhang")
    assert "li stored version 1, so they cannot approve it" in refused("li")
    passed = cli("campaign", "approve", "pingan-ding", "--by", "wang").stdout
    assert passed == ("pingan-ding: version 1 passed stage 初审 (1 of 2) by wang; awaiting "
                      "复审, each by another approver\n")
    assert "version 1 is not approved" in cli("campaign", "plan", "pingan-ding", "--at",
                                               "2019-06-03T09:00:00", code=1).stderr
    listed = json.loads(cli("campaign", "list", "--json").stdout)
    assert listed[0]["status"] == "in review"
    assert "version 1 awaits approval: stages passed: 初审 (wang); awaiting: 复审" in cli(
        "campaign", "history", "pingan-ding").stdout
    assert "wang already passed the stage “初审”" in refused("wang")
    done = cli("campaign", "approve", "pingan-ding", "--by", "zhao").stdout
    assert done == ("pingan-ding: version 1 passed stage 复审 (2 of 2) by zhao: all stages "
                    "passed, version 1 approved\n")
    cli("campaign", "plan", "pingan-ding", "--at", "2019-06-03T09:00:00")
    entries = json.loads(cli("campaign", "history", "pingan-ding", "--json").stdout)
    assert [(e["actor"], e["action"], e["detail"]) for e in entries][1:4] == [
        ("wang", "review", "初审"), ("zhao", "review", "复审"),
        ("zhao", "approve", "初审: wang; 复审: zhao")]
    shown = cli("campaign", "history", "pingan-ding").stdout
    assert "awaits approval" not in shown and "when (Asia/Shanghai)" in shown


# The dashboard ---------------------------------------------------------------------

# boss (admin) stores the campaign; wang and zhao are approvers, ops the operator.
USERS = {"boss": "admin", "wang": "approver", "zhao": "approver", "ops": "operator",
         "zhang": "planner"}


@pytest.fixture
def web_engine(sqlite_url: str) -> Iterator[Engine]:
    engine = make_engine(sqlite_url)
    import_contacts(engine, io.StringIO(CONTACTS), "residents", "CN")
    for name, role in USERS.items():
        add_user(engine, name, role, PASSWORD)
    store(engine, "boss")
    yield engine
    engine.dispose()


def browser(engine: Engine, stages: tuple[str, ...] = STAGES,
            language: str = "en") -> TestClient:
    config = parse_config({"web": {"public_url": "http://testserver"},
                           "review": {"stages": list(stages)}})
    app = create_app(engine, config, registry.build_channels({}))
    return TestClient(app, follow_redirects=False, headers={"Accept-Language": language})


def buttons(html: str) -> set[str]:
    """The actions the page offers: the forms posting to /campaigns/drive/ACTION."""
    return set(re.findall(r'<form method="post" action="/campaigns/drive/(\w+)"', html))


def approve_as(engine: Engine, name: str, **form: str) -> tuple[int, str]:
    """``name`` signs in and presses the approve button; the status and the page after."""
    with browser(engine) as client:
        token = sign_in(client, name)
        response = client.post("/campaigns/drive/approve",
                               data={"csrf": token, "version": "1", **form})
        page = client.get("/campaigns/drive").text if response.status_code == 303 \
            else response.text
        return response.status_code, page


def test_the_page_offers_each_approver_the_stage_they_may_pass(web_engine: Engine) -> None:
    with browser(web_engine) as client:
        sign_in(client, "boss")
        page = client.get("/campaigns/drive").text
    assert "approve" not in buttons(page)  # the author (an admin) gets no approve button
    assert "boss stored version 1, so they cannot approve it" in page
    assert "初审: awaiting approval" in page and "复审: after the stage before it" in page
    with browser(web_engine) as client:
        sign_in(client, "wang")
        page = client.get("/campaigns/drive").text
    assert buttons(page) == {"approve"}
    assert "Approve stage “初审”" in page and 'name="stage" value="初审"' in page

    status, page = approve_as(web_engine, "wang", stage="初审")
    assert status == 303 and "wang passed the stage “初审” of version 1; awaiting: 复审." in page
    assert "初审: passed by wang" in page and "复审: awaiting approval" in page
    assert "approve" not in buttons(page)  # wang passed the first stage: not the second
    assert "wang already passed the stage “初审”" in page
    assert not plannable(web_engine) and state(web_engine) == "in review"

    with browser(web_engine) as client:
        sign_in(client, "zhao")
        page = client.get("/campaigns/drive").text
    assert "Approve stage “复审”" in page and 'name="stage" value="复审"' in page
    status, page = approve_as(web_engine, "zhao", stage="复审")
    assert status == 303 and "Version 1 approved by zhao." in page
    assert "approve" not in buttons(page)
    assert plannable(web_engine)
    assert [(who, action) for who, action, _d in audit(web_engine)] == [
        ("boss", "apply"), ("wang", "review"), ("zhao", "review"), ("zhao", "approve")]


def test_the_dashboard_refuses_what_the_rules_refuse(web_engine: Engine) -> None:
    status, page = approve_as(web_engine, "boss")  # the author, posting by hand
    assert status == 409 and "boss stored version 1, so they cannot approve it" in page
    approve_as(web_engine, "wang", stage="初审")
    status, page = approve_as(web_engine, "wang")
    assert status == 409 and "wang already passed the stage “初审”" in page
    status, page = approve_as(web_engine, "zhao", stage="初审")  # a stale page's button
    assert status == 409 and "no longer awaits approval" in page
    status, _page = approve_as(web_engine, "zhang")
    assert status == 403
    assert [a for _who, a, _d in audit(web_engine)] == ["apply", "review"]
    assert not plannable(web_engine)


def plan_and_fail_two(engine: Engine, approver: str = "wang",
                      stages: tuple[str, ...] = review.DEFAULT_STAGES) -> None:
    """Approve the campaign (one stage by default), plan its firing, fail two rows."""
    lifecycle.approve(engine, "drive", approver, stages=stages)
    runs.plan_firing(engine, "drive", DRIVE_START, unconfigured_channel)
    with engine.begin() as conn:
        ids = list(conn.execute(select(deliveries.c.id).order_by(deliveries.c.id)).scalars())
        advance(conn, [Transition("failed", delivery_id=i, code="30003") for i in ids[:2]],
                actor="engine")


def offered(engine: Engine, name: str) -> set[str]:
    with browser(engine, stages=review.DEFAULT_STAGES) as client:
        sign_in(client, name)
        return buttons(client.get("/campaigns/drive").text)


def set_runs(engine: Engine, status: str) -> None:
    with engine.begin() as conn:
        conn.execute(update(runs_table).values(status=status))


def test_buttons_show_only_what_the_state_allows(web_engine: Engine) -> None:
    assert offered(web_engine, "ops") == set()  # nothing planned yet
    assert offered(web_engine, "wang") == {"approve"}
    assert offered(web_engine, "zhang") == set()
    plan_and_fail_two(web_engine)
    assert offered(web_engine, "wang") == set()  # approved
    assert offered(web_engine, "ops") == {"pause", "cancel", "retry"}
    set_runs(web_engine, "paused")
    assert offered(web_engine, "ops") == {"resume", "cancel", "retry"}
    set_runs(web_engine, "completed")
    assert offered(web_engine, "ops") == {"retry"}
    with web_engine.begin() as conn:
        conn.execute(update(deliveries).values(status="delivered"))
    assert offered(web_engine, "ops") == set()
    set_runs(web_engine, "cancelled")
    assert offered(web_engine, "ops") == set()
    assert offered(web_engine, "boss") == set()


def test_cancel_needs_a_confirmation_and_a_reason(web_engine: Engine) -> None:
    plan_and_fail_two(web_engine)

    def audit_rows() -> int:
        with web_engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(audit_log)).scalar_one())

    before = audit_rows()
    with browser(web_engine, stages=review.DEFAULT_STAGES) as client:
        token = sign_in(client, "ops")
        asked = client.post("/campaigns/drive/cancel", data={"csrf": token})
        assert asked.status_code == 200
        assert 'name="confirm" value="1"' in asked.text
        assert re.search(r'<textarea id="reason" name="reason"[^>]* required', asked.text)
        assert "Run 1 stops for good: its 1 row(s) not yet sent are skipped" in asked.text
        for data, status in (({"confirm": "1"}, 422), ({"confirm": "1", "reason": "  "}, 422),
                             ({"reason": "活动延期"}, 200),
                             ({"confirm": "1", "reason": "x" * 501}, 422)):
            response = client.post("/campaigns/drive/cancel", data={"csrf": token, **data})
            assert response.status_code == status, data
            assert 'id="cancel-form"' in response.text
        assert "Give a reason for cancelling" in client.post(
            "/campaigns/drive/cancel", data={"csrf": token, "confirm": "1"}).text
        with web_engine.connect() as conn:
            assert conn.execute(select(runs_table.c.status)).scalar_one() == "planned"
        assert audit_rows() == before

        done = client.post("/campaigns/drive/cancel",
                           data={"csrf": token, "confirm": "1", "reason": " 活动延期至七月 "})
        assert done.status_code == 303
        page = client.get("/campaigns/drive").text
    assert "Cancelled run(s) 1: 1 row(s) not yet sent are skipped" in page
    with web_engine.connect() as conn:
        assert conn.execute(select(runs_table.c.status)).scalar_one() == "cancelled"
    assert audit(web_engine)[-1] == ("ops", "cancel", "run(s) 1; reason: 活动延期至七月")
    assert "cancel" not in buttons(page)


def test_nothing_to_cancel_says_so(web_engine: Engine) -> None:
    with browser(web_engine) as client:
        token = sign_in(client, "ops")
        response = client.post("/campaigns/drive/cancel", data={"csrf": token})
    assert response.status_code == 409 and "Nothing to cancel" in response.text


def test_the_action_area_speaks_chinese(web_engine: Engine) -> None:
    """In zh-CN (the office's language) the button names the stage: 通过初审."""
    with browser(web_engine, language="zh-CN") as client:
        token = sign_in(client, "boss")
        page = client.get("/campaigns/drive").text
        assert "boss 提交了版本 1，不能审批该版本" in page
        assert "初审：待审批" in page and "复审：上一级通过后进行" in page
    with browser(web_engine, language="zh-CN") as client:
        token = sign_in(client, "wang")
        assert "通过初审</button>" in client.get("/campaigns/drive").text
        client.post("/campaigns/drive/approve", data={"csrf": token, "version": "1",
                                                      "stage": "初审"})
        page = client.get("/campaigns/drive").text
    assert "wang 已通过版本 1 的“初审”；待审：复审。" in page
    assert "初审：wang 已通过" in page
    plan_and_fail_two(web_engine, "zhao", STAGES)  # the second stage passes
    with browser(web_engine, language="zh-CN") as client:
        token = sign_in(client, "ops")
        page = client.get("/campaigns/drive").text
        assert "暂停</button>" in page and "重试发送失败的记录（2 条）</button>" in page
        asked = client.post("/campaigns/drive/cancel", data={"csrf": token}).text
    assert "取消原因（必填）" in asked and "确认取消执行</button>" in asked



def test_the_api_passes_one_stage_per_call(web_engine: Engine) -> None:
    """The REST API applies the configured stages too: no way around the second reviewer.
    (Needs dispatcher/web/api.py to pass config.review.stages to lifecycle.approve.)"""
    tokens = {name: create_token(web_engine, name, "tests") for name in ("boss", "wang", "zhao")}
    with browser(web_engine) as client:
        def approve(name: str) -> httpx.Response:
            return client.post("/api/campaigns/drive/approve",
                               headers={"Authorization": f"Bearer {tokens[name]}"})

        assert approve("boss").status_code == 409  # the author
        assert approve("wang").json()["detail"] == "version 1 passed stage 初审; awaiting 复审"
        assert not plannable(web_engine)
        assert approve("wang").status_code == 409
        assert approve("zhao").json()["detail"] == "version 1 approved"
    assert plannable(web_engine)
