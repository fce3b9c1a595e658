"""The Aliyun SMS sandbox over loopback, spoken to by the official SDK
(alibabacloud_dysmsapi20170525 4.6.0): sends, lookups, signatures, faults, limits,
receipt and reply pushes, the log and stats, the CLI."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from alibabacloud_dysmsapi20170525 import models
from alibabacloud_dysmsapi20170525.client import Client
from alibabacloud_tea_openapi.exceptions import ClientException, ServerException
from alibabacloud_tea_openapi.models import Config
from alibabacloud_tea_openapi.utils import Utils
from click.testing import CliRunner
from darabonba.exceptions import UnretryableException
from darabonba.runtime import RuntimeOptions

from dispatcher.cli.sandbox_aliyun import aliyun
from dispatcher.sandbox.aliyun import (
    SANDBOX_ACCESS_KEY_ID,
    SANDBOX_ACCESS_KEY_SECRET,
    AliyunOptions,
    AliyunSandbox,
    create_aliyun_app,
)
from dispatcher.serving import free_port

ALICE, BOB, CAROL = "13800138000", "13900139000", "13700137000"
SIGN = "平安高新"
TEMPLATES = {"SMS_100": "${name}您好，本周六社区义诊，回T退订", "SMS_200": "验证码${code}"}


def today() -> str:
    return (datetime.now(UTC) + timedelta(hours=8)).strftime("%Y%m%d")


def options(**changes: Any) -> AliyunOptions:
    base: dict[str, Any] = {"callback_delay_s": 0.01, "callback_backoff_s": 0.01}
    return AliyunOptions(**(base | changes))


@contextmanager
def running(**changes: Any) -> Iterator[tuple[AliyunSandbox, Client]]:
    box = AliyunSandbox(options(**changes))
    with box.serve() as url:
        yield box, client(url)


def client(url: str, key_id: str = SANDBOX_ACCESS_KEY_ID,
           secret: str = SANDBOX_ACCESS_KEY_SECRET) -> Client:
    return Client(Config(access_key_id=key_id, access_key_secret=secret,
                         endpoint=url.removeprefix("http://"), protocol="http"))


def send(sdk: Client, *numbers: str, out_id: str | None = None, code: str = "SMS_100",
         param: str | None = '{"name":"张三"}') -> models.SendSmsResponse:
    return sdk.send_sms(models.SendSmsRequest(
        phone_numbers=",".join(numbers), sign_name=SIGN, template_code=code,
        template_param=param, out_id=out_id))


def batch(sdk: Client, numbers: list[str], signs: list[str] | None = None,
          params: list[dict[str, str]] | None = None) -> models.SendBatchSmsResponse:
    return sdk.send_batch_sms(models.SendBatchSmsRequest(
        phone_number_json=json.dumps(numbers),
        sign_name_json=json.dumps(signs or [SIGN] * len(numbers), ensure_ascii=False),
        template_code="SMS_200",
        template_param_json=json.dumps(params or [{"code": str(i)} for i in
                                                  range(len(numbers))]),
        out_id="run-7"))


def details(sdk: Client, phone: str, biz_id: str | None = None, size: int = 10,
            page: int = 1, day: str | None = None) -> models.QuerySendDetailsResponseBody:
    return sdk.query_send_details(models.QuerySendDetailsRequest(
        phone_number=phone, send_date=day or today(), page_size=size, current_page=page,
        biz_id=biz_id)).body


class Receiver:
    """A push receiver on 127.0.0.1:0: records each POST and answers from ``answers``
    (status, body) in turn, then the last one for ever."""

    def __init__(self, answers: list[tuple[int, str]] | None = None) -> None:
        self.posts: list[tuple[str, str, Any]] = []  # path, content type, JSON body
        self.answers = answers or [(200, '{"code":0,"msg":"成功"}')]
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.posts.append((self.path, self.headers["Content-Type"],
                                           json.loads(body)))
                    status, text = receiver.answers[min(len(receiver.posts),
                                                        len(receiver.answers)) - 1]
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def items(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            return [item for p, _, body in self.posts if p == path for item in body]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    found.thread.start()
    yield found
    found.server.shutdown()
    found.server.server_close()


# Sending


def test_send_sms_accepts_many_numbers_under_one_biz_id(tmp_path: Path) -> None:
    log = tmp_path / "accepted.jsonl"
    with running(templates=TEMPLATES, log_path=str(log)) as (box, sdk):
        response = send(sdk, ALICE, f"+86{BOB}", f"86{CAROL}", out_id="r42")
        messages = box.messages()
        stats = box.stats()
    body = response.body
    assert (response.status_code, body.code, body.message) == (200, "OK", "OK")
    assert re.fullmatch(r"\d{18}\^0", body.biz_id)
    assert re.fullmatch(r"[0-9A-F-]{36}", body.request_id)
    assert [(m["phone"], m["biz_id"], m["out_id"]) for m in messages] == [
        (ALICE, body.biz_id, "r42"), (BOB, body.biz_id, "r42"), (CAROL, body.biz_id, "r42")]
    assert {m["content"] for m in messages} == {"【平安高新】张三您好，本周六社区义诊，回T退订"}
    assert [json.loads(line) for line in log.read_text("utf-8").splitlines()] == messages
    assert (stats["calls"], stats["accepted"], stats["duplicates"]) == (1, 3, 0)


def test_send_sms_takes_1000_numbers_and_refuses_1001() -> None:
    numbers = [f"1380000{i:04d}" for i in range(1001)]
    with running() as (box, sdk):
        refused = send(sdk, *numbers)
        assert box.messages() == []
        accepted = send(sdk, *numbers[:1000])
        assert len(box.messages()) == 1000
    assert (refused.status_code, refused.body.code) == (200, "isv.MOBILE_COUNT_OVER_LIMIT")
    assert refused.body.biz_id is None
    assert accepted.body.code == "OK"


@pytest.mark.parametrize("numbers", [("1380013800",), (ALICE, "23900139000", BOB)])
def test_a_malformed_number_refuses_the_whole_call(numbers: tuple[str, ...]) -> None:
    with running() as (box, sdk):
        response = send(sdk, *numbers)
        assert (response.status_code, response.body.code, response.body.message) == (
            200, "isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
        assert box.messages() == []
        assert box.stats()["refused"] == {"isv.MOBILE_NUMBER_ILLEGAL": 1}


def test_templates_refuse_unknown_codes_and_missing_variables() -> None:
    with running(templates=TEMPLATES) as (box, sdk):
        unknown = send(sdk, ALICE, code="SMS_999").body.code
        lacking = send(sdk, ALICE, param='{"who":"x"}').body.code
        bad_json = send(sdk, ALICE, param="[1]").body.code
        assert box.messages() == []
    assert (unknown, lacking, bad_json) == ("isv.SMS_TEMPLATE_ILLEGAL",
                                            "isv.TEMPLATE_MISSING_PARAMETERS",
                                            "isv.INVALID_JSON_PARAM")


def test_without_templates_the_content_is_the_code_and_its_params() -> None:
    with running() as (box, sdk):
        send(sdk, ALICE, param='{"name":"张 三+"}')
        [message] = box.messages()
    assert message["content"] == '【平安高新】SMS_100 {"name":"张 三+"}'


def test_a_missing_parameter_is_an_http_400_the_sdk_raises() -> None:
    with running() as (_, sdk), pytest.raises(ClientException) as caught:
        sdk.send_sms(models.SendSmsRequest(phone_numbers=ALICE, template_code="SMS_1"))
    error = caught.value
    assert (error.status_code, error.code) == (400, "MissingSignName")
    assert error.data["statusCode"] == 400


def test_send_batch_sms_gives_each_number_its_signature_and_params() -> None:
    with running(templates=TEMPLATES) as (box, sdk):
        response = batch(sdk, [ALICE, BOB], signs=[SIGN, "高新区"],
                         params=[{"code": "1111"}, {"code": "2222"}])
        messages = box.messages()
        too_many = batch(sdk, [f"1380000{i:04d}" for i in range(101)]).body.code
        unequal = batch(sdk, [ALICE, BOB], signs=[SIGN]).body.code
        assert len(box.messages()) == 2
        assert len(batch(sdk, [f"1380000{i:04d}" for i in range(100)]).body.biz_id) > 3
    assert response.body.code == "OK"
    assert [(m["phone"], m["content"], m["biz_id"], m["action"]) for m in messages] == [
        (ALICE, "【平安高新】验证码1111", response.body.biz_id, "SendBatchSms"),
        (BOB, "【高新区】验证码2222", response.body.biz_id, "SendBatchSms")]
    assert (too_many, unequal) == ("isv.MOBILE_COUNT_OVER_LIMIT", "isv.INVALID_PARAMETERS")


# Lookups


def test_query_send_details_shows_each_message_as_the_sdk_parses_it() -> None:
    with running(callback_delay_s=60) as (box, sdk):
        first = send(sdk, ALICE, BOB, out_id="r1").body.biz_id
        waiting = details(sdk, ALICE)
    [dto] = waiting.sms_send_detail_dtos.sms_send_detail_dto
    assert (waiting.code, waiting.total_count) == ("OK", 1)
    assert (dto.phone_num, dto.send_status, dto.err_code, dto.out_id, dto.template_code) == (
        ALICE, 1, "", "r1", "SMS_100")
    sent = datetime.strptime(dto.send_date, "%Y-%m-%d %H:%M:%S")
    beijing = datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=8)
    assert abs(sent - beijing) < timedelta(minutes=10)

    with running() as (box, sdk):
        first = send(sdk, ALICE, out_id="r1").body.biz_id
        second = send(sdk, ALICE, out_id="r2").body.biz_id
        assert box.wait_for_pushes(5)
        found = details(sdk, ALICE)
        by_biz = details(sdk, ALICE, biz_id=second)
        page_two = details(sdk, ALICE, size=1, page=2)
        nobody = details(sdk, BOB)
    dtos = found.sms_send_detail_dtos.sms_send_detail_dto
    assert found.total_count == 2
    assert [(d.out_id, d.send_status, d.err_code, d.content) for d in dtos] == [
        ("r1", 3, "DELIVERED", '【平安高新】SMS_100 {"name":"张三"}'),
        ("r2", 3, "DELIVERED", '【平安高新】SMS_100 {"name":"张三"}')]
    assert all(d.receive_date >= d.send_date for d in dtos)
    assert [d.out_id for d in by_biz.sms_send_detail_dtos.sms_send_detail_dto] == ["r2"]
    assert by_biz.total_count == 1 and first != second
    assert page_two.total_count == 2
    assert [d.out_id for d in page_two.sms_send_detail_dtos.sms_send_detail_dto] == ["r2"]
    assert (nobody.total_count, nobody.sms_send_detail_dtos.sms_send_detail_dto) == (0, [])


def test_query_send_details_refuses_old_dates_and_big_pages() -> None:
    old = (datetime.now(UTC) + timedelta(hours=8) - timedelta(days=31)).strftime("%Y%m%d")
    with running() as (_, sdk):
        assert details(sdk, ALICE, day=old).code == "isv.INVALID_PARAMETERS"
        assert details(sdk, ALICE, size=51).code == "isv.INVALID_PARAMETERS"
        assert details(sdk, ALICE, day="2024-01-01").code == "isv.INVALID_PARAMETERS"
        assert details(sdk, ALICE, size=50).code == "OK"


# Request signatures


def test_the_right_secret_passes_and_a_wrong_one_is_refused_as_aliyun_does() -> None:
    box = AliyunSandbox(options())
    with box.serve() as url:
        assert send(client(url), ALICE).body.code == "OK"
        with pytest.raises(ClientException) as wrong_secret:
            send(client(url, secret="not-the-secret"), BOB)
        with pytest.raises(ClientException) as wrong_key:
            send(client(url, key_id="LTAI5tSomeoneElse"), BOB)
    assert (wrong_secret.value.status_code, wrong_secret.value.code) == (
        400, "SignatureDoesNotMatch")
    assert wrong_secret.value.data["Message"] == (
        "Specified signature does not match our calculation.")
    assert "not-the-secret" not in str(wrong_secret.value.data)
    assert (wrong_key.value.status_code, wrong_key.value.code) == (
        404, "InvalidAccessKeyId.NotFound")
    assert [m["phone"] for m in box.messages()] == [ALICE]
    assert box.stats()["unauthorized"] == {"InvalidAccessKeyId.NotFound": 1,
                                           "SignatureDoesNotMatch": 1}


def test_a_stale_date_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    stale = (datetime.now(UTC) - timedelta(minutes=16)).strftime("%Y-%m-%dT%H:%M:%SZ")
    monkeypatch.setattr(Utils, "get_timestamp", staticmethod(lambda: stale))
    with running() as (box, sdk), pytest.raises(ClientException) as caught:
        send(sdk, ALICE)
    assert (caught.value.status_code, caught.value.code) == (400, "InvalidTimeStamp.Expired")
    assert box.messages() == []


def test_a_reused_nonce_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Utils, "get_nonce", staticmethod(lambda: "the-same-nonce"))
    with running() as (box, sdk):
        assert send(sdk, ALICE).body.code == "OK"
        with pytest.raises(ClientException) as caught:
            send(sdk, BOB)
        assert [m["phone"] for m in box.messages()] == [ALICE]
    assert (caught.value.status_code, caught.value.code) == (400, "SignatureNonceUsed")


def test_a_request_changed_after_signing_is_refused() -> None:
    """The signature covers the query and the body: a relay that swaps the number in
    either (SendBatchSms sends its JSON arrays in a form body) is refused before its
    reused nonce is even looked at."""
    captured: list[requests.PreparedRequest] = []
    original = requests.Session.send

    def capture(session: requests.Session, prepared: requests.PreparedRequest,
                **kwargs: Any) -> requests.Response:
        captured.append(prepared.copy())
        return original(session, prepared, **kwargs)

    with running() as (box, sdk), pytest.MonkeyPatch.context() as patch:
        patch.setattr(requests.Session, "send", capture)
        send(sdk, ALICE)
        batch(sdk, [ALICE])
        patch.undo()
        for prepared, old, new in ((captured[0], ALICE, BOB), (captured[1], ALICE, BOB)):
            body = prepared.body.replace(old.encode(), new.encode()) if prepared.body else None
            url = prepared.url.replace(old, new) if body is None else prepared.url
            replay = requests.post(url, data=body, headers=dict(prepared.headers), timeout=5)
            assert (replay.status_code, replay.json()["Code"]) == (400, "SignatureDoesNotMatch")
        assert [m["phone"] for m in box.messages()] == [ALICE, ALICE]


# Faults


def _fates(seed: int, count: int = 30) -> tuple[list[str], AliyunSandbox, list[int]]:
    outcomes: list[str] = []
    found: list[int] = []
    with running(seed=seed, error_rate=0.4) as (box, sdk):
        for i in range(count):
            phone = f"1380000{i:04d}"
            try:
                outcomes.append(send(sdk, phone).body.code)
            except ServerException as exc:
                assert exc.data["Code"] in ("InternalError", "ServiceUnavailable")
                outcomes.append(str(exc.status_code))
                found.append(details(sdk, phone).total_count)
    return outcomes, box, found


def test_5xx_faults_are_reproducible_and_half_accept_first() -> None:
    first, box, found = _fates(7)
    again, _, _ = _fates(7)
    other, _, _ = _fates(8)
    assert first == again != other
    errors = [o for o in first if o != "OK"]
    faults = box.stats()["faults"]
    assert 0 < len(errors) < 30 and set(errors) <= {"500", "503"}
    assert (faults["error_500"], faults["error_503"]) == (errors.count("500"),
                                                          errors.count("503"))
    # A call whose answer was lost is found by a lookup, as Aliyun tells callers to do.
    assert 0 < faults["error_accepted"] < len(errors)
    assert sum(found) == faults["error_accepted"]
    assert box.stats()["accepted"] == first.count("OK") + faults["error_accepted"]


def test_throttle_bursts_are_throttling_user_and_accept_nothing() -> None:
    with running(throttle_every=2, throttle_burst=1) as (box, sdk):
        results = []
        for i in range(6):
            try:
                results.append(send(sdk, f"1380000{i:04d}").body.code)
            except ClientException as exc:
                assert exc.data["Message"] == "Request was denied due to user flow control."
                results.append(f"{exc.status_code} {exc.code}")
        assert results == ["OK", "OK", "400 Throttling.User"] * 2
        assert len(box.messages()) == 4
        assert box.stats()["faults"]["throttle"] == 2


def test_max_rate_throttles_calls_beyond_it() -> None:
    with running(max_rate=1) as (box, sdk):
        refused = 0
        for _ in range(5):
            try:
                send(sdk, ALICE, BOB)
            except ClientException as exc:
                refused += exc.code == "Throttling.User"
        assert refused >= 1 and box.stats()["faults"]["max_rate"] == refused


def test_a_timeout_accepts_then_answers_late_and_stopping_does_not_wait() -> None:
    started = time.monotonic()
    with running(timeout_rate=1.0, timeout_delay_s=30) as (box, sdk):
        with pytest.raises(UnretryableException):
            sdk.send_sms_with_options(models.SendSmsRequest(
                phone_numbers=ALICE, sign_name=SIGN, template_code="SMS_1"),
                RuntimeOptions(read_timeout=500))
        [message] = box.messages()
        assert message["fault"] == "timeout"
        assert details(sdk, ALICE).total_count == 1
        assert box.stats()["faults"]["timeout"] == 1
    assert time.monotonic() - started < 20  # not the 30 s delay


def test_latency_holds_every_answer_back() -> None:
    with running(latency_ms=300) as (_, sdk):
        started = time.monotonic()
        send(sdk, ALICE)
        assert time.monotonic() - started >= 0.3


def test_the_daily_limit_refuses_one_number_and_fails_it_in_a_call_of_several(
        receiver: Receiver, tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    with running(daily_limit=2, report_url=f"{receiver.url}/receipts",
                 log_path=str(log)) as (box, sdk):
        assert [send(sdk, ALICE).body.code for _ in range(3)] == [
            "OK", "OK", "isv.BUSINESS_LIMIT_CONTROL"]
        several = send(sdk, ALICE, BOB).body
        assert box.wait_for_pushes(5)
        accepted = [m["phone"] for m in box.messages()]
        stats = box.stats()
    assert several.code == "OK"
    assert accepted == [ALICE, ALICE, BOB]
    assert [json.loads(line)["phone"] for line in log.read_text().splitlines()] == accepted
    [over] = [r for r in receiver.items("/receipts") if r["biz_id"] == several.biz_id
              and r["phone_number"] == ALICE]
    assert (over["success"], over["err_code"], over["err_msg"]) == (
        False, "isv.BUSINESS_LIMIT_CONTROL", "触发号码天级流控")
    assert stats["faults"]["daily_limit"] == 1
    assert stats["refused"] == {"isv.BUSINESS_LIMIT_CONTROL": 1}


def test_rejected_numbers_and_the_balance(receiver: Receiver) -> None:
    reject = {BOB: "isv.BLACK_KEY_CONTROL_LIMIT"}
    with running(reject=reject, balance=3, report_url=f"{receiver.url}/r") as (box, sdk):
        alone = send(sdk, BOB).body.code
        several = send(sdk, ALICE, BOB).body
        assert send(sdk, ALICE, CAROL).body.code == "OK"
        broke = send(sdk, CAROL).body.code
        assert box.wait_for_pushes(5)
        stats = box.stats()
    assert (alone, several.code, broke) == ("isv.BLACK_KEY_CONTROL_LIMIT", "OK",
                                            "isv.AMOUNT_NOT_ENOUGH")
    assert [m["phone"] for m in box.messages()] == [ALICE, ALICE, CAROL]
    [bob] = [r for r in receiver.items("/r") if r["phone_number"] == BOB]
    assert (bob["success"], bob["err_code"], bob["biz_id"]) == (
        False, "isv.BLACK_KEY_CONTROL_LIMIT", several.biz_id)
    assert stats["balance"] == 0 and stats["faults"]["rejected"] == 1


# Pushes


def test_receipts_are_pushed_as_arrays_until_the_exact_answer(receiver: Receiver) -> None:
    receiver.answers = [(500, "{}"), (200, '{"code":"0"}'), (200, '{"code":1,"msg":"x"}'),
                        (200, '{"code":0,"msg":"成功"}')]
    numbers = [f"1380000{i:04d}" for i in range(150)]
    with running(report_url=f"{receiver.url}/receipts", undelivered_rate=0.3, seed=3,
                 callback_retries=5) as (box, sdk):
        biz_id = send(sdk, *numbers, out_id="r9").body.biz_id
        assert box.wait_for_pushes(10)
        stats = box.stats()
        messages = {m["phone"]: m for m in box.messages()}
    sizes = sorted(len(body) for _, _, body in receiver.posts)
    assert all(isinstance(body, list) for _, _, body in receiver.posts)
    assert all(kind == "application/json;charset=UTF-8" for _, kind, _ in receiver.posts)
    assert max(sizes) == 100 and set(sizes) <= {50, 100}
    # The batches were pushed again until the receiver answered {"code": 0}, and only
    # those acknowledged are counted so.
    receipts = {r["phone_number"]: r for r in receiver.posts[-1][2]}
    receipts |= {r["phone_number"]: r for r in receiver.posts[-2][2]}
    assert sorted(receipts) == numbers
    assert (stats["receipts_acknowledged"], stats["receipts"]["failed"]) == (150, 0)
    assert stats["receipts_pushed"] == sum(sizes) > 150
    failed = [r for r in receipts.values() if not r["success"]]
    assert 0 < len(failed) < 150 == len(receipts)
    assert stats["faults"]["undelivered"] == len(failed)
    sample = receipts[numbers[0]]
    assert set(sample) == {"phone_number", "send_time", "report_time", "success", "err_code",
                           "err_msg", "sms_size", "biz_id", "out_id"}
    assert (sample["biz_id"], sample["out_id"], sample["sms_size"]) == (biz_id, "r9", "1")
    for receipt in receipts.values():
        message = messages[receipt["phone_number"]]
        assert receipt["err_code"] == message["err_code"]
        assert receipt["err_code"] in ({"DELIVERED"} if receipt["success"]
                                       else {"MK:0001", "IC:0001", "MK:100D"})
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", receipt["report_time"])


def test_unacknowledged_receipts_are_given_up_after_the_retries() -> None:
    dead = f"http://127.0.0.1:{free_port()}/receipts"
    with running(report_url=dead, callback_retries=2) as (box, sdk):
        send(sdk, ALICE, BOB)
        assert box.wait_for_pushes(10)
        receipts = box.stats()["receipts"]
        assert send(sdk, CAROL).body.code == "OK"
    assert receipts == {"pushed": 6, "acknowledged": 0, "retried": 4, "failed": 2,
                        "posts": 3}


def test_long_content_counts_its_parts_in_the_receipt(receiver: Receiver) -> None:
    with running(report_url=f"{receiver.url}/r") as (box, sdk):
        send(sdk, ALICE, param=json.dumps({"name": "长" * 140}, ensure_ascii=False))
        assert box.wait_for_pushes(5)
    [receipt] = receiver.items("/r")
    assert receipt["sms_size"] == "3"  # 【平安高新】 + "SMS_100 " + 140 + JSON: 161 chars


def test_replies_are_pushed_and_unsubscribers_reply_t_once(receiver: Receiver) -> None:
    with running(reply_url=f"{receiver.url}/replies",
                 unsubscribe_replies=frozenset({BOB})) as (box, sdk):
        url = str(box.url)
        reply = requests.post(f"{url}/_sandbox/reply", timeout=5,
                              json={"phone": f"+86{ALICE}", "content": "好的"}).json()
        bad = requests.post(f"{url}/_sandbox/reply", json={"phone": "12"}, timeout=5)
        send(sdk, BOB)
        send(sdk, BOB)
        assert box.wait_for_pushes(5)
        stats = box.stats()
    replies = receiver.items("/replies")
    assert [(r["phone_number"], r["content"]) for r in replies] == [(ALICE, "好的"), (BOB, "T")]
    assert replies[0] == reply
    assert set(reply) == {"phone_number", "send_time", "content", "sign_name", "dest_code",
                          "sequence_id"}
    assert replies[1]["sign_name"] == SIGN
    assert all(type(r["sequence_id"]) is int for r in replies)
    assert len({r["sequence_id"] for r in replies}) == 2
    assert bad.status_code == 400
    assert stats["replies"]["acknowledged"] == stats["replies"]["received"] == 2


# Inspection


def test_stats_count_duplicates_and_reset_forgets() -> None:
    with running() as (box, sdk):
        send(sdk, ALICE, out_id="r1")
        send(sdk, ALICE, out_id="r1")
        send(sdk, ALICE, BOB, out_id="r2")
        url = str(box.url)
        stats = requests.get(f"{url}/_sandbox/stats", timeout=5).json()
        listed = requests.get(f"{url}/_sandbox/messages?phone={ALICE}", timeout=5).json()
        lines = requests.get(f"{url}/_sandbox/messages?format=ndjson", timeout=5).text
        requests.post(f"{url}/_sandbox/reset", timeout=5)
        after = box.stats()
        assert send(sdk, ALICE, out_id="r1").body.code == "OK"  # nonces were forgotten too
    assert (stats["calls"], stats["accepted"], stats["duplicates"],
            stats["duplicate_messages"]) == (3, 4, 1, 1)
    assert [m["out_id"] for m in listed] == ["r1", "r1", "r2"]
    assert len(lines.splitlines()) == 4
    assert (after["calls"], after["accepted"], after["duplicates"]) == (0, 0, 0)


def test_create_aliyun_app_exposes_its_sandbox_and_options_are_checked() -> None:
    app = create_aliyun_app(options())
    assert isinstance(app.state.sandbox, AliyunSandbox)
    app.state.sandbox.close()
    with pytest.raises(ValueError, match="error_rate \\+ timeout_rate"):
        AliyunOptions(error_rate=0.6, timeout_rate=0.6)
    with pytest.raises(ValueError, match="daily_limit"):
        AliyunOptions(daily_limit=0)


# The CLI


def test_cli_help_and_secret_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    shown = runner.invoke(aliyun, ["--help"])
    assert shown.exit_code == 0
    for flag in ("--port", "--host", "--seed", "--latency-ms", "--error-rate",
                 "--timeout-rate", "--timeout-delay", "--throttle-every", "--throttle-burst",
                 "--undelivered-rate", "--max-rate", "--daily-limit", "--balance", "--reject",
                 "--template", "--unsubscribe-reply", "--report-url", "--reply-url",
                 "--callback-delay", "--log", "--access-key-id", "--secret-env"):
        assert flag in shown.output
    assert "8767" in shown.output
    monkeypatch.delenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", raising=False)
    missing = runner.invoke(aliyun, ["--port", str(free_port())])
    assert missing.exit_code == 2 and "ALIBABA_CLOUD_ACCESS_KEY_SECRET" in missing.output
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "s")
    bad = runner.invoke(aliyun, ["--reject", "12345=isv.X"])
    assert bad.exit_code == 2 and "mainland" in bad.output


def test_cli_serves_the_sdk_until_interrupted(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "accepted.jsonl"
    env = os.environ | {"SMS_SECRET": "cli-secret", "ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAI5tCli"}
    command = [sys.executable, "-m", "dispatcher", "sandbox", "aliyun", "--port", str(port),
               "--secret-env", "SMS_SECRET", "--log", str(log), "--seed", "3"]
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stderr=subprocess.PIPE,
                               text=True)
    try:
        sdk = client(f"http://127.0.0.1:{port}", key_id="LTAI5tCli", secret="cli-secret")
        deadline = time.monotonic() + 30
        while True:
            try:
                response = send(sdk, ALICE)
                break
            except UnretryableException:
                assert time.monotonic() < deadline and process.poll() is None
                time.sleep(0.2)
        assert response.body.code == "OK"
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert f"Aliyun SMS sandbox on http://127.0.0.1:{port}" in stderr
    assert 'provider = "aliyun"' in stderr and 'access_key_secret = "env:SMS_SECRET"' in stderr
    assert "cli-secret" not in stderr
    assert [json.loads(line)["phone"] for line in log.read_text().splitlines()] == [ALICE]
