"""Campaign actions shared by the CLI and the web app: check, apply, list, show."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from channels.base import ValidationContext
from dispatcher import registry
from dispatcher.approval import lifecycle
from dispatcher.audience.contacts import list_names
from dispatcher.campaigns import checks as campaign_checks
from dispatcher.campaigns.model import Campaign, ChannelLookup, Issue, parse_campaign, unreadable
from dispatcher.campaigns.versions import load_stored
from dispatcher.config import Config
from dispatcher.storage.db import as_utc, utcnow
from dispatcher.storage.tables import campaign_versions, campaigns, runs
from dispatcher.venues.cinemas import scheduled_screenings
from dispatcher.venues.screens import all_screens, groups


def channel_lookup(config: Config) -> ChannelLookup:
    """``name -> Channel`` for installed plugins (configured where config has a table),
    None for unknown names."""
    return registry.build_channels(config.channels, config.source).get


@dataclass(frozen=True)
class CheckedFile:
    path: str
    text: str  # exactly what was validated: apply stores this, not a re-read of the file
    campaign: Campaign | None
    issues: list[Issue]
    warnings: list[Issue] = field(default_factory=list)  # printed, but nothing is refused


def check_file(config: Config, engine: Engine, path: str | Path) -> CheckedFile:
    """Validate one campaign file against the installed channels, known lists, contacts
    (audience districts and areas) and the clock (a schedule with no firing ahead warns)."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return CheckedFile(name, "", None, [unreadable(name, exc)])
    context = ValidationContext(known_lists=list_names(engine),
                                screens=tuple(all_screens(engine)),
                                screen_groups=groups(engine),
                                screenings=tuple(scheduled_screenings(engine)))
    found, issues = parse_campaign(text, name, default_timezone=config.timezone,
                                   channel_for=channel_lookup(config), context=context)
    audience = campaign_checks.audience_findings(engine, text, name)
    warnings = audience.warnings
    if found is not None:
        warnings += campaign_checks.schedule_warnings(found, text, name, utcnow())
    if audience.problems:
        found, issues = None, sorted(issues + audience.problems, key=lambda i: i.line)
    return CheckedFile(name, text, found, issues, sorted(warnings, key=lambda i: i.line))


@dataclass(frozen=True)
class ApplyResult:
    campaign_id: str
    version: int
    changed: bool


def definition_hash(campaign: Campaign) -> str:
    """Hash of the validated content: comments and formatting do not make a new version."""
    canonical = json.dumps(campaign.to_json(), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def apply_campaign(engine: Engine, campaign: Campaign, source_path: str, source_text: str,
                   actor: str = "system", keep_approved: bool = False) -> ApplyResult:
    """Store ``campaign`` as a new version unless its content equals the current one.

    A new version needs approval before it fires; with ``keep_approved`` the last
    approved version goes on firing meanwhile.
    """
    digest = definition_hash(campaign)
    now = utcnow()
    with engine.begin() as conn:
        current = conn.execute(
            select(campaigns.c.current_version, campaign_versions.c.content_hash)
            .join(campaign_versions, (campaign_versions.c.campaign_id == campaigns.c.id)
                  & (campaign_versions.c.version == campaigns.c.current_version))
            .where(campaigns.c.id == campaign.id)).first()
        if current is not None and current.content_hash == digest:
            return ApplyResult(campaign.id, current.current_version, changed=False)
        version = 1 if current is None else current.current_version + 1
        fields = {"title": campaign.title, "owner": campaign.owner,
                  "current_version": version, "keep_approved": keep_approved,
                  "updated_at": now}
        if current is None:
            conn.execute(campaigns.insert().values(id=campaign.id, created_at=now, **fields))
        else:
            conn.execute(campaigns.update().where(campaigns.c.id == campaign.id).values(**fields))
        conn.execute(campaign_versions.insert().values(
            campaign_id=campaign.id, version=version, content_hash=digest,
            source_path=source_path, source_text=source_text,
            definition=json.dumps(campaign.to_json(), ensure_ascii=False), created_at=now))
        lifecycle.record(conn, actor, "apply", campaign.id, version,
                         f"stored from {source_path}"
                         + ("; the approved version keeps running" if keep_approved else ""))
    return ApplyResult(campaign.id, version, changed=True)


def list_campaigns(engine: Engine) -> list[dict[str, Any]]:
    run_count = (select(runs.c.campaign_id, func.count().label("runs"))
                 .group_by(runs.c.campaign_id).subquery())
    query = (select(campaigns, func.coalesce(run_count.c.runs, 0).label("runs"))
             .outerjoin(run_count, run_count.c.campaign_id == campaigns.c.id)
             .order_by(campaigns.c.id))
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
        states = {r["id"]: lifecycle.status(conn, r["id"]) for r in rows}
    return [{"id": r["id"], "title": r["title"], "owner": r["owner"],
             "status": states[r["id"]], "version": r["current_version"], "runs": r["runs"],
             "updated_at": _iso(r["updated_at"])} for r in rows]


def show_campaign(engine: Engine, campaign_id: str) -> dict[str, Any]:
    campaign, _version = load_stored(engine, campaign_id)
    with engine.connect() as conn:
        versions = conn.execute(
            select(campaign_versions.c.version, campaign_versions.c.created_at,
                   campaign_versions.c.source_path, campaign_versions.c.approved_by)
            .where(campaign_versions.c.campaign_id == campaign_id)
            .order_by(campaign_versions.c.version)).all()
        run_rows = conn.execute(
            select(runs.c.id, runs.c.version, runs.c.fire_time, runs.c.status)
            .where(runs.c.campaign_id == campaign_id).order_by(runs.c.id)).all()
        state = lifecycle.status(conn, campaign_id)
    return {
        **campaign.to_json(),
        "status": state,
        "version": versions[-1].version,
        "versions": [{"version": v.version, "created_at": _iso(v.created_at),
                      "source_path": v.source_path, "approved_by": v.approved_by}
                     for v in versions],
        "runs": [{"id": r.id, "version": r.version, "fire_time": _iso(r.fire_time),
                  "status": r.status} for r in run_rows],
    }


def _iso(value: datetime) -> str:
    return as_utc(value).isoformat()
