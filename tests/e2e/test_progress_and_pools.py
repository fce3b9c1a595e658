"""Progress bars count the right unit and end at 100 %; HTTP pools fit each channel's
concurrency (no urllib3 "Connection pool is full" warnings).

The commands run in-process with click's runner: stderr is not a terminal there, so
rich prints each bar once, as it stands when it stops, at the width ``COLUMNS`` sets.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from requests.adapters import HTTPAdapter
from rich.console import Console
from rich.progress import Progress
from sqlalchemy import func, select

from channels.base import Channel
from dispatcher import registry
from dispatcher.audience.contacts import import_contacts
from dispatcher.cli.contacts import contacts as contacts_command
from dispatcher.cli.demo import Phases
from dispatcher.cli.output import progress_bar
from dispatcher.cli.run import run as run_command
from dispatcher.config import parse_config
from dispatcher.context import AppContext
from dispatcher.delivery.engine import DeliveryEngine
from dispatcher.delivery.policy import EngineOptions
from dispatcher.demo import contact_samples as samples
from dispatcher.planning.runs import plan_firing
from dispatcher.sandbox import (
    SANDBOX_ACCOUNT_SID,
    SANDBOX_AUTH_TOKEN,
    SANDBOX_PARTNER_SECRET,
    PartnerOptions,
    PartnerSandbox,
    TwilioOptions,
    TwilioSandbox,
)
from dispatcher.sandbox.partner.options import NOTICES_PATH
from dispatcher.storage.tables import deliveries
from dispatcher.testing import DRIVE_START, sms_campaign_text, store_campaign

WIDTH = {"COLUMNS": "140"}
TOKEN = "PROGRESS_TEST_TWILIO_TOKEN"
PARTNER = "PROGRESS_TEST_PARTNER_SECRET"


def bar_lines(stderr: str, description: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith(description)]


# --- contact import: contacts, not bytes; 100 % at the end -----------------------------

HEADER = "phone,area,district,name\n"
SHAPES = {
    "plain": (HEADER + "".join(f"1380000{i:04d},residential,丈八街道,王小明\n"
                               for i in range(250)), 250),
    "invalid rows skipped": (HEADER + "13800000001,,丈八街道,\nnope,,,\n13800000002,home,,\n"
                             '13800000003,,"细柳街道,\n13800000004,work,细柳街道,\n', 5),
    "blank lines, CRLF, no final newline": (
        HEADER.replace("\n", "\r\n") + "13800000001,,丈八街道,\r\n\r\n\r\n"
        "13800000002,street,鱼化寨街道,李_%-" + "长" * 300 + "\r\n13800000003,,,", 3),
    "an over-long line": (HEADER + "13800000001,,丈八街道,\n13800000002,,"
                          + "x" * 200_000 + ",\n13800000003,,,\n", 3),
    "no rows": (HEADER, 0),
}


@pytest.fixture
def app(cli_app: AppContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppContext:
    """``cli_app``, run from ``tmp_path``."""
    monkeypatch.chdir(tmp_path)
    return cli_app


@pytest.mark.parametrize("shape", list(SHAPES))
def test_contact_import_counts_contacts_and_ends_at_100(app: AppContext, tmp_path: Path,
                                                        shape: str) -> None:
    text, rows = SHAPES[shape]
    path = tmp_path / "名单_%-list.csv"
    path.write_bytes(text.encode("utf-8"))
    result = CliRunner(env=WIDTH).invoke(contacts_command, ["import", str(path), "--list",
                                                            "residents"], obj=app)
    assert "Traceback" not in result.output
    lines = bar_lines(result.stderr, "importing")
    assert len(lines) == 1, result.stderr
    final = lines[0]
    assert " 100% " in final
    assert f" {rows:,} contacts " in final
    assert not re.search(r"\d(\.\d+)?/\d+(\.\d+)? ?(bytes|kB|MB|GB)", final)  # no bytes
    assert re.search(r" 0:00:0\d ", final)  # seconds, not a clock left running


def test_generated_file_bar_ends_at_full_count(app: AppContext, tmp_path: Path) -> None:
    out = tmp_path / "sample.csv"
    result = CliRunner(env=WIDTH).invoke(contacts_command, [
        "generate", "--count", "12345", "--out", str(out)], obj=app)
    assert result.exit_code == 0, result.output
    (final,) = bar_lines(result.stderr, "writing")
    assert "12345/12345 100%" in final


# --- the demo's steps: each clock stops when the step ends ---------------------------


def clocked_bar() -> tuple[Progress, list[float], io.StringIO]:
    """The CLI's bar on a clock the test moves (``now[0]``), printing into ``out``."""
    now = [0.0]
    out = io.StringIO()
    bar = Progress(*progress_bar("x").columns, console=Console(file=out, width=140),
                   get_time=lambda: now[0])
    return bar, now, out


def test_demo_steps_stop_their_clocks_and_end_at_100() -> None:
    bar, now, out = clocked_bar()
    with bar:
        phases = Phases(bar)
        advance = phases.start("importing contacts", 3000)
        now[0] = 2.0
        advance(3000)
        advance = phases.start("planning", None)  # total unknown
        now[0] = 5.0
        advance(1234)
        advance = phases.start("sending", 1234)
        now[0] = 9.0
        advance(1000)
        advance(-1)  # a lookup takes one back
        advance(235)
        now[0] = 300.0  # the demo goes on with screens and cinemas
        phases.finish()
    text = out.getvalue()
    (importing,) = bar_lines(text, "importing contacts")
    (planning,) = bar_lines(text, "planning")
    (sending,) = bar_lines(text, "sending")
    assert "3000/3000 100% 0:00:02" in importing
    assert "1234/1234 100% 0:00:03" in planning
    assert "1234/1234 100% 0:00:04" in sending


def test_a_step_short_of_its_total_does_not_claim_100() -> None:
    bar, now, out = clocked_bar()
    with bar:
        phases = Phases(bar)
        advance = phases.start("sending", 10)
        advance(10)
        advance(-2)  # two rows to be sent again
        now[0] = 4.0
        phases.finish()
        now[0] = 60.0
    (sending,) = bar_lines(out.getvalue(), "sending")
    assert "8/10  80% 0:00:04" in sending


# --- sandboxes: `run --until-idle` bars; pools at concurrency 32 ---------------------


def config_text(db: Path, twilio_url: str, partner_url: str | None, concurrency: int) -> str:
    text = (f'[database]\nurl = "sqlite:///{db}"\n'
            '[web]\npublic_url = "http://127.0.0.1:9"\n'
            '[channels.sms]\nprovider = "twilio"\n'
            f'account_sid = "{SANDBOX_ACCOUNT_SID}"\nauth_token = "env:{TOKEN}"\n'
            f'from = "+15005550006"\napi_base = "{twilio_url}"\n'
            f"rate = 20000\nconcurrency = {concurrency}\ntimeout = 5\n"
            "status_callback = false\n")
    if partner_url is not None:
        text += (f"[channels.webhook]\nconcurrency = {concurrency}\ntimeout = 5\n"
                 "[channels.webhook.endpoints.parcel]\n"
                 f'url = "{partner_url}{NOTICES_PATH}"\nsecret = "env:{PARTNER}"\n'
                 "rate = 20000\n")
    return text


WEBHOOK_PLACEMENT = """
[[placements]]
channel = "webhook"
endpoint = "parcel"
audience = { lists = ["residents"] }
message = "【平安高新】扫黑除恶，人人有责。"
"""


@contextmanager
def workspace(tmp_path: Path, contacts: int, concurrency: int, webhook: bool,
              twilio: TwilioOptions) -> Iterator[tuple[AppContext, TwilioSandbox]]:
    """Both sandboxes on loopback and a campaign planned for ``contacts`` people."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(TOKEN, SANDBOX_AUTH_TOKEN)
        mp.setenv(PARTNER, SANDBOX_PARTNER_SECRET)
        sandbox = TwilioSandbox(twilio)
        partner = PartnerSandbox(PartnerOptions(latency_ms=20, ack_delay_s=3600))
        with sandbox.serve() as twilio_url, partner.serve() as partner_url:
            config = tmp_path / "config.toml"
            config.write_text(config_text(tmp_path / "d.db", twilio_url,
                                          partner_url if webhook else None, concurrency),
                              encoding="utf-8")
            app = AppContext(config_path=str(config))
            samples.write_csv(tmp_path / "c.csv", contacts, seed=3, mix=samples.SampleMix(
                invalid_rate=0, landline_rate=0, repeat_rate=0))
            import_contacts(app.engine, tmp_path / "c.csv", "residents", "CN")
            text = sms_campaign_text("pingan-ding-2019") + (WEBHOOK_PLACEMENT if webhook else "")
            store_campaign(app.engine, text)
            yield app, sandbox
            app.engine.dispose()


def channels_of(app: AppContext) -> dict[str, Channel]:
    return registry.build_channels(app.config.channels)


@pytest.mark.slow  # tens of seconds: CI runs it (scripts/test --slow)
def test_run_until_idle_bars_end_at_100(tmp_path: Path) -> None:
    faults = TwilioOptions(seed=5, latency_ms=2, error_rate=0.05, timeout_rate=0.02,
                           timeout_delay_s=6, throttle_every=100, throttle_burst=5)
    with workspace(tmp_path, 300, 8, webhook=False, twilio=faults) as (app, _sandbox):
        result = CliRunner(env=WIDTH).invoke(run_command, [
            "--until-idle", "--lease", "2", "--skip-grace", "604800"], obj=app)
        assert result.exit_code == 0, result.output
        with app.engine.connect() as conn:
            rows = conn.execute(select(func.count()).select_from(deliveries)
                                .where(deliveries.c.status != "skipped")).scalar_one()
    (planning,) = bar_lines(result.stderr, "planning")
    (sending,) = bar_lines(result.stderr, "sending")
    assert re.search(r" (\d+)/\1 100% ", planning), planning
    assert f" {rows}/{rows} 100% " in sending, result.stderr


def pool_full(records: list[logging.LogRecord]) -> list[str]:
    return [r.getMessage() for r in records if "Connection pool is full" in r.getMessage()]


def test_no_pool_is_full_at_concurrency_32(tmp_path: Path,
                                           caplog: pytest.LogCaptureFixture) -> None:
    """SMS and partner notices, 32 at once each: the engine's threads (64) may all call
    one provider; none of their connections is thrown away."""
    caplog.set_level(logging.DEBUG, logger="urllib3.connectionpool")
    with workspace(tmp_path, 800, 32, webhook=True,
                   twilio=TwilioOptions(seed=1, latency_ms=20)) as (app, sandbox):
        channels = channels_of(app)
        planned = plan_firing(app.engine, "pingan-ding-2019", DRIVE_START, channels.__getitem__)
        DeliveryEngine(app.engine, channels, app.config.web.public_url,
                       EngineOptions(backoff_max=0.5)).run(until_idle=True)
        assert sandbox.stats()["created"] == 800
        assert sum(planned.rows.values()) == 1600
    opened = [r for r in caplog.records if "Starting new HTTP connection" in r.getMessage()]
    assert opened  # the log was captured
    assert pool_full(caplog.records) == []


@pytest.mark.parametrize("concurrency", [1, 4, 32, 100])
def test_every_channel_session_is_sized_to_its_concurrency(
        concurrency: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN, SANDBOX_AUTH_TOKEN)
    monkeypatch.setenv(PARTNER, SANDBOX_PARTNER_SECRET)
    monkeypatch.setenv("PROGRESS_TEST_SECRET", "s" * 32)
    tables: dict[str, dict[str, Any]] = {
        "sms": {"provider": "twilio", "account_sid": SANDBOX_ACCOUNT_SID,
                "auth_token": f"env:{TOKEN}", "from": "+15005550006",
                "api_base": "http://127.0.0.1:9", "concurrency": concurrency},
        "webhook": {"concurrency": concurrency, "endpoints": {"a": {
            "url": "http://127.0.0.1:9/n", "secret": f"env:{PARTNER}"}}},
        "led": {"token_secret": "env:PROGRESS_TEST_SECRET", "concurrency": concurrency},
        "cinema": {"token_secret": "env:PROGRESS_TEST_SECRET", "concurrency": concurrency,
                   "systems": {"cms": "http://127.0.0.1:9"}},
        "wechat": {"appid": "wx0123456789abcdef", "secret": "env:PROGRESS_TEST_SECRET",
                   "token": "env:PROGRESS_TEST_SECRET", "account_type": "service",
                   "api_base": "http://127.0.0.1:9", "concurrency": concurrency},
    }
    channels: dict[str, Any] = registry.build_channels(
        parse_config({"channels": tables}).channels)
    sessions = {"sms": channels["sms"].twilio().http.session,
                "webhook": channels["webhook"].client().session,
                "led": channels["led"]._http, "cinema": channels["cinema"]._http,
                "wechat": channels["wechat"].account().client._http}
    for name, session in sessions.items():
        adapter = session.get_adapter("https://api.weixin.qq.com/cgi-bin/token"
                                      if name == "wechat" else "http://127.0.0.1:9/x")
        assert isinstance(adapter, HTTPAdapter)
        pool = adapter.poolmanager.connection_pool_kw
        assert (name, pool["maxsize"], pool["block"]) == (name, concurrency, True)
