"""The scheduler: fires approved campaigns at their times (APScheduler 3.11).

One job per campaign (job id = campaign id) in APScheduler's SQLAlchemy job store, in the
project's own database. A job references its function by text,
``"dispatcher.scheduling.scheduler:fire"``, and carries only strings (campaign id, fire time), so a
stored job always loads again. A one-shot campaign fires once at ``start`` (DateTrigger);
a recurring one by ``cron`` from ``start`` until ``end`` (CronTrigger built by
:func:`dispatcher.schedule.cron_trigger`), in the campaign's time zone.

Only the process holding the :class:`~dispatcher.leader.LeaderLock` runs the scheduler;
others stand by and take over when it dies. A firing is idempotent: it plans the run of
(campaign, fire time) through :func:`dispatcher.planner.plan_run`, which creates at most
one run per firing, so a job that runs twice (a crash between running it and storing its
next time) sends nothing twice.

Misfires (the scheduler was down at the firing time):

- ``misfire = "run-late"``: the job fires once (coalesced) when the scheduler is back,
  if that is still before ``end``;
- ``misfire = "skip"``: nothing is planned; each missed firing is written to the audit
  log as ``missed`` with its time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_RUNNING
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from sqlalchemy import Engine

from channels.base import Channel
from dispatcher import registry
from dispatcher.approval import lifecycle
from dispatcher.campaigns.model import Campaign
from dispatcher.campaigns.schedule import cron_trigger
from dispatcher.campaigns.versions import load_stored
from dispatcher.config import FrequencyCap
from dispatcher.errors import NotFoundError
from dispatcher.planning.firings import (
    ACTOR,
    approved_campaigns,
    campaign_zone,
    is_missed,
    is_planned,
    late_by,
    missed_because,
    record_missed,
)
from dispatcher.planning.planner import plan_run
from dispatcher.reach.polling import poll_reach
from dispatcher.scheduling.leader import LeaderLock
from dispatcher.storage.db import make_engine, utcnow

log = logging.getLogger(__name__)

FIRE_REF = "dispatcher.scheduling.scheduler:fire"
JOB_TABLE = "apscheduler_jobs"
# How late a one-shot "run-late" campaign without an end may still fire.
ONE_SHOT_GRACE = timedelta(days=7)
# A "skip" firing more than this late is missed (APScheduler's own default).
SKIP_GRACE_SECONDS = 1
SYNC_SECONDS = 30.0
STANDBY_POLL_SECONDS = 5.0
REACH_POLL_SECONDS = 3600.0  # the leader asks providers for later figures (reads) hourly

ChannelFor = Callable[[str], Channel]


def unconfigured(name: str) -> Channel:
    """Planning needs no provider settings: an installed, unconfigured channel plans."""
    return registry.build_channel(name, {})


@dataclass
class _Holder:
    """What a job needs to find the database: jobs carry ids only, never connections."""

    url: str | None = None
    engine: Engine | None = None
    channel_for: ChannelFor = unconfigured
    cap: FrequencyCap | None = None

    def get_engine(self) -> Engine:
        if self.engine is None:
            if self.url is None:
                raise RuntimeError("dispatcher.scheduler.fire ran before the scheduler "
                                   "service set the database URL")
            self.engine = make_engine(self.url)
        return self.engine


HOLDER = _Holder()


def configure(engine: Engine | None, url: str | None,
              channel_for: ChannelFor | None = None, cap: FrequencyCap | None = None) -> None:
    """Tell :func:`fire` where the database is and the frequency cap (the service does)."""
    HOLDER.engine = engine
    HOLDER.url = url
    HOLDER.channel_for = channel_for or unconfigured
    HOLDER.cap = cap


# Jobs and their triggers ------------------------------------------------------------


def make_trigger(campaign: Campaign) -> DateTrigger | CronTrigger:
    """The campaign's trigger in its own time zone: one-shot at start, or cron until end."""
    tz = campaign_zone(campaign)
    schedule = campaign.schedule
    start = schedule.start.astimezone(tz)
    if schedule.cron is None:
        return DateTrigger(run_date=start, timezone=tz)
    trigger = cron_trigger(schedule.cron, tz)  # crontab weekday numbering, not APScheduler's
    trigger.start_date = start
    trigger.end_date = schedule.end.astimezone(tz) if schedule.end else None
    return trigger


def misfire_grace_seconds(campaign: Campaign) -> int:
    schedule = campaign.schedule
    if schedule.misfire == "skip":
        return SKIP_GRACE_SECONDS
    if schedule.end is not None:  # late firings are allowed up to the end
        return max(SKIP_GRACE_SECONDS, int((schedule.end - schedule.start).total_seconds()))
    return int(ONE_SHOT_GRACE.total_seconds())


# The job function --------------------------------------------------------------------


def fire(campaign_id: str, fire_time_iso: str = "") -> None:
    """Fire one campaign: plan its run at the firing time (idempotent) and audit it.

    ``fire_time_iso`` is the firing of a one-shot job; a recurring job passes "" and
    fires its latest firing due now (the coalesced one after downtime).
    """
    engine = HOLDER.get_engine()
    try:
        with engine.connect() as conn:
            version = lifecycle.version_to_run(conn, campaign_id)
    except NotFoundError:
        log.warning("scheduler: campaign %s no longer exists; not fired", campaign_id)
        return
    if version is None:
        log.warning("scheduler: campaign %s has no approved version; not fired", campaign_id)
        return
    campaign, version = load_stored(engine, campaign_id, version)
    now = utcnow()
    if fire_time_iso:
        fire_time = datetime.fromisoformat(fire_time_iso)
    else:
        found = campaign.schedule.latest_firing(now)
        if found is None:
            log.warning("scheduler: campaign %s has no firing due at %s", campaign_id, now)
            return
        fire_time = found
    fire_time = fire_time.astimezone(campaign_zone(campaign))
    # APScheduler already applied the misfire grace of "skip" jobs; only `end` is left.
    why = missed_because(campaign, fire_time, now, grace=timedelta.max)
    if why is not None:
        record_missed(engine, campaign, version, fire_time, why)
        return
    result = plan_run(engine, campaign, version, fire_time, HOLDER.channel_for,
                      cap=HOLDER.cap)
    if result.created:
        with engine.begin() as conn:
            lifecycle.record(conn, ACTOR, "fire", campaign_id, version,
                             f"firing at {fire_time.isoformat()}: run {result.run_id}"
                             + (f" ({late_by(now, fire_time)} late)"
                                if now - fire_time > timedelta(seconds=60) else ""))


# Jobs --------------------------------------------------------------------------------


def job_name(campaign: Campaign, version: int) -> str:
    """Names the job's definition: a job whose name differs is replaced at sync."""
    digest = hashlib.sha256(json.dumps(
        [campaign.timezone, campaign.schedule.to_json()], sort_keys=True).encode()).hexdigest()
    return f"{campaign.id} v{version} {digest[:12]}"


def _one_shot_done(engine: Engine, campaign: Campaign) -> bool:
    """A one-shot firing already planned or recorded missed: its job is not added again."""
    start = campaign.schedule.start.astimezone(campaign_zone(campaign))
    with engine.connect() as conn:
        return is_planned(conn, campaign.id, start) or is_missed(conn, campaign.id, start)


def sync_jobs(scheduler: Any, engine: Engine, now: datetime | None = None) -> dict[str, str]:
    """Make the scheduler's jobs match the approved campaigns.

    Adds a job for each newly approved campaign, replaces one whose approved version or
    schedule changed, leaves unchanged jobs alone (so a firing missed while down still
    fires late), and removes jobs of campaigns no longer approved or stored. Returns
    ``{campaign id: "added" | "replaced" | "removed"}``.
    """
    now = now or utcnow()
    existing = {job.id: job for job in scheduler.get_jobs()}
    changes: dict[str, str] = {}
    wanted = set()
    for campaign, version in approved_campaigns(engine):
        schedule = campaign.schedule
        name = job_name(campaign, version)
        job = existing.get(campaign.id)
        if job is not None and job.name == name:
            wanted.add(campaign.id)
            continue
        if schedule.cron is None and _one_shot_done(engine, campaign):
            continue
        if schedule.cron is not None and schedule.end is not None and schedule.end < now \
                and job is None:
            continue  # ended while nobody scheduled it: nothing left to fire
        wanted.add(campaign.id)
        one_shot = schedule.start.astimezone(campaign_zone(campaign)).isoformat()
        args = [campaign.id, "" if schedule.cron else one_shot]
        scheduler.add_job(
            FIRE_REF, trigger=make_trigger(campaign), args=args, id=campaign.id, name=name,
            replace_existing=True, misfire_grace_time=misfire_grace_seconds(campaign),
            # run-late: one firing after downtime; skip: every missed firing is recorded
            coalesce=schedule.misfire != "skip", max_instances=1)
        changes[campaign.id] = "replaced" if job is not None else "added"
    for job_id in existing.keys() - wanted:
        with contextlib.suppress(Exception):  # JobLookupError: gone meanwhile
            scheduler.remove_job(job_id)
        changes[job_id] = "removed"
    scheduler.wakeup()  # an idle scheduler would not see the changes until its next wake-up
    return changes


class Scheduler(BackgroundScheduler):  # type: ignore[misc]
    """APScheduler's BackgroundScheduler that processes jobs only while running.

    APScheduler 3.11's loop thread can wake (from a ``wakeup()`` just before
    ``shutdown()``) after the state became "stopped" and then process due jobs: their
    submission fails (the executor is shut down) yet their next run time is advanced in
    the job store, so the firing would be lost. Processing only in the running state
    leaves due jobs stored for the next leader.
    """

    def _process_jobs(self) -> float | None:
        if self.state != STATE_RUNNING:
            return None
        wait: float | None = super()._process_jobs()
        return wait


def new_scheduler(engine: Engine) -> Scheduler:
    """A scheduler on the project's database (job table ``apscheduler_jobs``), not started."""
    return Scheduler(
        timezone=UTC,
        jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=JOB_TABLE)},
        job_defaults={"coalesce": True, "max_instances": 1})


# The service -------------------------------------------------------------------------


class SchedulerService:
    """Runs the BackgroundScheduler while this process holds the leader lock."""

    def __init__(self, engine: Engine, url: str, *, channel_for: ChannelFor | None = None,
                 sync_seconds: float = SYNC_SECONDS,
                 standby_poll_seconds: float = STANDBY_POLL_SECONDS,
                 cap: FrequencyCap | None = None,
                 reach_channels: Mapping[str, Channel] | None = None,
                 reach_poll_seconds: float = REACH_POLL_SECONDS) -> None:
        self.engine = engine
        self.reach_channels = reach_channels or {}
        self.reach_poll_seconds = reach_poll_seconds
        self._polled_at = 0.0
        self.url = url
        self.channel_for = channel_for
        self.cap = cap
        self.sync_seconds = sync_seconds
        self.standby_poll_seconds = standby_poll_seconds
        self.lock = LeaderLock(engine)
        self.scheduler: Scheduler | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._state = threading.Lock()

    @property
    def running(self) -> bool:
        return self.scheduler is not None and bool(self.scheduler.running)

    def start(self) -> bool:
        """Start the scheduler if leadership is free now; False when another leads."""
        if not self.lock.try_acquire():
            return False
        self._start_scheduler()
        self._spawn(self._keep_synced, "scheduler-sync")
        return True

    def start_standby(self) -> None:
        """Keep trying for leadership in a background thread; lead once it is ours."""
        self._spawn(self._standby, "scheduler-standby")

    def stop(self) -> None:
        """Stop the scheduler (running firings finish) and give leadership up."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        with self._state:
            if self.scheduler is not None and self.scheduler.running:
                self.scheduler.shutdown(wait=True)
            self.scheduler = None
            self.lock.release()

    def sync(self) -> dict[str, str]:
        if self.scheduler is None:
            return {}
        return sync_jobs(self.scheduler, self.engine)

    # ---------------------------------------------------------------------------------

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        self._thread = threading.Thread(target=target, name=name, daemon=True)
        self._thread.start()

    def _start_scheduler(self) -> None:
        configure(self.engine, self.url, self.channel_for, self.cap)
        with self._state:
            scheduler = new_scheduler(self.engine)
            scheduler.add_listener(self._on_missed, EVENT_JOB_MISSED)
            # Start paused: the jobs are brought up to date before anything fires, so a
            # changed schedule never fires by its old definition.
            scheduler.start(paused=True)
            self.scheduler = scheduler
        sync_jobs(scheduler, self.engine)
        scheduler.resume()
        log.info("scheduler: leading, jobs in %s", JOB_TABLE)

    def _keep_synced(self) -> None:
        while not self._stop.wait(self.sync_seconds):
            if not self.lock.still_held():
                log.error("scheduler: leadership lost; stopping and standing by")
                with self._state:
                    if self.scheduler is not None and self.scheduler.running:
                        self.scheduler.shutdown(wait=True)
                    self.scheduler = None
                self._standby()
                return
            try:
                self.sync()
            except Exception:
                log.exception("scheduler: syncing jobs failed; trying again later")
            self._poll_reach_when_due()

    def _poll_reach_when_due(self) -> None:
        """Ask providers for figures they report later (WeChat reads), hourly."""
        if not self.reach_channels or \
                time.monotonic() - self._polled_at < self.reach_poll_seconds:
            return
        self._polled_at = time.monotonic()
        try:
            polled = poll_reach(self.engine, self.reach_channels)
            log.info("reach polled: rows %s, figures stored %s", polled.rows, polled.stored)
        except Exception:
            log.exception("reach polling failed; trying again in an hour")

    def _standby(self) -> None:
        if not self.lock.wait_for_leadership(self._stop, self.standby_poll_seconds):
            return
        try:
            self._start_scheduler()
        except Exception:
            log.exception("scheduler: could not start")
            self.lock.release()
            return
        self._keep_synced()

    def _on_missed(self, event: JobExecutionEvent) -> None:
        when = event.scheduled_run_time
        try:
            with self.engine.connect() as conn:
                approved = lifecycle.version_to_run(conn, event.job_id)
            campaign, version = load_stored(self.engine, event.job_id, approved)
            policy = campaign.schedule.misfire
            why = ("misfire = \"skip\": nothing sent" if policy == "skip"
                   else "later than the misfire grace: nothing sent")
            record_missed(self.engine, campaign, version, when, why)
        except Exception:
            log.exception("scheduler: could not record the missed firing of %s at %s",
                          event.job_id, when)


# For `dispatcher run` ----------------------------------------------------------------

_SERVICE: SchedulerService | None = None


def start_scheduler(engine: Engine, database_url: str, *,
                    channel_for: ChannelFor | None = None,
                    sync_seconds: float = SYNC_SECONDS,
                    standby_poll_seconds: float = STANDBY_POLL_SECONDS,
                    cap: FrequencyCap | None = None,
                    reach_channels: Mapping[str, Channel] | None = None
                    ) -> SchedulerService | None:
    """Start this process's scheduler: the service when it leads now, else None while a
    background thread stands by to take over when the leader dies. :func:`stop` ends both."""
    global _SERVICE
    stop()
    service = SchedulerService(engine, database_url, channel_for=channel_for,
                               sync_seconds=sync_seconds,
                               standby_poll_seconds=standby_poll_seconds, cap=cap,
                               reach_channels=reach_channels)
    _SERVICE = service
    if service.start():
        return service
    service.start_standby()
    return None


def current_service() -> SchedulerService | None:
    """The service started by :func:`start_scheduler` (leading or standing by)."""
    return _SERVICE


def stop() -> None:
    """Stop the scheduler or standby started by :func:`start_scheduler`."""
    global _SERVICE
    if _SERVICE is not None:
        _SERVICE.stop()
        _SERVICE = None
