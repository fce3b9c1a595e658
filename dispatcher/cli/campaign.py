"""``dispatcher campaign``: validate, apply, list, show and plan campaigns.

Times for people are wall-clock times in one zone, named once (in a column header or
beside the time): the campaign's for one campaign, config's for a list of them. ``--json``
keeps ISO 8601 with the offset, for programs."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any

import click

from dispatcher import registry
from dispatcher.approval import lifecycle
from dispatcher.approval import stages as review
from dispatcher.approval.lifecycle import default_actor
from dispatcher.campaigns.model import Issue
from dispatcher.campaigns.versions import load_stored
from dispatcher.cli.output import (
    finish_task,
    local_time,
    print_json,
    print_table,
    progress_bar,
    time_header,
)
from dispatcher.cli.run import LIFECYCLE
from dispatcher.context import AppContext
from dispatcher.errors import DispatcherError
from dispatcher.planning import campaign_store, runs
from dispatcher.planning.planner import PlanResult
from dispatcher.planning.previews import send_previews
from dispatcher.storage.bounds import MAX_DB_INT, year_problem
from dispatcher.storage.db import utcnow


@click.group()
def campaign() -> None:
    """Campaign files: check them, store versions, plan runs."""


@campaign.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the problems as JSON.")
@click.pass_obj
def validate(app: AppContext, files: tuple[str, ...], as_json: bool) -> None:
    """Check campaign FILES; print FILE:LINE: field: problem, exit 1 if any. Stores nothing.

    Warnings (such as a schedule whose firings are all in the past) go to stderr as
    `warning: FILE:LINE: field: ...` and do not change the exit status.
    """
    report: list[dict[str, Any]] = []
    failed = False
    for path in files:
        checked = campaign_store.check_file(app.config, app.engine, path)
        found, issues = checked.campaign, checked.issues
        failed = failed or bool(issues)
        report.append({"file": path, "ok": not issues, "campaign": found.id if found else None,
                       "problems": [vars(i) for i in issues],
                       "warnings": [vars(w) for w in checked.warnings]})
        _warn(checked.warnings)
        if not as_json:
            for issue in issues:
                click.echo(str(issue))
            if found:
                click.echo(f"{path}: ok ({found.id}: {len(found.placements)} placement(s), "
                           f"channels {', '.join(found.channels)})", err=True)
    if as_json:
        print_json(report)
    sys.exit(1 if failed else 0)


def _warn(warnings: list[Issue]) -> None:
    """Warnings on stderr, after the CLI's ``error:`` style; stdout stays for results."""
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)


@campaign.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--keep-approved", is_flag=True,
              help="Keep firing the last approved version until this one is approved "
                   "(by default a new version stops the campaign until it is approved).")
@click.option("--by", default=default_actor, show_default="your login name",
              help="Who stores it, for the audit log.")
@click.pass_obj
def apply(app: AppContext, file: str, as_json: bool, keep_approved: bool, by: str) -> None:
    """Validate FILE and store it as a new version if its content changed.

    Comments and formatting are not changes: the validated content is compared. A new
    version needs `dispatcher campaign approve` before it fires.
    """
    checked = campaign_store.check_file(app.config, app.engine, file)
    _warn(checked.warnings)
    if checked.campaign is None:
        for issue in checked.issues:
            click.echo(str(issue))
        raise DispatcherError(f"{file}: {len(checked.issues)} problem(s); nothing was stored")
    result = campaign_store.apply_campaign(app.engine, checked.campaign, file, checked.text,
                                           actor=by, keep_approved=keep_approved)
    if as_json:
        print_json({"campaign": result.campaign_id, "version": result.version,
                    "changed": result.changed})
    elif result.changed:
        click.echo(f"{result.campaign_id}: stored version {result.version}; approve it with "
                   f"`dispatcher campaign approve {result.campaign_id} --by NAME`")
    else:
        click.echo(f"{result.campaign_id}: unchanged (version {result.version})")


@campaign.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def list_(app: AppContext, as_json: bool) -> None:
    """List stored campaigns with their current version and number of runs (times in
    config's time zone, named in the header)."""
    items = campaign_store.list_campaigns(app.engine)
    if as_json:
        print_json(items)
        return
    zone = app.config.timezone
    print_table(["id", "title", "owner", "status", "version", "runs",
                 time_header("updated", zone)],
                [[c["id"], c["title"], c["owner"], status_label(c["status"]), c["version"],
                  c["runs"], local_time(c["updated_at"], zone)] for c in items],
                title="campaigns")


@campaign.command()
@click.argument("campaign_id")
@click.option("--channel", "channel_name", required=True,
              help="The channel whose placements to preview, such as wechat.")
@click.option("--to", "to", multiple=True, required=True, metavar="NAME",
              help="A test user to send the preview to (WeChat: a WeChat ID or an openid). "
                   "Repeatable.")
@click.option("--placement", type=click.IntRange(min=0), default=None,
              help="Only this placement (its number, from 0 in file order).")
@click.option("--by", default=default_actor, show_default="your login name",
              help="Who sends the preview, for the audit log.")
@click.pass_obj
def preview(app: AppContext, campaign_id: str, channel_name: str, to: tuple[str, ...],
            placement: int | None, by: str) -> None:
    """Send CAMPAIGN_ID's current version to named test users first (before approval).

    Each preview is recorded in `campaign history`. Only channels that can preview
    (wechat) accept it.
    """
    channel = campaign_store.channel_lookup(app.config)(channel_name)
    if channel is None:
        raise DispatcherError(f"channel {channel_name!r} is not installed; installed: "
                              + ", ".join(registry.installed()))
    for sent in send_previews(app.engine, campaign_id, channel_name, channel, list(to), by,
                              placement):
        click.echo(f"placement {sent.placement} -> {sent.to}: sent "
                   f"(provider ref {sent.provider_ref or '-'})")


@campaign.command()
@click.argument("campaign_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def show(app: AppContext, campaign_id: str, as_json: bool) -> None:
    """Show CAMPAIGN_ID: its current definition, versions and runs, times in the
    campaign's time zone."""
    data = campaign_store.show_campaign(app.engine, campaign_id)
    if as_json:
        print_json(data)
        return
    zone = data["timezone"]
    schedule = data["schedule"]
    click.echo(f"{data['id']} (version {data['version']}, {status_label(data['status'])}): "
               f"{data['title']}")
    click.echo(f"owner {data['owner']}, time zone {zone} (all times below)")
    click.echo(f"schedule: start {local_time(schedule['start'], zone)}, end "
               f"{local_time(schedule['end'], zone, missing='-')}, "
               f"cron {schedule['cron'] or '-'}, send window {schedule['send_window'] or '-'}, "
               f"misfire {schedule['misfire']}")
    print_table(["#", "channel", "settings"],
                [[i, p["channel"], _summary(p)] for i, p in enumerate(data["placements"])],
                title="placements")
    print_table(["version", time_header("stored", zone), "approved by", "file"],
                [[v["version"], local_time(v["created_at"], zone), v["approved_by"] or "-",
                  v["source_path"]] for v in data["versions"]], title="versions")
    print_table(["run", "version", time_header("fire time", zone), "status"],
                [[r["id"], r["version"], local_time(r["fire_time"], zone), r["status"]]
                 for r in data["runs"]], title="runs")


STATUS_LABELS = {"expired": "expired (never ran)"}  # the JSON keeps the machine name


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


def _summary(placement: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in placement.items() if k != "channel")


@campaign.command()
@click.argument("campaign_id")
@click.option("--at", "at", default=None, metavar="DATETIME",
              help="Fire time to plan, ISO 8601 (campaign time zone if no offset). "
                   "Default: the campaign's latest due firing.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def plan(app: AppContext, campaign_id: str, at: str | None, as_json: bool) -> None:
    """Create the run for one firing of CAMPAIGN_ID and expand it into delivery rows.

    Planning the same firing again changes nothing; an interrupted plan resumes.
    """
    plan_and_report(app, campaign_id, at, as_json)


def plan_and_report(app: AppContext, campaign_id: str, at: str | None, as_json: bool) -> None:
    """Plan one firing of the approved version with a progress bar, then print the result."""
    approved = lifecycle.require_approved(app.engine, campaign_id)
    stored, _version = load_stored(app.engine, campaign_id, approved)
    fire_time = _fire_time(stored.schedule, at, stored.timezone)
    lookup = campaign_store.channel_lookup(app.config)
    with progress_bar("planning") as bar:
        task = bar.add_task(f"planning {campaign_id}", total=None)
        result = runs.plan_firing(app.engine, campaign_id, fire_time,
                                  lambda name: _require(lookup(name), name),
                                  progress=lambda n: bar.advance(task, n),
                                  cap=app.config.frequency_cap)
        finish_task(bar, task)
    _print_plan(result, as_json, stored.timezone)


def _require(channel: Any, name: str) -> Any:
    if channel is None:
        raise DispatcherError(f"channel {name!r} is not installed; installed: "
                              + ", ".join(registry.installed()))
    return channel


def _fire_time(schedule: Any, at: str | None, tz_name: str) -> datetime:
    from zoneinfo import ZoneInfo

    if at is not None:
        try:
            moment = datetime.fromisoformat(at)
        except ValueError:
            raise DispatcherError(f"--at {at!r} is not an ISO 8601 date-time; "
                                  "write 2019-06-01T09:00 or 2019-06-01T09:00+08:00") from None
        if (problem := year_problem(moment)) is not None:
            raise DispatcherError(f"--at {at}: {problem}; write 2019-06-01T09:00 or "
                                  "2019-06-01T09:00+08:00")
        return moment.replace(tzinfo=ZoneInfo(tz_name)) if moment.tzinfo is None else moment
    due: datetime | None = schedule.latest_firing(utcnow())
    if due is None:
        raise DispatcherError(f"the campaign starts at {local_time(schedule.start, tz_name)} "
                              f"({tz_name}), so no firing is due yet; pass --at to plan a "
                              "firing ahead")
    return due


def _print_plan(result: PlanResult, as_json: bool, zone: str) -> None:
    """The planned run; its fire time in the campaign's ``zone`` (ISO 8601 in JSON)."""
    if as_json:
        print_json({"run": result.run_id, "campaign": result.campaign_id,
                    "fire_time": result.fire_time.isoformat(), "created": result.created,
                    "rows": dict(sorted(result.rows.items()))})
        return
    fires = f"{local_time(result.fire_time, zone)} ({zone})"
    if not result.created:
        click.echo(f"run {result.run_id} of {result.campaign_id} at {fires} was already "
                   "planned; nothing changed")
        return
    total = sum(result.rows.values())
    click.echo(f"run {result.run_id} of {result.campaign_id} at {fires}: "
               f"{total} delivery rows")
    for key, count in sorted(result.rows.items()):
        click.echo(f"  {key:<20} {count}")


@campaign.command()
@click.argument("campaign_id")
@click.option("--by", required=True,
              help="Who approves: a user with the approver or admin role "
                   "(`dispatcher user add NAME --role approver`).")
@click.option("--version", "version", type=click.IntRange(min=1, max=MAX_DB_INT),
              help="The version to approve (default: the current one).")
@click.pass_obj
def approve(app: AppContext, campaign_id: str, by: str, version: int | None) -> None:
    """Pass the next review stage of one version of CAMPAIGN_ID.

    The stages are `[review] stages` in config (one by default); a version that passed
    them all is approved, and only approved versions are planned and sent. Each stage
    needs another approver, and whoever stored the version (`apply --by`) approves none.
    """
    review.check_approver(app.engine, by)
    result = lifecycle.approve(app.engine, campaign_id, by, version, app.config.review.stages)
    click.echo(f"{campaign_id}: {_approval_text(result, by)}")


def _approval_text(result: lifecycle.Approval, by: str) -> str:
    """What the approval did: the stage passed and the stages left, or "approved"."""
    if not result.changed:
        return f"version {result.version} was already approved"
    if len(result.stages) == 1:
        return f"version {result.version} approved"
    if result.stage is None:  # its stages passed before config named fewer
        return f"version {result.version} approved by {by}"
    passed = (f"version {result.version} passed stage {result.stage} "
              f"({result.stages.index(result.stage) + 1} of {len(result.stages)}) by {by}")
    if result.approved:
        return f"{passed}: all stages passed, version {result.version} approved"
    return f"{passed}; awaiting {', '.join(result.remaining)}, each by another approver"


@campaign.command()
@click.argument("campaign_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def history(app: AppContext, campaign_id: str, as_json: bool) -> None:
    """Show CAMPAIGN_ID's audit log: who did what, when (in the campaign's time zone),
    to which version; then where the current version's review stands if it is not
    approved yet."""
    entries = lifecycle.history(app.engine, campaign_id)
    if as_json:
        print_json(entries)
        return
    stored, current = load_stored(app.engine, campaign_id)
    zone = stored.timezone
    print_table([time_header("when", zone), "who", "action", "version", "detail"],
                [[local_time(e["at"], zone, seconds=True), e["actor"], e["action"],
                  e["version"], e["detail"]] for e in entries], title=f"{campaign_id}: history")
    state = review.review_of(app.engine, campaign_id, current, app.config.review.stages)
    if not state.approved:
        passed = ", ".join(f"{p.stage} ({p.by})" for p in state.passed) or "none"
        click.echo(f"version {current} awaits approval: stages passed: {passed}; awaiting: "
                   f"{', '.join(state.remaining) or 'a last approval'}")


# pause, resume and cancel act on a campaign's runs; they live with `run` and `retry`.
for _command in LIFECYCLE:
    campaign.add_command(_command)

COMMANDS = [campaign]
