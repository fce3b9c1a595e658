"""Partner apps end to end: the engine, the web app's status hook and the partner sandbox,
over loopback.

With server errors (half of them after the notice was taken: a lost answer), late
answers and 429 bursts, every recipient must be accepted by the partner exactly once
(retries arrive as duplicates, answered and not kept), acknowledgements must make rows
delivered, reach must equal the partner's own count, forged acknowledgements must change
nothing, and each endpoint must be held to its own rate.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import statistics
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import click
import pytest
import requests
from sqlalchemy import func, select

from dispatcher import registry
from dispatcher.audience.contacts import import_contacts
from dispatcher.campaigns.versions import load_stored
from dispatcher.config import Config, parse_config
from dispatcher.context import AppContext
from dispatcher.demo import contact_samples as samples
from dispatcher.planning import campaign_store
from dispatcher.planning.runs import plan_firing
from dispatcher.reach.figures import campaign_reach
from dispatcher.sandbox import PartnerOptions, PartnerSandbox
from dispatcher.serving import BackgroundServer, free_port
from dispatcher.storage.tables import deliveries, delivery_events
from dispatcher.testing import FIRE_TIME, store_campaign
from dispatcher.web.app import create_app
from tests.e2e.test_send_sms import send
from tests.e2e.test_send_sms import statuses as channel_statuses

SECRETS = {"TEST_PARCEL_SECRET": "parcel-sandbox-secret",
           "TEST_LOCKER_SECRET": "locker-sandbox-secret"}
# Acknowledgements come after a retry of a lost or late answer would, so repeats happen.
FAULTS = PartnerOptions(secret=SECRETS["TEST_PARCEL_SECRET"], seed=5, error_rate=0.06,
                        timeout_rate=0.02, timeout_delay_s=1.0, throttle_every=150,
                        throttle_burst=3, ack_delay_s=0.8)


@dataclass
class Stack:
    app: AppContext
    partners: dict[str, PartnerSandbox]

    @property
    def public_url(self) -> str:
        return self.app.config.web.public_url


def campaign_text(placements: dict[str, str]) -> str:
    """One webhook placement per (endpoint, contact list)."""
    lines = ['id = "parcel-drive"', 'title = "Parcel notices"', 'owner = "Publicity"',
             'timezone = "Asia/Shanghai"', "[schedule]", "start = 2019-06-03T09:00:00"]
    for endpoint, contact_list in placements.items():
        lines += ["[[placements]]", 'channel = "webhook"', f'endpoint = "{endpoint}"',
                  f'audience = {{ lists = ["{contact_list}"] }}',
                  'message = "取件提醒：平安高新，扫黑除恶，举报电话110。"']
    return "\n".join(lines) + "\n"


def config(workdir: Path, public_url: str, endpoints: dict[str, tuple[str, float]],
           concurrency: int) -> Config:
    table = {name: {"url": f"{url}/notices", "secret": f"env:TEST_{name.upper()}_SECRET",
                    "rate": rate} for name, (url, rate) in endpoints.items()}
    parsed = parse_config({
        "web": {"listen": public_url.removeprefix("http://"), "public_url": public_url},
        "channels": {"webhook": {"endpoints": table, "timeout": 0.3,
                                 "concurrency": concurrency}}})
    return replace(parsed, database_url=f"sqlite:///{workdir / 'dispatcher.db'}")


@contextmanager
def stack(workdir: Path, partners: dict[str, tuple[PartnerOptions, float, int]],
          concurrency: int = 4) -> Iterator[Stack]:
    """Partner sandboxes (options, configured rate, contacts) + web app + a planned drive:
    each endpoint's placement goes to its own contact list."""
    with ExitStack() as running:
        environ = running.enter_context(pytest.MonkeyPatch.context())
        for name, value in SECRETS.items():
            environ.setenv(name, value)
        boxes = {name: PartnerSandbox(options) for name, (options, _, _) in partners.items()}
        urls = {name: running.enter_context(box.serve()) for name, box in boxes.items()}
        port = free_port()
        cfg = config(workdir, f"http://127.0.0.1:{port}",
                     {name: (urls[name], rate) for name, (_, rate, _) in partners.items()},
                     concurrency)
        app = AppContext(_config=cfg)
        channels = registry.build_channels(cfg.channels)
        running.enter_context(BackgroundServer(create_app(app.engine, cfg, channels),
                                               port=port))
        for seed, (name, (_, _, contacts)) in enumerate(partners.items()):
            samples.write_csv(workdir / f"{name}.csv", contacts, seed=seed + 1)
            import_contacts(app.engine, workdir / f"{name}.csv", f"{name}-users", "CN")
        store_campaign(app.engine, campaign_text({name: f"{name}-users" for name in partners}))
        plan_firing(app.engine, "parcel-drive", FIRE_TIME, channels.__getitem__)
        yield Stack(app, boxes)
        app.engine.dispose()


def statuses(app: AppContext) -> dict[str, int]:
    return channel_statuses(app, "webhook")


def row_ids(app: AppContext) -> list[int]:
    with app.engine.connect() as conn:
        return list(conn.scalars(select(deliveries.c.id).order_by(deliveries.c.id)))


def ack(url: str, row: int, secret: str, *, age: int = 0,
        signature: str | None = None) -> requests.Response:
    body = json.dumps({"id": str(row), "status": "delivered"}).encode()
    stamp = str(int(time.time()) - age)
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-Dispatcher-Timestamp": stamp,
               "X-Dispatcher-Signature": signature or f"sha256={mac}"}
    return requests.post(f"{url}/hooks/webhook/status?d={row}", data=body, headers=headers,
                         timeout=5)


def reach(app: AppContext) -> dict[str, Any]:
    campaign, _ = load_stored(app.engine, "parcel-drive")
    lookup = campaign_store.channel_lookup(app.config)
    result: dict[str, Any] = campaign_reach(app.engine, campaign, lookup)["channels"]["webhook"]
    return result


def test_every_recipient_accepted_once_through_faults(tmp_path: Path) -> None:
    with stack(tmp_path, {"parcel": (FAULTS, 300, 400)}) as s:
        partner, secret = s.partners["parcel"], SECRETS["TEST_PARCEL_SECRET"]
        first = row_ids(s.app)[0]
        forged = [ack(s.public_url, first, "guessed"),
                  ack(s.public_url, first, secret, age=301),
                  ack(s.public_url, first, secret, signature="sha256=" + "0" * 64),
                  requests.post(f"{s.public_url}/hooks/webhook/status?d={first}",
                                data={"id": str(first), "status": "delivered"}, timeout=5)]
        assert [r.status_code for r in forged] == [403] * 4
        assert set(statuses(s.app)) == {"planned"}
        send(s.app)
        assert partner.wait_for_acks(timeout=15)
        stats, planned = partner.stats(), statuses(s.app)
        faults = stats["faults"]
        assert faults["error_accepted"] > 0 and faults["timeout"] > 0
        assert faults["throttle"] > 0 and faults["max_rate"] == 0
        assert stats["duplicates"] > 0  # lost answers, sent again, answered as repeats
        assert stats["duplicate_recipients"] == 0 and stats["unauthorized"] == 0
        assert stats["accepted"] == len(partner.accepted()) == len(row_ids(s.app))
        assert planned == {"delivered": stats["accepted"]}
        acks = stats["acks"]
        assert (acks["posted"], acks["failed"], acks["pending"]) == (stats["accepted"], 0, 0)
        figures = reach(s.app)
        assert figures["reach"]["message_times"] == stats["accepted"] == figures["delivered"]
        # A genuine acknowledgement replayed to another row's URL changes nothing either.
        other = row_ids(s.app)[1]
        body = json.dumps({"id": str(first), "status": "delivered"}).encode()
        stamp = str(int(time.time()))
        mac = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256)
        replayed = requests.post(
            f"{s.public_url}/hooks/webhook/status?d={other}", data=body, timeout=5,
            headers={"Content-Type": "application/json", "X-Dispatcher-Timestamp": stamp,
                     "X-Dispatcher-Signature": f"sha256={mac.hexdigest()}"})
        assert replayed.status_code == 403
        with s.app.engine.connect() as conn:
            hooks = conn.scalar(select(func.count()).select_from(delivery_events)
                                .where(delivery_events.c.actor == "webhook"))
        assert hooks == stats["accepted"]  # one event per row, from the partner's acks only


def test_refused_recipients_fail_and_failed_acks_are_undelivered(tmp_path: Path) -> None:
    options = PartnerOptions(secret=SECRETS["TEST_PARCEL_SECRET"], seed=2, reject_rate=0.1,
                             fail_rate=0.1, ack_delay_s=0.05)
    with stack(tmp_path, {"parcel": (options, 300, 150)}) as s:
        send(s.app)
        partner = s.partners["parcel"]
        assert partner.wait_for_acks(timeout=10)
        stats, planned, figures = partner.stats(), statuses(s.app), reach(s.app)
    assert planned["failed"] == stats["rejected"]["recipient"] > 0
    assert planned["undelivered"] == stats["outcomes"]["failed"] > 0
    assert planned["delivered"] == stats["outcomes"]["delivered"]
    assert figures["reach"]["message_times"] == planned["delivered"]
    assert figures["failed"] == planned["failed"]


def interior(per_second: dict[str, int]) -> list[int]:
    """Counts of the whole seconds of a run: the first and last are partial."""
    counts = [per_second.get(str(second), 0) for second in
              range(min(map(int, per_second)), max(map(int, per_second)) + 1)]
    return counts[1:-1]


def test_each_endpoint_is_held_to_its_own_rate(tmp_path: Path) -> None:
    rates = {"parcel": 50.0, "locker": 20.0}
    partners = {
        name: (PartnerOptions(secret=SECRETS[f"TEST_{name.upper()}_SECRET"], seed=1,
                              max_rate=rate * 1.1), rate, contacts)
        for (name, rate), contacts in zip(rates.items(), (160, 80), strict=True)}
    with stack(tmp_path, partners, concurrency=8) as s:
        send(s.app)
        stats = {name: box.stats() for name, box in s.partners.items()}
        planned = statuses(s.app)
    assert planned.get("failed", 0) == 0 and planned.get("planned", 0) == 0
    for name, rate in rates.items():
        assert stats[name]["faults"]["max_rate"] == 0, name
        seconds = interior(stats[name]["received_per_second"])
        assert len(seconds) >= 2, (name, seconds)
        assert all(count <= rate * 1.1 for count in seconds), (name, seconds)
        assert abs(statistics.median(seconds) - rate) <= rate * 0.1, (name, seconds)


def signed(secret: str, fields: dict[str, Any], age: int = 0) -> dict[str, Any]:
    """``requests.post`` keywords for a notice signed as the channel signs one."""
    body = json.dumps(fields).encode()
    stamp = str(int(time.time()) - age)
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"data": body, "timeout": 5, "headers": {
        "Content-Type": "application/json", "X-Dispatcher-Timestamp": stamp,
        "X-Dispatcher-Signature": f"sha256={mac}"}}


def test_partner_sandbox_checks_signatures_and_dedupes_by_id() -> None:
    secret = "box-secret"
    notice = {"id": "41", "recipient": "+8613800138000", "message": "Parcel ready",
              "callback_url": None}
    box = PartnerSandbox(PartnerOptions(secret=secret))
    with box.serve() as url:
        answers = [requests.post(f"{url}/notices", **signed("wrong", notice)),
                   requests.post(f"{url}/notices", **signed(secret, notice, age=400)),
                   requests.post(f"{url}/notices", **signed(secret, notice)),
                   requests.post(f"{url}/notices", **signed(secret, notice)),
                   requests.post(f"{url}/notices", **signed(secret, notice | {"id": "42",
                                                                  "recipient": "110"}))]
        stats = requests.get(f"{url}/_sandbox/stats", timeout=5).json()
        requests.post(f"{url}/_sandbox/reset", timeout=5)
        assert box.stats()["accepted"] == 0
    assert [a.status_code for a in answers] == [401, 401, 200, 200, 400]
    assert answers[2].json() == {"accepted": True, "duplicate": False, "id": "41"}
    assert answers[3].json() == {"accepted": True, "duplicate": True, "id": "41"}
    assert (stats["accepted"], stats["duplicates"], stats["unauthorized"]) == (1, 1, 2)
    assert stats["rejected"] == {"invalid": 1, "recipient": 0}


def test_sandbox_partner_command_has_help_on_every_option() -> None:
    from click.testing import CliRunner

    from dispatcher.cli.sandbox import partner

    result = CliRunner().invoke(partner, ["--help"])
    assert result.exit_code == 0
    assert all(option.help for option in partner.params if isinstance(option, click.Option))
    missing = CliRunner().invoke(partner, ["--secret-env", "NO_SUCH_VARIABLE_SET"])
    assert missing.exit_code == 2 and "NO_SUCH_VARIABLE_SET" in missing.output


def test_poison_acks_during_a_drive_fail_alone(tmp_path: Path) -> None:
    """Signed acknowledgements naming no row the database can hold (30 digits, 2^63),
    posted from four threads all through a drive, share commits with the partner's
    genuine ones: each is 400, and no genuine one fails or needs a retry."""
    options = PartnerOptions(secret=SECRETS["TEST_PARCEL_SECRET"], seed=3, ack_delay_s=0.05)
    with stack(tmp_path, {"parcel": (options, 300, 150)}) as s:
        partner, secret = s.partners["parcel"], SECRETS["TEST_PARCEL_SECRET"]
        stop, answers = threading.Event(), []

        def poison(first: int) -> None:
            while not stop.is_set():
                answers.append(ack(s.public_url, first + len(answers), secret).status_code)

        with ThreadPoolExecutor(max_workers=4) as pool:
            for first in (10**29, 2**63, 10**29 + 10**6, 2**64):
                pool.submit(poison, first)
            send(s.app)
            assert partner.wait_for_acks(timeout=15)
            stop.set()
        stats = partner.stats()
        assert answers and set(answers) == {400}
        assert (stats["acks"]["posted"], stats["acks"]["retried"], stats["acks"]["failed"]
                ) == (stats["accepted"], 0, 0)
        assert statuses(s.app) == {"delivered": stats["accepted"]}


def rows_of(app: AppContext, placement: int) -> list[int]:
    with app.engine.connect() as conn:
        return list(conn.scalars(select(deliveries.c.id).where(
            deliveries.c.placement == placement).order_by(deliveries.c.id)))


def test_a_partners_secret_acknowledges_only_its_own_endpoints_rows(tmp_path: Path) -> None:
    """Each endpoint signs with its own secret, so each speaks for its own notices: the
    locker app cannot mark the parcel app's rows delivered or failed, however the
    acknowledgement names the row, while each still acknowledges its own."""
    partners = {name: (PartnerOptions(secret=SECRETS[f"TEST_{name.upper()}_SECRET"],
                                      seed=1, ack_delay_s=3600), 500.0, 5)
                for name in ("parcel", "locker")}
    with stack(tmp_path, partners) as s:
        send(s.app)  # the sandboxes take the notices and hold back their acknowledgements
        assert statuses(s.app) == {"sent": 10}
        parcel, locker = rows_of(s.app, 0), rows_of(s.app, 1)
        url, locker_secret = s.public_url, SECRETS["TEST_LOCKER_SECRET"]
        forged = [ack(url, parcel[0], locker_secret),  # id in the URL and the body
                  post_ack(url, {"id": str(parcel[1]), "status": "failed"}, locker_secret),
                  post_ack(url, {"id": str(parcel[2]), "status": "delivered",
                                 "endpoint": "locker"}, locker_secret)]
        assert [answer.status_code for answer in forged] == [200, 200, 200]
        assert statuses(s.app) == {"sent": 10}
        # Naming the other endpoint with one's own secret is a wrong signature.
        assert post_ack(url, {"id": str(parcel[3]), "status": "delivered",
                              "endpoint": "parcel"}, locker_secret).status_code == 403
        assert ack(url, locker[0], locker_secret).status_code == 200
        assert ack(url, parcel[4], SECRETS["TEST_PARCEL_SECRET"]).status_code == 200
        with s.app.engine.connect() as conn:
            delivered = set(conn.scalars(select(deliveries.c.id).where(
                deliveries.c.status == "delivered")))
    assert delivered == {locker[0], parcel[4]}


def post_ack(url: str, fields: dict[str, Any], secret: str) -> requests.Response:
    """An acknowledgement of ``fields`` signed with ``secret``, without ``?d=``."""
    return requests.post(f"{url}/hooks/webhook/status", **signed(secret, fields))
