"""The Twilio sandbox over loopback: API shapes, errors, paging, faults, webhooks, CLI."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from channels.sms.twilio_client import RoutedHttpClient
from dispatcher.cli.sandbox import sandbox as sandbox_group
from dispatcher.sandbox import TwilioOptions, TwilioSandbox, create_twilio_app
from dispatcher.serving import BackgroundServer, free_port

SID = "AC" + "1" * 32
TOKEN = "test-token"
SENDER = "+15005550006"
ALICE, BOB = "+8613800138000", "+8613900139000"
MESSAGES = f"/2010-04-01/Accounts/{SID}/Messages.json"


def options(**changes: Any) -> TwilioOptions:
    base: dict[str, Any] = {"account_sid": SID, "auth_token": TOKEN, "callback_delay_s": 0.01,
                            "callback_backoff_s": 0.01}
    return TwilioOptions(**(base | changes))


@contextmanager
def running(**changes: Any) -> Iterator[tuple[TwilioSandbox, str]]:
    box = TwilioSandbox(options(**changes))
    with box.serve() as url:
        yield box, url


def post(url: str, auth: tuple[str, str] = (SID, TOKEN), timeout: float = 5,
         **form: str) -> requests.Response:
    fields = {"From": SENDER} | {key.removesuffix("_"): value for key, value in form.items()}
    return requests.post(url + MESSAGES, data=fields, auth=auth, timeout=timeout)


def client(url: str) -> Client:
    return Client(SID, TOKEN, http_client=RoutedHttpClient(url, pool_size=4, timeout=5))


class Receiver:
    """A tiny webhook receiver: records each form and whether its signature is valid."""

    def __init__(self, fail_first: int = 0) -> None:
        self.calls: list[tuple[str, dict[str, str], bool]] = []
        self.fail_first = fail_first
        self.validator = RequestValidator(TOKEN)
        self.app = Starlette(routes=[Route("/{hook}", self.receive, methods=["POST"])])

    async def receive(self, request: Request) -> Response:
        if self.fail_first > 0:
            self.fail_first -= 1
            return PlainTextResponse("busy", 503)
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        signature = request.headers.get("X-Twilio-Signature", "")
        url = str(request.url)
        self.calls.append((url, form, self.validator.validate(url, form, signature)))
        return PlainTextResponse("")

    def wait(self, count: int, timeout: float = 5) -> None:
        deadline = time.monotonic() + timeout
        while len(self.calls) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.calls) >= count, self.calls


# The Messages API


def test_create_answers_like_twilio() -> None:
    with running() as (box, url):
        response = post(url, To=ALICE, Body="x" * 161)
    assert response.status_code == 201
    body = response.json()
    assert re.fullmatch(r"SM[0-9a-f]{32}", body["sid"])
    assert {k: body[k] for k in ("status", "num_segments", "to", "from", "body", "error_code",
                                 "error_message", "price", "account_sid", "direction",
                                 "messaging_service_sid", "api_version")} == {
        "status": "queued", "num_segments": "2", "to": ALICE, "from": SENDER, "body": "x" * 161,
        "error_code": None, "error_message": None, "price": None, "account_sid": SID,
        "direction": "outbound-api", "messaging_service_sid": None, "api_version": "2010-04-01"}
    assert body["uri"] == f"/2010-04-01/Accounts/{SID}/Messages/{body['sid']}.json"
    for key in ("date_created", "date_updated", "date_sent"):
        created = parsedate_to_datetime(body[key])
        assert abs(created - datetime.now(UTC)) < timedelta(seconds=5)
        assert body[key].endswith("+0000")
    assert [m["sid"] for m in box.messages()] == [body["sid"]]


def test_create_via_messaging_service_is_accepted_without_from() -> None:
    service = "MG" + "2" * 32
    with running() as (_, url):
        response = requests.post(url + MESSAGES, auth=(SID, TOKEN), timeout=5,
                                 data={"To": ALICE, "MessagingServiceSid": service, "Body": "hi"})
    body = response.json()
    assert (response.status_code, body["status"], body["from"], body["messaging_service_sid"]) \
        == (201, "accepted", None, service)


@pytest.mark.parametrize(("auth", "path", "status", "code"), [
    ((SID, "wrong"), MESSAGES, 401, 20003),
    (None, MESSAGES, 401, 20003),
    ((SID, TOKEN), MESSAGES.replace(SID, "AC" + "9" * 32), 404, 20404),
])
def test_create_needs_the_account_credentials(auth: tuple[str, str] | None, path: str,
                                              status: int, code: int) -> None:
    with running() as (box, url):
        response = requests.post(url + path, data={"To": ALICE, "From": SENDER, "Body": "hi"},
                                 auth=auth, timeout=5)
        assert (response.status_code, response.json()["code"]) == (status, code)
        assert response.json()["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
        assert box.messages() == []


@pytest.mark.parametrize(("form", "code", "message"), [
    ({"To": "12345", "Body": "hi"}, 21211, "The 'To' number 12345 is not a valid phone number."),
    ({"To": ALICE, "Body": ""}, 21602, "Message body is required."),
    ({"Body": "hi"}, 21604, "A 'To' phone number is required."),
    ({"To": "+15005550004", "Body": "hi"}, 21610, "Attempt to send to unsubscribed recipient"),
    ({"To": BOB, "Body": "hi"}, 21610, "Attempt to send to unsubscribed recipient"),
    ({"To": ALICE, "Body": "x" * 1601}, 21617,
     "The concatenated message body exceeds the 1600 character limit."),
    ({"To": ALICE, "Body": "hi", "ValidityPeriod": "0"}, 21624, None),
    ({"To": ALICE, "Body": "hi", "StatusCallback": "not a url"}, 21609, None),
])
def test_invalid_creates_get_twilio_errors(form: dict[str, Any], code: int,
                                           message: str | None) -> None:
    with running(unsubscribed=frozenset({BOB})) as (box, url):
        response = post(url, **form)
        assert response.status_code == 400
        body = response.json()
        assert (body["code"], body["status"]) == (code, 400)
        assert body["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
        if message:
            assert body["message"] == message
        assert box.messages() == []
        assert box.stats()["rejected"] == {str(code): 1}


def test_fetch_and_missing_message_with_the_real_client() -> None:
    with running() as (_, url):
        sid = post(url, To=ALICE, Body="hello").json()["sid"]
        fetched = client(url).messages(sid).fetch()
        assert (fetched.sid, fetched.to, fetched.body, fetched.num_segments) == (
            sid, ALICE, "hello", "1")
        with pytest.raises(TwilioRestException) as caught:
            client(url).messages("SM" + "0" * 32).fetch()
    assert (caught.value.status, caught.value.code) == (404, 20404)


def test_list_filters_and_pages_with_the_real_client() -> None:
    with running() as (box, url):
        alice = [post(url, To=ALICE, Body=f"a{i}").json()["sid"] for i in range(5)]
        post(url, To=BOB, Body="b", From="+15005550007")
        twilio = client(url)
        today = datetime.now(UTC).date()
        assert [m.sid for m in twilio.messages.list(to=ALICE)] == alice[::-1]
        assert [m.sid for m in twilio.messages.stream(to=ALICE, page_size=2)] == alice[::-1]
        assert box.stats()["requests"]["list"] == 1 + 3  # one page, then three of two
        assert len(twilio.messages.list(to=ALICE, date_sent_after=today, limit=50)) == 5
        assert len(twilio.messages.list(to=ALICE, date_sent=today)) == 5
        assert twilio.messages.list(to=ALICE, date_sent_after=today + timedelta(days=1)) == []
        assert twilio.messages.list(to=ALICE, date_sent_before=today - timedelta(days=1)) == []
        assert [m.to for m in twilio.messages.list(from_="+15005550007")] == [BOB]
        assert len(twilio.messages.list(limit=3)) == 3


def test_list_accepts_date_only_filters_and_rejects_bad_ones() -> None:
    with running() as (_, url):
        post(url, To=ALICE, Body="hi")
        today = datetime.now(UTC).date().isoformat()
        found = requests.get(url + MESSAGES, auth=(SID, TOKEN), timeout=5,
                             params={"To": ALICE, "DateSent>=": today, "DateSent<=": today})
        bad = requests.get(url + MESSAGES, auth=(SID, TOKEN), timeout=5,
                           params={"DateSent>": "yesterday"})
    page = found.json()
    assert len(page["messages"]) == 1
    assert set(page) == {"messages", "end", "start", "first_page_uri", "next_page_uri", "page",
                         "page_size", "previous_page_uri", "uri"}
    assert (bad.status_code, bad.json()["code"]) == (400, 20001)


# Faults


def _fates(seed: int, count: int = 40, **changes: Any) -> tuple[list[int], dict[str, Any]]:
    with running(seed=seed, **changes) as (box, url):
        statuses = [post(url, To=ALICE, Body=f"m{i}").status_code for i in range(count)]
        return statuses, box.stats()


def test_faults_are_reproducible_from_the_seed() -> None:
    first, stats = _fates(7, error_rate=0.3, undelivered_rate=0.5)
    again, _ = _fates(7, error_rate=0.3, undelivered_rate=0.5)
    other, _ = _fates(8, error_rate=0.3, undelivered_rate=0.5)
    assert first == again != other
    errors = [s for s in first if s >= 500]
    faults = stats["faults"]
    assert 0 < len(errors) < 40 and set(errors) <= {500, 503}
    assert (faults["error_500"], faults["error_503"]) == (errors.count(500), errors.count(503))
    # Half (by draw) of the errored creates were created first: a lost response.
    assert stats["created"] == first.count(201) + faults["error_created"]
    assert 0 < faults["error_created"] < len(errors)


def test_throttle_bursts_answer_429_with_retry_after_and_create_nothing() -> None:
    with running(throttle_every=3, throttle_burst=2) as (box, url):
        responses = [post(url, To=ALICE, Body=f"m{i}") for i in range(10)]
        assert [r.status_code for r in responses] == [201, 201, 201, 429, 429] * 2
        refused = responses[3]
        assert refused.headers["Retry-After"] == "1"
        assert (refused.json()["code"], refused.json()["status"]) == (20429, 429)
        assert len(box.messages()) == 6
        assert box.stats()["faults"]["throttle"] == 4


def test_timeout_creates_the_message_then_answers_late() -> None:
    with running(timeout_rate=1.0, timeout_delay_s=2) as (box, url):
        started = time.monotonic()
        with pytest.raises(requests.ReadTimeout):
            post(url, To=ALICE, Body="late", timeout=0.5)
        [message] = box.messages()
        assert (message["to"], message["body"], message["fault"]) == (ALICE, "late", "timeout")
        assert client(url).messages(str(message["sid"])).fetch().body == "late"
        assert box.stats()["faults"]["timeout"] == 1
    assert time.monotonic() - started < 2.5  # stopping did not wait out the delay


def test_latency_delays_responses_without_serialising_them() -> None:
    with running(latency_ms=300) as (box, url):
        started = time.monotonic()
        threads = [threading.Thread(target=post, args=(url,), kwargs={"To": ALICE,
                                                                       "Body": f"m{i}"})
                   for i in range(40)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        # Serialised, 40 delays of 0.3 s take 12 s; concurrent ones take about 0.3 s.
        # The bound sits at half the serial time so a loaded CI machine cannot trip it.
        assert 0.3 <= elapsed < 6.0
        assert box.stats()["created"] == 40


def test_max_rate_refuses_beyond_the_rate() -> None:
    with running(max_rate=3) as (box, url):
        statuses = [post(url, To=ALICE, Body=f"m{i}").status_code for i in range(5)]
    assert statuses.count(429) >= 1 and box.stats()["faults"]["max_rate"] >= 1


# Webhooks


@pytest.mark.parametrize(("undelivered_rate", "final"), [(0.0, "delivered"),
                                                         (1.0, "undelivered")])
def test_status_callbacks_are_signed_and_follow_the_message(undelivered_rate: float,
                                                            final: str) -> None:
    receiver = Receiver()
    with BackgroundServer(receiver.app) as hooks, \
            running(undelivered_rate=undelivered_rate) as (box, url):
        callback = f"{hooks.url}/status?d=7"
        sid = post(url, To=ALICE, Body="hi", StatusCallback=callback).json()["sid"]
        receiver.wait(2)
        assert box.wait_for_callbacks(5)
        [message] = box.messages()
    assert [form["MessageStatus"] for _, form, _ in receiver.calls] == ["sent", final]
    for called, form, valid in receiver.calls:
        assert called == callback and valid
        assert {k: form[k] for k in ("MessageSid", "SmsSid", "AccountSid", "From", "To",
                                     "ApiVersion")} == {
            "MessageSid": sid, "SmsSid": sid, "AccountSid": SID, "From": SENDER, "To": ALICE,
            "ApiVersion": "2010-04-01"}
        assert form["SmsStatus"] == form["MessageStatus"]
    last = receiver.calls[-1][1]
    if final == "undelivered":
        assert last["ErrorCode"] in {"30003", "30005", "30006", "30008"}
        assert message["error_code"] == int(last["ErrorCode"])
    else:
        assert "ErrorCode" not in last
    assert message["status"] == final
    assert box.stats()["callbacks"] == {"sent": 2, "failed": 0, "retried": 0, "pending": 0}


def test_failed_callbacks_are_retried_counted_and_never_stop_the_message() -> None:
    receiver = Receiver(fail_first=1)
    dead = f"http://127.0.0.1:{free_port()}/status"
    with BackgroundServer(receiver.app) as hooks, running(callback_retries=2) as (box, url):
        post(url, To=ALICE, Body="hi", StatusCallback=f"{hooks.url}/status")
        post(url, To=BOB, Body="hi", StatusCallback=dead)
        assert box.wait_for_callbacks(5)
        stats = box.stats()
        assert post(url, To=ALICE, Body="still up").status_code == 201
    assert [form["MessageStatus"] for _, form, _ in receiver.calls] == ["sent", "delivered"]
    assert stats["by_status"] == {"delivered": 2}
    # ALICE: one 503 then two successes; BOB: 3 attempts per status, both given up.
    assert stats["callbacks"] == {"sent": 2, "failed": 2, "retried": 1 + 4, "pending": 0}


def test_callbacks_reconnect_to_a_restarted_receiver_and_can_skip_statuses() -> None:
    receiver, port = Receiver(), free_port()
    hook = f"http://127.0.0.1:{port}/status"
    with running(callback_workers=1, callback_statuses=frozenset({"delivered"})) as (box, url):
        for to in (ALICE, BOB):  # the second reuses a connection the first server closed
            with BackgroundServer(receiver.app, port=port):
                post(url, To=to, Body="hi", StatusCallback=hook)
                assert box.wait_for_callbacks(5)
        stats = box.stats()
    assert [(form["To"], form["MessageStatus"]) for _, form, _ in receiver.calls] == [
        (ALICE, "delivered"), (BOB, "delivered")]
    assert stats["callbacks"] == {"sent": 2, "failed": 0, "retried": 0, "pending": 0}
    assert stats["by_status"] == {"delivered": 2}


def test_inbound_stop_unsubscribes_and_posts_a_signed_webhook() -> None:
    receiver = Receiver()
    with BackgroundServer(receiver.app) as hooks, running() as (box, url):
        box_inbound = f"{hooks.url}/inbound"
        reply = requests.post(url + "/_sandbox/inbound", timeout=5,
                              data={"From": ALICE, "Body": "stop", "Url": box_inbound}).json()
        refused = post(url, To=ALICE, Body="hi")
        requests.post(url + "/_sandbox/inbound", data={"From": ALICE, "Body": "START"},
                      timeout=5)
        allowed = post(url, To=ALICE, Body="hi")
    assert reply["unsubscribed"] is True
    assert reply["webhook"] == {"url": box_inbound, "status": 200, "error": None}
    [(called, form, valid)] = receiver.calls
    assert called == box_inbound and valid
    assert {k: form[k] for k in ("From", "To", "Body", "AccountSid", "NumMedia")} == {
        "From": ALICE, "To": SENDER, "Body": "stop", "AccountSid": SID, "NumMedia": "0"}
    assert form["MessageSid"].startswith("SM")
    assert (refused.status_code, refused.json()["code"]) == (400, 21610)
    assert allowed.status_code == 201
    assert box.stats()["inbound"]["received"] == 2


# Inspection


def test_stats_count_duplicates_and_reset_forgets(tmp_path: Path) -> None:
    log = tmp_path / "sent.jsonl"
    with running(log_path=str(log)) as (box, url):
        for to in (ALICE, ALICE, ALICE, BOB):
            post(url, To=to, Body="same")
        stats = requests.get(url + "/_sandbox/stats", timeout=5).json()
        listed = requests.get(url + "/_sandbox/messages", timeout=5).json()
        lines = requests.get(url + "/_sandbox/messages?format=ndjson", timeout=5).text
        requests.post(url + "/_sandbox/reset", timeout=5)
        after = box.stats()
    assert (stats["created"], stats["duplicates"], stats["duplicate_messages"]) == (4, 1, 2)
    assert [m["to"] for m in listed] == [ALICE, ALICE, ALICE, BOB]
    assert [json.loads(line)["sid"] for line in lines.splitlines()] == [
        m["sid"] for m in listed]
    assert [json.loads(line)["sid"] for line in log.read_text().splitlines()] == [
        m["sid"] for m in listed]
    assert (after["created"], after["duplicates"], after["requests"]["create"]) == (0, 0, 0)


def test_create_twilio_app_exposes_its_sandbox() -> None:
    app = create_twilio_app(options())
    assert isinstance(app.state.sandbox, TwilioSandbox)
    app.state.sandbox.close()


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="error_rate \\+ timeout_rate"):
        TwilioOptions(error_rate=0.6, timeout_rate=0.6)
    with pytest.raises(ValueError, match="undelivered_rate"):
        TwilioOptions(undelivered_rate=2)


# The CLI


def test_serve_help_and_token_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    shown = runner.invoke(sandbox_group, ["serve", "--help"])
    assert shown.exit_code == 0
    for flag in ("--port", "--seed", "--error-rate", "--timeout-rate", "--throttle-every",
                 "--undelivered-rate", "--auth-token-env", "--inbound-url", "--log"):
        assert flag in shown.output
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    missing = runner.invoke(sandbox_group, ["serve", "--port", str(free_port())])
    assert missing.exit_code == 2 and "TWILIO_AUTH_TOKEN" in missing.output
    monkeypatch.setenv("SANDBOX_TOKEN", "t")
    lonely = runner.invoke(sandbox_group, ["serve", "--auth-token-env", "SANDBOX_TOKEN",
                                           "--throttle-every", "5"])
    assert lonely.exit_code == 2 and "--throttle-burst" in lonely.output


def test_date_helpers_used_by_the_filters() -> None:
    from dispatcher.sandbox.twilio.wire import date_bound

    assert date_bound("2024-05-01", upper=False) == datetime(2024, 5, 1, tzinfo=UTC)
    assert date_bound("2024-05-01", upper=True) == datetime(2024, 5, 1, 23, 59, 59, tzinfo=UTC)
    assert date_bound("2024-05-01T10:00:00Z", upper=True) == datetime(2024, 5, 1, 10,
                                                                      tzinfo=UTC)
    assert date_bound("May 1", upper=False) is None
    assert date(2024, 5, 1).isoformat() == "2024-05-01"
