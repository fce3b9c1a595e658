"""Approval and the audit log: nothing is planned from a version nobody approved.

Storing a changed campaign file makes a new version that needs approval again. Until it
is approved the campaign does not fire, unless the planner chose to keep running the
last approved version (``dispatcher campaign apply FILE --keep-approved``). A version is
approved when it has passed every review stage (``[review] stages``, one by default; the
rules are in :mod:`dispatcher.approval.stages`). Every lifecycle action is appended to
``audit_log``: who, when, what, which version.
"""

from __future__ import annotations

import getpass
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, exists, insert, select, update
from sqlalchemy.exc import IntegrityError

from dispatcher.approval import stages as review
from dispatcher.errors import DispatcherError, NotFoundError
from dispatcher.i18n import _
from dispatcher.storage.db import as_utc, utcnow
from dispatcher.storage.tables import (
    audit_log,
    campaign_versions,
    campaigns,
    review_approvals,
    runs,
)

T = TypeVar("T")


def default_actor() -> str:
    """Who is acting when a command names nobody: the login name."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def record(conn: Connection, actor: str, action: str, campaign_id: str,
           version: int | None = None, detail: str | None = None) -> None:
    conn.execute(insert(audit_log).values(at=utcnow(), actor=actor, action=action,
                                          campaign_id=campaign_id, version=version,
                                          detail=detail))


@dataclass(frozen=True)
class Approval:
    """What one approval did: the review stage it passed, the stages still to pass (none:
    the version is approved and may be planned)."""

    campaign_id: str
    version: int
    changed: bool  # False when that version was already approved
    stage: str | None = None  # the stage passed (None: nothing changed)
    remaining: tuple[str, ...] = ()
    stages: tuple[str, ...] = review.DEFAULT_STAGES

    @property
    def approved(self) -> bool:
        return not self.remaining


def approve(engine: Engine, campaign_id: str, by: str, version: int | None = None,
            stages: Sequence[str] = review.DEFAULT_STAGES,
            stage: str | None = None) -> Approval:
    """Pass the next review stage of one version (default: the current one) as ``by``;
    passing the last stage approves the version, and only then can it be planned.

    ``stages`` are the configured ones (``config.review.stages``). ``stage``, when given,
    is the stage the approver saw: if another one awaits (someone passed it meanwhile),
    nothing is approved. The rules (order, author, one stage per person) are in
    :mod:`dispatcher.approval.stages`; who ``by`` is, is the caller's check.
    """
    if not by.strip():
        raise DispatcherError("--by must name who approves")
    try:
        with engine.begin() as conn:
            wanted = _stored_version(conn, campaign_id, version)
            state = review.load_review(conn, campaign_id, wanted, stages)
            if state.approved:
                return Approval(campaign_id, wanted, changed=False, stages=state.stages)
            return _pass_next_stage(conn, state, by, stage)
    except IntegrityError:
        # The unique keys of review_approvals: a concurrent approval won the race.
        raise DispatcherError(_("Someone else approved this version at the same moment; "
                                "reload the page and check what remains")) from None


def _stored_version(conn: Connection, campaign_id: str, version: int | None) -> int:
    """``version`` (default: the current one), or NotFoundError naming what exists."""
    current = conn.execute(select(campaigns.c.current_version)
                           .where(campaigns.c.id == campaign_id)).scalar()
    if current is None:
        raise NotFoundError(f"no campaign {campaign_id!r}; see `dispatcher campaign list`")
    wanted = version or current
    found = conn.execute(select(campaign_versions.c.id).where(
        campaign_versions.c.campaign_id == campaign_id,
        campaign_versions.c.version == wanted)).first()
    if found is None:
        raise NotFoundError(f"campaign {campaign_id!r} has no version {wanted} "
                            f"(versions 1 to {current})")
    return int(wanted)


def _pass_next_stage(conn: Connection, state: review.Review, by: str,
                     seen: str | None) -> Approval:
    refusal = state.refusal(by)
    if refusal is not None:
        raise DispatcherError(refusal)
    stage = state.next_stage
    if seen is not None and seen != stage:
        raise DispatcherError(_("The stage “{stage}” of version {version} no longer awaits "
                                "approval; reload the page to see where the review stands")
                              .format(stage=review.stage_label(seen), version=state.version))
    now = utcnow()
    passed = state.passed
    remaining: tuple[str, ...] = ()
    if stage is not None:  # None: the stages configured now all passed before
        review.record_pass(conn, state, stage, by, now)
        passed += (review.StagePass(stage, by, now),)
        remaining = state.remaining[1:]
        if len(state.stages) > 1:
            record(conn, by, "review", state.campaign_id, state.version, stage)
    if not remaining:
        conn.execute(update(campaign_versions).where(
            campaign_versions.c.campaign_id == state.campaign_id,
            campaign_versions.c.version == state.version,
            campaign_versions.c.approved_by.is_(None)).values(approved_by=by, approved_at=now))
        record(conn, by, "approve", state.campaign_id, state.version,
               review.audit_detail(passed) if len(state.stages) > 1 else None)
    return Approval(state.campaign_id, state.version, True, stage, remaining, state.stages)


def version_to_run(conn: Connection, campaign_id: str) -> int | None:
    """The version that fires: the current one if approved, else the last approved one
    when the planner asked to keep it running, else None (awaiting approval)."""
    campaign = conn.execute(select(campaigns.c.current_version, campaigns.c.keep_approved)
                            .where(campaigns.c.id == campaign_id)).first()
    if campaign is None:
        raise NotFoundError(f"no campaign {campaign_id!r}; see `dispatcher campaign list`")
    approved = list(conn.execute(
        select(campaign_versions.c.version).where(
            campaign_versions.c.campaign_id == campaign_id,
            campaign_versions.c.approved_by.is_not(None))
        .order_by(campaign_versions.c.version.desc())).scalars())
    if campaign.current_version in approved:
        return int(campaign.current_version)
    if campaign.keep_approved and approved:
        return int(approved[0])
    return None


def require_approved(engine: Engine, campaign_id: str) -> int:
    """The version to plan, or an error saying what approval is missing."""
    with engine.connect() as conn:
        version = version_to_run(conn, campaign_id)
        current = conn.execute(select(campaigns.c.current_version)
                               .where(campaigns.c.id == campaign_id)).scalar()
    if version is None:
        raise DispatcherError(f"campaign {campaign_id!r} version {current} is not approved; "
                              f"approve it with `dispatcher campaign approve {campaign_id} "
                              "--by NAME`")
    return version


def history(engine: Engine, campaign_id: str) -> list[dict[str, Any]]:
    """The campaign's audit log, oldest first."""
    with engine.connect() as conn:
        if conn.execute(select(campaigns.c.id).where(campaigns.c.id == campaign_id)).first() \
                is None:
            raise NotFoundError(f"no campaign {campaign_id!r}; see `dispatcher campaign list`")
        rows = conn.execute(select(audit_log).where(audit_log.c.campaign_id == campaign_id)
                            .order_by(audit_log.c.id)).mappings().all()
    return [{"at": as_utc(r["at"]).isoformat(), "actor": r["actor"], "action": r["action"],
             "version": r["version"], "detail": r["detail"]} for r in rows]


def status(conn: Connection, campaign_id: str, now: datetime | None = None) -> str:
    """The campaign's lifecycle state, derived from its versions, runs and schedule:
    draft (awaiting approval), in review (some review stages of the current version
    passed, not all), approved (approved, first firing ahead), scheduled (has run, more
    firings ahead), running (a run is sending), paused, cancelled, completed (it ran and
    its firings are over), expired (its firings are over and it never ran)."""
    from dispatcher.campaigns.versions import load_stored_in

    now = now or utcnow()
    version = version_to_run(conn, campaign_id)
    if version is None:
        return "in review" if _current_in_review(conn, campaign_id) else "draft"
    states = set(conn.execute(select(runs.c.status)
                              .where(runs.c.campaign_id == campaign_id)).scalars())
    if "paused" in states:
        return "paused"
    if states & {"planning", "planned"}:
        return "running"
    campaign = load_stored_in(conn, campaign_id, version)
    schedule = campaign.schedule
    ahead = schedule.next_firing_after(now) is not None
    if not states:
        return "approved" if ahead else "expired"
    if ahead:
        return "scheduled"
    return "cancelled" if states == {"cancelled"} else "completed"


def _current_in_review(conn: Connection, campaign_id: str) -> bool:
    """Some stage of the current (unapproved) version passed: it is in review."""
    current = (select(campaigns.c.current_version)
               .where(campaigns.c.id == campaign_id).scalar_subquery())
    return bool(conn.execute(select(exists().where(
        review_approvals.c.campaign_id == campaign_id,
        review_approvals.c.version == current))).scalar())
