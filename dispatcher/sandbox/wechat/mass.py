"""Mass-send jobs: whom a job reaches, the limits that stop or thin it, and its event.

A job's TotalCount is the distinct openids it addressed (all followers, a tag's members or
the ``touser`` list); its FilterCount those of them that follow the account and, on a
service account, have not had ``monthly_broadcasts`` broadcasts this sandbox month
(WeChat filters the others out); ErrorCount a seeded ``error_rate`` of the FilterCount;
SentCount the rest. Previews are recorded apart and use no quota.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping
from datetime import date
from typing import Any

from dispatcher.sandbox.wechat.events import COPYRIGHT_CHECKED, Event, event_xml
from dispatcher.sandbox.wechat.options import WeChatOptions
from dispatcher.sandbox.wechat.store import Followers, Job, WeChatStore
from dispatcher.sandbox.wechat.wire import Content, Refused

MASS_HELPER = "mphelper"  # FromUserName of MASSSENDJOBFINISH: the account's mass-send helper


class MassJobs:
    """Creates jobs in the store; every method but :meth:`event` needs the store's lock."""

    def __init__(self, options: WeChatOptions, store: WeChatStore,
                 followers: Followers) -> None:
        self.options, self.store, self.followers = options, store, followers

    def create(self, kind: str, sent: Content, tag_id: int | None,
               touser: list[str] | None, client_id: str | None, today: date) -> Job:
        """Refuse a used clientmsgid (45065, with its job's msg_id) or a subscription
        account's second broadcast of the day (45028); else create the job."""
        store = self.store
        if client_id is not None and client_id in store.clientmsgids:
            store.counts["duplicate_clientmsgid"] += 1
            first = store.clientmsgids[client_id]
            raise Refused(45065, f"clientmsgid {client_id!r} was used by msg_id {first}",
                          msg_id=first)
        if self.options.account_type == "subscription" and today in store.broadcast_days:
            raise Refused(45028, "a subscription account broadcasts once a day")
        audience, addressed = self._audience(tag_id, touser)
        receiving = self._within_quota(addressed, today)
        msg_id = store.next_id()
        errors = self._errors(msg_id, len(receiving))
        job = Job(msg_id=msg_id, msg_data_id=store.next_data_id() if sent.titles else None,
                  kind=kind, msgtype=sent.msgtype, media_id=sent.media_id,
                  titles=sent.titles, audience=audience, clientmsgid=client_id, day=today,
                  total=len(addressed), filtered=len(receiving),
                  sent=len(receiving) - errors, errors=errors,
                  status="send success" if len(receiving) > errors else "send fail")
        store.jobs[msg_id] = job
        store.broadcast_days.add(today)
        if client_id is not None:
            store.clientmsgids[client_id] = msg_id
        for key, amount in (("jobs", 1), ("recipients", job.total), ("sent", job.sent),
                            ("errors", job.errors)):
            store.count_day(today, key, amount)
        return job

    def preview_target(self, body: Mapping[str, Any]) -> str:
        """The openid a preview goes to: ``towxname`` (a tester's WeChat id, 40132 when
        unknown) or ``touser`` (a follower's openid, 40003)."""
        wxname, touser = body.get("towxname"), body.get("touser")
        if wxname is not None:
            if wxname not in self.followers.wxnames:
                raise Refused(40132, f"no WeChat id {wxname!r} follows the account")
            return self.followers.wxnames[wxname]
        if not isinstance(touser, str) or touser not in self.followers:
            raise Refused(40003, f"touser {touser!r} is not a follower")
        return touser

    def status(self, msg_id: object) -> dict[str, Any]:
        """``message/mass/get``: SENDING until the job's event time, then SEND_SUCCESS or
        SEND_FAIL."""
        job = self.store.jobs.get(int(str(msg_id))) if str(msg_id).isdigit() else None
        if job is None:
            raise Refused(40097, f"no mass job msg_id {msg_id!r}")
        status = ("SENDING" if job.event == "pending" else
                  "SEND_SUCCESS" if job.status == "send success" else "SEND_FAIL")
        return {"msg_id": job.msg_id, "msg_status": status}

    def event(self, job: Job) -> Event:
        fields: list[tuple[str, int | str]] = [
            ("MsgID", job.msg_id), ("Status", job.status), ("TotalCount", job.total),
            ("FilterCount", job.filtered), ("SentCount", job.sent),
            ("ErrorCount", job.errors)]
        xml = event_xml(self.options.original_id, MASS_HELPER, "MASSSENDJOBFINISH", fields,
                        COPYRIGHT_CHECKED if job.msgtype == "mpnews" else "")
        return Event(job.msg_id, MASS_HELPER, xml)

    def _audience(self, tag_id: int | None,
                  touser: list[str] | None) -> tuple[str, list[str]]:
        if touser is not None:
            return "openids", touser
        if tag_id is not None:
            return f"tag:{tag_id}", list(self.followers.tags[tag_id])
        return "all", list(self.followers.openids)

    def _within_quota(self, addressed: list[str], today: date) -> list[str]:
        """The followers among ``addressed`` who may receive one more broadcast, counting
        this one against their month."""
        following = [openid for openid in addressed if openid in self.followers]
        if self.options.account_type != "service":
            return following
        month = self.store.monthly.setdefault((today.year, today.month), Counter())
        limit = self.options.monthly_broadcasts
        receiving = [openid for openid in following if month[openid] < limit]
        month.update(receiving)
        return receiving

    def _errors(self, msg_id: int, receiving: int) -> int:
        """How many of the job's ``receiving`` followers it fails to reach (seeded)."""
        if not self.options.error_rate or not receiving:
            return 0
        rng = random.Random(f"{self.options.seed}:errors:{msg_id}")
        return sum(rng.random() < self.options.error_rate for _ in range(receiving))
