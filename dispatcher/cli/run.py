"""``dispatcher run`` (plan what is due and send) and ``dispatcher retry``."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Mapping
from datetime import timedelta
from types import FrameType

import click
from sqlalchemy import Engine

from channels.base import Channel
from dispatcher import registry
from dispatcher.approval.lifecycle import default_actor
from dispatcher.cli.output import finish_task, print_json, progress_bar, show_service_logs
from dispatcher.cli.params import FloatRange
from dispatcher.cli.worker import attempts_option, feed_workers, lease_option
from dispatcher.context import AppContext
from dispatcher.delivery import claims
from dispatcher.delivery.engine import DeliveryEngine
from dispatcher.delivery.policy import EngineOptions
from dispatcher.planning import runs
from dispatcher.planning.planner import PlanResult
from dispatcher.scheduling import scheduler
from dispatcher.venues.led_feeds import PlaylistPusher

MAX_SKIP_GRACE_SECONDS = 7 * 86_400.0  # a firing a week late is missed, not sent


@click.command("run")
@click.option("--until-idle", is_flag=True,
              help="Exit 0 once nothing is left to send now (retries and expired leases "
                   "due soon are waited for).")
@lease_option
@attempts_option
@click.option("--skip-grace", type=FloatRange(min=0, max=MAX_SKIP_GRACE_SECONDS),
              default=300.0, show_default=True,
              help="With --until-idle: seconds a misfire = \"skip\" firing may be late and "
                   "still be sent; a later one is recorded as missed.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_obj
def run(app: AppContext, until_idle: bool, lease_seconds: float, max_attempts: int,
        skip_grace: float, as_json: bool) -> None:
    """Send campaigns: the scheduler fires them, the engine sends their rows.

    Plain `dispatcher run` keeps going until interrupted (Ctrl-C or SIGTERM finish the
    sends in flight and stop). It runs the scheduler too when this process is the leader
    (one scheduler across processes; another process takes over if it dies), which fires
    each approved campaign at its times with its misfire policy.

    With --until-idle it plans the latest due firing of every approved campaign once
    (following each campaign's misfire policy), sends until nothing is left to send now,
    and exits 0 (no scheduler): run it from cron or a timer every minute or so.

    With executor = "celery" in config.toml this process sends nothing itself: it
    queues small tasks (a run, a channel, an id range) for `dispatcher worker`
    processes, from the scheduler's leader only; --lease and --max-attempts are then
    the workers' options.
    """
    channels = registry.build_channels(app.config.channels, app.config.source)
    planned: list[PlanResult] = []
    if until_idle:
        with progress_bar("planning") as bar:
            task = bar.add_task("planning due runs", total=None)
            planned = runs.plan_due(app.engine, channels.__getitem__,
                                    progress=lambda n: bar.advance(task, n),
                                    cap=app.config.frequency_cap,
                                    grace=timedelta(seconds=skip_grace))
            finish_task(bar, task)
    else:
        show_service_logs()
        leader = scheduler.start_scheduler(app.engine, app.config.database_url,
                                           channel_for=channels.__getitem__,
                                           cap=app.config.frequency_cap,
                                           reach_channels=channels)
        click.echo("scheduler: " + ("running (this process leads)" if leader else
                                    "standing by (another process leads)"), err=True)
    options = EngineOptions(lease_seconds=lease_seconds, max_attempts=max_attempts)
    pusher = PlaylistPusher(app.engine, channels, app.config.web.public_url)
    if not until_idle:
        pusher.start()
    try:
        if app.config.executor == "celery":
            summary = _feed(app, channels, until_idle)
        else:
            summary = _send(app, channels, options, until_idle)
        if until_idle:
            pusher.push_once()  # push controllers get what was just published
    finally:
        pusher.close()
        scheduler.stop()
    shown: dict[str, object] = {"runs_planned": [r.run_id for r in planned if r.created],
                                **summary}
    if as_json:
        print_json(shown)
    else:
        click.echo(", ".join(f"{k.replace('_', ' ')} {v}" for k, v in shown.items()))


def _send(app: AppContext, channels: Mapping[str, Channel], options: EngineOptions,
          until_idle: bool) -> dict[str, int]:
    """The local executor: this process's engine sends."""
    engine = DeliveryEngine(app.engine, channels, app.config.web.public_url, options)
    if engine.not_ready:
        click.echo("not sending on " + ", ".join(engine.not_ready) + ": no [channels.NAME] "
                   "table in the config; their rows wait", err=True)
    _stop_on_signals(engine.stop)
    with progress_bar("sending") as bar:
        total = None
        if until_idle:  # plain `run` sends what the scheduler fires later: no total
            total = _open_rows(app)
        task = bar.add_task("sending", total=total)
        report = engine.run(until_idle=until_idle, progress=lambda n: bar.advance(task, n))
        # Rows skipped or cancelled meanwhile are done too: the database says what is left.
        finish_task(bar, task, None if total is None else max(total - _open_rows(app), 0))
    return {"sent": report.sent, "failed": report.failed, "retried": report.retried,
            "unknown_outcomes": report.unknown, "reconciled_found": report.reconciled_found,
            "reconciled_missing": report.reconciled_missing}


def _open_rows(app: AppContext) -> int:
    with app.engine.connect() as conn:
        return claims.count_open(conn)


def _feed(app: AppContext, channels: Mapping[str, Channel], until_idle: bool
          ) -> dict[str, int]:
    """The Celery executor: `dispatcher worker` processes send what this one queues."""
    stop = threading.Event()
    _stop_on_signals(stop)
    click.echo(f"executor: celery; queueing tasks on {app.config.celery.queue!r} for "
               "`dispatcher worker` processes", err=True)
    return {"tasks_queued": feed_workers(app, channels, until_idle, stop)}


def _stop_on_signals(stop_event: threading.Event) -> None:
    def stop(signum: int, _frame: FrameType | None) -> None:
        click.echo(f"{signal.Signals(signum).name}: finishing the sends in flight", err=True)
        stop_event.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)


by_option = click.option("--by", default=default_actor, show_default="your login name",
                         help="Who does this, for the audit log.")


@click.command()
@click.argument("campaign_id")
@click.option("--status", type=click.Choice(["failed"]), required=True,
              help="Which rows to requeue (only failed rows can be retried).")
@by_option
@click.pass_obj
def retry(app: AppContext, campaign_id: str, status: str, by: str) -> None:
    """Requeue CAMPAIGN_ID's failed rows; `dispatcher run` sends them again.

    Rows whose number has opted out since are left failed.
    """
    change = runs.retry_failed(app.engine, campaign_id, by)
    click.echo(f"{campaign_id}: {change.rows} {status} row(s) requeued")


def _lifecycle(action: Callable[[Engine, str, str], runs.RunChange], done: str,
               help_text: str) -> click.Command:
    @click.command(action.__name__, help=help_text)
    @click.argument("campaign_id")
    @by_option
    @click.pass_obj
    def command(app: AppContext, campaign_id: str, by: str) -> None:
        change = action(app.engine, campaign_id, by)
        skipped = f"; {change.rows} row(s) skipped(cancelled)" if action is runs.cancel else ""
        click.echo(f"{campaign_id}: {done} run(s) {', '.join(map(str, change.runs))}{skipped}")

    return command


# Added to `dispatcher campaign` (pause, resume and cancel act on a campaign's runs).
LIFECYCLE = [
    _lifecycle(runs.pause, "paused", "Stop sending CAMPAIGN_ID's runs; sends in flight "
                                     "finish."),
    _lifecycle(runs.resume, "resumed", "Continue CAMPAIGN_ID's paused runs where they "
                                       "stopped."),
    _lifecycle(runs.cancel, "cancelled", "Cancel CAMPAIGN_ID's open runs: rows not sent "
                                         "become skipped(cancelled)."),
]

COMMANDS = [run, retry]
