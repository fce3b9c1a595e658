"""Approval and the audit log: nothing is planned from a version nobody approved.

Storing a changed campaign file makes a new version that needs approval again. Until it
is approved the campaign does not fire, unless the planner chose to keep running the
last approved version (``dispatcher campaign apply FILE --keep-approved``). Every
lifecycle action is appended to ``audit_log``: who, when, what, which version.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from dispatcher.db import as_utc, utcnow
from dispatcher.errors import DispatcherError, NotFoundError
from dispatcher.tables import audit_log, campaign_versions, campaigns, runs


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
    campaign_id: str
    version: int
    changed: bool  # False when that version was already approved


def approve(engine: Engine, campaign_id: str, by: str, version: int | None = None) -> Approval:
    """Approve one version (default: the current one) of a stored campaign."""
    if not by.strip():
        raise DispatcherError("--by must name who approves")
    with engine.begin() as conn:
        current = conn.execute(select(campaigns.c.current_version)
                               .where(campaigns.c.id == campaign_id)).scalar()
        if current is None:
            raise NotFoundError(f"no campaign {campaign_id!r}; see `dispatcher campaign list`")
        wanted = version or current
        row = conn.execute(select(campaign_versions.c.approved_by).where(
            campaign_versions.c.campaign_id == campaign_id,
            campaign_versions.c.version == wanted)).first()
        if row is None:
            raise NotFoundError(f"campaign {campaign_id!r} has no version {wanted} "
                                f"(versions 1 to {current})")
        if row.approved_by is not None:
            return Approval(campaign_id, wanted, changed=False)
        conn.execute(update(campaign_versions).where(
            campaign_versions.c.campaign_id == campaign_id,
            campaign_versions.c.version == wanted).values(approved_by=by, approved_at=utcnow()))
        record(conn, by, "approve", campaign_id, wanted)
    return Approval(campaign_id, wanted, changed=True)


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
    draft (awaiting approval), approved (approved, first firing ahead), scheduled (has
    run, more firings ahead), running (a run is sending), paused, cancelled, completed
    (it ran and its firings are over), expired (its firings are over and it never ran)."""
    from dispatcher.campaign_store import load_stored_in

    now = now or utcnow()
    version = version_to_run(conn, campaign_id)
    if version is None:
        return "draft"
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
