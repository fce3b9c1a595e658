"""The web app on a real loopback server, called over HTTP and signed exactly as Twilio signs.

The app is told its public URL is ``https://hooks.example.org/dispatcher`` (as behind a
reverse proxy) while requests reach it on 127.0.0.1: a signature only verifies when the
app rebuilds the URL the provider was given, not the one it sees.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar

import pytest
import requests
import uvicorn
from click.testing import CliRunner
from sqlalchemy import Engine, create_engine, select
from twilio.request_validator import RequestValidator

from channels.sms.channel import SmsChannel
from dispatcher.accounts.users import add_user
from dispatcher.audience import optouts
from dispatcher.cli.serve import parse_listen, serve
from dispatcher.config import Config, Secret, parse_config
from dispatcher.context import AppContext
from dispatcher.delivery import callback_urls as urls
from dispatcher.delivery.transitions import Transition, advance
from dispatcher.serving import BackgroundServer
from dispatcher.storage.tables import deliveries, delivery_events
from dispatcher.web.app import create_app

TOKEN = "test-auth-token-0123456789abcdef"
TOKEN_ENV = "TEST_WEB_TWILIO_AUTH_TOKEN"
ACCOUNT_SID = "AC" + "0" * 32
PUBLIC = "https://hooks.example.org/dispatcher"
PHONE = "+8613800000001"  # the first of the ``sms_rows`` fixture's residents


def config(sms: bool = True) -> Config:
    table = {"account_sid": ACCOUNT_SID, "auth_token": f"env:{TOKEN_ENV}",
             "from": "+15005550006"}
    return parse_config({"web": {"listen": "127.0.0.1:8080", "public_url": PUBLIC},
                         "channels": {"sms": table} if sms else {}})


class Silent:
    """A channel without receipts or replies: it has no webhooks."""

    name: ClassVar[str] = "led"


class Twilio:
    """Posts to the app as Twilio does: to the loopback server, signed for the public URL."""

    def __init__(self, server: BackgroundServer, engine: Engine, ids: list[int]) -> None:
        self.server = server
        self.engine = engine
        self.ids = ids

    def status(self, params: dict[str, str], delivery_id: int | None = None,
               **signing: Any) -> requests.Response:
        def url(base: str) -> str:
            if delivery_id is None:
                return urls.status_url(base, "sms")
            return urls.status_callback_url(base, "sms", delivery_id)
        return self.post(url(self.server.url), url(PUBLIC), params, **signing)

    def reply(self, body: str, **signing: Any) -> requests.Response:
        params = {"MessageSid": "SM-in-1", "SmsSid": "SM-in-1", "AccountSid": ACCOUNT_SID,
                  "From": PHONE, "To": "+15005550006", "Body": body, "NumMedia": "0"}
        return self.post(urls.inbound_url(self.server.url, "sms"),
                         urls.inbound_url(PUBLIC, "sms"), params, **signing)

    def post(self, url: str, public_url: str, params: dict[str, str], *, token: str = TOKEN,
             signed_url: str | None = None, signed_params: dict[str, str] | None = None,
             signed: bool = True) -> requests.Response:
        headers = {}
        if signed:
            headers["X-Twilio-Signature"] = RequestValidator(token).compute_signature(
                signed_url or public_url, signed_params or params)
        return requests.post(url, data=params, headers=headers, timeout=10)


def callback(sid: str, status: str, **extra: str) -> dict[str, str]:
    return {"MessageSid": sid, "MessageStatus": status, "SmsSid": sid, "SmsStatus": status,
            "AccountSid": ACCOUNT_SID, "From": "+15005550006", "To": PHONE,
            "ApiVersion": "2010-04-01", **extra}


def move(engine: Engine, delivery_id: int, state: str, ref: str | None = None) -> None:
    with engine.begin() as conn:
        advance(conn, [Transition(state, delivery_id=delivery_id, provider_ref=ref)],
                actor="engine")


def row(engine: Engine, delivery_id: int) -> tuple[str, str | None]:
    query = select(deliveries.c.status, deliveries.c.provider_ref).where(
        deliveries.c.id == delivery_id)
    with engine.connect() as conn:
        status, ref = conn.execute(query).one()
    return status, ref


def events(engine: Engine) -> list[tuple[int | None, str, str]]:
    query = select(delivery_events.c.delivery_id, delivery_events.c.actor,
                   delivery_events.c.event).order_by(delivery_events.c.id)
    with engine.connect() as conn:
        return [(d, actor, event) for d, actor, event in conn.execute(query)]


def opted_out(engine: Engine) -> list[tuple[str, str, str]]:
    return [(o.channel, o.address, o.source) for o in optouts.iter_optouts(engine)]


@pytest.fixture
def twilio(engine: Engine, sms_rows_first_sent: list[int],
           monkeypatch: pytest.MonkeyPatch) -> Iterator[Twilio]:
    """The app with a configured SMS channel; rows: first ``sent`` as SM1, others planned."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    settings = config()
    assert isinstance(settings.channels["sms"]["auth_token"], Secret)
    channels = {"sms": SmsChannel.from_config(settings.channels["sms"]),
                "led": Silent()}
    app = create_app(engine, settings, channels)  # type: ignore[arg-type]
    with BackgroundServer(app) as server:
        yield Twilio(server, engine, sms_rows_first_sent)


# Status callbacks ------------------------------------------------------------------------

def test_status_callback_moves_sent_to_delivered(twilio: Twilio) -> None:
    first = twilio.ids[0]
    answer = twilio.status(callback("SM1", "delivered"), first)
    assert (answer.status_code, answer.content) == (200, b"")
    assert row(twilio.engine, first) == ("delivered", "SM1")
    assert events(twilio.engine)[-1] == (first, "webhook", "delivered")


def test_status_callback_without_delivery_id_finds_the_row_by_sid(twilio: Twilio) -> None:
    assert twilio.status(callback("SM1", "delivered")).status_code == 200
    assert row(twilio.engine, twilio.ids[0]) == ("delivered", "SM1")


def test_callback_by_delivery_id_before_the_sid_is_recorded(twilio: Twilio) -> None:
    second = twilio.ids[1]
    move(twilio.engine, second, "sending")  # the send is in flight: no sid recorded yet
    assert twilio.status(callback("SM2", "sent"), second).status_code == 200
    assert row(twilio.engine, second) == ("sent", "SM2")
    assert twilio.status(callback("SM2", "undelivered", ErrorCode="30003"),
                         second).status_code == 200
    assert row(twilio.engine, second) == ("undelivered", "SM2")


def test_late_sent_after_delivered_changes_nothing(twilio: Twilio) -> None:
    first = twilio.ids[0]
    twilio.status(callback("SM1", "delivered"), first)
    before = events(twilio.engine)
    answer = twilio.status(callback("SM1", "sent"), first)
    assert answer.status_code == 200
    assert row(twilio.engine, first) == ("delivered", "SM1")
    assert events(twilio.engine) == before


def test_replayed_callback_adds_no_event(twilio: Twilio) -> None:
    params = callback("SM1", "delivered")
    assert twilio.status(params, twilio.ids[0]).status_code == 200
    before = events(twilio.engine)
    assert twilio.status(params, twilio.ids[0]).status_code == 200
    assert events(twilio.engine) == before


def test_concurrent_callbacks_for_one_row_apply_once(twilio: Twilio) -> None:
    """Twilio may post out of order and at once: the row ends delivered, with one event."""
    first = twilio.ids[0]
    before = events(twilio.engine)
    posts = [callback("SM1", "delivered"), callback("SM1", "sent")] * 4
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda params: twilio.status(params, first), posts))
    assert [a.status_code for a in answers] == [200] * len(posts)
    assert row(twilio.engine, first) == ("delivered", "SM1")
    assert events(twilio.engine)[len(before):] == [(first, "webhook", "delivered")]


def test_callback_for_an_unknown_message_is_accepted(twilio: Twilio) -> None:
    before = events(twilio.engine)
    assert twilio.status(callback("SM-other-app", "delivered")).status_code == 200
    assert events(twilio.engine) == before


FORGERIES: dict[str, dict[str, Any]] = {
    "wrong token": {"token": "not-the-auth-token"},
    "tampered param": {"signed_params": callback("SM1", "sent")},
    "missing header": {"signed": False},
    "signed for the loopback URL": {"signed_url": "http://127.0.0.1/hooks/sms/status?d=1"},
    "signed for another delivery": {"signed_url": urls.status_callback_url(PUBLIC, "sms", 999)},
    "signed for the inbound URL": {"signed_url": urls.inbound_url(PUBLIC, "sms")},
}


@pytest.mark.parametrize("forgery", FORGERIES.values(), ids=FORGERIES.keys())
def test_forged_status_callback_is_refused_and_changes_nothing(
        twilio: Twilio, forgery: dict[str, Any]) -> None:
    before = events(twilio.engine)
    answer = twilio.status(callback("SM1", "delivered"), twilio.ids[0], **forgery)
    assert answer.status_code == 403
    assert row(twilio.engine, twilio.ids[0]) == ("sent", "SM1")
    assert events(twilio.engine) == before


def test_signature_of_the_url_the_app_sees_is_refused(twilio: Twilio) -> None:
    """Behind a proxy the app must check the public URL, not its own Host header."""
    local = urls.status_callback_url(twilio.server.url, "sms", twilio.ids[0])
    answer = twilio.status(callback("SM1", "delivered"), twilio.ids[0], signed_url=local)
    assert answer.status_code == 403


def test_missing_auth_token_is_503_not_a_crash(twilio: Twilio,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TOKEN_ENV)
    assert twilio.status(callback("SM1", "delivered"), twilio.ids[0]).status_code == 503
    assert row(twilio.engine, twilio.ids[0]) == ("sent", "SM1")


# Replies ---------------------------------------------------------------------------------

@pytest.mark.parametrize("word", ["STOP", "TD", "退订", "stop "])
def test_opt_out_reply_records_an_opt_out(twilio: Twilio, word: str) -> None:
    answer = twilio.reply(word)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/xml")
    assert answer.text == "<Response></Response>"
    assert opted_out(twilio.engine) == [("sms", PHONE, "reply")]


def test_ordinary_reply_records_nothing(twilio: Twilio) -> None:
    answer = twilio.reply("Thanks, will do")
    assert (answer.status_code, answer.text) == (200, "<Response></Response>")
    assert opted_out(twilio.engine) == []


@pytest.mark.parametrize("forgery", [{"token": "not-the-auth-token"}, {"signed": False},
                                     {"signed_params": {"Body": "hello"}}],
                         ids=["wrong token", "missing header", "tampered param"])
def test_forged_stop_is_refused_and_opts_nobody_out(twilio: Twilio,
                                                     forgery: dict[str, Any]) -> None:
    assert twilio.reply("STOP", **forgery).status_code == 403
    assert opted_out(twilio.engine) == []


# Routing and health ----------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/hooks/wechat/status", "/hooks/nope/inbound",
                                  "/hooks/led/status", "/hooks/led/inbound"])
def test_channels_without_callbacks_are_404(twilio: Twilio, path: str) -> None:
    answer = twilio.post(twilio.server.url + path, PUBLIC + path, callback("SM1", "delivered"))
    assert answer.status_code == 404
    assert row(twilio.engine, twilio.ids[0]) == ("sent", "SM1")


def test_unconfigured_sms_channel_refuses_callbacks(engine: Engine) -> None:
    app = create_app(engine, config(sms=False), {"sms": SmsChannel()})
    with BackgroundServer(app) as server:
        answer = Twilio(server, engine, []).status(callback("SM1", "delivered"))
    assert answer.status_code == 403


def test_healthz_reports_the_database(twilio: Twilio) -> None:
    answer = requests.get(twilio.server.url + "/healthz", timeout=10)
    assert (answer.status_code, answer.json()) == (200, {"ok": True, "database": True})


def test_healthz_with_the_database_down_is_503() -> None:
    down = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none",
                         connect_args={"connect_timeout": 2})
    with BackgroundServer(create_app(down, config(sms=False), {})) as server:
        answer = requests.get(server.url + "/healthz", timeout=10)
    assert (answer.status_code, answer.json()) == (503, {"ok": False, "database": False})


def test_callback_urls() -> None:
    assert urls.status_callback_url("https://x.org/", "sms", 42) == (
        "https://x.org/hooks/sms/status?d=42")
    assert urls.inbound_url("https://x.org", "sms") == "https://x.org/hooks/sms/inbound"


# Sessions --------------------------------------------------------------------------------

def test_a_session_cookie_replayed_after_logout_is_refused(engine: Engine) -> None:
    """Over a real socket: sign in, copy the cookie, sign out, send the copy again."""
    add_user(engine, "ops_1", "operator", "correct horse battery")
    app = create_app(engine, parse_config({"web": {"public_url": "http://127.0.0.1"}}), {})

    def csrf(page: requests.Response) -> str:
        found = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert found, page.text
        return found.group(1)

    with BackgroundServer(app) as server, requests.Session() as browser:
        signed = browser.post(server.url + "/login", timeout=10, allow_redirects=False, data={
            "name": "ops_1", "password": "correct horse battery",
            "csrf": csrf(browser.get(server.url + "/login", timeout=10))})
        assert signed.status_code == 303
        copied = browser.cookies["dispatcher_session"]
        page = browser.get(server.url + "/campaigns", timeout=10, allow_redirects=False)
        assert page.status_code == 200
        browser.post(server.url + "/logout", data={"csrf": csrf(page)}, timeout=10)
        replay = requests.get(server.url + "/campaigns", cookies={"dispatcher_session": copied},
                              timeout=10, allow_redirects=False)
    assert replay.status_code == 303
    assert replay.headers["location"] == "/login?next=/campaigns"


# dispatcher serve ----------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [("127.0.0.1:8080", ("127.0.0.1", 8080)),
                                                ("0.0.0.0:80", ("0.0.0.0", 80)),
                                                ("[::1]:9000", ("::1", 9000))])
def test_parse_listen(text: str, expected: tuple[str, int]) -> None:
    assert parse_listen(text) == expected


@pytest.mark.parametrize("text", ["8080", "localhost", "host:0", "host:99999", ":80", "h:x"])
def test_parse_listen_refuses_malformed(text: str) -> None:
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_listen(text)


def test_serve_prints_the_hook_urls_and_runs_uvicorn(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run",
                        lambda app, **options: calls.append({"app": app, **options}))
    path = tmp_path / "config.toml"
    path.write_text(f'[database]\nurl = "sqlite:///{tmp_path}/d.db"\n'
                    f'[web]\npublic_url = "{PUBLIC}"\n', encoding="utf-8")
    result = CliRunner().invoke(serve, ["--listen", "127.0.0.1:9999"],
                                obj=AppContext(config_path=str(path)))
    assert result.exit_code == 0, result.output
    assert f"{PUBLIC}/hooks/sms/status?d=<delivery id>" in result.output
    assert f"{PUBLIC}/hooks/sms/inbound" in result.output
    assert [(c["host"], c["port"]) for c in calls] == [("127.0.0.1", 9999)]

    bad = CliRunner().invoke(serve, ["--listen", "nowhere"],
                             obj=AppContext(config_path=str(path)))
    assert bad.exit_code == 2 and "--listen" in bad.output
