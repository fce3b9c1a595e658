"""The Tencent Cloud SMS sandbox, driven by the official SDK (tencentcloud-sdk-python-sms,
API 2021-01-11) over loopback: answers, batch limits, lookups, faults, limits, signature
refusals, status and reply pushes, inspection and the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from tencentcloud.common import abstract_client, credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
    TencentCloudSDKException,
)
from tencentcloud.common.http.request import RequestInternal
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111 import models, sms_client

from dispatcher.cli.sandbox import sandbox as sandbox_group
from dispatcher.sandbox.tencent import (
    SANDBOX_SDK_APP_ID,
    SANDBOX_SECRET_ID,
    SANDBOX_SECRET_KEY,
    TencentOptions,
    TencentSandbox,
    create_tencent_app,
)
from dispatcher.serving import free_port

ALICE, BOB, CAROL = "13800138000", "13900139000", "13700137000"
OK_ANSWER = (200, '{"result":0,"errmsg":"OK"}')


def options(**changes: Any) -> TencentOptions:
    base: dict[str, Any] = {"callback_delay_s": 0.02, "callback_backoff_s": 0.01}
    return TencentOptions(**(base | changes))


@contextmanager
def running(**changes: Any) -> Iterator[tuple[TencentSandbox, str]]:
    box = TencentSandbox(options(**changes))
    with box.serve() as url:
        yield box, url


def client(url: str, secret_key: str = SANDBOX_SECRET_KEY, secret_id: str = SANDBOX_SECRET_ID,
           timeout: int = 10) -> sms_client.SmsClient:
    http = HttpProfile(endpoint=url.removeprefix("http://"), protocol="http",
                       reqTimeout=timeout)
    return sms_client.SmsClient(credential.Credential(secret_id, secret_key), "ap-guangzhou",
                                ClientProfile(httpProfile=http))


def send_request(numbers: list[str], context: str = "r1", **changes: Any
                 ) -> models.SendSmsRequest:
    request = models.SendSmsRequest()
    fields: dict[str, Any] = {"PhoneNumberSet": numbers, "SmsSdkAppId": SANDBOX_SDK_APP_ID,
                              "SignName": "平安高新", "TemplateId": "1234567",
                              "TemplateParamSet": ["张三"], "SessionContext": context}
    for name, value in (fields | changes).items():
        setattr(request, name, value)
    return request


def send(url: str, numbers: list[str], **changes: Any) -> list[models.SendStatus]:
    return list(client(url).SendSms(send_request(numbers, **changes)).SendStatusSet)


def refused(call: Callable[[], object]) -> str:
    """The code of the TencentCloudSDKException ``call`` raises."""
    with pytest.raises(TencentCloudSDKException) as caught:
        call()
    return str(caught.value.get_code())


def pull(url: str, phone: str, begin: int | None = None, limit: int = 100,
         offset: int = 0) -> list[models.PullSmsSendStatus]:
    request = models.PullSmsSendStatusByPhoneNumberRequest()
    request.BeginTime = int(time.time()) - 60 if begin is None else begin
    request.EndTime = int(time.time()) + 60
    request.Offset, request.Limit = offset, limit
    request.PhoneNumber, request.SmsSdkAppId = f"+86{phone}", SANDBOX_SDK_APP_ID
    return list(client(url).PullSmsSendStatusByPhoneNumber(request).PullSmsSendStatusSet)


def wait_until(check: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


class Receiver:
    """A push receiver on 127.0.0.1: records each POST (path, content type, JSON body) and
    answers the queued (status, body) pairs first, then Tencent's acknowledgement."""

    def __init__(self, answers: list[tuple[int, str]] | None = None) -> None:
        self.posts: list[tuple[str, str, Any]] = []
        self.answers = list(answers or [])
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.posts.append((self.path, self.headers.get("Content-Type", ""),
                                           json.loads(body)))
                    status, text = receiver.answers.pop(0) if receiver.answers else OK_ANSWER
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def items(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            return [item for at, _, body in self.posts if at == path for item in body]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    thread = threading.Thread(target=found.server.serve_forever, daemon=True)
    thread.start()
    yield found
    found.server.shutdown()
    found.server.server_close()
    thread.join(5)


# SendSms


def test_send_answers_one_status_per_number() -> None:
    with running() as (box, url):
        answer = client(url).SendSms(send_request([f"+86{ALICE}", BOB, "12345"],
                                                  context="row-7"))
        accepted = box.messages()
    ok, bare, bad = answer.SendStatusSet
    assert answer.RequestId
    for status, phone in ((ok, ALICE), (bare, BOB)):
        assert (status.Code, status.Message, status.PhoneNumber, status.Fee,
                status.SessionContext, status.IsoCode) == (
            "Ok", "send success", f"+86{phone}", 1, "row-7", "CN")
    assert ok.SerialNo and bare.SerialNo and ok.SerialNo != bare.SerialNo
    assert (bad.Code, bad.SerialNo, bad.Fee) == (
        "InvalidParameterValue.IncorrectPhoneNumber", "", 0)
    assert [(m["phone"], m["serial_no"], m["session_context"], m["template_id"], m["params"])
            for m in accepted] == [
        (ALICE, ok.SerialNo, "row-7", "1234567", ["张三"]),
        (BOB, bare.SerialNo, "row-7", "1234567", ["张三"])]


def test_fee_counts_the_rendered_template_with_its_signature() -> None:
    templates = {"1234567": "{1}您好，活动开始了，拒收请回复R", "7654321": "{1}{2}"}
    with running(templates=templates) as (box, url):
        [short] = send(url, [ALICE])
        [long] = send(url, [BOB], TemplateId="7654321", TemplateParamSet=["长" * 60, "文" * 10])
        unknown = refused(lambda: send(url, [ALICE], TemplateId="999"))
        mismatch = refused(lambda: send(url, [ALICE], TemplateParamSet=[]))
        stats = box.stats()
    # 【平安高新】 is 6 characters: 6 + 70 = 76 > 70, so two parts of 67.
    assert (short.Fee, long.Fee) == (1, 2)
    assert (unknown, mismatch) == ("FailedOperation.TemplateIncorrectOrUnapproved",
                                   "FailedOperation.TemplateParamSetNotMatchApprovedTemplate")
    assert (stats["accepted"], stats["fee"]) == (2, 3)


def test_batch_limit_is_200_numbers_a_call() -> None:
    numbers = [f"138{i:08d}" for i in range(201)]
    with running() as (box, url):
        statuses = send(url, numbers[:200])
        too_many = refused(lambda: send(url, numbers))
        empty = refused(lambda: send(url, []))
        stats = box.stats()
    assert [s.Code for s in statuses] == ["Ok"] * 200
    assert len({s.SerialNo for s in statuses}) == 200
    assert (too_many, empty) == ("LimitExceeded.PhoneNumberCountLimit",
                                 "MissingParameter.EmptyPhoneNumberSet")
    assert stats["accepted"] == 200
    assert stats["refused"] == {"LimitExceeded.PhoneNumberCountLimit": 1,
                                "MissingParameter.EmptyPhoneNumberSet": 1}


@pytest.mark.parametrize(("changes", "code"), [
    ({"SmsSdkAppId": "1400999999"}, "UnauthorizedOperation.SmsSdkAppIdVerifyFail"),
    ({"SignName": ""}, "MissingParameter"),
    ({"SessionContext": "x" * 512}, "InvalidParameter"),
])
def test_bad_calls_are_refused_whole(changes: dict[str, Any], code: str) -> None:
    with running() as (box, url):
        assert refused(lambda: send(url, [ALICE], **changes)) == code
        assert box.messages() == []


# Signatures


def test_the_sdk_signature_is_verified(monkeypatch: pytest.MonkeyPatch) -> None:
    with running() as (box, url):
        assert send(url, [ALICE])[0].Code == "Ok"  # the right secret passes
        wrong_key = refused(lambda: client(url, secret_key="wrong").SendSms(
            send_request([ALICE])))
        wrong_id = refused(lambda: client(url, secret_id="AKIDother").SendSms(
            send_request([ALICE])))
        real_time = time.time
        monkeypatch.setattr(abstract_client, "time",
                            SimpleNamespace(time=lambda: real_time() - 301, sleep=time.sleep))
        stale = refused(lambda: send(url, [ALICE]))
        stats = box.stats()
    assert (wrong_key, wrong_id, stale) == ("AuthFailure.SignatureFailure",
                                            "AuthFailure.SecretIdNotFound",
                                            "AuthFailure.SignatureExpire")
    assert stats["accepted"] == 1
    assert stats["requests"] == {"SendSms": 1, "PullSmsSendStatusByPhoneNumber": 0,
                                 "unauthorized": 3}


def _signed(url: str, params: dict[str, Any]) -> RequestInternal:
    """A request the SDK signed for SendSms, not sent."""
    sdk = client(url)
    request = RequestInternal(url.removeprefix("http://"), "POST", "/", header={})
    sdk._build_req_inter("SendSms", params, request, None)
    return request


def test_a_tampered_body_or_header_is_refused() -> None:
    params = {"PhoneNumberSet": [ALICE], "SmsSdkAppId": SANDBOX_SDK_APP_ID,
              "SignName": "平安高新", "TemplateId": "1", "TemplateParamSet": []}
    with running() as (box, url):
        signed = _signed(url, params)
        as_sent = requests.post(url + "/", data=signed.data, headers=signed.header, timeout=5)
        other = json.dumps(params | {"PhoneNumberSet": [BOB]})
        tampered = requests.post(url + "/", data=other, headers=signed.header, timeout=5)
        moved = requests.post(url + "/", data=signed.data, timeout=5,
                              headers=signed.header | {"Host": "example.com"})
        versioned = requests.post(url + "/", data=signed.data, timeout=5,
                                  headers=signed.header | {"X-TC-Version": "2019-07-11"})
        accepted = box.messages()

    def code(response: requests.Response) -> str:
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/json"
        body = response.json()["Response"]
        assert body["RequestId"]
        return str(body["Error"]["Code"])

    assert as_sent.json()["Response"]["SendStatusSet"][0]["Code"] == "Ok"
    assert (code(tampered), code(moved), code(versioned)) == (
        "AuthFailure.SignatureFailure", "AuthFailure.SignatureFailure", "NoSuchVersion")
    assert [m["phone"] for m in accepted] == [ALICE]


def test_other_actions_are_invalid() -> None:
    with running() as (_, url):
        code = refused(lambda: client(url).call_json("SendStatusStatistics", {}))
    assert code == "InvalidAction"


# Lookups


def test_a_report_is_found_only_once_it_exists() -> None:
    with running(callback_delay_s=2.0) as (box, url):
        [status] = send(url, [ALICE], context="r42")
        before = pull(url, ALICE)
        assert box.wait_for_pushes(15)
        [report] = pull(url, ALICE)
        later = pull(url, ALICE, begin=int(time.time()) + 5)
        others = pull(url, BOB)
        limit = refused(lambda: pull(url, ALICE, limit=101))
    assert before == []
    assert (report.SerialNo, report.PhoneNumber, report.SubscriberNumber, report.CountryCode,
            report.ReportStatus, report.Description, report.SessionContext) == (
        status.SerialNo, f"+86{ALICE}", ALICE, "86", "SUCCESS", "用户短信送达成功", "r42")
    assert abs(report.UserReceiveTime - time.time()) < 60
    assert (later, others, limit) == ([], [], "InvalidParameterValue.LimitVerifyFail")


def test_lookups_page_with_offset_and_limit() -> None:
    with running() as (box, url):
        serials = [send(url, [ALICE], context=f"r{i}")[0].SerialNo for i in range(5)]
        assert box.wait_for_pushes(10)
        pages = [pull(url, ALICE, limit=2, offset=offset) for offset in (0, 2, 4, 6)]
    assert [[r.SerialNo for r in page] for page in pages] == [
        serials[0:2], serials[2:4], serials[4:5], []]


# Faults


def _outcomes(seed: int, count: int = 40, **changes: Any) -> tuple[list[str], dict[str, Any]]:
    with running(seed=seed, **changes) as (box, url):
        sdk, found = client(url), []
        for i in range(count):
            try:
                found.append(sdk.SendSms(send_request([ALICE], context=f"r{i}"))
                             .SendStatusSet[0].Code)
            except TencentCloudSDKException as exc:
                found.append(str(exc.get_code()))
        return found, box.stats()


def test_5xx_faults_are_reproducible_and_half_accept_first() -> None:
    first, stats = _outcomes(7, error_rate=0.3)
    again, _ = _outcomes(7, error_rate=0.3)
    other, _ = _outcomes(8, error_rate=0.3)
    assert first == again != other
    errors = first.count("ServerNetworkError")
    faults = stats["faults"]
    assert 0 < errors < 40 and set(first) == {"Ok", "ServerNetworkError"}
    assert faults["error_500"] + faults["error_503"] == errors
    assert 0 < faults["error_accepted"] < errors
    assert stats["accepted"] == first.count("Ok") + faults["error_accepted"]


def test_throttle_bursts_refuse_whole_calls() -> None:
    found, stats = _outcomes(0, count=10, throttle_every=3, throttle_burst=2)
    assert found == ["Ok"] * 3 + ["RequestLimitExceeded"] * 2 + ["Ok"] * 3 + [
        "RequestLimitExceeded"] * 2
    assert (stats["accepted"], stats["faults"]["throttle"]) == (6, 4)


def test_max_rate_refuses_calls_beyond_it() -> None:
    found, stats = _outcomes(0, count=6, max_rate=2)
    assert "RequestLimitExceeded" in found and stats["faults"]["max_rate"] >= 1
    assert stats["accepted"] == found.count("Ok")


def test_a_timeout_accepts_the_numbers_then_answers_late() -> None:
    with running(timeout_rate=1.0, timeout_delay_s=3) as (box, url):
        started = time.monotonic()
        code = refused(lambda: client(url, timeout=1).SendSms(send_request([ALICE, BOB])))
        accepted = box.messages()
        stats = box.stats()
    assert code == "ClientNetworkError"
    assert [(m["phone"], m["fault"]) for m in accepted] == [(ALICE, "timeout"),
                                                            (BOB, "timeout")]
    assert stats["faults"]["timeout"] == 1
    assert time.monotonic() - started < 3  # stopping did not wait the delay out


def test_latency_holds_every_answer_back() -> None:
    with running(latency_ms=300) as (_, url):
        started = time.monotonic()
        send(url, [ALICE])
        assert time.monotonic() - started >= 0.3


def test_daily_limit_refuses_the_next_message_to_a_number() -> None:
    with running(daily_limit=2) as (box, url):
        codes = [[s.Code for s in send(url, [ALICE, BOB][: 1 + i % 2], context=f"r{i}")]
                 for i in range(4)]
        stats = box.stats()
    assert codes == [["Ok"], ["Ok", "Ok"], ["LimitExceeded.PhoneNumberDailyLimit"],
                     ["LimitExceeded.PhoneNumberDailyLimit", "Ok"]]
    assert stats["accepted"] == 4
    assert stats["refused"] == {"LimitExceeded.PhoneNumberDailyLimit": 2}


def test_rejected_numbers_and_an_exhausted_balance() -> None:
    reject = {BOB: "FailedOperation.PhoneNumberInBlacklist"}
    numbers = [ALICE, BOB, CAROL, "13600136000", "13500135000"]
    with running(reject=reject, balance=3) as (box, url):
        codes = [s.Code for s in send(url, numbers)]
        stats = box.stats()
    assert codes == ["Ok", "FailedOperation.PhoneNumberInBlacklist", "Ok", "Ok",
                     "FailedOperation.InsufficientBalanceInSmsPackage"]
    assert (stats["accepted"], stats["balance"]) == (3, 0)


# Pushes


@pytest.mark.parametrize(("undelivered_rate", "status", "errmsg"), [
    (0.0, "SUCCESS", "DELIVRD"), (1.0, "FAIL", None)])
def test_status_reports_are_pushed_as_json_arrays(receiver: Receiver, undelivered_rate: float,
                                                  status: str, errmsg: str | None) -> None:
    with running(report_url=f"{receiver.url}/status", push_batch=2,
                 undelivered_rate=undelivered_rate) as (box, url):
        statuses = send(url, [ALICE, BOB, CAROL])
        assert box.wait_for_pushes(10)
        reports = pull(url, ALICE)
        stats = box.stats()
    items = receiver.items("/status")
    assert sorted(item["sid"] for item in items) == sorted(s.SerialNo for s in statuses)
    assert all(isinstance(body, list) and 1 <= len(body) <= 2 for _, _, body in receiver.posts)
    assert {ctype for _, ctype, _ in receiver.posts} == {"application/json; charset=utf-8"}
    for item in items:
        assert set(item) == {"user_receive_time", "nationcode", "mobile", "report_status",
                             "errmsg", "description", "sid"}
        assert (item["nationcode"], item["report_status"]) == ("86", status)
        assert item["mobile"] in {ALICE, BOB, CAROL}
        assert time.strptime(item["user_receive_time"], "%Y-%m-%d %H:%M:%S")
        assert item["errmsg"] == errmsg if errmsg else item["errmsg"] != "DELIVRD"
    assert reports[0].ReportStatus == status
    assert (stats["receipts_pushed"], stats["receipts_acknowledged"]) == (3, 3)
    assert stats["faults"]["undelivered"] == (3 if status == "FAIL" else 0)


def test_pushes_repeat_until_the_exact_acknowledgement(receiver: Receiver) -> None:
    receiver.answers = [(200, '{"result":1,"errmsg":"busy"}'), (500, "{}"),
                        (201, '{"result":0,"errmsg":"OK"}'), (200, '{"result":"0"}')]
    with running(report_url=f"{receiver.url}/status", callback_retries=4) as (box, url):
        statuses = send(url, [ALICE, BOB])
        assert box.wait_for_pushes(10)
        stats = box.stats()
    bodies = [body for _, _, body in receiver.posts]
    assert len(bodies) == 5 and all(body == bodies[0] for body in bodies)
    assert {item["sid"] for item in bodies[0]} == {s.SerialNo for s in statuses}
    assert stats["pushes"]["receipts"] == {"posts": 5, "pushed": 10, "acknowledged": 2,
                                           "retried": 4, "failed": 0}


def test_pushes_to_a_dead_url_give_up_and_count_it() -> None:
    dead = f"http://127.0.0.1:{free_port()}/status"
    with running(report_url=dead, callback_retries=2) as (box, url):
        send(url, [ALICE])
        assert box.wait_for_pushes(10)
        stats = box.stats()
        assert send(url, [BOB])[0].Code == "Ok"
    assert stats["pushes"]["receipts"] == {"posts": 3, "pushed": 3, "acknowledged": 0,
                                           "retried": 2, "failed": 1}


def test_simulated_replies_are_pushed(receiver: Receiver) -> None:
    with running(reply_url=f"{receiver.url}/reply") as (box, url):
        send(url, [ALICE])
        answer = requests.post(url + "/_sandbox/reply", timeout=5,
                               json={"phone": f"+86{ALICE}", "content": "退订"}).json()
        bad = requests.post(url + "/_sandbox/reply", json={"phone": "12", "content": "T"},
                            timeout=5)
        stats = box.stats()
    [item] = receiver.items("/reply")
    assert item == answer["reply"]
    assert (item["extend"], item["mobile"], item["nationcode"], item["sign"], item["text"]) \
        == ("", ALICE, "86", "平安高新", "退订")
    assert abs(item["time"] - time.time()) < 60
    assert answer["push"] == {"url": f"{receiver.url}/reply", "status": 200,
                              "acknowledged": True, "error": None}
    assert bad.status_code == 400
    assert (stats["replies_received"], stats["replies_pushed"],
            stats["replies_acknowledged"]) == (1, 1, 1)


def test_unsubscribing_numbers_reply_t_after_their_first_message(receiver: Receiver) -> None:
    with running(reply_url=f"{receiver.url}/reply",
                 unsubscribe_replies=frozenset({ALICE})) as (box, url):
        send(url, [ALICE, BOB], context="r1")
        send(url, [ALICE], context="r2")
        assert box.wait_for_pushes(10)
    assert [(i["mobile"], i["text"]) for i in receiver.items("/reply")] == [(ALICE, "T")]


# Inspection


def test_log_stats_duplicates_and_reset(tmp_path: Path) -> None:
    log = tmp_path / "sent.jsonl"
    with running(log_path=str(log)) as (box, url):
        send(url, [ALICE, BOB], context="r1")
        send(url, [ALICE], context="r1")  # the same number and context again: a duplicate
        send(url, [ALICE], context="r2")
        stats = requests.get(url + "/_sandbox/stats", timeout=5).json()
        listed = requests.get(url + "/_sandbox/messages", timeout=5).json()
        alice = requests.get(url + "/_sandbox/messages", params={"phone": ALICE},
                             timeout=5).json()
        lines = requests.get(url + "/_sandbox/messages?format=ndjson", timeout=5).text
        requests.post(url + "/_sandbox/reset", timeout=5)
        after = box.stats()
    assert (stats["calls"], stats["accepted"], stats["duplicates"],
            stats["duplicate_messages"]) == (3, 4, 1, 1)
    assert [m["phone"] for m in listed] == [ALICE, BOB, ALICE, ALICE]
    assert len(alice) == 3
    serials = [m["serial_no"] for m in listed]
    assert [json.loads(line)["serial_no"] for line in lines.splitlines()] == serials
    assert [json.loads(line)["serial_no"] for line in log.read_text().splitlines()] == serials
    assert (after["accepted"], after["calls"], after["duplicates"]) == (0, 0, 0)


def test_create_tencent_app_exposes_its_sandbox() -> None:
    app = create_tencent_app(options())
    assert isinstance(app.state.sandbox, TencentSandbox)
    app.state.sandbox.close()


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="error_rate \\+ timeout_rate"):
        TencentOptions(error_rate=0.6, timeout_rate=0.6)
    with pytest.raises(ValueError, match="daily_limit"):
        TencentOptions(daily_limit=-1)
    with pytest.raises(ValueError, match="push_batch"):
        TencentOptions(push_batch=0)


# The CLI


def test_cli_help_and_usage_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    shown = runner.invoke(sandbox_group, ["tencent", "--help"])
    assert shown.exit_code == 0
    for flag in ("--port", "--host", "--seed", "--latency-ms", "--error-rate",
                 "--timeout-rate", "--timeout-delay", "--throttle-every", "--throttle-burst",
                 "--undelivered-rate", "--max-rate", "--daily-limit", "--balance", "--reject",
                 "--unsubscribe-reply", "--report-url", "--reply-url", "--log", "--secret-id",
                 "--secret-env", "--sdk-app-id"):
        assert flag in shown.output
    assert "8768" in shown.output
    monkeypatch.delenv("TENCENTCLOUD_SECRET_KEY", raising=False)
    missing = runner.invoke(sandbox_group, ["tencent", "--port", str(free_port())])
    assert missing.exit_code == 2 and "TENCENTCLOUD_SECRET_KEY" in missing.output
    monkeypatch.setenv("TENCENTCLOUD_SECRET_KEY", "k")
    lonely = runner.invoke(sandbox_group, ["tencent", "--throttle-every", "5"])
    assert lonely.exit_code == 2 and "--throttle-burst" in lonely.output
    bad = runner.invoke(sandbox_group, ["tencent", "--reject", "138=Code"])
    assert bad.exit_code == 2 and "NUMBER=CODE" in bad.output


def test_cli_serves_the_sdk_until_interrupted() -> None:
    port = free_port()
    env = os.environ | {"SANDBOX_TC_KEY": "cli-secret"}
    child = subprocess.Popen(
        [sys.executable, "-m", "dispatcher", "sandbox", "tencent", "--port", str(port),
         "--secret-env", "SANDBOX_TC_KEY", "--daily-limit", "1"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        def answering() -> bool:
            assert child.poll() is None, child.communicate()
            try:
                return requests.get(url + "/_sandbox/stats", timeout=1).ok
            except requests.ConnectionError:
                return False

        wait_until(answering, timeout=60)
        statuses = client(url, secret_key="cli-secret").SendSms(
            send_request([ALICE, ALICE])).SendStatusSet
        assert [s.Code for s in statuses] == ["Ok", "LimitExceeded.PhoneNumberDailyLimit"]
    finally:
        child.send_signal(signal.SIGINT)
        try:
            _, err = child.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            raise
    assert child.returncode is not None
    assert f"http://127.0.0.1:{port}" in err and 'provider = "tencent"' in err
    assert 'secret_key = "env:SANDBOX_TC_KEY"' in err and "cli-secret" not in err
