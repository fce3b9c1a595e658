"""The engine against an in-memory provider with scripted faults, on SQLite and PostgreSQL.

``MemoryProvider`` is a real implementation of the Sender protocol whose "provider" is a
dict: it records what it accepted, so every test can check that nothing was sent twice
and nothing was lost. The twilio client against the sandbox is tested in test_send_sms.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import ClassVar
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import Engine, select

from channels.base import (
    Capabilities,
    LookupResult,
    Message,
    Placement,
    SendLimits,
    SendResult,
)
from dispatcher.audience import optouts
from dispatcher.delivery import claims
from dispatcher.delivery.engine import DeliveryEngine
from dispatcher.delivery.policy import EngineOptions
from dispatcher.delivery.transitions import Transition, advance
from dispatcher.planning import runs
from dispatcher.storage.tables import deliveries, delivery_events
from dispatcher.testing import campaign_text, plan_campaign, sms_placement
from tests.conftest import ImportList

FAST = EngineOptions(lease_seconds=0.5, backoff_base=0.01, backoff_max=0.05,
                     unknown_grace_seconds=0.0, idle_poll_seconds=0.01,
                     lookup_skew_seconds=1.0, max_attempts=4)
CAMPAIGN = campaign_text("drive", sms_placement("residents"))
PHONES = [f"+86138000000{n:02d}" for n in range(20)]


class MemoryProvider:
    """A provider in a dict. ``script[address]`` lists the outcome of each attempt:
    "ok", "lost-response" (accepted, but the answer is lost: outcome unknown),
    "never-got-it" (unknown, nothing accepted), "throttled", or "fail:CODE"."""

    name: ClassVar[str] = "sms"
    capabilities: ClassVar[Capabilities] = Capabilities(person_addressed=True,
                                                                waits_for_send_window=True)

    def __init__(self, script: dict[str, list[str]] | None = None) -> None:
        self.script = defaultdict(list, script or {})
        self.accepted: dict[str, list[tuple[str, datetime]]] = defaultdict(list)
        self.lock = threading.Lock()

    def ready(self) -> bool:
        return True

    def message_cost(self, placement: Placement) -> int:
        return 1

    def limits(self) -> SendLimits:
        return SendLimits("memory", 10_000.0, 8)

    def send(self, message: Message) -> SendResult:
        with self.lock:
            plan = self.script[message.address]
            step = plan.pop(0) if plan else "ok"
            if step in ("ok", "lost-response"):
                self.accepted[message.address].append(
                    (str(message.placement.options["body"]), datetime.now(UTC)))
                ref = f"SM{message.address[-4:]}{len(self.accepted[message.address])}"
        if step == "ok":
            return SendResult(message.delivery_id, "accepted", provider_ref=ref)
        if step in ("lost-response", "never-got-it"):
            return SendResult(message.delivery_id, "unknown", detail="timed out")
        if step == "throttled":
            return SendResult(message.delivery_id, "retry", code="20429", retry_after=0.01)
        code = step.split(":")[1]
        return SendResult(message.delivery_id, "failed", code=code, opt_out=code == "21610")

    def lookup(self, message: Message, since: datetime) -> LookupResult:
        with self.lock:
            found = [t for body, t in self.accepted[message.address]
                     if body == message.placement.options["body"] and t >= since]
        return LookupResult(True, f"SM{message.address[-4:]}", "sent") if found else \
            LookupResult(False)


@pytest.fixture
def planned(engine: Engine, import_list: ImportList) -> Engine:
    import_list("residents",
                "phone,area,district\n" + "".join(f"{p},residential,A\n" for p in PHONES))
    plan_campaign(engine, CAMPAIGN)
    return engine


def send_all(engine: Engine, provider: MemoryProvider) -> DeliveryEngine:
    sender = DeliveryEngine(engine, {"sms": provider}, "http://127.0.0.1:9", FAST)
    sender.run(until_idle=True)
    return sender


def states(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(select(deliveries.c.target, deliveries.c.status)).all())


def test_every_target_is_sent_exactly_once(planned: Engine) -> None:
    provider = MemoryProvider()
    report = send_all(planned, provider).report
    assert states(planned) == dict.fromkeys(PHONES, "sent")
    assert {a: len(v) for a, v in provider.accepted.items()} == dict.fromkeys(PHONES, 1)
    assert report.sent == 20
    with planned.connect() as conn:
        assert conn.execute(select(deliveries.c.provider_ref).where(
            deliveries.c.target == PHONES[3])).scalar() == "SM00031"


def test_unknown_outcomes_are_looked_up_before_any_resend(planned: Engine) -> None:
    provider = MemoryProvider({PHONES[0]: ["lost-response"], PHONES[1]: ["never-got-it"],
                               PHONES[2]: ["lost-response", "ok"]})
    report = send_all(planned, provider).report
    assert states(planned) == dict.fromkeys(PHONES, "sent")
    assert {a: len(v) for a, v in provider.accepted.items()} == dict.fromkeys(PHONES, 1)
    assert report.reconciled_found == 2 and report.reconciled_missing == 1


def test_throttling_retries_and_permanent_failures(planned: Engine) -> None:
    provider = MemoryProvider({PHONES[0]: ["throttled", "throttled", "ok"],
                               PHONES[1]: ["fail:21211"], PHONES[2]: ["fail:21610"],
                               PHONES[3]: ["throttled"] * 10})
    send_all(planned, provider)
    got = states(planned)
    assert got[PHONES[0]] == "sent"
    assert (got[PHONES[1]], got[PHONES[2]], got[PHONES[3]]) == ("failed",) * 3
    assert optouts.is_opted_out(planned, PHONES[2], "sms")
    assert not optouts.is_opted_out(planned, PHONES[1], "sms")
    assert len(provider.accepted[PHONES[0]]) == 1 and PHONES[3] not in provider.accepted


def test_a_crash_after_the_provider_accepted_is_reconciled_not_resent(planned: Engine) -> None:
    provider = MemoryProvider()
    with planned.begin() as conn:  # what a killed engine leaves behind
        rows = claims.claim(conn, 1, "sms", 5, timedelta(seconds=0.2))
    for row in rows[:3]:  # the provider accepted three of them before the kill
        provider.accepted[row.target].append(("Report gang crime: call 110.",
                                              datetime.now(UTC)))
    send_all(planned, provider)
    assert states(planned) == dict.fromkeys(PHONES, "sent")
    assert {a: len(v) for a, v in provider.accepted.items()} == dict.fromkeys(PHONES, 1)


def test_a_receipt_before_the_result_is_not_overwritten(planned: Engine) -> None:
    with planned.begin() as conn:
        row = claims.claim(conn, 1, "sms", 1, timedelta(seconds=60))[0]
        advance(conn, [Transition("delivered", row.id, "SMx")], actor="webhook")
        advance(conn, [Transition("sent", row.id, "SMx")], actor="engine")  # late
    assert states(planned)[row.target] == "delivered"
    with planned.connect() as conn:
        events = conn.execute(select(delivery_events.c.event).where(
            delivery_events.c.delivery_id == row.id)).scalars().all()
    assert events == ["sending", "delivered"]


def test_pause_resume_cancel_and_retry_failed(planned: Engine) -> None:
    runs.pause(planned, "drive")
    provider = MemoryProvider({PHONES[0]: ["fail:30003"]})
    send_all(planned, provider)
    assert provider.accepted == {} and set(states(planned).values()) == {"planned"}
    runs.resume(planned, "drive")
    send_all(planned, provider)
    assert states(planned)[PHONES[0]] == "failed"
    assert runs.retry_failed(planned, "drive").rows == 1
    send_all(planned, provider)
    assert states(planned) == dict.fromkeys(PHONES, "sent")
    with pytest.raises(Exception, match="no run to cancel"):
        runs.cancel(planned, "drive")  # completed runs cannot be cancelled


def test_cancel_skips_what_was_not_sent(planned: Engine) -> None:
    change = runs.cancel(planned, "drive")
    assert change.rows == 20
    send_all(planned, MemoryProvider())
    with planned.connect() as conn:
        reasons = set(conn.execute(select(deliveries.c.status, deliveries.c.reason)).all())
    assert reasons == {("skipped", "cancelled")}


def test_cancel_and_retry_write_each_row_history(planned: Engine) -> None:
    """Each row changed by retry_failed or cancel gets a history event saying who and why."""
    send_all(planned, MemoryProvider({PHONES[0]: ["fail:30003"]}))
    assert runs.retry_failed(planned, "drive", actor="chief").rows == 1
    runs.cancel(planned, "drive", actor="chief")
    with planned.connect() as conn:
        events = conn.execute(
            select(deliveries.c.target, delivery_events.c.actor, delivery_events.c.event,
                   delivery_events.c.detail)
            .join(deliveries, deliveries.c.id == delivery_events.c.delivery_id)
            .where(delivery_events.c.actor == "chief")).all()
    assert sorted(events) == [(PHONES[0], "chief", "planned", "retry requested"),
                              (PHONES[0], "chief", "skipped", "cancelled")]


def test_plain_run_keeps_going_until_stopped(planned: Engine) -> None:
    provider = MemoryProvider()
    sender = DeliveryEngine(planned, {"sms": provider}, "http://127.0.0.1:9", FAST)
    worker = threading.Thread(target=sender.run)  # without until_idle
    worker.start()
    deadline = time.monotonic() + 20
    while len(provider.accepted) < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    assert worker.is_alive()  # idle, but still running
    runs.retry_failed(planned, "drive")  # nothing failed: nothing to do, still alive
    sender.stop.set()
    worker.join(timeout=10)
    assert not worker.is_alive()
    assert states(planned) == dict.fromkeys(PHONES, "sent")


def windowed(hours_from_now: float, length_hours: float) -> str:
    """The campaign with a UTC send window opening ``hours_from_now`` from now."""
    now = datetime.now(UTC)
    opens = (now + timedelta(hours=hours_from_now)).strftime("%H:%M")
    closes = (now + timedelta(hours=hours_from_now + length_hours)).strftime("%H:%M")
    return campaign_text("drive", sms_placement("residents"), timezone="UTC",
                         send_window=[opens, closes])


def test_rows_wait_for_the_send_window(engine: Engine, import_list: ImportList) -> None:
    import_list("residents", "phone,area,district\n13800000001,,\n")
    plan_campaign(engine, windowed(hours_from_now=3, length_hours=2))
    provider = MemoryProvider()
    send_all(engine, provider)  # until idle: a window three hours away is not work now
    assert provider.accepted == {} and states(engine) == {"+8613800000001": "planned"}
    runs.cancel(engine, "drive")
    plan_campaign(engine, windowed(hours_from_now=-1, length_hours=2),
                  fire_time=datetime(2019, 6, 4, tzinfo=UTC))
    send_all(engine, provider)
    assert len(provider.accepted["+8613800000001"]) == 1


def test_a_window_across_midnight_on_a_controllable_clock(engine: Engine,
                                                          import_list: ImportList) -> None:
    """Window 20:00-02:00 Shanghai: closed at 03:00, open at 23:30 and again at 01:30."""
    import_list("residents", "phone,area,district\n13800000001,,\n13800000002,,\n")
    night = campaign_text("drive", sms_placement("residents"), send_window=["20:00", "02:00"])
    shanghai = ZoneInfo("Asia/Shanghai")
    provider = MemoryProvider()
    with time_machine.travel(datetime(2030, 3, 4, 3, tzinfo=shanghai), tick=False) as clock:
        plan_campaign(engine, night, fire_time=datetime(2030, 3, 4, 3, tzinfo=shanghai))
        send_all(engine, provider)
        assert provider.accepted == {}  # 03:00: closed until 20:00
        clock.move_to(datetime(2030, 3, 4, 23, 30, tzinfo=shanghai))
        runs.cancel(engine, "drive")  # the evening's run goes out...
        plan_campaign(engine, night, fire_time=datetime(2030, 3, 4, 23, tzinfo=shanghai))
        send_all(engine, provider)
        assert sum(map(len, provider.accepted.values())) == 2
        clock.move_to(datetime(2030, 3, 5, 1, 30, tzinfo=shanghai))  # ...and after midnight
        plan_campaign(engine, night, fire_time=datetime(2030, 3, 5, 1, tzinfo=shanghai))
        send_all(engine, provider)
        assert sum(map(len, provider.accepted.values())) == 4
        clock.move_to(datetime(2030, 3, 5, 2, 30, tzinfo=shanghai))  # closed again
        plan_campaign(engine, night, fire_time=datetime(2030, 3, 5, 2, tzinfo=shanghai))
        send_all(engine, provider)
        assert sum(map(len, provider.accepted.values())) == 4
