"""The WeChat channel end to end: the real wechatpy client, the engine, the web app's event
URL and the WeChat sandbox, over loopback.

Every send mode (all followers, a tag, openid batches, template messages), token
refresh, throttling and lost answers (a clientmsgid keeps each broadcast once), signed
and encrypted events (forged and repeated ones change nothing), account limits, reach
with recipients, delivered and reads.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from channels.base import ValidationContext
from dispatcher import registry
from dispatcher.approval import lifecycle
from dispatcher.campaigns.model import parse_campaign
from dispatcher.campaigns.versions import load_stored
from dispatcher.config import parse_config
from dispatcher.context import AppContext
from dispatcher.delivery import callback_urls as urls
from dispatcher.delivery.engine import DeliveryEngine
from dispatcher.delivery.policy import EngineOptions
from dispatcher.planning import campaign_store
from dispatcher.planning.previews import send_previews
from dispatcher.planning.runs import plan_firing
from dispatcher.reach.figures import campaign_reach
from dispatcher.reach.polling import poll_reach
from dispatcher.sandbox import (
    SANDBOX_AES_KEY,
    SANDBOX_APPID,
    SANDBOX_APPSECRET,
    SANDBOX_TOKEN,
    WeChatOptions,
    WeChatSandbox,
)
from dispatcher.serving import BackgroundServer, free_port
from dispatcher.storage.tables import audit_log, deliveries, provider_reports
from dispatcher.testing import campaign_text
from dispatcher.web.app import create_app

SECRETS = {"TEST_WECHAT_SECRET": SANDBOX_APPSECRET, "TEST_WECHAT_TOKEN": SANDBOX_TOKEN,
           "TEST_WECHAT_AES_KEY": SANDBOX_AES_KEY}
FIRE = datetime(2030, 3, 4, 1, tzinfo=UTC)


def wechat_table(api_base: str, account_type: str = "service", safe: bool = True
                 ) -> dict[str, Any]:
    """The account's table; ``safe``: safe mode (the EncodingAESKey set), else plain."""
    aes = {"encoding_aes_key": "env:TEST_WECHAT_AES_KEY"} if safe else {}
    return {"appid": SANDBOX_APPID, "secret": "env:TEST_WECHAT_SECRET",
            "token": "env:TEST_WECHAT_TOKEN", "account_type": account_type,
            "api_base": api_base, "rate": 50, "mass_per_minute": 60, "timeout": 2,
            "limit_wait": 0.2} | aes


def letter_text(openids: list[str]) -> str:
    """The campaign "letter" in every send mode: to all followers, a tag, ``openids``, and a
    template message to ``openids``."""
    chosen = {"openids": openids}
    return campaign_text(
        "letter",
        {"channel": "wechat", "msgtype": "mpnews", "media_id": "sandbox-news-1",
         "audience": {"all": True}},
        {"channel": "wechat", "msgtype": "text", "content": "平安建设，人人参与。",
         "audience": {"tags": [100]}},
        {"channel": "wechat", "msgtype": "text", "content": "Neighbourhood watch meeting tonight.",
         "audience": chosen},
        {"channel": "wechat", "msgtype": "template", "template_id": "sandbox-template-1",
         "data": {"first": "Safety notice", "remark": "Call 110"}, "audience": chosen},
        title="Letter to residents", start=datetime(2030, 3, 4, 9))


@dataclass
class Stack:
    app: AppContext
    box: WeChatSandbox
    events_url: str


@contextmanager
def stack(tmp_path: Path, safe: bool = True, **changes: Any) -> Iterator[Stack]:
    """The sandbox and the web app on loopback; ``safe``: the account's server is in safe
    mode, and the sandbox pushes its events encrypted as WeChat then does."""
    with pytest.MonkeyPatch.context() as environ:
        for key, value in SECRETS.items():
            environ.setenv(key, value)
        port = free_port()
        public = f"http://127.0.0.1:{port}"
        events_url = urls.events_url(public, "wechat")
        box = WeChatSandbox(WeChatOptions(**({
            "followers": 60, "event_delay_s": 0.05, "event_backoff_s": 0.5,
            "callback_url": events_url, "encrypt": safe} | changes)))
        with box.serve() as api:
            config = parse_config({"web": {"public_url": public},
                                   "channels": {"wechat": wechat_table(api, safe=safe)}})
            config = replace(config, database_url=f"sqlite:///{tmp_path / 'dispatcher.db'}")
            app = AppContext(_config=config)
            channels = registry.build_channels(config.channels)
            with BackgroundServer(create_app(app.engine, config, channels), port=port):
                yield Stack(app, box, events_url)
            app.engine.dispose()


def store(app: AppContext, text: str) -> None:
    lookup = campaign_store.channel_lookup(app.config)
    campaign, issues = parse_campaign(text, "letter.toml", default_timezone="Asia/Shanghai",
                                      channel_for=lookup, context=ValidationContext())
    assert campaign is not None, issues
    campaign_store.apply_campaign(app.engine, campaign, "letter.toml", text)
    lifecycle.approve(app.engine, "letter", "chief")


def send(app: AppContext) -> None:
    channels = registry.build_channels(app.config.channels)
    plan_firing(app.engine, "letter", FIRE, channels.__getitem__)
    options = EngineOptions(lease_seconds=5, backoff_base=0.05, backoff_max=0.3,
                            unknown_grace_seconds=0.2, respect_send_windows=False)
    DeliveryEngine(app.engine, channels, app.config.web.public_url, options).run(
        until_idle=True)


def rows(app: AppContext) -> dict[str, tuple[str, str | None]]:
    with app.engine.connect() as conn:
        return {r.target: (r.status, r.error_code) for r in conn.execute(
            select(deliveries.c.target, deliveries.c.status, deliveries.c.error_code))}


def wait_for(check: Any, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def reach(app: AppContext) -> dict[str, Any]:
    campaign, _ = load_stored(app.engine, "letter")
    data: dict[str, Any] = campaign_reach(app.engine, campaign,
                                          campaign_store.channel_lookup(app.config))
    return data["channels"]["wechat"]


def all_delivered(app: AppContext) -> bool:
    return {state for state, _ in rows(app).values()} == {"delivered"}


def settled(s: Stack) -> bool:
    """Every row delivered and every event pushed (its counts stored)."""
    return all_delivered(s.app) and s.box.stats()["events"]["pending"] == 0


@pytest.mark.parametrize("safe", [False, True], ids=["plain", "encrypted"])
def test_every_send_mode_with_events_and_reads(tmp_path: Path, safe: bool) -> None:
    with stack(tmp_path, safe=safe, token_expiry_every=3) as s:
        openids = list(s.box.followers.openids[:5])
        store(s.app, letter_text(openids))
        send(s.app)
        wait_for(lambda: settled(s))
        jobs = s.box.jobs()
        assert sorted(j["audience"] for j in jobs) == ["all", "openids", "tag:100"]
        assert set(rows(s.app)) == {"all@0", "tag:100@1", "openids:1/1@2", *openids}
        assert len(s.box.template_sends()) == 5
        stats = s.box.stats()
        assert stats["tokens"]["forced_expiries"] > 0 and stats["duplicate_clientmsgid"] == 0

        figures = reach(s.app)
        assert figures["delivered"] == 8 and figures["targets"] == 8
        assert figures["reach"]["recipients"] == sum(j["sent"] for j in jobs) + 5
        assert figures["reach"]["reads"] == 0  # no statistics before the day is over

        s.box.advance_days(3)
        channels = registry.build_channels(s.app.config.channels)
        polled = poll_reach(s.app.engine, channels, "letter")
        assert polled.rows == {"wechat": 8} and polled.stored["wechat"] > 0
        assert poll_reach(s.app.engine, channels, "letter").stored == polled.stored
        figures = reach(s.app)
        news = next(j for j in jobs if j["msgtype"] == "mpnews")
        wx = channels["wechat"].account()  # type: ignore[attr-defined]
        day = datetime.fromisoformat(news["day"]).date()
        article = wx.article_totals(day)
        latest = [a["details"][-1] for a in article
                  if a["msgid"].startswith(f"{news['msg_data_id']}_")]
        assert figures["reach"]["reads"] == sum(d["int_page_read_count"] for d in latest) > 0
        assert figures["reach"]["shares"] == sum(d["share_count"] for d in latest)
        assert figures["reach"]["reads"] <= news["sent"] * 10
        assert figures["reach_sources"]["recipients"]["source"] == "provider"


def test_throttling_and_lost_answers_never_send_twice(tmp_path: Path) -> None:
    with stack(tmp_path, throttle_rate=0.3, system_error_rate=0.3, seed=5) as s:
        openids = list(s.box.followers.openids[:4])
        store(s.app, letter_text(openids))
        send(s.app)
        wait_for(lambda: all(state in ("delivered", "sent", "failed")
                             for state, _ in rows(s.app).values()))
        stats = s.box.stats()
        assert stats["faults"]["throttle"] + stats["faults"]["system_error"] > 0
        audiences = [j["audience"] for j in s.box.jobs()]
        assert sorted(audiences) == ["all", "openids", "tag:100"]  # each broadcast once
        mass = {t: v for t, v in rows(s.app).items() if "@" in t}
        assert {state for state, _ in mass.values()} <= {"sent", "delivered"}


def post_event(s: Stack, xml: str, **query: str) -> requests.Response:
    return requests.post(s.events_url, params=query, data=xml.encode(), timeout=5)


def signed(token: str, timestamp: str, nonce: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()


def test_url_check_and_forged_or_repeated_events(tmp_path: Path) -> None:
    with stack(tmp_path, duplicate_event_rate=1.0) as s:
        ts, nonce = str(int(time.time())), "n0nce"
        good = signed(SANDBOX_TOKEN, ts, nonce)
        check = requests.get(s.events_url, params={"signature": good, "timestamp": ts,
                                                   "nonce": nonce, "echostr": "hello"},
                             timeout=5)
        assert (check.status_code, check.text) == (200, "hello")
        forged_check = requests.get(s.events_url, params={
            "signature": "0" * 40, "timestamp": ts, "nonce": nonce, "echostr": "x"}, timeout=5)
        assert forged_check.status_code == 403

        store(s.app, letter_text(list(s.box.followers.openids[:3])))
        send(s.app)
        wait_for(lambda: settled(s))
        wait_for(lambda: s.box.stats()["events"]["pending"] == 0)
        assert s.box.stats()["events"]["duplicated"] > 0
        before = reach(s.app)["reach"]["recipients"]
        with s.app.engine.connect() as conn:
            stored = conn.execute(select(func.count()).select_from(provider_reports)).scalar()
        assert stored == 3 * 4  # four counts per broadcast, each stored once
        job = s.box.jobs()[0]
        forged = (f"<xml><ToUserName>gh</ToUserName><FromUserName>mphelper</FromUserName>"
                  f"<CreateTime>{ts}</CreateTime><MsgType>event</MsgType>"
                  f"<Event>MASSSENDJOBFINISH</Event><MsgID>{job['msg_id']}</MsgID>"
                  "<Status>send success</Status><TotalCount>999999</TotalCount>"
                  "<FilterCount>999999</FilterCount><SentCount>999999</SentCount>"
                  "<ErrorCount>0</ErrorCount></xml>")
        refused = post_event(s, forged, signature="f" * 40, timestamp=ts, nonce=nonce)
        assert refused.status_code == 403
        assert post_event(s, forged, timestamp=ts, nonce=nonce).status_code == 403
        encrypted_forgery = post_event(s, "<xml><Encrypt>AAAA</Encrypt></xml>",
                                       signature=good, timestamp=ts, nonce=nonce,
                                       encrypt_type="aes", msg_signature="0" * 40)
        assert encrypted_forgery.status_code == 403
        assert reach(s.app)["reach"]["recipients"] == before


def test_preview_goes_to_named_test_users_and_the_audit_log(tmp_path: Path) -> None:
    with stack(tmp_path) as s:
        store(s.app, letter_text(list(s.box.followers.openids[:2])))
        channel = registry.build_channels(s.app.config.channels)["wechat"]
        sent = send_previews(s.app.engine, "letter", "wechat", channel, ["tester1"], "chief",
                             placement=0)
        assert [(p.placement, p.to) for p in sent] == [(0, "tester1")]
        assert [p["towxname"] for p in s.box.previews()] == ["tester1"]
        from dispatcher.errors import DispatcherError

        with pytest.raises(DispatcherError, match="40132"):
            send_previews(s.app.engine, "letter", "wechat", channel, ["nobody"], "chief",
                          placement=0)
        with pytest.raises(DispatcherError, match="template messages have no preview"):
            send_previews(s.app.engine, "letter", "wechat", channel, ["tester1"], "chief",
                          placement=3)
        with s.app.engine.connect() as conn:
            details = list(conn.execute(select(audit_log.c.detail).where(
                audit_log.c.action == "preview")).scalars())
        assert details == [f"placement 0 on wechat to tester1: provider ref "
                           f"{sent[0].provider_ref}"]
        assert s.box.jobs() == []  # a preview is not a broadcast


def test_a_used_up_quota_fails_with_a_clear_reason(tmp_path: Path) -> None:
    with stack(tmp_path, account_type="subscription") as s:
        text = letter_text(list(s.box.followers.openids[:2]))
        only_news = text.split("[[placements]]\nchannel = \"wechat\"\nmsgtype = \"text\"")[0]
        store(s.app, only_news)
        s.box.reset()
        wx = registry.build_channels(s.app.config.channels)["wechat"]
        account = wx.account()  # type: ignore[attr-defined]
        account.client.post("message/mass/sendall", data={  # another campaign's broadcast
            "filter": {"is_to_all": True}, "msgtype": "text", "text": {"content": "x"},
            "clientmsgid": "other-1"})
        send(s.app)
        [(state, code)] = rows(s.app).values()
        assert (state, code) == ("failed", "45028")
        with s.app.engine.connect() as conn:
            detail = conn.execute(select(deliveries.c.detail)).scalar_one()
        assert "no broadcast quota left" in detail
