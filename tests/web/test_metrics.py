"""``GET /metrics``: the figures a scrape reads from the database, parsed back exactly."""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, create_engine, select, update

from channels.sms.channel import SmsChannel
from dispatcher.audience import optouts
from dispatcher.audience.contacts import import_contacts
from dispatcher.config import Config, parse_config
from dispatcher.delivery import transitions
from dispatcher.delivery.celery import send_tasks
from dispatcher.delivery.transitions import Transition, advance
from dispatcher.planning.runs import pause
from dispatcher.storage.db import utcnow
from dispatcher.storage.tables import deliveries, runs
from dispatcher.storage.tables import send_tasks as blocks
from dispatcher.testing import plan_campaign, sms_campaign_text
from dispatcher.web import metrics as web_metrics
from dispatcher.web.app import create_app

CONTACTS = "phone,area,district\n" + "".join(f"1380000000{i},,\n" for i in range(1, 7))
T0 = datetime(2026, 3, 1, 10, tzinfo=UTC)
SCRAPED_AT = T0 + timedelta(minutes=30)

Samples = dict[str, dict[tuple[tuple[str, str], ...], float]]


def config() -> Config:
    return parse_config({"web": {"listen": "127.0.0.1:8080",
                                 "public_url": "https://hooks.example.org"}})


def scrape(engine: Engine) -> Samples:
    with TestClient(create_app(engine, config(), {"sms": SmsChannel()})) as client:
        answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=")
    samples: Samples = {}
    for family in text_string_to_metric_families(answer.text):
        for s in family.samples:
            samples.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return samples


def plan(engine: Engine, campaign_id: str) -> list[int]:
    """Plan ``campaign_id`` for the six residents; the ids of its planned rows by target."""
    plan_campaign(engine, sms_campaign_text(campaign_id,
                                            body="Report gang crime: call 110. Reply TD to stop."))
    query = (select(deliveries.c.id).join(runs, runs.c.id == deliveries.c.run_id)
             .where(runs.c.campaign_id == campaign_id, deliveries.c.status == "planned")
             .order_by(deliveries.c.target))
    with engine.connect() as conn:
        return list(conn.execute(query).scalars())


class Mover:
    """Advances rows as the engine and receipts do, at chosen times."""

    def __init__(self, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
        self.engine = engine
        self.monkeypatch = monkeypatch

    def __call__(self, delivery_id: int, at: datetime, *states: str,
                 code: str | None = None) -> None:
        self.monkeypatch.setattr(transitions, "utcnow", lambda: at)
        with self.engine.begin() as conn:
            for state in states:
                advance(conn, [Transition(state, delivery_id=delivery_id,
                                          code=code if state == states[-1] else None)],
                        actor="engine")


@pytest.fixture
def scraped(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Samples]:
    """Two campaigns over six residents, one of them opted out; "late" is paused."""
    import_contacts(engine, io.StringIO(CONTACTS), "residents", "CN")
    optouts.add(engine, "+8613800000006")
    drive, late = plan(engine, "drive"), plan(engine, "late")
    move = Mover(engine, monkeypatch)
    second = timedelta(seconds=1)
    move(drive[0], T0 - timedelta(hours=2), "sending")
    move(drive[0], T0 - timedelta(hours=2) + 10 * second, "sent")  # outside the hour
    move(drive[1], T0, "sending")
    move(drive[1], T0 + second, "sent")
    move(drive[1], T0 + 5 * second, "delivered")
    move(drive[2], T0, "sending")
    move(drive[2], T0 + 3 * second, "sent")
    move(drive[2], T0 + 9 * second, "undelivered", code="30005")
    move(drive[3], T0, "sending", "failed", code="30003")
    move(late[0], T0, "failed")  # no code from the provider
    pause(engine, "late")
    monkeypatch.setattr(web_metrics, "utcnow", lambda: SCRAPED_AT)
    yield scrape(engine)


def labelled(samples: Samples, name: str) -> dict[tuple[str, ...], float]:
    return {tuple(value for _label, value in key): v for key, v in samples[name].items()}


def test_deliveries_by_channel_and_state(scraped: Samples) -> None:
    zero = {("sms", s): 0.0 for s in web_metrics.DELIVERY_STATES}
    assert labelled(scraped, "dispatcher_deliveries") == zero | {
        ("sms", "planned"): 5.0, ("sms", "sent"): 1.0, ("sms", "delivered"): 1.0,
        ("sms", "undelivered"): 1.0, ("sms", "failed"): 2.0,
        ("sms", "skipped:opted_out"): 2.0}
    assert scraped["dispatcher_deliveries"][(("channel", "sms"), ("state", "failed"))] == 2.0


def test_queue_depth_counts_planned_rows_of_planned_runs_only(scraped: Samples) -> None:
    assert labelled(scraped, "dispatcher_queue_depth") == {("sms",): 1.0}


def test_provider_errors_by_code(scraped: Samples) -> None:
    assert labelled(scraped, "dispatcher_provider_errors") == {
        ("sms", "30003"): 1.0, ("sms", "30005"): 1.0, ("sms", "unknown"): 1.0}
    assert (("channel", "sms"), ("code", "30003")) in scraped["dispatcher_provider_errors"]


def test_send_latency_of_the_last_hour(scraped: Samples) -> None:
    name = "dispatcher_send_latency_seconds"
    assert labelled(scraped, name) == {("0.5",): 1.0, ("0.9",): 3.0, ("0.99",): 3.0}
    assert scraped[f"{name}_count"] == {(): 2.0}
    assert scraped[f"{name}_sum"] == {(): 4.0}


def test_runs_by_status_and_up(scraped: Samples) -> None:
    assert labelled(scraped, "dispatcher_runs") == {
        ("planning",): 0.0, ("planned",): 1.0, ("paused",): 1.0, ("cancelled",): 0.0,
        ("completed",): 0.0}
    assert scraped["dispatcher_up"] == {(): 1.0}


def test_empty_database(engine: Engine) -> None:
    samples = scrape(engine)
    assert "dispatcher_deliveries" not in samples
    assert "dispatcher_queue_depth" not in samples
    assert set(labelled(samples, "dispatcher_runs").values()) == {0.0}
    latency = labelled(samples, "dispatcher_send_latency_seconds")
    assert len(latency) == 3 and all(math.isnan(v) for v in latency.values())
    assert samples["dispatcher_send_latency_seconds_count"] == {(): 0.0}
    assert set(labelled(samples, "dispatcher_send_tasks").values()) == {0.0}
    assert samples["dispatcher_executor_lag_seconds"] == {(): 0.0}
    assert samples["dispatcher_up"] == {(): 1.0}


def test_unreadable_database_reports_down() -> None:
    down = create_engine("sqlite:////nonexistent-directory/dispatcher.db")
    assert scrape(down) == {"dispatcher_up": {(): 0.0}}


def test_metrics_are_not_in_the_openapi_schema(engine: Engine) -> None:
    with TestClient(create_app(engine, config(), {})) as client:
        paths = client.get("/openapi.json").json()["paths"]
    assert "/metrics" not in paths
    assert "/healthz" in paths


def test_celery_executor_blocks_and_lag(engine: Engine) -> None:
    import_contacts(engine, io.StringIO(CONTACTS), "residents", "CN")
    plan(engine, "drive")
    with engine.begin() as conn:
        run_id = conn.execute(select(runs.c.id)).scalar_one()
        send_tasks.add_blocks(conn, rows_per_block=2)
        _queued, running = send_tasks.take_due(conn, 2, "sms", [run_id])
        send_tasks.start(conn, running.id, "w1@host")
        conn.execute(update(blocks).values(due_at=utcnow() - timedelta(seconds=120)))
    samples = scrape(engine)
    assert labelled(samples, "dispatcher_send_tasks") == {
        ("queued",): 1.0, ("running",): 1.0, ("waiting",): 1.0}
    assert 119 <= samples["dispatcher_executor_lag_seconds"][()] < 300
