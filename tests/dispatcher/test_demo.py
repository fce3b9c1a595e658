"""`dispatcher demo` end to end at a small scale: the sandboxes, approval, reach."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from dispatcher.db import make_engine
from dispatcher.demo import DemoSettings, run_demo
from dispatcher.tables import audit_log

REPO = Path(__file__).resolve().parents[2]


def fleet_ids(workdir: Path) -> list[str]:
    lines = (workdir / "screens.csv").read_text(encoding="utf-8").splitlines()[1:]
    return [line.split(",")[0] for line in lines]


def test_the_demo_drive_reaches_sms_and_wechat(tmp_path: Path) -> None:
    said: list[str] = []
    settings = DemoSettings(campaign_file=REPO / "campaigns" / "pingan-ding.toml", scale=200,
                            wechat_followers=500, screens=40, workdir=tmp_path)
    result = run_demo(settings, say=said.append, progress=lambda _d, _t: lambda _n: None)

    sms = result.reach["channels"]["sms"]
    assert sms["reach"]["message_times"] == result.sandbox["created"] > 0
    assert result.sandbox["duplicates"] == 0

    wechat = result.reach["channels"]["wechat"]
    assert (wechat["targets"], wechat["delivered"]) == (1, 1)
    assert wechat["reach"]["recipients"] == result.wechat["sent"] == 500
    assert wechat["reach"]["reads"] > 0 and wechat["reach_sources"]["reads"]["source"] == \
        "provider"
    assert result.wechat["tokens"]["forced_expiries"] > 0

    led = result.reach["channels"]["led"]
    fleet = result.led
    assert led["targets"] == fleet["screens"]["total"] == 41  # 38 + 2 + 1 by kind
    assert led["reach"]["plays"] == fleet["plays"]["total"] == fleet["records"]["acknowledged"]
    assert led["reach"]["plays"] == 41 * 12 * 4  # every screen, 12 hours, 4 an hour
    assert led["reach"]["screens"] == 41
    audience = {"B": 12, "O": 150, "F": 600}  # per play, by kind (screen_samples.FLEET)
    assert led["reach"]["impressions"] == 12 * 4 * sum(
        audience[screen_id[0]] for screen_id in fleet_ids(tmp_path))
    assert fleet["batches"]["replayed"] > 0 and fleet["offline_periods"] > 0

    cinema = result.reach["channels"]["cinema"]
    system = result.cinema
    assert cinema["targets"] == 520  # max_screenings of the evening, non-NC-17 screenings
    assert cinema["reach"]["screenings"] == system["plays"] == cinema["delivered"] > 450
    assert cinema["reach"]["admissions"] == system["admissions"] > 0
    assert cinema["undelivered"] == system["drops"]
    assert cinema["failed"] == system["cancellations"] + system["bookings"]["refused"].get(
        "screening_cancelled", 0)
    assert system["bookings"]["created"] == 520  # retries after 503s booked nothing twice

    assert any("applied and approved" in line for line in said)
    engine = make_engine(f"sqlite:///{tmp_path / 'dispatcher.db'}")
    with engine.connect() as conn:
        actions = list(conn.execute(select(audit_log.c.actor, audit_log.c.action)
                                    .order_by(audit_log.c.id)))
    engine.dispose()
    assert actions[:2] == [("demo planner", "apply"), ("demo approver", "approve")]
    assert [action for _actor, action in actions[2:]] == ["plan"]
