"""The offline demo: the Ping An Ding drive sent through the real twilio and wechatpy
clients to the Twilio and WeChat sandboxes, with receipts and events through the web app,
in a temporary SQLite workspace.

Everything runs in this process on free loopback ports: the sandboxes (with seeded 5xx,
timeouts, 429 bursts and undelivered messages; token expiry on WeChat), the web app
receiving the signed status callbacks and WeChat events, and the engine. Nothing outside
the workspace is touched.
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from dispatcher import registry
from dispatcher.approval import lifecycle
from dispatcher.audience.contacts import import_contacts
from dispatcher.campaigns.versions import load_stored
from dispatcher.config import Config, parse_config
from dispatcher.context import AppContext
from dispatcher.delivery import claims
from dispatcher.delivery.engine import DeliveryEngine
from dispatcher.delivery.policy import EngineOptions, EngineReport
from dispatcher.demo import contact_samples as samples
from dispatcher.demo import domestic_sms
from dispatcher.demo.cinema import (
    DAYS,
    DRIVE_CINEMAS,
    cinema_system,
    cinema_table,
    import_sample_cinemas,
    wait_for_the_plays,
)
from dispatcher.demo.led import DRIVE_SCREENS, import_sample_screens, led_table, play_the_first_day
from dispatcher.errors import DispatcherError
from dispatcher.planning import campaign_store
from dispatcher.planning.runs import plan_firing
from dispatcher.reach.figures import campaign_reach
from dispatcher.reach.manual import record as record_manual
from dispatcher.reach.polling import poll_reach
from dispatcher.reports.writer import write_report
from dispatcher.sandbox import (
    SANDBOX_ACCOUNT_SID,
    SANDBOX_AES_KEY,
    SANDBOX_APPID,
    SANDBOX_APPSECRET,
    SANDBOX_PARTNER_SECRET,
    SANDBOX_TOKEN,
    PartnerOptions,
    PartnerSandbox,
    TwilioOptions,
    TwilioSandbox,
    WeChatOptions,
    WeChatSandbox,
)
from dispatcher.sandbox.partner.options import NOTICES_PATH
from dispatcher.serving import BackgroundServer, free_port

TOKEN_VARIABLE = "DISPATCHER_DEMO_TWILIO_AUTH_TOKEN"  # the sandbox's, set for this process
WECHAT_SECRETS = {"DISPATCHER_DEMO_WECHAT_SECRET": SANDBOX_APPSECRET,
                  "DISPATCHER_DEMO_WECHAT_TOKEN": SANDBOX_TOKEN,
                  "DISPATCHER_DEMO_WECHAT_AES_KEY": SANDBOX_AES_KEY}
PARTNER_SECRET = "DISPATCHER_DEMO_PARTNER_SECRET"
STATS_DAYS = 7  # the WeChat sandbox's clock moves on this far before reads are polled


DRIVE_FILE = "pingan-ding.toml"


def drive_file() -> Path:
    """The drive's campaign file, found from any working directory: in a source checkout
    ``campaigns/`` beside the package; in an installed wheel the copy the build put in
    ``dispatcher/demo/campaigns/`` (see setup.py)."""
    demo_package = Path(__file__).resolve().parent
    checkout = demo_package.parents[1] / "campaigns" / DRIVE_FILE
    return checkout if checkout.is_file() else demo_package / "campaigns" / DRIVE_FILE


@dataclass(frozen=True)
class DemoSettings:
    campaign_file: Path = field(default_factory=drive_file)
    scale: int = 5_000
    seed: int = 2019
    rate: float = 250.0  # segments per second for the sandbox account
    latency_ms: float = 20.0
    error_rate: float = 0.02
    timeout_rate: float = 0.005
    throttle_every: int = 1_000
    throttle_burst: int = 5
    undelivered_rate: float = 0.03
    wechat_followers: int = 10_000
    screens: int = DRIVE_SCREENS
    workdir: Path | None = None
    sms_provider: str = "twilio"  # or "aliyun", "tencent": their sandboxes, in batches


@dataclass
class DemoResult:
    workdir: Path
    reach: dict[str, Any]
    engine: EngineReport
    sandbox: dict[str, Any]
    wechat: dict[str, Any]
    led: dict[str, Any]
    cinema: dict[str, Any]
    partner: dict[str, Any]


Step = Callable[[str], None]
# progress(description, total or None) -> advance(n): a progress bar that moves by n.
Progress = Callable[[str, int | None], Callable[[int], None]]


def run_demo(settings: DemoSettings, say: Step, progress: Progress) -> DemoResult:
    """Run the drive end to end; ``say`` prints a line, ``progress`` makes a bar."""
    if not settings.campaign_file.is_file():
        raise DispatcherError(f"{settings.campaign_file} not found; pass the drive's campaign "
                              "file with --campaign FILE")
    workdir = settings.workdir or Path(tempfile.mkdtemp(prefix="dispatcher-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    port, led_port, cinema_port = free_port(), free_port(), free_port()
    sandbox, settings = _sms_sandbox(settings, workdir, f"http://127.0.0.1:{port}")
    wechat = WeChatSandbox(_wechat_options(settings, port))
    partner = PartnerSandbox(PartnerOptions(seed=settings.seed, error_rate=0.02,
                                            throttle_every=500, throttle_burst=3))
    with sandbox.serve() as api_url, wechat.serve() as wechat_url, \
            partner.serve() as partner_url, \
            _web_app(workdir, api_url, wechat_url, port, settings.rate,
                     f"http://127.0.0.1:{cinema_port}", partner_url,
                     _sms_table(settings, api_url)) as app:
        say(f"workspace {workdir}; {settings.sms_provider} SMS sandbox {api_url}; WeChat "
            f"sandbox {wechat_url}; web app {app.config.web.public_url}")
        screens = import_sample_screens(app.engine, workdir, settings.screens, settings.seed,
                                        led_port, app.config.timezone)
        say(f"screens: {len(screens)} imported (every tenth takes pushed playlists)")
        first = drive_start(settings.campaign_file, app.config.timezone)
        films = import_sample_cinemas(app.engine, workdir, first.date(), DRIVE_CINEMAS,
                                      settings.seed, app.config.timezone)
        say(f"cinemas: {len(films.cinemas)} with {len(films.showtimes):,} screenings over "
            f"{DAYS} days imported")
        _load(app, settings, workdir, say, progress)
        channels = registry.build_channels(app.config.channels)
        system = cinema_system(films, channels["cinema"], app.config.web.public_url, first,
                               settings.seed)
        system.start(port=cinema_port)
        try:
            report = _send(app, say, progress)
            cinema = wait_for_the_plays(app.engine, system, say)
        finally:
            system.stop()
        say("waiting for the last delivery receipts and WeChat events")
        _wait_for_receipts(sandbox)
        wechat.wait_for_events(timeout=60)
        partner.wait_for_acks(timeout=60)
        _poll_reads(app, wechat, say)
        campaign, _version = load_stored(app.engine, "pingan-ding")
        led = play_the_first_day(app.engine, channels["led"], screens,
                                 app.config.web.public_url, led_port, campaign.schedule,
                                 settings.seed, say)
        _record_print(app, say)
        reach = campaign_reach(app.engine, campaign, campaign_store.channel_lookup(app.config))
        # In the config's language ([web] locale: Simplified Chinese unless set otherwise).
        written = write_report(app.engine, app.config, "pingan-ding", workdir / "report")
        say(f"report of the whole drive: {written.directory / 'report.html'}")
        say(f"summary: {written.summary}")
        return DemoResult(workdir, reach, report, sandbox.stats(), wechat.stats(), led,
                          cinema, partner.stats())


# The drive's print run, as the office reported it (DESIGN.md "Who uses it"), entered by
# the office's clerk (the report names who entered each figure).
PRINT = (("posters", 60_000), ("notice_sets", 1_300), ("boards", 700), ("brochures", 20_000))
CLERK = "宣传部 李娜"


def _record_print(app: AppContext, say: Step) -> None:
    for metric, value in PRINT:
        record_manual(app.engine, "pingan-ding", "print", metric, value, CLERK,
                      note="印刷厂核定的本次宣传印刷品数量")
    say("print: posters, notice sets, boards and brochures entered by hand")


def drive_start(campaign_file: Path, timezone: str) -> datetime:
    """The drive's first firing, read from its file (the cinemas' month starts then)."""
    start = tomllib.loads(campaign_file.read_text(encoding="utf-8"))["schedule"]["start"]
    if not isinstance(start, datetime):
        raise DispatcherError(f"{campaign_file}: schedule.start is not a date-time")
    return start if start.tzinfo else start.replace(tzinfo=ZoneInfo(timezone))


def _poll_reads(app: AppContext, wechat: WeChatSandbox, say: Step) -> None:
    """WeChat reports an article's reads only for days that are over: move the sandbox's
    clock on, then ask, as `dispatcher run` does every hour."""
    wechat.advance_days(STATS_DAYS)
    channels = registry.build_channels(app.config.channels)
    polled = poll_reach(app.engine, channels, "pingan-ding")
    say(f"WeChat sandbox clock moved {STATS_DAYS} days on; article statistics polled: "
        f"{polled.stored.get('wechat', 0)} daily figures stored")


def _wechat_options(settings: DemoSettings, port: int) -> WeChatOptions:
    from dispatcher.delivery import callback_urls as urls

    return WeChatOptions(seed=settings.seed, followers=settings.wechat_followers,
                         token_expiry_every=2, event_delay_s=0.5, encrypt=True,
                         callback_url=urls.events_url(f"http://127.0.0.1:{port}", "wechat"))


SmsSandbox = TwilioSandbox | domestic_sms.DomesticSandbox


def _sms_sandbox(settings: DemoSettings, workdir: Path, public_url: str
                 ) -> tuple[SmsSandbox, DemoSettings]:
    """The SMS provider's sandbox, and the settings with the campaign file it sends (for a
    domestic platform, the drive's SMS as that platform's approved template)."""
    provider = settings.sms_provider
    if provider == "twilio":
        return TwilioSandbox(_sandbox_options(settings)), settings
    environment = domestic_sms.environment(provider)
    os.environ.update(environment)
    faults = {"seed": settings.seed, "latency_ms": settings.latency_ms,
              "error_rate": settings.error_rate, "timeout_rate": settings.timeout_rate,
              "timeout_delay_s": 3.0, "throttle_every": 50, "throttle_burst": 2,
              "undelivered_rate": settings.undelivered_rate}
    box = domestic_sms.sandbox(provider, public_url,
                               environment[domestic_sms.TOKEN_VARIABLE], faults)
    campaign = workdir / settings.campaign_file.name
    campaign.write_text(domestic_sms.campaign_text(
        settings.campaign_file.read_text(encoding="utf-8"), provider), encoding="utf-8")
    return box, replace(settings, campaign_file=campaign)


def _sms_table(settings: DemoSettings, api_url: str) -> dict[str, Any] | None:
    if settings.sms_provider == "twilio":
        return None  # demo_config's Twilio account
    return domestic_sms.sms_table(settings.sms_provider, api_url, settings.rate, 2.0)


def _wait_for_receipts(sandbox: SmsSandbox) -> None:
    if isinstance(sandbox, TwilioSandbox):
        sandbox.wait_for_callbacks(timeout=60)
    else:
        sandbox.wait_for_pushes(timeout=60)


def _sandbox_options(settings: DemoSettings) -> TwilioOptions:
    return TwilioOptions(seed=settings.seed, latency_ms=settings.latency_ms,
                         error_rate=settings.error_rate, timeout_rate=settings.timeout_rate,
                         timeout_delay_s=3.0, throttle_every=settings.throttle_every,
                         throttle_burst=settings.throttle_burst,
                         undelivered_rate=settings.undelivered_rate, callback_workers=32)


def demo_config(workdir: Path, api_url: str, public_url: str, rate: float,
                timeout: float = 2.0, status_callback: bool = True,
                wechat_url: str | None = None, cinema_url: str | None = None,
                partner_url: str | None = None, sms: dict[str, Any] | None = None) -> Config:
    """The deployment of the demo: the sandbox accounts, SQLite in the workspace (WeChat
    only with ``wechat_url``; ``sms`` instead of the Twilio sandbox's account)."""
    channels: dict[str, Any] = {"sms": sms or {
        "provider": "twilio", "account_sid": SANDBOX_ACCOUNT_SID,
        "auth_token": f"env:{TOKEN_VARIABLE}", "from": "+15005550006",
        "api_base": api_url, "rate": rate, "concurrency": 16, "timeout": timeout,
        "status_callback": status_callback}}
    if cinema_url is not None:
        channels["cinema"] = cinema_table(cinema_url)
    if partner_url is not None:
        channels["webhook"] = {"endpoints": {"parcel": {
            "url": f"{partner_url}{NOTICES_PATH}", "secret": f"env:{PARTNER_SECRET}",
            "rate": 200}}, "concurrency": 8}
    if wechat_url is not None:
        channels["led"] = led_table()
        channels["wechat"] = {
            "appid": SANDBOX_APPID, "secret": "env:DISPATCHER_DEMO_WECHAT_SECRET",
            "token": "env:DISPATCHER_DEMO_WECHAT_TOKEN", "account_type": "service",
            # Safe mode, as a real account should run: events encrypted and signed.
            "encoding_aes_key": "env:DISPATCHER_DEMO_WECHAT_AES_KEY",
            "api_base": wechat_url, "timeout": timeout}
    config = parse_config({
        "web": {"listen": public_url.removeprefix("http://"), "public_url": public_url},
        "channels": channels})
    return replace(config, database_url=f"sqlite:///{workdir / 'dispatcher.db'}")


@contextmanager
def _web_app(workdir: Path, api_url: str, wechat_url: str, port: int,
             rate: float, cinema_url: str, partner_url: str,
             sms: dict[str, Any] | None = None) -> Iterator[AppContext]:
    from dispatcher.sandbox import SANDBOX_AUTH_TOKEN
    from dispatcher.web.app import create_app

    os.environ[TOKEN_VARIABLE] = SANDBOX_AUTH_TOKEN
    os.environ.update(WECHAT_SECRETS)
    os.environ[PARTNER_SECRET] = SANDBOX_PARTNER_SECRET
    config = demo_config(workdir, api_url, f"http://127.0.0.1:{port}", rate,
                         wechat_url=wechat_url, cinema_url=cinema_url,
                         partner_url=partner_url, sms=sms)
    app = AppContext(_config=config)
    channels = registry.build_channels(config.channels)
    with BackgroundServer(create_app(app.engine, config, channels), port=port):
        yield app
    app.engine.dispose()


def _load(app: AppContext, settings: DemoSettings, workdir: Path, say: Step,
          progress: Progress) -> None:
    csv_path = workdir / "contacts.csv"
    written = samples.write_csv(csv_path, settings.scale, settings.seed)
    advance = progress("importing contacts", written)  # counted in rows, not bytes
    read = [0]

    def step(_bytes_read: int, rows: int) -> None:
        advance(rows - read[0])
        read[0] = rows

    report = import_contacts(app.engine, csv_path, "residents", app.config.default_region,
                             progress=step)
    say(f"contacts: {report.imported:,} imported, {report.invalid:,} invalid rows skipped")
    checked = campaign_store.check_file(app.config, app.engine, settings.campaign_file)
    if checked.campaign is None:
        raise DispatcherError("\n".join(map(str, checked.issues)))
    applied = campaign_store.apply_campaign(app.engine, checked.campaign,
                                            str(settings.campaign_file), checked.text,
                                            actor="demo planner")
    lifecycle.approve(app.engine, applied.campaign_id, "demo approver")
    say(f"campaign {applied.campaign_id} version {applied.version} applied and approved")


def _send(app: AppContext, say: Step, progress: Progress) -> EngineReport:
    channels = registry.build_channels(app.config.channels)
    campaign, _version = load_stored(app.engine, "pingan-ding")
    first = campaign.schedule.start
    # The drive's schedule ended in 2019: the scheduler would record it missed, so the
    # demo replays its first firing by hand, as `dispatcher campaign plan --at` does.
    say(f"replaying the drive's firing of {first:%Y-%m-%d %H:%M} {campaign.timezone} "
        "(its schedule is over)")
    planned = plan_firing(app.engine, campaign.id, first, channels.__getitem__,
                          progress=progress("planning", None))
    say(f"planned {sum(planned.rows.values()):,} delivery rows")
    # Cinema bookings first, while every booked screening is still ahead on the cinema
    # system's clock; the engine sends the other channels' rows next.
    DeliveryEngine(app.engine, {"cinema": channels["cinema"]}, app.config.web.public_url,
                   EngineOptions(backoff_max=2.0, respect_send_windows=False)).run(
        until_idle=True)
    say("cinema: spots booked with the cinemas' system")
    # The demo must run at any hour: it sends outside the drive's send window, and says so.
    say("the demo ignores the campaign's send_window so that it runs at any hour")
    engine = DeliveryEngine(app.engine, channels, app.config.web.public_url,
                            EngineOptions(lease_seconds=30.0, backoff_max=5.0,
                                          respect_send_windows=False))
    pending = _open_rows(app)  # the cinema's rows are done already
    advance, advanced = progress("sending", pending), [0]

    def step(n: int) -> None:
        advanced[0] += n
        advance(n)

    report = engine.run(until_idle=True, progress=step)
    advance(pending - _open_rows(app) - advanced[0])  # the bar ends where the rows are
    return report


def _open_rows(app: AppContext) -> int:
    with app.engine.connect() as conn:
        return claims.count_open(conn)
