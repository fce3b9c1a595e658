"""The official Aliyun and Tencent SDKs, the engine, the web app and the platforms'
sandboxes, over loopback: the drive's SMS as an approved template, sent in batch calls,
receipts pushed to the account's token URL, lost answers looked up before any resend."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from channels.sms import SmsChannel
from dispatcher import registry
from dispatcher.config import parse_config
from dispatcher.context import AppContext
from dispatcher.delivery.callback_urls import push_url
from dispatcher.delivery.engine import DeliveryEngine
from dispatcher.delivery.policy import EngineOptions
from dispatcher.demo import domestic_sms
from dispatcher.serving import BackgroundServer, free_port
from dispatcher.storage.tables import deliveries, optouts
from dispatcher.web.app import create_app
from tests.e2e.test_send_sms import plan_the_drive, statuses

REPO = Path(__file__).resolve().parents[2]
DRIVE = REPO / "campaigns" / "pingan-ding.toml"
FAULTS = {"seed": 11, "latency_ms": 2, "error_rate": 0.05, "timeout_rate": 0.02,
          "timeout_delay_s": 1.5, "throttle_every": 40, "throttle_burst": 3}


@dataclass
class Stack:
    app: AppContext
    sandbox: domestic_sms.DomesticSandbox
    token: str


def drive_for(provider: str, workdir: Path) -> Path:
    """The drive with its SMS as the platform's template, without its send window."""
    text = domestic_sms.campaign_text(DRIVE.read_text(encoding="utf-8"), provider)
    path = workdir / "pingan-ding.toml"
    path.write_text("".join(line for line in text.splitlines(keepends=True)
                            if not line.startswith("send_window")), encoding="utf-8")
    return path


@contextmanager
def stack(workdir: Path, provider: str, faults: dict[str, Any], contacts: int,
          batch_size: int | None = None) -> Iterator[Stack]:
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    env = domestic_sms.environment(provider)
    token = env[domestic_sms.TOKEN_VARIABLE]
    with pytest.MonkeyPatch.context() as environ:
        for name, value in env.items():
            environ.setenv(name, value)
        sandbox = domestic_sms.sandbox(provider, public_url, token, faults)
        with sandbox.serve() as api_url:
            config = parse_config({
                "web": {"listen": f"127.0.0.1:{port}", "public_url": public_url},
                "channels": {"sms": domestic_sms.sms_table(provider, api_url, 5_000, 0.5,
                                                           batch_size)}})
            config = replace(config, database_url=f"sqlite:///{workdir / 'd.db'}")
            app = AppContext(_config=config)
            channels = registry.build_channels(config.channels)
            with BackgroundServer(create_app(app.engine, config, channels), port=port):
                plan_the_drive(app, channels, workdir, drive_for(provider, workdir), contacts)
                yield Stack(app, sandbox, token)
            app.engine.dispose()


def send(app: AppContext) -> None:
    channels = dict(registry.build_channels(app.config.channels))
    sms = channels["sms"]
    assert isinstance(sms, SmsChannel)
    # Tencent's lookup lists status reports: the sandbox reports within 0.05 s.
    channels["sms"] = SmsChannel(sms.settings, report_wait=timedelta(seconds=2))
    options = EngineOptions(lease_seconds=3, backoff_base=0.05, backoff_max=0.5,
                            unknown_grace_seconds=0.2, respect_send_windows=False)
    DeliveryEngine(app.engine, channels, app.config.web.public_url, options).run(
        until_idle=True)


@pytest.mark.parametrize("provider", ["aliyun", "tencent"])
def test_batches_without_faults_account_for_every_number(tmp_path: Path,
                                                         provider: str) -> None:
    with stack(tmp_path, provider, {"seed": 3}, 600, batch_size=50) as s:
        send(s.app)
        assert s.sandbox.wait_for_pushes(timeout=30)
        stats = s.sandbox.stats()
        planned = statuses(s.app)
        assert stats["duplicates"] == 0
        assert planned["delivered"] == stats["accepted"] > 0
        assert stats["calls"] <= -(-stats["accepted"] // 50) + 2  # batches, not one by one
        numbers = {str(m["phone"])[-11:] for m in s.sandbox.messages()}
        with s.app.engine.connect() as conn:
            ours = {t[-11:] for t in conn.execute(select(deliveries.c.target).where(
                deliveries.c.status == "delivered")).scalars()}
        assert ours == numbers


@pytest.mark.slow  # tens of seconds: CI runs it (scripts/test --slow)
@pytest.mark.parametrize("provider", ["aliyun", "tencent"])
def test_with_faults_every_retryable_number_ends_sent_once(tmp_path: Path,
                                                           provider: str) -> None:
    with stack(tmp_path, provider, FAULTS, 1_500, batch_size=20) as s:
        send(s.app)
        s.sandbox.wait_for_pushes(timeout=30)
        stats = s.sandbox.stats()
        planned = statuses(s.app)
        faults = stats["faults"]
        assert sum(faults.values()) > 0
        assert stats["duplicates"] == 0
        assert set(planned) <= {"sent", "delivered", "skipped"}
        assert planned.get("sent", 0) + planned.get("delivered", 0) == stats["accepted"]


@pytest.mark.parametrize("provider", ["aliyun", "tencent"])
def test_forged_and_unauthenticated_pushes_change_nothing(tmp_path: Path,
                                                          provider: str) -> None:
    with stack(tmp_path, provider, {"seed": 3}, 50) as s:
        send(s.app)
        s.sandbox.wait_for_pushes(timeout=30)
        before = statuses(s.app)
        public = s.app.config.web.public_url
        forged = [{"phone_number": "13800000001", "success": False, "err_code": "MK:0001",
                   "out_id": "r1", "biz_id": "1"}] if provider == "aliyun" else [
            {"mobile": "13800000001", "report_status": "FAIL", "errmsg": "MK:0001",
             "sid": "x"}]
        for token in ("guess", s.token[:-1], ""):
            url = push_url(public, "sms", "default", "report", token or "-")
            assert requests.post(url, json=forged, timeout=5).status_code == 403
        stop = [{"phone_number": "13800000001", "content": "T"}] if provider == "aliyun" \
            else [{"mobile": "13800000001", "text": "T"}]
        url = push_url(public, "sms", "default", "reply", "wrong")
        assert requests.post(url, json=stop, timeout=5).status_code == 403
        with s.app.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(optouts)).scalar() == 0
        good = push_url(public, "sms", "default", "report", s.token)
        assert requests.post(good, data=b"not json", timeout=5).status_code == 400
        # A replayed receipt, even saying the opposite, changes nothing: forward only.
        with s.app.engine.connect() as conn:
            target, run_id, ref = conn.execute(
                select(deliveries.c.target, deliveries.c.run_id, deliveries.c.provider_ref)
                .where(deliveries.c.status == "delivered").limit(1)).one()
        number = target[-11:]
        replay = [{"phone_number": number, "success": False, "err_code": "MK:0001",
                   "out_id": f"r{run_id}", "biz_id": "1"}] if provider == "aliyun" else [
            {"mobile": number, "report_status": "FAIL", "errmsg": "MK:0001", "sid": ref}]
        answer = requests.post(good, json=replay, timeout=5)
        assert answer.status_code == 200
        assert statuses(s.app) == before


@pytest.mark.parametrize("provider", ["aliyun", "tencent"])
def test_a_reply_of_t_opts_the_number_out(tmp_path: Path, provider: str) -> None:
    with stack(tmp_path, provider, {"seed": 3}, 20) as s:
        number = "13800000077"
        s.sandbox.reply(number, "T")
        assert s.sandbox.wait_for_pushes(timeout=30)
        with s.app.engine.connect() as conn:
            found = conn.execute(select(optouts.c.address)).scalars().all()
        assert f"+86{number}" in found
