"""A WeChat-official-account-compatible API on loopback: tokens, followers and tags, mass
sends, previews, template messages, signed (optionally encrypted) events, statistics.

The real ``wechatpy.WeChatClient`` talks to it unchanged once its session is routed here
(:func:`channels.wechat_transport.route_client`). It is a provider reached only over HTTP,
so it imports nothing from the engine, planner, database or web app.

A mass send (``sendall`` to all followers or a tag, ``send`` to 2..10,000 openids) goes
through, in order: the rolling limit of ``mass_per_minute`` requests (45009), the seeded
throttle (45009) and system-error draws (-1: half of them create the job first, as when a
real response is lost), the body's checks (47001, 40008, 40007, 40050, 40130, 40097), the
``clientmsgid`` already used by a job (45065 with that job's ``msg_id``; nothing new is
created) and a subscription account's one broadcast a day (45028). A service account
filters out followers who already got ``monthly_broadcasts`` this sandbox month. Then the
job exists: TotalCount is the openids addressed, FilterCount those that follow and are
within quota, ErrorCount a seeded ``error_rate`` of them, and a MASSSENDJOBFINISH event
goes to ``callback_url`` after ``event_delay_s``.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from contextlib import AbstractContextManager
from datetime import date
from typing import Any

from starlette.applications import Starlette

from dispatcher.sandbox.callbacks import Scheduler
from dispatcher.sandbox.serving import serve_in_background
from dispatcher.sandbox.wechat.app import build_app
from dispatcher.sandbox.wechat.events import Event, EventPoster, event_xml
from dispatcher.sandbox.wechat.mass import MassJobs
from dispatcher.sandbox.wechat.options import WeChatOptions
from dispatcher.sandbox.wechat.stats import ReadModel, date_range, report
from dispatcher.sandbox.wechat.store import DayClock, Fate, Followers, Job, TokenBook, WeChatStore
from dispatcher.sandbox.wechat.wire import (
    Refused,
    clientmsgid,
    content,
    openid_list,
    tag_filter,
    template_request,
)

TEMPLATE_STATUSES = ("success", "failed:user block", "failed: system failed")


class WeChatSandbox:
    """The sandbox's state and behaviour; ``.app`` is its ASGI app.

    ``with WeChatSandbox(WeChatOptions(seed=1)).serve() as url:`` runs it on a free
    loopback port; ``.jobs()`` and ``.stats()`` inspect it from Python, like the
    ``/_sandbox/`` endpoints do over HTTP.
    """

    def __init__(self, options: WeChatOptions | None = None) -> None:
        self.options = opts = options or WeChatOptions()
        self.clock = DayClock(opts.start_date)
        self.followers = Followers(opts)
        self.store = WeChatStore()
        self.tokens = TokenBook(opts.token_ttl_s, opts.token_expiry_every)
        self.scheduler = Scheduler(opts.event_workers, name="wechat-events")
        self.events = EventPoster(self.scheduler, opts, self.store.count)
        self.reads = ReadModel(opts)
        self.mass = MassJobs(opts, self.store, self.followers)
        self.url: str | None = None
        self.app: Starlette = build_app(self)

    # Python API ----------------------------------------------------------------------

    def jobs(self) -> list[dict[str, Any]]:
        """Mass-send jobs, oldest first: msg_id, kind, audience, counts, status, event."""
        return self.store.job_summaries()

    def previews(self) -> list[dict[str, Any]]:
        with self.store.lock:
            return list(self.store.previews)

    def template_sends(self) -> list[dict[str, Any]]:
        with self.store.lock:
            return [dict(sent) for sent in self.store.templates.values()]

    def stats(self) -> dict[str, Any]:
        """What ``/_sandbox/stats`` answers: job totals (jobs, recipients = TotalCounts,
        filtered_out, sent, errors), previews, template_sends, ``events`` (posted, failed,
        retried, duplicated, pending), duplicate_clientmsgid, tokens (issued, calls,
        forced_expiries), requests and rejected (by errcode), faults, today, and per
        sandbox ``days``."""
        with self.store.lock:
            counts = dict(self.store.counts)
            totals = self.store.totals()
            days = {day.isoformat(): dict(c) for day, c in sorted(self.store.days.items())}

        def group(prefix: str, keys: tuple[str, ...] = ()) -> dict[str, int]:
            found = {k.removeprefix(prefix): v for k, v in counts.items()
                     if k.startswith(prefix)}
            return {key: found.get(key, 0) for key in keys} | found

        return totals | {
            "events": group("events.", ("posted", "failed", "retried", "duplicated"))
            | {"pending": self.scheduler.pending()},
            "duplicate_clientmsgid": counts.get("duplicate_clientmsgid", 0),
            "tokens": {"issued": self.tokens.issued, "calls": self.tokens.calls,
                       "forced_expiries": self.tokens.forced},
            "requests": group("requests."), "rejected": group("rejected."),
            "faults": group("faults.", ("throttle", "rate_limit", "system_error",
                                        "system_error_created")),
            "today": self.clock.today().isoformat(), "days": days,
        }

    def advance_days(self, days: int) -> date:
        """Move the sandbox's today forward: quotas renew, statistics of the days passed
        appear, clientmsgids are forgotten (WeChat keeps them 24 hours), tokens age."""
        if days < 0:
            raise ValueError("the sandbox's days only move forward")
        with self.store.lock:
            if days:
                self.store.clientmsgids.clear()
            return self.clock.advance(days)

    def reset(self) -> None:
        """Forget jobs, counters, tokens and pending events; the day clock stays."""
        self.scheduler.clear()
        with self.store.lock:
            self.store.reset()
        self.tokens.reset()

    def wait_for_events(self, timeout: float = 10.0) -> bool:
        """Wait until every scheduled event push has run; False on timeout."""
        return self.scheduler.wait_idle(timeout)

    def serve(self, host: str = "127.0.0.1", port: int | None = None
              ) -> AbstractContextManager[str]:
        """Run on ``host:port`` (a free port by default) in a thread; yield the base URL."""
        return serve_in_background(self, host, port)

    def close(self) -> None:
        """Stop the event threads; the state stays readable."""
        self.scheduler.close()

    # Behaviour behind the API ----------------------------------------------------------

    def fetch_token(self, params: Mapping[str, str]) -> dict[str, Any]:
        self.store.count("requests.token")
        if params.get("grant_type") != "client_credential":
            raise Refused(40002, "grant_type must be client_credential")
        if params.get("appid") != self.options.appid:
            raise Refused(40013, f"no appid {params.get('appid', '')!r}")
        if params.get("secret") != self.options.appsecret:
            raise Refused(40125, "wrong appsecret")
        expires_in = int(self.options.token_ttl_s)
        return {"access_token": self.tokens.issue(self.clock.now()), "expires_in": expires_in}

    def authenticate(self, token: str) -> None:
        errcode = self.tokens.check(token, self.clock.now())
        if errcode is not None:
            raise Refused(errcode)

    def mass_send(self, kind: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """``sendall`` or ``send``, in the order of the module docstring."""
        fate = self._admit(kind, limited=True)
        sent = content(body, self.options)
        tag_id = tag_filter(body, self.followers.tag_names) if kind == "sendall" else None
        touser = openid_list(body) if kind == "send" else None
        client_id = clientmsgid(body)
        if fate.system_error and not fate.created_before_error:
            raise self._system_error(created=False)
        with self.store.lock:
            job = self.mass.create(kind, sent, tag_id, touser, client_id, self.clock.today())
        self._push(self.mass.event(job), job)
        if fate.system_error:
            raise self._system_error(created=True)
        answer = {"errcode": 0, "errmsg": "send job submission success", "msg_id": job.msg_id}
        return answer | ({"msg_data_id": job.msg_data_id} if job.msg_data_id else {})

    def preview(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """To one follower, by openid (``touser``) or WeChat id (``towxname``): recorded,
        no quota used, no event."""
        fate = self._admit("preview", limited=True)
        if fate.system_error:
            raise self._system_error(created=False)
        sent = content(body, self.options)
        with self.store.lock:
            openid = self.mass.preview_target(body)
            msg_id = self.store.next_id()
            self.store.previews.append({
                "msg_id": msg_id, "touser": openid, "towxname": body.get("towxname"),
                "msgtype": sent.msgtype, "media_id": sent.media_id,
                "day": self.clock.today().isoformat()})
            self.store.count_day(self.clock.today(), "previews")
        return {"errcode": 0, "errmsg": "preview success", "msg_id": msg_id}

    def mass_status(self, body: Mapping[str, Any]) -> dict[str, Any]:
        with self.store.lock:
            return self.mass.status(body.get("msg_id"))

    def template_send(self, body: Mapping[str, Any]) -> dict[str, Any]:
        fate = self._admit("template", limited=False)
        if fate.system_error:
            raise self._system_error(created=False)
        request = template_request(body, self.options, self.followers)
        with self.store.lock:
            msgid = self.store.next_id()
            status = self._template_status(msgid)
            record = self.store.templates[msgid] = {
                "msgid": msgid, "touser": request.touser, "template_id": request.template_id,
                "url": request.url, "status": status, "event": "pending",
                "day": self.clock.today().isoformat()}
            self.store.count_day(self.clock.today(), "template_sends")
        xml = event_xml(self.options.original_id, request.touser, "TEMPLATESENDJOBFINISH",
                        [("MsgID", msgid), ("Status", status)])
        self._push(Event(msgid, request.touser, xml), record)
        return {"errcode": 0, "errmsg": "ok", "msgid": msgid}

    def datacube(self, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        today = self.clock.today()
        days = date_range(name, dict(body), today)
        with self.store.lock:
            jobs = [job for job in self.store.jobs.values() if job.msg_data_id is not None]
        return report(name, self.reads, jobs, days, today)

    def _admit(self, kind: str, limited: bool) -> Fate:
        """Count the request; refuse it over the per-minute limit or when drawn throttled."""
        self.store.count(f"requests.{kind}")
        if limited and not self.store.within_rate(self.clock.now(),
                                                  self.options.mass_per_minute):
            self.store.count("faults.rate_limit")
            raise Refused(45009, f"more than {self.options.mass_per_minute} mass-send "
                                 "requests in a minute")
        fate = self.store.next_fate(self.options)
        if fate.throttled:
            self.store.count("faults.throttle")
            raise Refused(45009, "sandbox throttle_rate")
        return fate

    def _system_error(self, created: bool) -> Refused:
        """A -1 answer (``faults.system_error``); ``created``: its job exists all the same."""
        self.store.count("faults.system_error")
        if created:
            self.store.count("faults.system_error_created")
            return Refused(-1, "sandbox system_error_rate; the job was created")
        return Refused(-1, "sandbox system_error_rate")

    def _template_status(self, msgid: int) -> str:
        draw = random.Random(f"{self.options.seed}:template:{msgid}").random()
        block, fail = self.options.template_block_rate, self.options.template_fail_rate
        return TEMPLATE_STATUSES[1 if draw < block else 2 if draw < block + fail else 0]

    def _push(self, event: Event, record: Job | dict[str, Any]) -> None:
        """Post ``event`` and note on ``record`` whether it got through."""
        if self.options.callback_url is None:
            def finish() -> None:
                with self.store.lock:
                    _mark(record, "none")

            self.scheduler.at(self.options.event_delay_s, finish)
            return
        twice = random.Random(f"{self.options.seed}:duplicate:{event.msg_id}").random() < (
            self.options.duplicate_event_rate)

        def done(delivered: bool) -> None:
            with self.store.lock:
                _mark(record, "posted" if delivered else "failed")

        self.events.push(event, self.options.event_delay_s, done, twice)


def _mark(record: Job | dict[str, Any], state: str) -> None:
    if isinstance(record, Job):
        record.event = state
    else:
        record["event"] = state


def create_wechat_app(options: WeChatOptions | None = None) -> Starlette:
    """The sandbox's ASGI app; its :class:`WeChatSandbox` is ``app.state.sandbox``."""
    return WeChatSandbox(options).app
