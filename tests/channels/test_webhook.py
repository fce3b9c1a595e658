"""The partner-app channel: its config table, placements, targets, the signed wire format
both ways, answers mapped to results, and the per-endpoint rate."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from channels.base import (
    Audience,
    CallbackReceiver,
    CallbackRequest,
    Channel,
    ConfigError,
    Contact,
    MalformedRequest,
    Message,
    Placement,
    Receipt,
    Sender,
    SendLimits,
    SignatureError,
    ValidationContext,
)
from channels.webhook.channel import WebhookChannel
from channels.webhook.rate import endpoint_bucket
from dispatcher import registry
from dispatcher.config import parse_config

KNOWN = ValidationContext(known_lists=frozenset({"residents", "workers"}))
PARCEL_SECRET = "parcel-secret"
LOCKER_SECRET = "locker-secret"
HOOK = "http://127.0.0.1:8080/hooks/webhook/status"


class Secret:
    def __init__(self, value: str) -> None:
        self.value = value

    def reveal(self) -> str:
        return self.value


def table(parcel_url: str = "http://127.0.0.1:8769/notices", **changes: Any) -> dict[str, Any]:
    result: dict[str, Any] = {"endpoints": {
        "parcel": {"url": parcel_url, "secret": Secret(PARCEL_SECRET), "rate": 20},
        "locker": {"url": "https://locker.example/api/notices",
                   "secret": Secret(LOCKER_SECRET), "rate": 5}}}
    result.update(changes)
    return result


def configured(**changes: Any) -> WebhookChannel:
    return WebhookChannel.from_config(table(**changes))


def config_error(raw: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        WebhookChannel.from_config(raw)
    return str(caught.value)


def options(**changes: Any) -> dict[str, Any]:
    result: dict[str, Any] = {"endpoint": "parcel", "audience": {"lists": ["residents"]},
                              "message": "Parcel ready. Stay safe: report crime on 110."}
    result.update(changes)
    return {key: value for key, value in result.items() if value is not None}


def problems(found: dict[str, Any], channel: WebhookChannel | None = None,
             context: ValidationContext = KNOWN) -> list[tuple[tuple[Any, ...], str]]:
    return [(p.path, p.message) for p in (channel or configured()).validate(found, context)]


# The [channels.webhook] table


def test_installed_and_a_channel_of_every_kind_it_claims() -> None:
    assert "webhook" in registry.installed()
    channel = registry.build_channel("webhook", {"webhook": table()})
    assert isinstance(channel, WebhookChannel)
    for protocol in (Channel, Sender, CallbackReceiver):
        assert isinstance(channel, protocol)
    caps = WebhookChannel.capabilities
    assert (caps.person_addressed, caps.waits_for_send_window) == (True, True)
    placement = Placement(0, "webhook", options())
    assert channel.message_cost(placement) == 1  # rate-limited in messages
    assert list(channel.reach(placement, {}, {})) == ["message_times"]


def test_settings_defaults_and_rates() -> None:
    channel = configured()
    assert channel.settings is not None
    assert (channel.settings.timeout, channel.settings.concurrency) == (10.0, 4)
    assert channel.settings.endpoints["locker"].url == "https://locker.example/api/notices"
    assert channel.limits() == SendLimits("webhook", 25.0, 4)
    assert configured(timeout=2, concurrency=8).limits().concurrency == 8


@pytest.mark.parametrize(("raw", "expected"), [
    ({}, "channels.webhook.endpoints: is required"),
    ({"endpoints": {}}, "channels.webhook.endpoints: must be a table"),
    (table(retries=3), "channels.webhook.retries: unknown key; allowed: concurrency, "
                       "endpoints, timeout"),
    (table(timeout=0), "channels.webhook.timeout: must be a number of seconds"),
    (table(concurrency=0), "channels.webhook.concurrency: must be a positive integer"),
    ({"endpoints": {"parcel": "http://x"}}, "channels.webhook.endpoints.parcel: must be a table"),
    (table(parcel_url="ftp://127.0.0.1/notices"),
     "channels.webhook.endpoints.parcel.url: must be an http or https URL"),
    ({"endpoints": {"parcel": {"secret": Secret("s")}}},
     "channels.webhook.endpoints.parcel.url: is required"),
    ({"endpoints": {"parcel": {"url": "http://h/n"}}},
     "channels.webhook.endpoints.parcel.secret: is required"),
    ({"endpoints": {"parcel": {"url": "http://h/n", "secret": "plain"}}},
     "channels.webhook.endpoints.parcel.secret: must not be written in the file"),
    ({"endpoints": {"parcel": {"url": "http://h/n", "secret": Secret("s"), "rate": -1}}},
     "channels.webhook.endpoints.parcel.rate: must be a positive number of messages"),
    ({"endpoints": {"parcel": {"url": "http://h/n", "secret": Secret("s"), "token": "x"}}},
     "channels.webhook.endpoints.parcel.token: unknown key; allowed: rate, secret, url"),
])
def test_config_errors_name_the_key(raw: dict[str, Any], expected: str) -> None:
    assert config_error(raw).startswith(expected)


def test_config_file_secrets_are_env_references() -> None:
    raw = {"channels": {"webhook": {"endpoints": {"parcel": {
        "url": "http://127.0.0.1:8769/notices", "secret": "env:PARCEL_SECRET"}}}}}
    config = parse_config(raw)
    channel = WebhookChannel.from_config(config.channels["webhook"])
    assert channel.settings is not None
    assert "PARCEL_SECRET" in repr(channel.settings.endpoints["parcel"].secret)
    raw["channels"]["webhook"]["endpoints"]["parcel"]["secret"] = "hunter2"
    with pytest.raises(ConfigError, match=r"channels\.webhook\.endpoints\.parcel\.secret"):
        parse_config(raw)


# Placements


def test_a_good_placement_has_no_problem() -> None:
    assert problems(options()) == []
    assert problems(options(name="Parcel notices", message="x" * 500)) == []


def test_endpoint_must_be_configured_when_the_channel_is() -> None:
    assert problems(options(endpoint="sms-gateway")) == [
        (("endpoint",), 'unknown endpoint "sms-gateway"; configured endpoints: locker, parcel')]
    assert problems(options(endpoint=None))[0][1].startswith("is required")
    assert problems(options(endpoint=3))[0][1].startswith(
        "must be the name of a [channels.webhook] endpoint, got an integer")
    # Unconfigured (a planner's machine): any name goes, the deployment checks it.
    assert problems(options(endpoint="sms-gateway"), WebhookChannel()) == []


def test_message_length_and_type() -> None:
    assert problems(options(message="x" * 501)) == [
        (("message",), "is 501 characters, more than 500")]
    assert problems(options(message="  ")) == [
        (("message",), "must not be empty or only whitespace")]
    assert problems(options(message=None))[0][1].startswith("is required")
    assert problems(options(message=["a"])) == [(("message",), "must be a string, got an array")]
    assert problems(options(body="sms key")) == [
        (("body",), 'unknown key "body"; allowed: audience, endpoint, message, name')]


def test_audience_is_checked_as_for_sms() -> None:
    assert problems(options(audience=None)) == [
        (("audience",), 'is required: the contact lists to send to, such as '
                        'audience = { lists = ["residents"] }')]
    found = problems(options(audience={"lists": ["nobody"], "areas": ["moon"], "x": 1}))
    assert (("audience", "x"), 'unknown key "x"; allowed: areas, districts, lists, tags') in found
    assert (("audience", "lists", 0), 'unknown contact list "nobody"; known lists: '
                                      "residents, workers") in found
    assert any(path == ("audience", "areas", 0) for path, _ in found)


@dataclass
class FakeInventory:
    people: list[Contact] = field(default_factory=list)
    asked: list[tuple[Audience, str]] = field(default_factory=list)

    def contacts(self, audience: Audience, channel: str) -> Iterator[Contact]:
        self.asked.append((audience, channel))
        yield from self.people


def test_targets_one_row_per_person_opted_out_skipped_no_line_type_check() -> None:
    inventory = FakeInventory([
        Contact(1, "+8613800000001", "mobile", "residential", "Xinan"),
        Contact(2, "+862088880000", "fixed_line", None, None, memberships=2),
        Contact(3, "+8613800000003", "mobile", None, None, opted_out=True)])
    placement = Placement(0, "webhook", options(audience={"lists": ["residents"],
                                                          "areas": ["residential"]}))
    targets = list(WebhookChannel().targets(placement, inventory))
    assert inventory.asked == [(Audience(("residents",), ("residential",)), "webhook")]
    assert [(t.sort_key, t.address, t.skip_reason, t.copies) for t in targets] == [
        (1, "+8613800000001", None, 1), (2, "+862088880000", None, 2),
        (3, "+8613800000003", "opted_out", 1)]


# Sending: the signed request and what each answer means


@dataclass
class Captured:
    status: int = 200
    body: bytes = b'{"accepted": true}'
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)


@contextmanager
def partner(answer: Captured) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            answer.requests.append((self.path, dict(self.headers), self.rfile.read(length)))
            time.sleep(answer.delay)
            self.send_response(answer.status)
            for key, value in answer.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/notices"
    finally:
        server.shutdown()
        server.server_close()


def message(delivery_id: int = 7, endpoint: str = "parcel") -> Message:
    placement = Placement(0, "webhook", options(endpoint=endpoint, message="取件提醒：平安高新"))
    return Message(delivery_id, "+8613800138000", placement, attempt=1,
                   callback_url=f"{HOOK}?d={delivery_id}")


def send(url: str, msg: Message | None = None, **changes: Any) -> Any:
    return configured(parcel_url=url, **changes).send(msg or message())


def test_the_notice_is_json_signed_over_timestamp_and_raw_body() -> None:
    answer = Captured()
    with partner(answer) as url:
        before = int(time.time())
        result = send(url)
    [(path, headers, body)] = answer.requests
    assert path == "/notices"
    assert json.loads(body) == {"id": "7", "recipient": "+8613800138000",
                                "message": "取件提醒：平安高新",
                                "callback_url": f"{HOOK}?d=7"}
    assert headers["Content-Type"] == "application/json"
    timestamp = headers["X-Dispatcher-Timestamp"]
    assert before <= int(timestamp) <= time.time()
    expected = hmac.new(PARCEL_SECRET.encode(), f"{timestamp}.{body.decode()}".encode(),
                        hashlib.sha256).hexdigest()
    assert headers["X-Dispatcher-Signature"] == f"sha256={expected}"
    assert (result.outcome, result.provider_ref, result.units) == ("accepted", "webhook-7", 1)


@pytest.mark.parametrize(("answer", "outcome", "code", "retry_after", "detail"), [
    (Captured(202, b'{"accepted": true, "duplicate": true}'), "accepted", None, None,
     "partner accepted (a repeat: the partner already had it)"),
    (Captured(429, b'{"error": "slow down"}', {"Retry-After": "2"}), "retry", "429", 2.0,
     "HTTP 429: slow down"),
    (Captured(503, b"upstream gone"), "retry", "503", None, "HTTP 503: upstream gone"),
    (Captured(500, b""), "retry", "500", None, "HTTP 500: Internal Server Error"),
    (Captured(400, b'{"error": "not a user of the app"}'), "failed", "400", None,
     "HTTP 400: not a user of the app"),
    (Captured(401, b'{"error": "bad signature"}'), "failed", "401", None,
     "HTTP 401: bad signature"),
])
def test_answers_become_results(answer: Captured, outcome: str, code: str | None,
                                retry_after: float | None, detail: str) -> None:
    with partner(answer) as url:
        result = send(url)
    assert (result.outcome, result.code, result.retry_after, result.detail) == (
        outcome, code, retry_after, detail)


def test_timeouts_and_refused_connections_are_retried_never_unknown() -> None:
    with partner(Captured(delay=0.6)) as url:
        slow = send(url, timeout=0.2)
    assert slow.outcome == "retry" and "Timeout" in slow.detail
    with partner(Captured()) as url:
        pass  # the server is gone: connection refused
    refused = send(url)
    assert refused.outcome == "retry" and "ConnectionError" in refused.detail
    assert configured().lookup(message(), since=None).found is False  # type: ignore[arg-type]


def test_an_endpoint_no_longer_configured_fails_the_row() -> None:
    result = configured().send(message(endpoint="gone"))
    assert (result.outcome, result.code) == ("failed", "endpoint")


def test_sending_needs_the_table() -> None:
    with pytest.raises(ConfigError, match=r"channels\.webhook: is not configured"):
        WebhookChannel().send(message())


def test_each_endpoint_is_held_to_its_own_rate() -> None:
    now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    bucket = endpoint_bucket(10, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        bucket.acquire()
    assert now[0] == pytest.approx(0.4) and bucket.capacity == 1.0  # burst: 0.1 s worth
    bucket.pause(2)
    bucket.acquire()
    assert now[0] == pytest.approx(2.4 + 0.1)


def test_the_client_waits_for_the_endpoint_bucket() -> None:
    answer = Captured()
    with partner(answer) as url:
        channel = WebhookChannel.from_config({"endpoints": {"parcel": {
            "url": url, "secret": Secret(PARCEL_SECRET), "rate": 20}}})
        started = time.monotonic()
        for number in range(1, 12):
            assert channel.send(message(number)).outcome == "accepted"
        elapsed = time.monotonic() - started
    assert elapsed >= 0.45  # 11 notices at 20/s with a burst of 2: at least 9 waits of 0.05 s


# Acknowledgements


def ack_request(fields: dict[str, Any], secret: str = PARCEL_SECRET,
                timestamp: int | None = None, url: str | None = None,
                signature: str | None = None) -> CallbackRequest:
    body = json.dumps(fields).encode()
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    mac = hmac.new(secret.encode(), f"{stamp}.{body.decode()}".encode(), hashlib.sha256)
    headers = {"content-type": "application/json", "x-dispatcher-timestamp": stamp,
               "x-dispatcher-signature": signature or f"sha256={mac.hexdigest()}"}
    where = url or f"{HOOK}?d={fields.get('id')}"
    return CallbackRequest(url=where, headers=headers, form={}, body=body)


def test_a_good_ack_is_a_receipt() -> None:
    channel = configured()
    assert channel.parse_callback(ack_request({"id": "7", "status": "delivered"})) == [
        Receipt("webhook-7", "delivered", delivery_id=7, detail="partner delivered",
                signer="parcel")]
    # Signed with the other endpoint's secret: each configured secret is tried, and the
    # receipt names the endpoint that signed it (it may move that endpoint's rows only).
    failed = channel.parse_callback(ack_request(
        {"id": "8", "status": "failed", "error": "app uninstalled"}, secret=LOCKER_SECRET))
    assert failed == [Receipt("webhook-8", "undelivered", delivery_id=8,
                              code="partner_failed", detail="partner: app uninstalled",
                              signer="locker")]
    assert channel.parse_callback(ack_request({"id": "9", "status": "read"})) == []


# Each request is built when its test runs: a timestamp taken at collection goes stale
# (the "future" one by 300 s) in a suite that runs longer than that.
@pytest.mark.parametrize(("make_request", "reason"), [
    (lambda: ack_request({"id": "7", "status": "delivered"}, signature="sha256=" + "0" * 64),
     "does not match"),
    (lambda: ack_request({"id": "7", "status": "delivered"}, secret="guessed"), "does not match"),
    (lambda: ack_request({"id": "7", "status": "delivered"}, timestamp=int(time.time()) - 301),
     "Timestamp"),
    (lambda: ack_request({"id": "7", "status": "delivered"}, timestamp=int(time.time()) + 400),
     "Timestamp"),
    (lambda: ack_request({"id": "7", "status": "delivered", "endpoint": "locker"}),
     "does not match"),
    (lambda: ack_request({"id": "7", "status": "delivered", "endpoint": "nope"}), "no endpoint"),
    (lambda: ack_request({"id": "7", "status": "delivered"}, url=f"{HOOK}?d=8"),
     "not the signed id"),
    (lambda: CallbackRequest(HOOK, {}, {"id": "7", "status": "delivered"}), "signed JSON body"),
], ids=["forged", "wrong-secret", "stale", "future", "other-endpoint", "unknown-endpoint",
        "other-row", "form"])
def test_forged_or_stale_acks_are_refused(make_request: Callable[[], CallbackRequest],
                                          reason: str) -> None:
    with pytest.raises(SignatureError, match=reason):
        configured().parse_callback(make_request())


def test_unconfigured_refuses_acks_and_there_are_no_replies() -> None:
    with pytest.raises(SignatureError, match="not configured"):
        WebhookChannel().parse_callback(ack_request({"id": "7", "status": "delivered"}))
    with pytest.raises(SignatureError, match="no replies"):
        configured().parse_inbound(ack_request({"id": "7"}))


def test_reach_counts_sent_and_delivered_rows() -> None:
    figures = WebhookChannel().reach(
        Placement(0, "webhook", options()),
        {"sent": 3, "delivered": 10, "undelivered": 2, "failed": 1}, {})
    assert figures["message_times"].value == 13
    assert figures["message_times"].source == "computed"
    assert "gross" in figures["message_times"].method


def signed(body: bytes, secret: str = PARCEL_SECRET, url: str = HOOK,
           timestamp: str | None = None) -> CallbackRequest:
    """A raw body signed as the partner signs it."""
    stamp = timestamp or str(int(time.time()))
    mac = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256)
    return CallbackRequest(url=url, form={}, body=body, headers={
        "content-type": "application/json", "x-dispatcher-timestamp": stamp,
        "x-dispatcher-signature": f"sha256={mac.hexdigest()}"})


@pytest.mark.parametrize("ident", [
    "1" * 30, str(2**63), "-5", "0", "²", "١٢٣", "9" * 5000, "12_3", "12%", "编号", "7 ",
    "", 1e30, -1, None, True, [7], {"id": 7}])
def test_signed_acks_whose_id_names_no_row_are_malformed(ident: Any) -> None:
    body = json.dumps({"id": ident, "status": "delivered"}).encode()
    with pytest.raises(MalformedRequest, match="delivery id"):
        configured().parse_callback(signed(body))


def test_the_largest_id_and_a_json_number_id_are_receipts() -> None:
    [largest] = configured().parse_callback(ack_request({"id": str(2**63 - 1),
                                                         "status": "delivered"}))
    assert largest.delivery_id == 2**63 - 1
    [number] = configured().parse_callback(signed(b'{"id": 7, "status": "failed"}'))
    assert (number.delivery_id, number.state) == (7, "undelivered")


@pytest.mark.parametrize("body", [
    b"[" * 100_000 + b"]" * 100_000, b'{"id": "7", "seq": ' + b"1" * 5000 + b"}",
    b'["7", "delivered"]', b'"delivered"', b"\xff\xfe{}", b"{'id': '7'}", b"<ack id='7'/>"],
    ids=["nested", "long-number", "array", "string", "not-utf8", "python-repr", "xml"])
def test_signed_bodies_that_are_not_a_json_object_are_malformed(body: bytes) -> None:
    with pytest.raises(MalformedRequest, match="JSON"):
        configured().parse_callback(signed(body))


@pytest.mark.parametrize("body", [
    b"[" * 100_000, b'{"id": "7", "seq": ' + b"1" * 5000 + b"}", b"\xff\xfe",
    b'{"id": "' + b"1" * 30 + b'", "status": "delivered"}'],
    ids=["nested", "long-number", "not-utf8", "30-digit-id"])
def test_unsigned_bodies_are_refused_before_they_are_parsed(body: bytes) -> None:
    with pytest.raises(SignatureError, match="does not match"):
        configured().parse_callback(signed(body, secret="guessed"))


@pytest.mark.parametrize("stamp", ["9" * 5000, "²", "1e9", "-1", "0001-01-01T00:00:00+14:00",
                                   " 1700000000", "１７００００００００"])
def test_timestamps_that_are_not_unix_seconds_are_refused(stamp: str) -> None:
    with pytest.raises(SignatureError, match="Timestamp"):
        configured().parse_callback(signed(b'{"id": "7", "status": "delivered"}',
                                           timestamp=stamp))
