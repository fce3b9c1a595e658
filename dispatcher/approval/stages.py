"""Review stages: a campaign version is approved only when every stage has passed.

``[review] stages`` in config names the stages, in order (初审, 复审, 终审; one stage by
default). The rules, kept here so the CLI, the dashboard and the API apply the same ones:

- stages pass in order, each once per version;
- the author of a version (who stored it: the ``apply`` entry of the audit log) passes
  none of its stages;
- nobody passes two stages of one version (a unique key in ``review_approvals`` holds it
  even when two approvers click at once);
- the version's ``approved_by`` is set only when its last stage passes, so the planner
  and the scheduler, which read only ``approved_by``, plan nothing before.

Who may approve at all (a user holding the approver or admin role) is checked by the
caller that knows the person: the dashboard's session, the CLI's ``--by`` (see
:func:`check_approver`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, insert, select

from dispatcher.accounts.users import APPROVE, get_user
from dispatcher.config import DEFAULT_STAGE
from dispatcher.errors import DispatcherError
from dispatcher.i18n import _, pgettext
from dispatcher.storage.db import as_utc
from dispatcher.storage.tables import audit_log, campaign_versions, review_approvals

DEFAULT_STAGES = (DEFAULT_STAGE,)


def stage_label(name: str) -> str:
    """A stage as people read it: a configured name as the office wrote it, the default
    stage in the reader's language (审批)."""
    if name == DEFAULT_STAGE:
        return pgettext("review_stage", "approval")
    return name


@dataclass(frozen=True)
class StagePass:
    """One stage of a version passed: which, by whom, when."""

    stage: str
    by: str
    at: datetime


@dataclass(frozen=True)
class Review:
    """Where a version stands in review: the stages, those passed and who stored it."""

    campaign_id: str
    version: int
    stages: tuple[str, ...]
    passed: tuple[StagePass, ...]  # in the order they passed
    author: str | None  # who stored the version (None for a version stored before audit)
    approved_by: str | None  # set once the version is approved (its last stage passed)

    @property
    def approved(self) -> bool:
        return self.approved_by is not None

    @property
    def remaining(self) -> tuple[str, ...]:
        """The configured stages still to pass, in order (none once approved)."""
        if self.approved:
            return ()
        done = {p.stage for p in self.passed}
        return tuple(stage for stage in self.stages if stage not in done)

    @property
    def next_stage(self) -> str | None:
        remaining = self.remaining
        return remaining[0] if remaining else None

    @property
    def in_review(self) -> bool:
        """Some stages passed, not all: the campaign shows "in review"."""
        return not self.approved and bool(self.passed)

    def position(self, stage: str) -> int:
        """1 for the first configured stage."""
        return self.stages.index(stage) + 1

    def refusal(self, name: str) -> str | None:
        """Why ``name`` may not pass the next stage of this version, or None if they may.

        The role is not checked here (see :func:`check_approver`)."""
        if self.author is not None and name == self.author:
            return _("{user} stored version {version}, so they cannot approve it: another "
                     "approver reviews it").format(user=name, version=self.version)
        earlier = next((p for p in self.passed if p.by == name), None)
        if earlier is not None:
            return _("{user} already passed the stage “{stage}” of version {version}; each "
                     "stage needs a different approver").format(
                         user=name, stage=stage_label(earlier.stage), version=self.version)
        return None


def load_review(conn: Connection, campaign_id: str, version: int,
                stages: Sequence[str] = DEFAULT_STAGES) -> Review:
    """The review of one stored version (the caller checked that it exists)."""
    approved_by = conn.execute(select(campaign_versions.c.approved_by).where(
        campaign_versions.c.campaign_id == campaign_id,
        campaign_versions.c.version == version)).scalar()
    rows = conn.execute(
        select(review_approvals.c.stage, review_approvals.c.approved_by,
               review_approvals.c.approved_at)
        .where(review_approvals.c.campaign_id == campaign_id,
               review_approvals.c.version == version)
        .order_by(review_approvals.c.id)).all()
    return Review(campaign_id, version, tuple(stages),
                  tuple(StagePass(r.stage, r.approved_by, as_utc(r.approved_at)) for r in rows),
                  author_of(conn, campaign_id, version),
                  None if approved_by is None else str(approved_by))


def review_of(engine: Engine, campaign_id: str, version: int,
              stages: Sequence[str] = DEFAULT_STAGES) -> Review:
    """:func:`load_review` in a connection of its own."""
    with engine.connect() as conn:
        return load_review(conn, campaign_id, version, stages)


def author_of(conn: Connection, campaign_id: str, version: int) -> str | None:
    """Who stored ``version``: the actor of its ``apply`` entry in the audit log."""
    found = conn.execute(
        select(audit_log.c.actor)
        .where(audit_log.c.campaign_id == campaign_id, audit_log.c.version == version,
               audit_log.c.action == "apply")
        .order_by(audit_log.c.id).limit(1)).scalar()
    return None if found is None else str(found)


def record_pass(conn: Connection, review: Review, stage: str, by: str,
                at: datetime) -> None:
    """Insert the stage's pass; the unique keys refuse a second pass of the stage and a
    second stage by the same person, even from a concurrent transaction."""
    conn.execute(insert(review_approvals).values(
        campaign_id=review.campaign_id, version=review.version, stage=stage,
        position=review.position(stage), approved_by=by, approved_at=at))


def check_approver(engine: Engine, name: str) -> None:
    """Refuse a name that is no enabled user holding the approver (or admin) role: the
    CLI's ``--by`` must name a person the office knows, as the dashboard's sign-in does."""
    user = get_user(engine, name)
    if user is None:
        raise DispatcherError(_("--by {user}: no such user (or the user is disabled); "
                                "approvers are added with `dispatcher user add NAME --role "
                                "approver`").format(user=name))
    if not user.can(APPROVE):
        raise DispatcherError(_("--by {user}: the user has the role {role}; approving needs "
                                "the approver or admin role").format(user=name, role=user.role))


def audit_detail(passed: Sequence[StagePass]) -> str:
    """``初审: wang; 复审: li``: the stages passed, for the audit log. The log keeps the
    configured names as written, in no reader's language."""
    return "; ".join(f"{p.stage}: {p.by}" for p in passed)
