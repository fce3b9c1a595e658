"""``dispatcher demo``: the Ping An Ding drive, offline, end to end."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click
from rich.progress import Progress, TaskID

from dispatcher.cli.output import finish_task, output_folder, progress_bar
from dispatcher.cli.params import FloatRange
from dispatcher.cli.reach import print_reach
from dispatcher.demo.drive import DemoSettings, drive_file, run_demo

MAX_SCALE = 10_000_000  # three times the real drive's 3.2 million
MAX_RATE = 100_000.0


@click.command()
@click.option("--scale", default=DemoSettings.scale, show_default=True,
              type=click.IntRange(min=1, max=MAX_SCALE),
              help="Sample contacts to generate and send to.")
@click.option("--seed", default=DemoSettings.seed, show_default=True,
              help="Seed of the contacts and of the sandbox's faults.")
@click.option("--rate", default=DemoSettings.rate, show_default=True,
              type=FloatRange(min=0.1, max=MAX_RATE), help="Segments per second for the account.")
@click.option("--campaign", "campaign_file", default=None,
              type=click.Path(dir_okay=False, path_type=Path),
              help="The drive's campaign file.  [default: campaigns/pingan-ding.toml, as "
                   "shipped with the dispatcher]")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path),
              help="Keep the workspace (database, contacts) here instead of a temporary "
                   "folder.")
@click.option("--sms-provider", type=click.Choice(["twilio", "aliyun", "tencent"]),
              default="twilio", show_default=True,
              help="Send the SMS through this platform's sandbox: Twilio one message per "
                   "call, Aliyun or Tencent Cloud the drive's approved template in batch "
                   "calls (--rate is then API calls per second).")
def demo(scale: int, seed: int, rate: float, campaign_file: Path | None,
         workdir: Path | None, sms_provider: str) -> None:
    """Send the drive through the sandboxes (SMS, WeChat, LED screens), then show reach.

    Starts the Twilio sandbox (with seeded 5xx errors, timeouts, 429 bursts and
    undelivered messages), the WeChat sandbox (10,000 followers, token expiry), 530
    simulated LED controllers, 12 cinemas' booking system and the web app on free
    loopback ports, makes a SQLite workspace, generates contacts, screens, cinemas and
    a month of screenings, applies and approves campaigns/pingan-ding.toml, books its
    pre-show spots, sends its SMS and its WeChat letter with receipts and events, polls
    the letter's reads, plays the screens' first day and the booked screenings on fast
    clocks with proof of play and play logs, and prints the reach table. No
    credentials, no network.
    """
    settings = DemoSettings(campaign_file=campaign_file or drive_file(), scale=scale,
                            seed=seed, rate=rate, sms_provider=sms_provider,
                            workdir=output_folder(workdir, "--workdir") if workdir else None)
    with progress_bar("demo") as bar:
        phases = Phases(bar)
        result = run_demo(settings, say=bar.console.print, progress=phases.start)
        phases.finish()
    print_reach(result.reach)
    sms = result.reach["channels"]["sms"]
    stats = result.sandbox
    carried = sms["sent"] + sms["delivered"] + sms["undelivered"]
    accepted = stats["created"] if sms_provider == "twilio" else stats["accepted"]
    calls = "" if sms_provider == "twilio" else f" in {stats['calls']:,} API calls"
    click.echo(f"{sms_provider} sandbox: accepted {accepted:,} messages{calls} "
               f"({stats['duplicates']} sent twice); the dispatcher counts {carried:,} "
               f"handed to the carrier; faults injected {stats['faults']}")
    engine = result.engine
    by_receipt = engine.unknown - engine.reconciled_found - engine.reconciled_missing
    click.echo(f"engine: {engine.retried} retries; {engine.unknown} sends of unknown outcome "
               f"(5xx, timeouts): {engine.reconciled_found} found by lookup, "
               f"{engine.reconciled_missing} never reached the provider and were sent again, "
               f"{max(by_receipt, 0)} settled by their receipt first")
    wechat = result.wechat
    click.echo(f"wechat sandbox: {wechat['jobs']} broadcast(s), SentCount {wechat['sent']:,}"
               f" of {wechat['recipients']:,} followers addressed; "
               f"{wechat['tokens']['forced_expiries']} token expiries survived")
    led = result.led
    click.echo(f"led fleet: {led['screens']['total']} screens, {led['plays']['total']:,} "
               f"plays, {led['records']['acknowledged']:,} proof-of-play records "
               f"acknowledged, {led['batches']['replayed']} batches replayed, "
               f"{led['offline_periods']} offline periods")
    cinema = result.cinema
    click.echo(f"cinema system: {cinema['bookings']['created']:,} bookings, "
               f"{cinema['plays']:,} played, {cinema['drops']} dropped, "
               f"{cinema['cancellations']} cancelled; admissions {cinema['admissions']:,}")
    partner = result.partner
    click.echo(f"partner app: {partner['accepted']:,} notices accepted, "
               f"{partner['duplicates']} repeats answered as duplicates")
    click.echo(f"report: {result.workdir / 'report' / 'report.html'}")
    click.echo(f"workspace: {result.workdir}")


class Phases:
    """The demo's steps as bars of one display, one after the other: a step ends when the
    next starts (its clock stops there, and a step whose total was not known shows what
    it did as 100 %), the last one when the demo ends."""

    def __init__(self, bar: Progress) -> None:
        self.bar = bar
        self.current: TaskID | None = None

    def start(self, description: str, total: int | None) -> Callable[[int], None]:
        self.finish()
        task = self.current = self.bar.add_task(description, total=total)
        return lambda n: self.bar.advance(task, n)

    def finish(self) -> None:
        if self.current is not None:
            finish_task(self.bar, self.current)
            self.current = None


COMMANDS = [demo]
