"""The actions on a campaign's page: approve (one review stage), pause, resume, cancel,
retry.

An action calls the core function with the signed-in user as the actor, so the audit
log shows who did it, then answers 303 back to the campaign page, where the outcome is
shown once (kept in the session meanwhile, so no link can make the page say something
nobody did).

The page shows only the buttons the campaign's state allows (:func:`action_context`):
approve while the current version awaits a stage this user may pass, pause while runs
send, resume while paused, cancel while something can be cancelled, retry while failed
rows wait. Cancelling asks first: the first POST shows a confirmation page with a
required reason, the second (``confirm=1``) cancels and the reason goes to the audit
log. It works without JavaScript.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import Connection, Engine, exists, func, select

from dispatcher.accounts.users import APPROVE, OPERATE, User
from dispatcher.approval import lifecycle
from dispatcher.approval import stages as review
from dispatcher.campaigns.versions import load_stored
from dispatcher.config import Config
from dispatcher.errors import DispatcherError, NotFoundError
from dispatcher.i18n import N_, _, pgettext
from dispatcher.planning import runs
from dispatcher.storage.bounds import MAX_DB_INT
from dispatcher.storage.tables import campaigns, deliveries, optouts
from dispatcher.storage.tables import runs as runs_table
from dispatcher.web.auth import engine_of
from dispatcher.web.pages.common import render

MAX_REASON = 500  # characters of a cancellation reason kept in the audit log
# Run states each operator action acts on (as dispatcher.planning.runs does).
PAUSABLE = ("planned",)
CANCELLABLE = ("planned", "paused", "planning")
RETRYABLE = ("planned", "paused", "completed")


@dataclass(frozen=True)
class Submitted:
    """The form fields an action may carry."""

    version: str = ""  # approve: the version the approver saw
    stage: str = ""  # approve: the stage the button named
    reason: str = ""  # cancel: why, for the audit log
    confirm: bool = False  # cancel: the confirmation page was answered


# What the page may offer --------------------------------------------------------------


@dataclass(frozen=True)
class StageView:
    """One review stage of the current version as the page shows it."""

    name: str  # as configured: the form sends it back
    label: str  # as people read it
    by: str | None  # who passed it (None: not yet)
    at: datetime | None
    awaiting: bool  # the stage the next approval passes


@dataclass(frozen=True)
class ActionView:
    """Everything ``_campaign_actions.html`` needs: which buttons, and the review note."""

    campaign_id: str
    version: int
    approved_by: str | None  # the current version's (set once its last stage passed)
    stages: tuple[StageView, ...]
    next_stage: StageView | None
    can_approve: bool  # show the approve button
    approve_note: str | None  # why this approver may not approve now
    can_pause: bool
    can_resume: bool
    can_cancel: bool
    can_retry: bool
    failed_rows: int  # rows a retry requeues


def action_context(engine: Engine, campaign_id: str, user: User,
                   config: Config) -> dict[str, Any]:
    """The campaign page's action area for ``user``: pass ``**action_context(...)`` to
    ``render`` (the template reads ``act``)."""
    with engine.connect() as conn:
        version = conn.execute(select(campaigns.c.current_version)
                               .where(campaigns.c.id == campaign_id)).scalar()
        if version is None:
            raise NotFoundError(f"no campaign {campaign_id!r}; see `dispatcher campaign list`")
        state = review.load_review(conn, campaign_id, int(version), config.review.stages)
        statuses = set(conn.execute(select(runs_table.c.status).distinct()
                                    .where(runs_table.c.campaign_id == campaign_id)).scalars())
        failed = _failed_rows(conn, campaign_id) if statuses & set(RETRYABLE) else 0
    stages = _stage_views(state)
    may_approve, note = _approval_for(state, user)
    operate = user.can(OPERATE)
    return {"act": ActionView(
        campaign_id, int(version), state.approved_by, stages,
        next((s for s in stages if s.awaiting), None), may_approve, note,
        can_pause=operate and bool(statuses & set(PAUSABLE)),
        can_resume=operate and "paused" in statuses,
        can_cancel=operate and bool(statuses & set(CANCELLABLE)),
        can_retry=operate and failed > 0, failed_rows=failed)}


def _stage_views(state: review.Review) -> tuple[StageView, ...]:
    """The configured stages in order, each with who passed it; a stage passed under a
    name config no longer lists is shown too (the log keeps it)."""
    passed = {p.stage: p for p in state.passed}
    waiting = state.next_stage
    names = list(state.stages) + [p.stage for p in state.passed if p.stage not in state.stages]
    return tuple(StageView(name, review.stage_label(name),
                           passed[name].by if name in passed else None,
                           passed[name].at if name in passed else None, name == waiting)
                 for name in names)


def _approval_for(state: review.Review, user: User) -> tuple[bool, str | None]:
    """Whether ``user`` gets the approve button, and if an approver does not, why."""
    if state.approved or not user.can(APPROVE):
        return False, None
    refusal = state.refusal(user.name)
    return refusal is None, refusal


def _failed_rows(conn: Connection, campaign_id: str) -> int:
    """Failed rows a retry would requeue: as ``runs.retry_failed`` counts them (its runs,
    not those whose target has opted out since)."""
    opted_out = exists().where(optouts.c.address == deliveries.c.target,
                               optouts.c.channel.in_([deliveries.c.channel, "*"]))
    query = (select(func.count()).select_from(deliveries)
             .join(runs_table, runs_table.c.id == deliveries.c.run_id)
             .where(runs_table.c.campaign_id == campaign_id,
                    runs_table.c.status.in_(RETRYABLE),
                    deliveries.c.status == "failed", ~opted_out))
    return int(conn.execute(query).scalar_one())


# Cancelling asks first -----------------------------------------------------------------


def cancel_confirmation(request: Request, user: User, campaign_id: str,
                        form: Submitted) -> Response:
    """The page between the cancel button and the cancellation: what stops, and a
    required reason. A confirmation without a reason (or with too long a one) comes back
    here with the problem named, and nothing is cancelled."""
    engine = engine_of(request)
    campaign, _version = load_stored(engine, campaign_id)  # 404 if unknown
    with engine.connect() as conn:
        run_ids = list(conn.execute(
            select(runs_table.c.id).where(runs_table.c.campaign_id == campaign_id,
                                          runs_table.c.status.in_(CANCELLABLE))
            .order_by(runs_table.c.id)).scalars())
        waiting = int(conn.execute(select(func.count()).select_from(deliveries).where(
            deliveries.c.run_id.in_(run_ids), deliveries.c.status == "planned")).scalar_one())
    if not run_ids:
        raise DispatcherError(_("Nothing to cancel: campaign {campaign} has no run that is "
                                "planned, paused or being planned.").format(
                                    campaign=campaign_id))
    problem = None
    if form.confirm and not form.reason:
        problem = _("Give a reason for cancelling: it is kept in the history with your name.")
    elif len(form.reason) > MAX_REASON:
        problem = _("The reason is {length} characters long; at most {limit} are kept.").format(
            length=len(form.reason), limit=MAX_REASON)
    return render(request, "campaign_cancel.html", user,
                  status_code=422 if problem else 200, error=problem,
                  cancel={"campaign_id": campaign_id, "title": campaign.title,
                          "runs": ", ".join(map(str, run_ids)), "run_count": len(run_ids),
                          "rows": waiting, "reason": form.reason[:MAX_REASON * 2],
                          "max_reason": MAX_REASON})


# Actions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    permission: str
    doing: str  # for the 403 page: "Approving needs the approver or admin role"
    act: Callable[[Engine, Config, str, str, Submitted], str]  # -> the message shown


def _approve(engine: Engine, config: Config, campaign_id: str, actor: str,
             form: Submitted) -> str:
    # The form names the version and the stage the approver saw: a newer version stays
    # unapproved, and a stage someone passed meanwhile is not passed twice.
    version = form.version
    if version and not (version.isascii() and version.isdigit() and len(version) <= 19
                        and 1 <= int(version) <= MAX_DB_INT):
        raise DispatcherError(_("Version {version} is not a version number; approve a "
                                "version shown on the campaign's page").format(
                                    version=repr(version[:40])))
    done = lifecycle.approve(engine, campaign_id, actor, int(version) if version else None,
                             config.review.stages, form.stage or None)
    if not done.changed:
        return _("Version {version} was already approved.").format(version=done.version)
    if done.approved:
        return _("Version {version} approved by {user}.").format(version=done.version,
                                                                 user=actor)
    return _("{user} passed the stage “{stage}” of version {version}; awaiting: "
             "{remaining}.").format(user=actor, stage=review.stage_label(done.stage or ""),
                                    version=done.version, remaining=stage_list(done.remaining))


def stage_list(names: tuple[str, ...]) -> str:
    """``复审、终审``: stage names joined as the reader's language lists things."""
    return pgettext("list separator", ", ").join(review.stage_label(n) for n in names)


def _pause(engine: Engine, _config: Config, campaign_id: str, actor: str,
           _form: Submitted) -> str:
    return _("Paused run(s) {runs}.").format(runs=_ids(runs.pause(engine, campaign_id,
                                                                  actor).runs))


def _resume(engine: Engine, _config: Config, campaign_id: str, actor: str,
            _form: Submitted) -> str:
    return _("Resumed run(s) {runs}.").format(runs=_ids(runs.resume(engine, campaign_id,
                                                                    actor).runs))


def _cancel(engine: Engine, _config: Config, campaign_id: str, actor: str,
            form: Submitted) -> str:
    change = runs.cancel(engine, campaign_id, actor, form.reason)
    return _("Cancelled run(s) {runs}: {rows} row(s) not yet sent are skipped "
             "(cancelled).").format(runs=_ids(change.runs), rows=change.rows)


def _retry(engine: Engine, _config: Config, campaign_id: str, actor: str,
           _form: Submitted) -> str:
    change = runs.retry_failed(engine, campaign_id, actor)
    return _("Requeued {rows} failed row(s).").format(rows=change.rows)


def _ids(run_ids: list[int]) -> str:
    return ", ".join(map(str, run_ids))


ACTIONS = {
    "approve": Action(APPROVE, N_("Approving"), _approve),
    "pause": Action(OPERATE, N_("Pausing"), _pause),
    "resume": Action(OPERATE, N_("Resuming"), _resume),
    "cancel": Action(OPERATE, N_("Cancelling"), _cancel),
    "retry": Action(OPERATE, N_("Retrying failed rows"), _retry),
}
