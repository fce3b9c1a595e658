"""Every route of the web app with malformed, oversized and out-of-range input.

Each request in the table is answered below 500 and, where the route reads the hostile
value, with a 4xx; none changes the database (every table's rows are hashed before and
after; the refusal log ``refused_reports`` is meant to grow, and an API token's
``last_used_at`` to move). Requests are signed or authenticated as the real caller
would (a signed-in admin, an API token, Twilio's signature, a partner's HMAC, WeChat's
signature, a screen's or a cinema's token) so the hostile part reaches the parsing
behind the check; an unsigned request is tried too. The routes are enumerated from the
app: a route added later fails test_every_route_is_covered until it has cases here.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from twilio.request_validator import RequestValidator

from channels.webhook.wire import signed_headers
from dispatcher import registry
from dispatcher.accounts.users import add_user, create_token
from dispatcher.audience.contacts import import_contacts
from dispatcher.config import parse_config
from dispatcher.delivery import callback_urls as urls
from dispatcher.delivery.venue_tokens import token_version as cinema_token_version
from dispatcher.storage.db import make_engine
from dispatcher.storage.tables import deliveries, metadata
from dispatcher.testing import plan_campaign, sms_campaign_text
from dispatcher.venues.cinemas import import_auditoriums, import_cinemas, import_showtimes
from dispatcher.venues.led_feeds import token_version as led_token_version
from dispatcher.venues.screens import import_screens
from dispatcher.web.app import create_app

PUBLIC = "http://testserver"
SHANGHAI = ZoneInfo("Asia/Shanghai")
PASSWORD = "correct horse battery"
ENGLISH = {"Accept-Language": "en"}  # the pages' words these tests read
SECRETS = {"HOSTILE_TWILIO_TOKEN": "twilio-token-0123456789abcdef",
           "HOSTILE_PARTNER_SECRET": "partner-secret-0123456789",
           "HOSTILE_WECHAT_TOKEN": "wechattoken123", "HOSTILE_WECHAT_SECRET": "wx-secret",
           "HOSTILE_LED_SECRET": "led-secret-0123456789",
           "HOSTILE_CINEMA_SECRET": "cinema-secret-0123456789"}
CONFIG = {
    "web": {"public_url": PUBLIC},
    "channels": {
        "sms": {"account_sid": "AC" + "0" * 32, "from": "+15005550006",
                "auth_token": "env:HOSTILE_TWILIO_TOKEN"},
        "webhook": {"endpoints": {"parcel": {"url": "http://127.0.0.1:9/notices",
                                             "rate": 10,
                                             "secret": "env:HOSTILE_PARTNER_SECRET"}}},
        "wechat": {"appid": "wx0123456789abcdef", "secret": "env:HOSTILE_WECHAT_SECRET",
                   "token": "env:HOSTILE_WECHAT_TOKEN", "account_type": "service",
                   "api_base": "http://127.0.0.1:9"},
        "led": {"token_secret": "env:HOSTILE_LED_SECRET"},
        "cinema": {"token_secret": "env:HOSTILE_CINEMA_SECRET",
                   "systems": {"cms": "http://127.0.0.1:9"}}}}
# What a refused request may change: the record of refusals kept for operators, and
# when an API token was last presented.
CHANGES_ALLOWED = {"refused_reports": None, "api_tokens": {"last_used_at"}}

MIB = 1024 * 1024
OVERSIZED = b"x" * (MIB + 1)
BIG_ID = str(2**63)
THIRTY = "1" * 30
HUGE = str(10**30)
NESTED = b"[" * 100_000
ENTITY_BOMB = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
               b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
               b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
               b"<xml><ToUserName>&c;</ToUserName><Event>MASSSENDJOBFINISH</Event></xml>")
IDS = ["C_1", "C%1", "C-1", "影院一", "C" * 300]  # cinema and screen id shapes


def cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


# The app and its callers ------------------------------------------------------------------


@dataclass
class Site:
    engine: Engine
    client: TestClient  # signed in as admin
    anonymous: TestClient
    csrf: str
    api_token: str
    channels: dict[str, Any]
    venues: Venues

    def screen_token(self, screen: str) -> str:
        version = led_token_version(self.engine, screen)
        assert version is not None, screen
        return str(self.channels["led"].screen_token(screen, version))

    def cinema_token(self, cinema: str) -> str:
        return str(self.channels["cinema"].venue_token(
            cinema, cinema_token_version(self.engine, cinema)))


@dataclass(frozen=True)
class Venues:
    """The rows a screen's and a cinema's valid reports would count: hostile values in
    them are the only thing wrong, so they reach the range checks."""

    led_item: int  # B-001's row of the campaign "venues"
    booking: int  # C01's booking of screening S2
    played_at: str  # S2's start
    now: datetime


def plan_venues(engine: Engine) -> Venues:
    """Campaign "venues" from ten days ago to ten days ahead: an LED placement on B-001
    and a pre-show spot at C01, whose screening S2 was yesterday."""
    now = datetime.now(UTC).replace(microsecond=0)
    start = (now - timedelta(days=10)).astimezone(SHANGHAI).replace(tzinfo=None, minute=0,
                                                                    second=0)
    end = start + timedelta(days=20)
    shown = (now - timedelta(days=1)).astimezone(SHANGHAI).replace(
        hour=19, minute=30, second=0, tzinfo=None)
    import_showtimes(engine, io.StringIO(
        f"id,cinema,auditorium,film,rating,start,expected_seats,status\n"
        f"S2,C01,1,Film B,PG,{shown.isoformat()},80,scheduled\n"))
    plan_campaign(engine, f"""id = "venues"
title = "Venues"
owner = "Test"
[schedule]
start = {start.isoformat()}
end = {end.isoformat()}
[[placements]]
channel = "led"
screens = {{ all = true }}
text = "Call 110"
duration = 15
plays_per_hour = 4
[[placements]]
channel = "cinema"
cinemas = {{ all = true }}
spot = {{ asset = "spot-30s", duration = 30 }}
position = "ads"
dates = [{start.date().isoformat()}, {end.date().isoformat()}]
""", fire_time=start.replace(tzinfo=SHANGHAI))
    with engine.connect() as conn:
        rows = dict(conn.execute(select(deliveries.c.channel, deliveries.c.id)
                                 .where(deliveries.c.channel.in_(("led", "cinema")))).all())
    return Venues(int(rows["led"]), int(rows["cinema"]),
                  shown.replace(tzinfo=SHANGHAI).isoformat(), now)


def seed(engine: Engine) -> None:
    import_contacts(engine, io.StringIO("phone,area,district\n13800000001,,\n"
                                        "13800000002,,\n"), "residents", "CN")
    plan_campaign(engine, sms_campaign_text())
    import_screens(engine, io.StringIO(
        "id,name,kind,district,area,resolution,audience_per_play,audience_source,"
        "controller,endpoint,tags\nB-001,Lobby,building,丈八街道,work,1080x1920,10,"
        "count,pull,,lobby\n"), "Asia/Shanghai")
    import_cinemas(engine, io.StringIO("id,name,district,system,preshow\n"
                                       "C01,Grand,丈八街道,cms,ads:60\n"), "Asia/Shanghai")
    import_auditoriums(engine, io.StringIO("cinema,id,name,seats\nC01,1,Hall 1,100\n"))
    import_showtimes(engine, io.StringIO(
        "id,cinema,auditorium,film,rating,start,expected_seats,status\n"
        "S1,C01,1,Film A,PG,2030-03-04T19:30:00+08:00,80,scheduled\n"))
    add_user(engine, "chief", "admin", PASSWORD)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


@contextmanager
def open_site(folder: Path) -> Iterator[Site]:
    """The seeded app over a new database in ``folder``, with an admin signed in."""
    with pytest.MonkeyPatch.context() as environ:
        for key, value in SECRETS.items():
            environ.setenv(key, value)
        engine = make_engine(f"sqlite:///{folder}/dispatcher.db")
        seed(engine)
        venues = plan_venues(engine)
        config = parse_config(CONFIG)
        channels = registry.build_channels(config.channels)
        app = create_app(engine, config, channels)
        try:
            with TestClient(app, follow_redirects=False, headers=ENGLISH) as client, \
                    TestClient(app, follow_redirects=False, headers=ENGLISH) as anonymous:
                token = csrf_of(client.get("/login").text)
                signed = client.post("/login", data={"name": "chief", "password": PASSWORD,
                                                      "csrf": token, "next": "/campaigns"})
                assert signed.status_code == 303, signed.text
                csrf = csrf_of(client.get("/campaigns").text)
                yield Site(engine, client, anonymous, csrf,
                           create_token(engine, "chief", "hostile"), dict(channels), venues)
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with open_site(tmp_path_factory.mktemp("web")) as opened:
        yield opened


def checksum(engine: Engine) -> str:
    """Every table's rows, hashed, but for CHANGES_ALLOWED."""
    digest = hashlib.sha256()
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            allowed = CHANGES_ALLOWED.get(table.name, set())
            if allowed is None:
                continue
            columns = [c for c in table.columns if c.name not in allowed]
            digest.update(table.name.encode())
            for row in conn.execute(select(*columns).order_by(*table.primary_key.columns)):
                digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


# Signing as each caller does ----------------------------------------------------------


def twilio(site: Site, url: str, form: dict[str, str]) -> dict[str, Any]:
    signature = RequestValidator(SECRETS["HOSTILE_TWILIO_TOKEN"]).compute_signature(
        url, form)
    return {"data": form, "headers": {"X-Twilio-Signature": signature}}


def partner(body: bytes) -> dict[str, Any]:
    headers = signed_headers(SECRETS["HOSTILE_PARTNER_SECRET"], body, time.time())
    return {"content": body, "headers": {**headers, "Content-Type": "application/json"}}


def wechat_query(extra: dict[str, str] | None = None) -> dict[str, str]:
    """A fresh signature=sha1(sorted token, timestamp, nonce), as WeChat signs a push."""
    timestamp, nonce = str(int(time.time())), uuid.uuid4().hex[:16]
    parts = sorted([SECRETS["HOSTILE_WECHAT_TOKEN"], timestamp, nonce])
    signature = hashlib.sha1("".join(parts).encode()).hexdigest()  # WeChat's scheme
    return {"signature": signature, "timestamp": timestamp, "nonce": nonce, **(extra or {})}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# The table ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Hostile:
    """One request: ``route`` is the route it exercises, as "METHOD /path/{template}";
    ``expect`` "4xx" (the route reads the hostile value and refuses it), a status, or
    "any" (only "never 500" holds: the route reads no input, or answers a batch with
    each bad record rejected, named in ``reason``)."""

    route: str
    what: str
    build: Callable[[Site], dict[str, Any]]
    expect: str | int = "4xx"
    reason: str = ""  # a text the answer must carry (a batch's per-record rejection)
    marks: tuple[Any, ...] = field(default=())

    def param(self) -> Any:
        return pytest.param(self, id=f"{self.route} {self.what}", marks=self.marks)


def req(method: str, url: str, client: str = "admin", **kwargs: Any
        ) -> Callable[[Site], dict[str, Any]]:
    """A request built when the case runs (signatures need the time, tokens the site)."""
    def build(site: Site) -> dict[str, Any]:
        made = {k: (v(site) if callable(v) else v) for k, v in kwargs.items()}
        return {"method": method, "url": url, "client": client, **made}
    return build


def signed(method: str, url: str, signer: Callable[[Site], dict[str, Any]],
           client: str = "anonymous", params: dict[str, str] | None = None
           ) -> Callable[[Site], dict[str, Any]]:
    def build(site: Site) -> dict[str, Any]:
        return {"method": method, "url": url, "client": client,
                **({"params": params} if params else {}), **signer(site)}
    return build


def with_csrf(form: dict[str, str]) -> Callable[[Site], dict[str, str]]:
    return lambda site: {**form, "csrf": site.csrf}


def xfail(route: str, what: str) -> tuple[Any, ...]:
    return (pytest.mark.xfail(strict=True, reason=f"{route}: {what} (owned by another "
                                                   "fix of issue 15)"),)


STATUS = urls.status_url(PUBLIC, "sms")
INBOUND = urls.inbound_url(PUBLIC, "sms")
POP, PLAYLOG = urls.pop_url("", "led"), urls.playlog_url("", "cinema")


def pop_body(screen: str = "B-001", **record: Any) -> Callable[[Site], bytes]:
    """A batch of one record of B-001's row, a play an hour ago, but for ``record``."""
    def body(site: Site) -> bytes:
        played = site.venues.now - timedelta(hours=1)
        entry = {"item": site.venues.led_item, "start": played.isoformat(),
                 "end": (played + timedelta(seconds=15)).isoformat(), "count": 1, **record}
        return json.dumps({"screen": screen, "batch": "b1", "records": [entry]}).encode()
    return body


def playlog_body(cinema: str = "C01", batch: Any = "b1", **entry: Any
                 ) -> Callable[[Site], bytes]:
    """A log of one entry: C01's booking of S2 played with 50 admissions, but for
    ``entry``."""
    def body(site: Site) -> bytes:
        item = {"booking": site.venues.booking, "screening": "S2", "status": "played",
                "at": site.venues.played_at, "admissions": 50, **entry}
        return json.dumps({"cinema": cinema, "batch": batch, "entries": [item]}).encode()
    return body


def static_route(route: str) -> list[Hostile]:
    """A route that reads no input: a wrong method with an oversized body is 405 or 413,
    and a huge query is still answered below 500."""
    path = route.split(" ", 1)[1]
    return [Hostile(route, "POST of 1 MiB", req("POST", path, content=OVERSIZED)),
            Hostile(route, "huge query", req("GET", path, params={"x": "y" * 30_000}),
                    "any")]


CASES: list[Hostile] = [
    *static_route("GET /openapi.json"), *static_route("GET /docs"),
    *static_route("GET /docs/oauth2-redirect"), *static_route("GET /redoc"),
    *static_route("GET /healthz"), *static_route("GET /metrics"), *static_route("GET /"),
    *static_route("GET /campaigns"), *static_route("GET /screens"),
    *static_route("GET /cinemas"), *static_route("GET /api/campaigns"),
    Hostile("GET /login", "next off-site and huge",
            req("GET", "/login", "anonymous", params={"next": "//evil.example/" + "x" * 9999}),
            "any"),
    Hostile("GET /login", "PUT", req("PUT", "/login", "anonymous", content=b"x"), 405),
    # sign-in and sign-out
    Hostile("POST /login", "no CSRF", req("POST", "/login", "anonymous",
                                          data={"name": "chief", "password": "x"})),
    Hostile("POST /login", "1 MiB name", req("POST", "/login", "anonymous",
                                             data={"name": "x" * MIB, "password": "x"})),
    Hostile("POST /login", "not UTF-8", req(
        "POST", "/login", "anonymous", content=b"name=\xff\xfe&password=\xff",
        headers={"Content-Type": "application/x-www-form-urlencoded"})),
    Hostile("POST /login", "oversized", req("POST", "/login", "anonymous", content=OVERSIZED,
                                            headers={"Content-Type": "text/plain"}), 413),
    Hostile("POST /logout", "no CSRF", req("POST", "/logout", data={"csrf": "forged"})),
    Hostile("POST /logout", "oversized", req("POST", "/logout", content=OVERSIZED), 413),
    # the dashboard's language: a choice never writes anything but a known language
    Hostile("POST /language", "no CSRF", req("POST", "/language", data={"lang": "en"})),
    Hostile("POST /language", "oversized", req("POST", "/language", content=OVERSIZED), 413),
    *(Hostile("POST /language", f"lang {lang[:12]!r}, next {nxt[:16]!r}", req(
        "POST", "/language", data=with_csrf({"lang": lang, "next": nxt})), 303)
      for lang, nxt in (("klingon", "//evil.example"), ("x" * 5000, "/campaigns"),
                        ("fr\r\nSet-Cookie: x=1", "/\\evil.example"))),
    # campaign pages
    *(Hostile("GET /campaigns/{campaign_id}", f"id {shape[:20]!r}",
              req("GET", f"/campaigns/{shape}"), 404)
      for shape in ("drive_", "dri%25e", "不存在", "d" * 5000)),
    Hostile("POST /campaigns/{campaign_id}/{action}", "unknown action",
            req("POST", "/campaigns/drive/explode", data=with_csrf({}))),
    Hostile("POST /campaigns/{campaign_id}/{action}", "version out of range",
            req("POST", "/campaigns/drive/approve",
                data=with_csrf({"version": "99999999999999999999"}))),
    *(Hostile("POST /campaigns/{campaign_id}/{action}", f"version {version[:12]!r}",
              req("POST", "/campaigns/drive/approve", data=with_csrf({"version": version})))
      for version in ("-1", "1e3", "²", "9" * 5000)),
    Hostile("POST /campaigns/{campaign_id}/{action}", "unknown campaign",
            req("POST", "/campaigns/no_such%25/pause", data=with_csrf({}))),
    Hostile("POST /campaigns/{campaign_id}/{action}", "no CSRF",
            req("POST", "/campaigns/drive/pause", data={"csrf": "forged"})),
    Hostile("POST /campaigns/{campaign_id}/{action}", "oversized",
            req("POST", "/campaigns/drive/pause", content=OVERSIZED), 413),
    # the delivery log, as the CLI reads its filters
    *(Hostile(route, f"{name}={value[:24]}", req("GET", route.split(" ")[1],
                                                params={name: value}), 400)
      for route in ("GET /logs", "GET /logs.csv", "GET /logs.xlsx")
      for name, value in (("since", "0001-01-01"), ("until", "9999-12-31T23:00:00-12:00"),
                          ("since", "0001-01-01T00:00:00+14:00"), ("since", "yesterday"),
                          ("status", "skipped:%_"))),
    *(Hostile("GET /logs", f"cursor {what}", req("GET", "/logs", params={"cursor": value}),
              400)
      for what, value in (("id 2^63", cursor(f"2019-06-01T00:00:00+00:00|{BIG_ID}")),
                          ("id -5", cursor("2019-06-01T00:00:00+00:00|-5")),
                          ("year 1", cursor("0001-01-01T00:00:00+14:00|5")),
                          ("garbage", "%%%" * 3000))),
    # one row's story in the log, and retrying from the log
    *(Hostile("GET /logs/{delivery_id}", f"id {shape[:12]!r}", req("GET", f"/logs/{shape}"),
              404)
      for shape in ("0", "-1", "1e3", "²", "9" * 30, "不存在", "x%25")),
    Hostile("POST /logs/{delivery_id}/retry", "no CSRF",
            req("POST", "/logs/1/retry", data={"csrf": "forged"})),
    Hostile("POST /logs/{delivery_id}/retry", "oversized",
            req("POST", "/logs/1/retry", content=OVERSIZED), 413),
    *(Hostile("POST /logs/{delivery_id}/retry", f"id {shape[:12]!r}", req(
        "POST", f"/logs/{shape}/retry", data=with_csrf({"next": "//evil.example"})), 404)
      for shape in ("0", "9" * 30, "不存在")),
    Hostile("POST /logs/retry-failed", "no CSRF", req(
        "POST", "/logs/retry-failed", data={"csrf": "forged", "campaign": "drive"})),
    Hostile("POST /logs/retry-failed", "oversized",
            req("POST", "/logs/retry-failed", content=OVERSIZED), 413),
    Hostile("POST /logs/retry-failed", "no campaign",
            req("POST", "/logs/retry-failed", data=with_csrf({"campaign": " "})), 400),
    Hostile("POST /logs/retry-failed", "unknown campaign", req(
        "POST", "/logs/retry-failed", data=with_csrf({"campaign": "no_such%"}))),
    # the REST API
    *(Hostile(route, f"id {shape[:20]!r}", req("GET", route.split(" ")[1].replace(
        "{campaign_id}", shape), headers=lambda site: bearer(site.api_token)), 404)
      for route in ("GET /api/campaigns/{campaign_id}", "GET /api/campaigns/{campaign_id}/runs",
                    "GET /api/campaigns/{campaign_id}/reach")
      for shape in ("drive_", "不存在", "d" * 5000)),
    Hostile("GET /api/campaigns", "forged token",
            req("GET", "/api/campaigns", "anonymous", headers=bearer("dsp_" + "x" * 40)), 401),
    *(Hostile("GET /api/deliveries", f"{name}={value[:24]}", req(
        "GET", "/api/deliveries", "anonymous", params={name: value},
        headers=lambda site: bearer(site.api_token)))
      for name, value in (("since", "0001-01-01T00:00:00+14:00"),
                          ("until", "9999-12-31T23:00:00-12:00"), ("since", "yesterday"),
                          ("limit", HUGE), ("limit", "-1"), ("status", "skipped:%_"),
                          ("cursor", cursor(f"2019-06-01T00:00:00+00:00|{BIG_ID}")),
                          ("cursor", "%%%"))),
    *(Hostile(f"POST /api/campaigns/{{campaign_id}}/{action}", what, req(
        "POST", f"/api/campaigns/{campaign}/{action}", "anonymous", content=content,
        headers=lambda site: bearer(site.api_token)), status)
      for action in ("approve", "pause", "resume", "cancel", "retry")
      for what, campaign, content, status in (("unknown id", "no_such%25", b"", 404),
                                              ("oversized", "drive", OVERSIZED, 413))),
    # Twilio: receipts and replies
    Hostile("POST /hooks/{channel}/status", "unknown channel",
            req("POST", "/hooks/nope/status", "anonymous", data={"a": "b"}), 404),
    Hostile("POST /hooks/{channel}/status", "unsigned",
            req("POST", "/hooks/sms/status", "anonymous",
                data={"MessageSid": "SM1", "MessageStatus": "delivered"}), 403),
    Hostile("POST /hooks/{channel}/status", "oversized",
            req("POST", "/hooks/sms/status", "anonymous", content=OVERSIZED,
                headers={"Content-Type": "application/x-www-form-urlencoded"}), 413),
    *(Hostile("POST /hooks/{channel}/status", f"signed, delivery id {value[:12]}", signed(
        "POST", f"/hooks/sms/status?d={value}", lambda site, v=value: twilio(
            site, f"{STATUS}?d={v}", {"MessageSid": "SM" + "0" * 32,
                                      "MessageStatus": "delivered"})), 400)
      for value in (BIG_ID, "-1", THIRTY, "1e3")),
    Hostile("POST /hooks/{channel}/status", "signed partner ack, 30-digit id", signed(
        "POST", "/hooks/webhook/status", lambda site: partner(json.dumps(
            {"id": THIRTY, "status": "delivered"}).encode())), 400),
    Hostile("POST /hooks/{channel}/status", "signed partner ack, nested", signed(
        "POST", "/hooks/webhook/status", lambda site: partner(NESTED)), 400),
    Hostile("POST /hooks/{channel}/inbound", "unsigned",
            req("POST", "/hooks/sms/inbound", "anonymous", data={"From": "+1", "Body": "TD"}),
            403),
    Hostile("POST /hooks/{channel}/inbound", "oversized",
            req("POST", "/hooks/sms/inbound", "anonymous", content=OVERSIZED,
                headers={"Content-Type": "application/x-www-form-urlencoded"}), 413),
    Hostile("POST /hooks/{channel}/inbound", "signed, sender not a number", signed(
        "POST", "/hooks/sms/inbound", lambda site: twilio(site, INBOUND, {
            "MessageSid": "SM" + "1" * 32, "From": "x" * 5000, "To": "+15005550006",
            "Body": "TD"})), "any"),
    # Domestic SMS platforms' unsigned pushes: the account's token in the path
    Hostile("POST /hooks/{channel}/push/{account}/{kind}/{token}", "unknown channel",
            req("POST", "/hooks/nope/push/default/report/t", "anonymous", json=[]), 404),
    *(Hostile("POST /hooks/{channel}/push/{account}/{kind}/{token}", what,
              req("POST", f"/hooks/sms/push/{account}/{kind}/{token}", "anonymous",
                  json=[{"phone_number": "13800000001", "success": False}]), 403)
      for what, account, kind, token in (
          ("a Twilio account", "default", "report", "guess"),
          ("unknown account", "nobody", "report", "x" * 40),
          ("unknown kind", "default", "status", "t"))),
    Hostile("POST /hooks/{channel}/push/{account}/{kind}/{token}", "oversized",
            req("POST", "/hooks/sms/push/default/report/t", "anonymous", content=OVERSIZED,
                headers={"Content-Type": "application/json"}), 413),
    # WeChat pushes (plain mode: the query is signed, the body is not)
    Hostile("GET /hooks/{channel}/events", "forged signature",
            req("GET", "/hooks/wechat/events", "anonymous",
                params={"signature": "0" * 40, "timestamp": "1", "nonce": "n",
                        "echostr": "x"}), 403),
    Hostile("GET /hooks/{channel}/events", "signed, timestamp of year 1e23",
            req("GET", "/hooks/wechat/events", "anonymous",
                params={"signature": "0" * 40, "timestamp": "1" + "0" * 23, "nonce": "n",
                        "echostr": "x"}), 403),
    Hostile("POST /hooks/{channel}/events", "unsigned",
            req("POST", "/hooks/wechat/events", "anonymous", content=b"<xml/>"), 403),
    Hostile("POST /hooks/{channel}/events", "oversized",
            req("POST", "/hooks/wechat/events", "anonymous", content=OVERSIZED), 413),
    *(Hostile("POST /hooks/{channel}/events", f"signed, {what}", req(
        "POST", "/hooks/wechat/events", "anonymous", params=lambda site: wechat_query(),
        content=body), 400)
      for what, body in (("malformed XML", b"<xml><Event>"), ("not UTF-8", b"<xml>\xff</xml>"),
                         ("entity expansion", ENTITY_BOMB),
                         ("SentCount 1e30", b"<xml><ToUserName>gh</ToUserName><MsgType>"
                          b"event</MsgType><Event>MASSSENDJOBFINISH</Event><MsgID>1</MsgID>"
                          b"<SentCount>" + HUGE.encode() + b"</SentCount></xml>"))),
    # LED screens: feeds and proof of play, with each screen's own token
    *(Hostile("GET /feeds/{channel}/{screen}", f"screen {shape[:12]!r}", req(
        "GET", f"/feeds/led/{shape}", "anonymous",
        headers=lambda site: bearer(site.screen_token("B-001"))), 404)
      for shape in ("B_001", "B%25001", "屏幕", "B" * 300)),
    Hostile("GET /feeds/{channel}/{screen}", "forged token",
            req("GET", "/feeds/led/B-001", "anonymous", headers=bearer("x" * 64)), 401),
    Hostile("POST /hooks/{channel}/pop", "no screen",
            req("POST", POP, "anonymous", content=pop_body()), 400),
    Hostile("POST /hooks/{channel}/pop", "forged token",
            req("POST", POP, "anonymous", params={"screen": "B-001"}, content=NESTED,
                headers=bearer("x" * 64)), 401),
    *(Hostile("POST /hooks/{channel}/pop", what, req(
        "POST", POP, "anonymous", params={"screen": "B-001"}, content=body,
        headers=lambda site: bearer(site.screen_token("B-001"))), status)
      for what, body, status in (
          ("nested", NESTED, 400), ("oversized", b" " * (4 * MIB + 1), 413),
          ("not UTF-8", b"\xff\xfe", 400), ("another screen", pop_body("B_001"), 400))),
    *(Hostile("POST /hooks/{channel}/pop", what, req(
        "POST", POP, "anonymous", params={"screen": "B-001"}, content=body,
        headers=lambda site: bearer(site.screen_token("B-001"))), "any", reason)
      for what, body, reason in (
          ("count 1e30", pop_body(count=10**30), '"reason":"count'),
          ("count 10,000 in 15 s", pop_body(count=10_000), '"refused":"above_schedule"'),
          ("item 2^63", pop_body(item=2**63), '"reason":"item'),
          ("year 1", pop_body(start="0001-01-01T00:00:00+14:00"), '"reason":"start'),
          ("year 9999", pop_body(end="9999-12-31T23:59:59-12:00"), '"reason":"start'))),
    # cinemas' play logs, with each cinema's own token
    Hostile("POST /hooks/{channel}/playlog", "no cinema",
            req("POST", PLAYLOG, "anonymous", content=playlog_body()), 400),
    *(Hostile("POST /hooks/{channel}/playlog", f"cinema {shape[:12]!r} with C01's token",
              req("POST", PLAYLOG, "anonymous", params={"cinema": shape},
                  content=playlog_body(shape),
                  headers=lambda site: bearer(site.cinema_token("C01"))), 401)
      for shape in IDS),
    *(Hostile("POST /hooks/{channel}/playlog", what, req(
        "POST", PLAYLOG, "anonymous", params={"cinema": "C01"}, content=body,
        headers=lambda site: bearer(site.cinema_token("C01"))), status)
      for what, body, status in (
          ("nested", NESTED, 400), ("oversized", b" " * (4 * MIB + 1), 413),
          ("not UTF-8", b"\xff\xfe", 400), ("another cinema", playlog_body("C_1"), 400),
          ("batch 1e30", playlog_body(batch=10**30), 400))),
    *(Hostile("POST /hooks/{channel}/playlog", what, req(
        "POST", PLAYLOG, "anonymous", params={"cinema": "C01"}, content=body,
        headers=lambda site: bearer(site.cinema_token("C01"))), "any", reason)
      for what, body, reason in (
          ("admissions 1e30", playlog_body(admissions=10**30), '"code":"above_capacity"'),
          ("admissions above seats", playlog_body(admissions=5000),
           '"code":"above_capacity"'),
          ("booking 2^63", playlog_body(booking=2**63), "is not a booking id"),
          ("year 1", playlog_body(at="0001-01-01T00:00:00+14:00"), "at must be"))),
]


def send(site: Site, request: dict[str, Any]) -> Any:
    client = site.client if request.pop("client") == "admin" else site.anonymous
    return client.request(**request)


@pytest.mark.parametrize("hostile", [c.param() for c in CASES])
def test_a_hostile_request_is_refused_and_changes_nothing(site: Site,
                                                          hostile: Hostile) -> None:
    before = checksum(site.engine)
    response = send(site, hostile.build(site))
    shown = f"{response.status_code}: {response.text[:300]}"
    assert response.status_code < 500, shown
    if hostile.expect == "4xx":
        assert 400 <= response.status_code < 500, shown
    elif hostile.expect != "any":
        assert response.status_code == hostile.expect, shown
    assert hostile.reason in response.text, shown
    assert checksum(site.engine) == before, f"the database changed ({shown})"


def app_routes(site: Site) -> set[str]:
    routes = set()
    for route in iter_route_contexts(site.client.app.routes):  # type: ignore[attr-defined]
        for method in sorted((route.methods or set()) - {"HEAD"}):
            routes.add(f"{method} {route.path}")
    return routes


def test_every_route_is_covered(site: Site) -> None:
    """A route added later needs hostile cases of its own here; every route that reads
    input needs at least one that it refuses with a 4xx."""
    routes = app_routes(site)
    tried = {c.route for c in CASES}
    assert routes - tried == set(), "routes without a hostile case"
    assert tried - routes == set(), "cases of routes that are gone"
    refused = {c.route for c in CASES if c.expect != "any"}
    assert routes - refused == set(), "routes without a case they refuse"


def test_the_same_reports_without_the_hostile_value_count(tmp_path: Path) -> None:
    """The control: the records the venue cases send, with nothing hostile in them, are
    accepted, so each hostile case is refused for its hostile value alone."""
    with open_site(tmp_path) as fresh:
        played = send(fresh, req("POST", POP, "anonymous", params={"screen": "B-001"},
                                 content=pop_body(), headers=lambda site: bearer(
                                     site.screen_token("B-001")))(fresh))
        assert played.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
        logged = send(fresh, req("POST", PLAYLOG, "anonymous", params={"cinema": "C01"},
                                 content=playlog_body(), headers=lambda site: bearer(
                                     site.cinema_token("C01")))(fresh))
        assert logged.json() == {"applied": 1, "unchanged": 0, "rejected": []}
