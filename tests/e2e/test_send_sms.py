"""The real twilio client, the engine, the web app and the Twilio sandbox, over loopback.

With 5 % server errors (half of them after the message was created), 2 % timeouts (the
message created, the answer too late) and 429 bursts, every target must end delivered,
the sandbox must hold each number at most once, and the counts must equal the
sandbox's own.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from channels.base import Channel
from dispatcher import registry
from dispatcher.approval import lifecycle
from dispatcher.audience.contacts import import_contacts
from dispatcher.campaigns.versions import load_stored
from dispatcher.context import AppContext
from dispatcher.delivery.engine import DeliveryEngine
from dispatcher.delivery.policy import EngineOptions
from dispatcher.demo import contact_samples as samples
from dispatcher.demo.drive import TOKEN_VARIABLE, demo_config
from dispatcher.planning import campaign_store
from dispatcher.planning.runs import plan_firing
from dispatcher.reach.figures import campaign_reach
from dispatcher.sandbox import SANDBOX_AUTH_TOKEN, TwilioOptions, TwilioSandbox
from dispatcher.serving import BackgroundServer, free_port
from dispatcher.storage.tables import deliveries
from dispatcher.web.app import create_app

REPO = Path(__file__).resolve().parents[2]
DRIVE = REPO / "campaigns" / "pingan-ding.toml"
FAULTS = TwilioOptions(seed=11, latency_ms=2, error_rate=0.05, timeout_rate=0.02,
                       timeout_delay_s=1.5, throttle_every=300, throttle_burst=10,
                       callback_workers=16)


@dataclass
class Stack:
    app: AppContext
    sandbox: TwilioSandbox


def any_hour_drive(workdir: Path) -> Path:
    """The drive without its send window, so that these tests pass at any hour."""
    lines = DRIVE.read_text(encoding="utf-8").splitlines(keepends=True)
    path = workdir / "pingan-ding.toml"
    path.write_text("".join(line for line in lines if not line.startswith("send_window")),
                    encoding="utf-8")
    return path


@contextmanager
def stack(workdir: Path, options: TwilioOptions, contacts: int) -> Iterator[Stack]:
    """Sandbox + web app + a workspace holding the drive planned for ``contacts`` people."""
    with pytest.MonkeyPatch.context() as environ:
        environ.setenv(TOKEN_VARIABLE, SANDBOX_AUTH_TOKEN)
        sandbox = TwilioSandbox(options)
        with sandbox.serve() as api_url:
            port = free_port()
            config = demo_config(workdir, api_url, f"http://127.0.0.1:{port}", rate=5_000,
                                 timeout=0.5)
            app = AppContext(_config=config)
            channels = registry.build_channels(config.channels)
            with BackgroundServer(create_app(app.engine, config, channels), port=port):
                plan_the_drive(app, channels, workdir, any_hour_drive(workdir), contacts)
                yield Stack(app, sandbox)
            app.engine.dispose()


def plan_the_drive(app: AppContext, channels: Mapping[str, Channel], workdir: Path,
                   drive: Path, contacts: int) -> None:
    """``contacts`` sample people imported, the drive applied, approved and its first
    firing planned."""
    samples.write_csv(workdir / "contacts.csv", contacts, seed=5)
    import_contacts(app.engine, workdir / "contacts.csv", "residents", "CN")
    checked = campaign_store.check_file(app.config, app.engine, drive)
    assert checked.campaign is not None, checked.issues
    campaign_store.apply_campaign(app.engine, checked.campaign, str(drive), checked.text)
    lifecycle.approve(app.engine, "pingan-ding", "approver")
    plan_firing(app.engine, "pingan-ding", checked.campaign.schedule.start,
                channels.__getitem__)


def send(app: AppContext) -> None:
    channels = registry.build_channels(app.config.channels)
    options = EngineOptions(lease_seconds=5, backoff_base=0.05, backoff_max=0.5,
                            unknown_grace_seconds=0.2)
    DeliveryEngine(app.engine, channels, app.config.web.public_url, options).run(
        until_idle=True)


def statuses(app: AppContext, channel: str = "sms") -> dict[str, int]:
    """How many of the ``channel``'s rows are in each state."""
    from sqlalchemy import func

    query = (select(deliveries.c.status, func.count()).where(deliveries.c.channel == channel)
             .group_by(deliveries.c.status))
    with app.engine.connect() as conn:
        return dict(conn.execute(query).all())  # type: ignore[arg-type]


@pytest.mark.slow  # tens of seconds: CI runs it (scripts/test --slow)
def test_every_retryable_target_ends_delivered_once(tmp_path: Path) -> None:
    with stack(tmp_path, FAULTS, 2_000) as s:
        send(s.app)
        assert s.sandbox.wait_for_callbacks(timeout=30)
        stats = s.sandbox.stats()
        planned = statuses(s.app)
        faults = stats["faults"]
        assert faults["error_created"] > 0 and faults["timeout"] > 0 and faults["throttle"] > 0
        assert stats["duplicates"] == 0 and stats["duplicate_messages"] == 0
        assert set(planned) == {"delivered", "skipped"}
        assert planned["delivered"] == stats["created"] == stats["by_status"]["delivered"]
        campaign, _ = load_stored(s.app.engine, "pingan-ding")
        lookup = campaign_store.channel_lookup(s.app.config)
        reach = campaign_reach(s.app.engine, campaign, lookup)["channels"]["sms"]
        assert reach["reach"]["message_times"] == stats["created"]
        assert reach["delivered"] == stats["created"]
        assert reach["targets"] == sum(planned.values())


def test_undelivered_and_refused_numbers_are_accounted_for(tmp_path: Path) -> None:
    options = TwilioOptions(seed=3, undelivered_rate=0.1)
    with stack(tmp_path, options, 300) as s:
        send(s.app)
        assert s.sandbox.wait_for_callbacks(timeout=30)
        stats = s.sandbox.stats()
        planned = statuses(s.app)
        assert planned.get("undelivered", 0) == stats["by_status"]["undelivered"] > 0
        assert planned["delivered"] == stats["by_status"]["delivered"]
        assert "sending" not in planned and "planned" not in planned


