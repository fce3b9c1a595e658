"""Sending SMS: the real twilio client against the sandbox on loopback."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
import requests
from twilio.http.response import Response

from channels.base import ConfigError, Message, Placement, Sender, SendLimits
from channels.sms.channel import SmsChannel
from channels.sms.twilio_client import _retry_after_of as _retry_after
from dispatcher.sandbox import TwilioOptions, TwilioSandbox
from dispatcher.serving import free_port

SID = "AC" + "3" * 32
TOKEN = "send-token"
SENDER = "+15005550006"
SERVICE = "MG" + "4" * 32
ALICE = "+8613800138000"
LONG_BODY = "【平安高新】" + "扫黑除恶，人人有责。" * 8  # UCS-2, more than 70 characters
PLACEMENT = Placement(index=0, channel="sms", options={"body": "Call 110"})


class Secret:
    def __init__(self, value: str) -> None:
        self.value = value

    def reveal(self) -> str:
        return self.value


def channel(api_base: str, **changes: Any) -> SmsChannel:
    table: dict[str, Any] = {"account_sid": SID, "auth_token": Secret(TOKEN), "from": SENDER,
                             "api_base": api_base, "timeout": 5}
    table.update({key.removesuffix("_"): value for key, value in changes.items()})
    return SmsChannel.from_config({k: v for k, v in table.items() if v is not None})


@contextmanager
def sandbox(**changes: Any) -> Iterator[tuple[TwilioSandbox, str]]:
    base: dict[str, Any] = {"account_sid": SID, "auth_token": TOKEN, "callback_delay_s": 0.01}
    options = TwilioOptions(**(base | changes))
    box = TwilioSandbox(options)
    with box.serve() as url:
        yield box, url


def message(delivery_id: int = 1, address: str = ALICE, placement: Placement = PLACEMENT,
            callback_url: str | None = None) -> Message:
    return Message(delivery_id, address, placement, attempt=1, callback_url=callback_url)


def send_one(sms: SmsChannel, msg: Message) -> Any:
    return sms.send(msg)


def test_sms_channel_is_a_sender_with_segment_costs() -> None:
    sms = channel("http://127.0.0.1:9")
    assert isinstance(sms, Sender)
    assert sms.message_cost(Placement(0, "sms", {"body": LONG_BODY})) == 2
    assert sms.limits() == SendLimits(f"twilio:{SID}", 10.0, 8)


def test_sending_needs_settings() -> None:
    with pytest.raises(ConfigError, match=r"channels\.sms: is not configured"):
        SmsChannel().send(message())


def test_accepted_with_sid_segments_and_callback_url() -> None:
    long_placement = Placement(0, "sms", {"body": LONG_BODY})
    callback = "http://127.0.0.1:8080/hooks/sms/status?d=41"
    with sandbox() as (box, url):
        result = send_one(channel(url), message(41, placement=long_placement,
                                                callback_url=callback))
        stored = box.store.get(str(result.provider_ref))
    assert (result.delivery_id, result.outcome, result.units, result.code) == (
        41, "accepted", 2, None)
    assert stored is not None
    assert (stored.to, stored.body, stored.sender, stored.status_callback) == (
        ALICE, LONG_BODY, SENDER, callback)


def test_no_status_callback_when_disabled_and_messaging_service_sender() -> None:
    with sandbox() as (box, url):
        sms = channel(url, from_=None, messaging_service_sid=SERVICE, status_callback=False)
        result = send_one(sms, message(callback_url="http://127.0.0.1:8080/s?d=1"))
        stored = box.store.get(str(result.provider_ref))
    assert result.outcome == "accepted" and result.detail == "twilio accepted"
    assert stored is not None
    assert (stored.messaging_service_sid, stored.status_callback) == (SERVICE, None)


@pytest.mark.parametrize(("address", "code", "opt_out"), [
    ("+15005550001", "21211", False),  # invalid number
    ("12345", "21211", False),
    ("+15005550004", "21610", True),  # unsubscribed
    ("+15005550009", "21614", False),  # not a mobile
    ("+8613800000004", "30004", True),  # blocked
    ("+8613800000005", "21612", False),
])
def test_permanent_errors_fail_and_flag_opt_outs(address: str, code: str,
                                                 opt_out: bool) -> None:
    reject = {"+8613800000004": 30004, "+8613800000005": 21612}
    with sandbox(reject=reject) as (box, url):
        result = send_one(channel(url), message(address=address))
    assert (result.outcome, result.code, result.opt_out) == ("failed", code, opt_out)
    assert result.provider_ref is None and result.detail
    assert box.messages() == []


def test_other_client_errors_fail() -> None:
    with sandbox() as (_, url):
        result = send_one(channel(url, auth_token=Secret("wrong")), message())
    assert (result.outcome, result.code) == ("failed", "20003")


def test_throttled_sends_retry_after_the_providers_delay() -> None:
    with sandbox(throttle_every=1, throttle_burst=1) as (box, url):
        sms = channel(url)
        first, second = (send_one(sms, message(i)) for i in (1, 2))
    assert first.outcome == "accepted"
    assert (second.outcome, second.code, second.retry_after) == ("retry", "20429", 1.0)
    assert len(box.messages()) == 1


def test_retry_after_reads_seconds_and_http_dates() -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert _retry_after(Response(429, "", {"Retry-After": "2.5"})) == 2.5
    assert 25 < (_retry_after(Response(429, "", {"Retry-After": later})) or 0) <= 30
    assert _retry_after(Response(429, "", {})) is None
    assert _retry_after(Response(429, "", {"Retry-After": "soon"})) is None
    assert _retry_after(None) is None


def test_server_errors_are_unknown_and_lookup_tells_whether_they_were_created() -> None:
    with sandbox(error_rate=1.0, seed=0) as (box, url):
        sms = channel(url)
        since = datetime.now(UTC)
        sent = [message(i, address=f"+86138000000{i:02d}") for i in range(8)]
        results = [send_one(sms, msg) for msg in sent]
        created = {str(m["to"]): str(m["sid"]) for m in box.messages()}
        lookups = [sms.lookup(msg, since) for msg in sent]
    assert {r.outcome for r in results} == {"unknown"}
    assert {r.code for r in results} <= {"20500", "20503"}
    assert 0 < len(created) < len(sent)  # the seed makes some of each
    for msg, found in zip(sent, lookups, strict=True):
        assert found.found == (msg.address in created)
        assert found.provider_ref == created.get(msg.address)


def test_timeout_is_unknown_and_lookup_finds_the_message() -> None:
    with sandbox(timeout_rate=1.0, timeout_delay_s=2) as (box, url):
        sms = channel(url, timeout=0.5)
        since = datetime.now(UTC)
        result = send_one(sms, message())
        found = sms.lookup(message(), since)
        [stored] = box.messages()
    assert result.outcome == "unknown" and "Timeout" in str(result.detail)
    assert (found.found, found.provider_ref) == (True, stored["sid"])
    assert found.state in ("sent", "delivered")  # the status callbacks keep running


def test_lookup_matches_body_and_time() -> None:
    with sandbox() as (box, url):
        sms = channel(url)
        since = datetime.now(UTC)
        sent = send_one(sms, message())
        assert box.wait_for_callbacks(5)
        assert sms.lookup(message(), since) == (True, sent.provider_ref, "delivered", None)
        other = Placement(0, "sms", {"body": "another text"})
        assert sms.lookup(message(placement=other), since).found is False
        assert sms.lookup(message(address="+8613900139000"), since).found is False
        assert sms.lookup(message(), since + timedelta(seconds=3)).found is False
        naive_utc = since.replace(tzinfo=None)
        assert sms.lookup(message(), naive_utc).found is True


def test_undelivered_lookup_carries_the_code() -> None:
    with sandbox(undelivered_rate=1.0) as (box, url):
        sms = channel(url)
        since = datetime.now(UTC)
        send_one(sms, message())
        assert box.wait_for_callbacks(5)
        found = sms.lookup(message(), since)
    assert (found.found, found.state) == (True, "undelivered")
    assert found.code in {"30003", "30005", "30006", "30008"}


def test_connection_refused_is_retry_and_lookup_raises() -> None:
    sms = channel(f"http://127.0.0.1:{free_port()}")
    result = send_one(sms, message())
    assert result.outcome == "retry" and "ConnectionError" in str(result.detail)
    with pytest.raises(requests.ConnectionError):
        sms.lookup(message(), datetime.now(UTC))


def test_api_base_wins_over_twilio_edge_and_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWILIO_EDGE", "sydney")
    monkeypatch.setenv("TWILIO_REGION", "au1")
    with sandbox() as (box, url):
        assert send_one(channel(url), message()).outcome == "accepted"
        assert len(box.messages()) == 1


def test_one_client_serves_many_threads() -> None:
    with sandbox(latency_ms=5) as (box, url):
        sms = channel(url, concurrency=16)
        built = [sms.twilio() for _ in range(3)]
        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(lambda i: send_one(sms, message(i, f"+861380000{i:04d}")),
                                    range(200)))
        stats = box.stats()
    assert built[0] is built[1] is built[2]
    assert [r.outcome for r in results] == ["accepted"] * 200
    assert len({r.provider_ref for r in results}) == 200
    assert [r.delivery_id for r in results] == list(range(200))
    assert (stats["created"], stats["duplicates"]) == (200, 0)


def test_client_is_built_once_under_concurrent_first_use() -> None:
    sms = channel("http://127.0.0.1:9")
    barrier = threading.Barrier(8)
    seen: list[object] = []

    def build() -> None:
        barrier.wait()
        seen.append(sms.twilio())

    threads = [threading.Thread(target=build) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(account) for account in seen}) == 1
