"""The WeChat sandbox over loopback, driven by the real wechatpy client: tokens, followers,
mass sends and their limits, previews, templates, signed and encrypted events, statistics,
the CLI."""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from wechatpy import WeChatClient, parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.events import MassSendJobFinishEvent, TemplateSendJobFinishEvent
from wechatpy.exceptions import (
    APILimitedException,
    InvalidSignatureException,
    WeChatClientException,
)
from wechatpy.utils import check_signature

from channels.wechat.transport import RewriteAdapter, route_client
from dispatcher.cli.sandbox import sandbox as sandbox_group
from dispatcher.sandbox import (
    SANDBOX_AES_KEY,
    SANDBOX_APPID,
    SANDBOX_APPSECRET,
    SANDBOX_ORIGINAL_ID,
    SANDBOX_TOKEN,
    WeChatOptions,
    WeChatSandbox,
)
from dispatcher.serving import BackgroundServer, free_port

START = date(2024, 3, 28)  # four days before a new month
OPENID = re.compile(r"o[\w\-]{27}")
EVENT_FIELDS = ["ToUserName", "FromUserName", "CreateTime", "MsgType", "Event", "MsgID",
                "Status", "TotalCount", "FilterCount", "SentCount", "ErrorCount"]


def options(**changes: Any) -> WeChatOptions:
    base: dict[str, Any] = {"followers": 40, "event_delay_s": 0.01, "event_backoff_s": 0.01,
                            "start_date": START}
    return WeChatOptions(**(base | changes))


@contextmanager
def running(**changes: Any) -> Iterator[tuple[WeChatSandbox, WeChatClient]]:
    box = WeChatSandbox(options(**changes))
    with box.serve() as url:
        yield box, client(url)


def client(url: str, appid: str = SANDBOX_APPID,
           secret: str = SANDBOX_APPSECRET) -> WeChatClient:
    routed = WeChatClient(appid, secret, timeout=5)
    route_client(routed, url)
    return routed


def sendall(wx: WeChatClient, tag_id: int | None = None, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"filter": {"is_to_all": tag_id is None}, "msgtype": "text",
                            "text": {"content": "平安建设，人人参与"},
                            "send_ignore_reprint": 0}
    if tag_id is not None:
        body["filter"]["tag_id"] = tag_id
    result: dict[str, Any] = wx.post("message/mass/sendall", data=body | fields)
    return result


def news(media_id: str = "sandbox-news-2") -> dict[str, Any]:
    return {"msgtype": "mpnews", "mpnews": {"media_id": media_id}}


def refused(call: Any, *args: Any, **kwargs: Any) -> WeChatClientException:
    with pytest.raises(WeChatClientException) as caught:
        call(*args, **kwargs)
    return caught.value


class Receiver:
    """The account's server: records each event push (query, body); answers 503 first
    ``fail_first`` times."""

    def __init__(self, fail_first: int = 0) -> None:
        self.posts: list[tuple[dict[str, str], bytes]] = []
        self.queries: list[dict[str, str]] = []  # of every attempt, answered 503 or not
        self.attempts = 0
        self.fail_first = fail_first
        self.app = Starlette(routes=[Route("/wechat", self.receive, methods=["POST"])])

    async def receive(self, request: Request) -> Response:
        self.attempts += 1
        self.queries.append(dict(request.query_params))
        if self.fail_first > 0:
            self.fail_first -= 1
            return PlainTextResponse("busy", 503)
        self.posts.append((dict(request.query_params), await request.body()))
        return PlainTextResponse("success")

    def events(self) -> list[Any]:
        """Each plain push, its signature checked, parsed by wechatpy."""
        for query, _ in self.posts:
            check_signature(SANDBOX_TOKEN, query["signature"], query["timestamp"],
                            query["nonce"])
        return [parse_message(body.decode()) for _, body in self.posts]


@contextmanager
def receiving(fail_first: int = 0) -> Iterator[tuple[Receiver, str]]:
    receiver = Receiver(fail_first)
    with BackgroundServer(receiver.app) as server:
        yield receiver, f"{server.url}/wechat"


# Tokens


def test_tokens_errors_and_refresh_after_forced_expiry() -> None:
    with running(token_expiry_every=2) as (box, wx):
        url = box.url
        assert refused(client(url, appid="wxsomeoneelse").fetch_access_token).errcode == 40013
        assert refused(client(url, secret="wrong").fetch_access_token).errcode == 40125
        assert requests.get(f"{url}/cgi-bin/user/get", timeout=5).json()["errcode"] == 41001
        bogus = requests.get(f"{url}/cgi-bin/user/get", params={"access_token": "nope"},
                             timeout=5).json()
        assert bogus["errcode"] == 40001
        first = wx.access_token
        for _ in range(5):  # calls 2 and 4 expire their token; 3 and 5 get 42001 first
            assert wx.user.get_followers()["count"] == 40
        stats = box.stats()
        assert stats["tokens"] == {"issued": 3, "calls": 5, "forced_expiries": 2}
        assert stats["rejected"] == {"40013": 1, "40125": 1, "41001": 1, "40001": 1,
                                     "42001": 2}
        assert wx.access_token != first


def test_old_tokens_stay_valid_until_days_pass() -> None:
    with running() as (box, wx):
        old = wx.access_token
        wx.fetch_access_token()
        assert wx.access_token != old
        valid = requests.get(f"{box.url}/cgi-bin/tags/get", params={"access_token": old},
                             timeout=5).json()
        assert len(valid["tags"]) == 3
        box.advance_days(1)  # 7,200 s tokens are long expired
        expired = requests.get(f"{box.url}/cgi-bin/tags/get", params={"access_token": old},
                               timeout=5).json()
        assert expired["errcode"] == 42001
        assert len(wx.tag.get()) == 3  # wechatpy fetches a new token and retries
        assert box.stats()["tokens"]["issued"] == 3


# Followers, tags, openid lists


def test_followers_pages_tags_and_openid_list_limits() -> None:
    with running(followers=10_001) as (box, wx):
        first = wx.user.get_followers()
        assert (first["total"], first["count"]) == (10_001, 10_000)
        assert first["next_openid"] == first["data"]["openid"][-1]
        everyone = list(wx.user.iter_followers())
        assert len(set(everyone)) == 10_001 and all(OPENID.fullmatch(o) for o in everyone)
        assert everyone[:10_000] == first["data"]["openid"]
        tags = {tag["id"]: tag for tag in wx.tag.get()}
        assert [(t, tags[t]["name"]) for t in sorted(tags)] == [
            (100, "residents-north"), (101, "residents-south"), (102, "workplaces")]
        north = list(wx.tag.iter_tag_users(100))
        assert len(north) == tags[100]["count"] and 2_500 < len(north) < 3_500
        assert set(north) <= set(everyone)
        one = refused(wx.post, "message/mass/send", data={"touser": everyone[:1]} | news())
        too_many = refused(wx.post, "message/mass/send",
                           data={"touser": everyone} | news())
        assert (one.errcode, too_many.errcode) == (40130, 40130)
        fine = wx.post("message/mass/send", data={"touser": everyone[:10_000]} | news())
        assert box.jobs()[0]["msg_id"] == fine["msg_id"]
        assert box.jobs()[0]["total"] == box.jobs()[0]["sent"] == 10_000


def test_followers_are_deterministic_from_the_seed() -> None:
    one, same, other = (WeChatSandbox(options(seed=seed)) for seed in (3, 3, 4))
    assert one.followers.openids == same.followers.openids
    assert one.followers.tags == same.followers.tags
    assert set(one.followers.openids).isdisjoint(other.followers.openids)
    assert one.followers.wxnames == {"tester1": one.followers.openids[0],
                                     "tester2": one.followers.openids[1]}


# Mass sends and their events


def test_sendall_to_all_and_to_a_tag_posts_signed_events() -> None:
    with receiving() as (rx, hook), running(callback_url=hook) as (box, wx):
        to_all = sendall(wx)
        assert to_all["errcode"] == 0 and "msg_data_id" not in to_all
        to_tag = sendall(wx, 101, **news())
        assert to_tag["errmsg"] == "send job submission success"
        assert isinstance(to_tag["msg_data_id"], int)
        members = len(box.followers.tags[101])
        assert box.wait_for_events()
        found = {event.id: event for event in rx.events()}
        assert all(isinstance(e, MassSendJobFinishEvent) for e in found.values())
        everyone, tagged = found[to_all["msg_id"]], found[to_tag["msg_id"]]
        assert (everyone.total_count, everyone.filter_count, everyone.sent_count,
                everyone.error_count, everyone.status) == (40, 40, 40, 0, "send success")
        assert (tagged.total_count, tagged.sent_count) == (members, members)
        assert everyone.target == SANDBOX_ORIGINAL_ID
        plain = rx.posts[0][1].decode()
        assert re.findall(r"<(\w+)>", plain)[1:12] == EVENT_FIELDS
        assert [job["event"] for job in box.jobs()] == ["posted", "posted"]
        assert wx.message.get_mass(to_all["msg_id"])["msg_status"] == "SEND_SUCCESS"


def test_wechatpys_group_id_shape_and_bad_bodies_are_refused() -> None:
    with running() as (box, wx):
        old = refused(wx.message.send_mass_text, 100, "hello", is_to_all=False)
        assert old.errcode == 47001 and "tag_id" in old.errmsg
        assert refused(sendall, wx, 999).errcode == 40050
        assert refused(sendall, wx, **news("sandbox-news-404")).errcode == 40007
        voice = {"msgtype": "voice", "voice": {"media_id": "sandbox-image-1"}}
        assert refused(sendall, wx, **voice).errcode == 40008
        image = sendall(wx, msgtype="image", image={"media_id": "sandbox-image-1"})
        assert box.jobs() == [box.jobs()[0]] and box.jobs()[0]["msg_id"] == image["msg_id"]
        assert box.stats()["rejected"] == {"47001": 1, "40050": 1, "40007": 1, "40008": 1}


def test_send_to_openids_filters_strangers() -> None:
    with receiving() as (rx, hook), running(callback_url=hook) as (box, wx):
        openids = [*box.followers.openids[:3], "o" + "x" * 27]
        sent = wx.post("message/mass/send", data={"touser": openids, "msgtype": "text",
                                                  "text": {"content": "hi"}})
        assert box.wait_for_events()
        [event] = rx.events()
        assert event.id == sent["msg_id"]
        assert (event.total_count, event.filter_count, event.sent_count) == (4, 3, 3)


def test_preview_by_wxname_and_openid_uses_no_quota() -> None:
    with receiving() as (rx, hook), running(callback_url=hook,
                                            account_type="subscription") as (box, wx):
        by_name = wx.message.send_mass_text("tester2", "preview", preview=True)
        assert by_name["errmsg"] == "preview success"
        openid = box.followers.openids[5]
        wx.message.send_mass_article(openid, "sandbox-news-1", preview=True)
        assert refused(wx.message.send_mass_text, "nobody", "x", preview=True).errcode == 40132
        assert [(p["touser"], p["towxname"]) for p in box.previews()] == [
            (box.followers.wxnames["tester2"], "tester2"), (openid, None)]
        assert box.jobs() == []
        assert sendall(wx)["errcode"] == 0  # the day's one broadcast is still there
        assert box.wait_for_events()
        assert len(rx.posts) == 1
        assert box.stats()["previews"] == 2


def test_a_repeated_clientmsgid_answers_45065_with_the_first_msg_id() -> None:
    with running() as (box, wx):
        first = sendall(wx, clientmsgid="drive-2024-03-28")
        again = refused(sendall, wx, clientmsgid="drive-2024-03-28")
        assert again.errcode == 45065
        assert again.response.json()["msg_id"] == first["msg_id"]
        assert [job["msg_id"] for job in box.jobs()] == [first["msg_id"]]
        assert box.stats()["duplicate_clientmsgid"] == 1


def test_a_lost_response_is_found_again_through_its_clientmsgid() -> None:
    with running(system_error_rate=1.0, seed=5) as (box, wx):
        for _ in range(20):  # half the -1 answers hide a job that was created
            answer = refused(sendall, wx, clientmsgid="lost-1")
            if answer.errcode == 45065:
                break
            assert answer.errcode == -1
        assert answer.errcode == 45065
        [job] = box.jobs()
        assert answer.response.json()["msg_id"] == job["msg_id"]
        assert box.stats()["faults"]["system_error_created"] == 1


# Limits


def test_subscription_account_broadcasts_once_a_day() -> None:
    with running(account_type="subscription") as (box, wx):
        sendall(wx)
        assert refused(sendall, wx).errcode == 45028
        assert refused(wx.post, "message/mass/send", data={
            "touser": list(box.followers.openids[:2]), "msgtype": "text",
            "text": {"content": "x"}}).errcode == 45028
        box.advance_days(1)
        assert sendall(wx)["errcode"] == 0
        assert [job["day"] for job in box.jobs()] == ["2024-03-28", "2024-03-29"]


def test_service_account_followers_get_four_broadcasts_a_month() -> None:
    with running(followers=10) as (box, wx):
        sendall(wx, 100)
        for _ in range(4):
            sendall(wx)
        tagged = len(box.followers.tags[100])
        filtered = [job["filtered"] for job in box.jobs()]
        assert filtered == [tagged, 10, 10, 10, 10 - tagged]
        assert box.jobs()[-1]["total"] == 10
        box.advance_days(4)  # April
        assert sendall(wx) and box.jobs()[-1]["filtered"] == 10
        assert box.stats()["filtered_out"] == tagged


def test_sixty_mass_requests_a_minute_then_45009() -> None:
    with running(followers=5) as (box, wx):
        for _ in range(30):
            sendall(wx)
            wx.message.send_mass_text("tester1", "preview", preview=True)
        with pytest.raises(APILimitedException) as caught:
            sendall(wx)
        assert caught.value.errcode == 45009
        assert len(box.jobs()) == 30 and box.stats()["faults"]["rate_limit"] == 1
        yesterday = START - timedelta(days=1)  # other APIs are not limited
        assert [row["int_page_read_user"] for row in wx.datacube.get_user_read(
            yesterday, yesterday)] == [0]


def test_seeded_throttle_refuses_without_creating() -> None:
    with running(throttle_rate=1.0) as (box, wx):
        with pytest.raises(APILimitedException):
            sendall(wx)
        assert box.jobs() == [] and box.stats()["faults"]["throttle"] == 1


def test_error_rate_is_seeded_and_counts_add_up() -> None:
    counts = []
    for _ in range(2):
        with running(followers=300, error_rate=0.2, seed=9) as (box, wx):
            sendall(wx)
            [job] = box.jobs()
            assert job["sent"] + job["errors"] == job["filtered"] == 300
            counts.append(job["errors"])
    assert counts[0] == counts[1] and 30 < counts[0] < 90


# Templates


def test_template_send_and_its_event() -> None:
    with receiving() as (rx, hook), running(callback_url=hook) as (box, wx):
        openid = box.followers.openids[0]
        data = {"first": {"value": "平安提示"}}
        sent = wx.message.send_template(openid, "sandbox-template-1", data,
                                        url="https://example.org/notice")
        assert (sent["errcode"], sent["errmsg"]) == (0, "ok")
        assert refused(wx.message.send_template, openid, "other", data).errcode == 40037
        stranger = "o" + "y" * 27
        assert refused(wx.message.send_template, stranger, "sandbox-template-1",
                       data).errcode == 43004
        assert box.wait_for_events()
        [event] = rx.events()
        assert isinstance(event, TemplateSendJobFinishEvent)
        assert (event.id, event.status, event.source) == (sent["msgid"], "success", openid)
        assert box.template_sends()[0]["event"] == "posted"


def test_template_failures_are_seeded() -> None:
    with receiving() as (rx, hook), running(callback_url=hook,
                                            template_block_rate=1.0) as (box, wx):
        wx.message.send_template(box.followers.openids[1], "sandbox-template-1", {})
        assert box.wait_for_events()
        assert [event.status for event in rx.events()] == ["failed:user block"]


# Event delivery


def test_encrypted_events_decrypt_with_wechatpy() -> None:
    with receiving() as (rx, hook), running(callback_url=hook, encrypt=True) as (box, wx):
        sent = sendall(wx, **news("sandbox-news-1"))
        assert box.wait_for_events()
        [(query, body)] = rx.posts
        assert query["encrypt_type"] == "aes" and query["openid"] == "mphelper"
        check_signature(SANDBOX_TOKEN, query["signature"], query["timestamp"], query["nonce"])
        assert re.findall(r"<(\w+)>", body.decode()) == ["xml", "ToUserName", "Encrypt"]
        crypto = WeChatCrypto(SANDBOX_TOKEN, SANDBOX_AES_KEY, SANDBOX_APPID)
        with pytest.raises(InvalidSignatureException):
            crypto.decrypt_message(body, query["signature"], query["timestamp"],
                                   query["nonce"])
        event = parse_message(crypto.decrypt_message(
            body, query["msg_signature"], query["timestamp"], query["nonce"]))
        assert isinstance(event, MassSendJobFinishEvent)
        assert (event.id, event.sent_count, event.filter_count) == (sent["msg_id"], 40, 40)


def test_duplicated_and_retried_events() -> None:
    with receiving(fail_first=2) as (rx, hook), running(
            callback_url=hook, duplicate_event_rate=1.0) as (box, wx):
        sent = sendall(wx)
        assert box.wait_for_events()
        assert [event.id for event in rx.events()] == [sent["msg_id"]] * 2
        assert rx.attempts == 4
        # Each attempt is signed afresh, as WeChat does: receivers refuse nonces seen
        # before and timestamps off the clock.
        nonces = [query["nonce"] for query in rx.queries]
        assert len(set(nonces)) == len(nonces) == 4
        assert all(abs(int(query["timestamp"]) - time.time()) < 60 for query in rx.queries)
        assert box.stats()["events"] == {"posted": 2, "failed": 0, "retried": 2,
                                         "duplicated": 1, "pending": 0}


def test_a_receiver_that_never_answers_gets_three_retries() -> None:
    with receiving(fail_first=100) as (rx, hook), running(callback_url=hook) as (box, wx):
        sendall(wx)
        assert box.wait_for_events()
        assert rx.attempts == 4 and rx.posts == []
        assert box.jobs()[0]["event"] == "failed"
        assert box.stats()["events"]["failed"] == 1
    dead = f"http://127.0.0.1:{free_port()}/wechat"
    with running(callback_url=dead) as (box, wx):
        sendall(wx)
        assert box.wait_for_events()
        assert box.stats()["events"] == {"posted": 0, "failed": 1, "retried": 3,
                                         "duplicated": 0, "pending": 0}


# Statistics


def test_article_statistics_follow_the_day_clock() -> None:
    with running(followers=2_000, seed=11) as (box, wx):
        job = sendall(wx, **news())
        assert refused(wx.datacube.get_article_total, START, START).errcode == 61501
        box.advance_days(1)
        [first, second, third] = wx.datacube.get_article_total(START, START)
        assert [a["msgid"] for a in (first, second, third)] == [
            f"{job['msg_data_id']}_{i}" for i in (1, 2, 3)]
        assert first["title"] == "扫黑除恶 人人有责" and len(first["details"]) == 1
        box.advance_days(7)
        totals = wx.datacube.get_article_total(START, START)
        for article in totals:
            _check_cumulative(article["details"], delivered=2_000)
        day_one = wx.datacube.get_article_summary(START, START)
        assert {a["msgid"]: a["int_page_read_user"] for a in day_one} == {
            a["msgid"]: a["details"][0]["int_page_read_user"] for a in totals}
        assert 50 < day_one[0]["int_page_read_user"] < 150  # about 5% of 2,000
        days = [START + timedelta(days=n) for n in range(3)]
        read = wx.datacube.get_user_read(days[0], days[-1])
        for row, day in zip(read, days, strict=True):
            summary = wx.datacube.get_article_summary(day, day)
            assert row["int_page_read_user"] == sum(a["int_page_read_user"] for a in summary)


def test_readers_never_outnumber_recipients() -> None:
    with running(followers=50, read_rate=1.0, read_decay=1.0) as (box, wx):
        sendall(wx, **news())
        box.advance_days(7)
        for article in wx.datacube.get_article_total(START, START):
            _check_cumulative(article["details"], delivered=50)
            assert article["details"][-1]["int_page_read_user"] == 50  # all of them read it


def _check_cumulative(details: list[dict[str, Any]], delivered: int) -> None:
    assert len(details) == 7
    for before, after in itertools.pairwise(details):
        assert all(after[key] >= before[key] for key in before if key != "stat_date")
    for day in details:
        assert day["target_user"] == delivered
        assert day["int_page_read_user"] <= delivered
        assert day["int_page_read_count"] >= day["int_page_read_user"]
        assert day["share_count"] >= day["share_user"] <= day["int_page_read_user"]


def test_statistics_are_deterministic_and_dates_are_checked() -> None:
    answers = []
    for seed in (11, 11, 12):
        with running(followers=2_000, seed=seed) as (box, wx):
            sendall(wx, **news())
            box.advance_days(8)
            answers.append(wx.datacube.get_article_total(START, START))
            if seed == 12:
                newer = wx.post("https://api.weixin.qq.com/datacube/getarticleread",
                                data={"begin_date": str(START), "end_date": str(START)})
                summary = wx.datacube.get_article_summary(START, START)
                assert newer["is_delay"] is False
                assert [r["detail"]["read_user"] for r in newer["list"]] == [
                    a["int_page_read_user"] for a in summary]
                end = START + timedelta(days=3)
                assert refused(wx.datacube.get_user_read, START, end).errcode == 61501
                assert refused(wx.datacube.get_article_total, START,
                               START + timedelta(days=1)).errcode == 61501
                assert refused(wx.datacube.get_user_read, "20240328",
                               "20240328").errcode == 61500
    assert answers[0] == answers[1] != answers[2]


# Inspection over HTTP, the transport, options, CLI


def test_sandbox_routes_inspect_advance_and_reset() -> None:
    with running() as (box, wx):
        sendall(wx)
        url = box.url
        assert requests.get(f"{url}/_sandbox/jobs", timeout=5).json()[0]["total"] == 40
        stats = requests.get(f"{url}/_sandbox/stats", timeout=5).json()
        assert (stats["jobs"], stats["sent"], stats["today"]) == (1, 40, "2024-03-28")
        moved = requests.post(f"{url}/_sandbox/advance_days", json={"days": 2}, timeout=5)
        assert moved.json() == {"today": "2024-03-30"}
        bad = requests.post(f"{url}/_sandbox/advance_days", json={"days": -1}, timeout=5)
        assert bad.status_code == 400
        assert requests.get(f"{url}/_sandbox/testers", timeout=5).json() == \
            box.followers.wxnames
        requests.post(f"{url}/_sandbox/reset", timeout=5)
        assert box.jobs() == [] and box.stats()["tokens"]["issued"] == 0


def test_rewrite_adapter_keeps_path_and_query() -> None:
    adapter = RewriteAdapter("http://127.0.0.1:9/wechat-proxy/")
    assert adapter.rewrite("https://api.weixin.qq.com/cgi-bin/token?appid=x") == \
        "http://127.0.0.1:9/wechat-proxy/cgi-bin/token?appid=x"
    with pytest.raises(ValueError, match="api_base"):
        RewriteAdapter("127.0.0.1:9")


def test_options_are_validated() -> None:
    with pytest.raises(ValueError, match="aes_key"):
        WeChatOptions(aes_key="short")
    with pytest.raises(ValueError, match="account_type"):
        WeChatOptions(account_type="enterprise")
    with pytest.raises(ValueError, match="error_rate"):
        WeChatOptions(error_rate=1.5)
    with pytest.raises(ValueError, match="wxnames"):
        WeChatOptions(followers=1)


def test_cli_help_and_appsecret_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    shown = runner.invoke(sandbox_group, ["wechat", "--help"])
    assert shown.exit_code == 0
    for flag in ("--port", "--host", "--seed", "--followers", "--callback-url", "--encrypt",
                 "--error-rate", "--throttle-rate", "--duplicate-event-rate",
                 "--appsecret-env", "--account-type"):
        assert flag in shown.output
    monkeypatch.delenv("WECHAT_APPSECRET", raising=False)
    missing = runner.invoke(sandbox_group, ["wechat", "--port", str(free_port())])
    assert missing.exit_code == 2 and "WECHAT_APPSECRET" in missing.output
    monkeypatch.setenv("WX_SECRET", "s")
    invalid = runner.invoke(sandbox_group, ["wechat", "--appsecret-env", "WX_SECRET",
                                            "--followers", "1"])
    assert invalid.exit_code == 2 and "wxnames" in invalid.output
