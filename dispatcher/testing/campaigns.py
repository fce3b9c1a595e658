"""Campaigns for tests, driven through the public functions exactly as the CLI does: a
campaign file's text from its placements (:func:`campaign_text`), parsed with the
installed (unconfigured) channels, stored, approved and planned for one firing."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select

from channels.base import (
    Channel,
    ValidationContext,
    toml_value,
)
from dispatcher import registry
from dispatcher.approval import lifecycle
from dispatcher.campaigns.model import Campaign, parse_campaign
from dispatcher.campaigns.versions import load_stored
from dispatcher.delivery.transitions import Transition, advance
from dispatcher.planning.campaign_store import apply_campaign
from dispatcher.planning.planner import PlanResult, plan_run
from dispatcher.storage.tables import deliveries

FIRE_TIME = datetime(2019, 6, 3, 1, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def unconfigured_channel(name: str) -> Channel:
    """An installed channel without its ``[channels.NAME]`` table: it validates and plans."""
    return registry.build_channel(name, {})


def store_campaign(engine: Engine, text: str, file: str = "campaign.toml",
                   approve_as: str | None = "approver", actor: str = "planner") -> Campaign:
    """Parse ``text`` (AssertionError listing the problems if any), store it as ``actor``,
    and approve the stored version as ``approve_as`` (None leaves it awaiting approval)."""
    campaign, issues = parse_campaign(text, file, default_timezone="Asia/Shanghai",
                                      channel_for=unconfigured_channel,
                                      context=ValidationContext())
    assert campaign is not None, "\n".join(map(str, issues))
    apply_campaign(engine, campaign, file, text, actor=actor)
    if approve_as is not None:
        lifecycle.approve(engine, campaign.id, approve_as)
    return campaign


def plan_stored(engine: Engine, campaign_id: str, fire_time: datetime = FIRE_TIME
                ) -> PlanResult:
    """Plan the firing at ``fire_time`` of the stored campaign's current version."""
    campaign, version = load_stored(engine, campaign_id)
    return plan_run(engine, campaign, version, fire_time, unconfigured_channel)


def plan_campaign(engine: Engine, text: str, fire_time: datetime = FIRE_TIME) -> PlanResult:
    """Store the campaign in ``text`` and plan its firing at ``fire_time``."""
    return plan_stored(engine, store_campaign(engine, text).id, fire_time)


def delivery_ids(engine: Engine) -> list[int]:
    """Every delivery row's id, in the order of the rows' addresses."""
    with engine.connect() as conn:
        return list(conn.execute(select(deliveries.c.id).order_by(deliveries.c.target))
                    .scalars())


def fail_first(engine: Engine, count: int, code: str) -> None:
    """The first ``count`` delivery rows (by address) failed with the provider's ``code``."""
    failed = [Transition("failed", delivery_id=row, code=code)
              for row in delivery_ids(engine)[:count]]
    with engine.begin() as conn:
        advance(conn, failed, actor="engine")


# Campaign files -----------------------------------------------------------------------------

LOCAL_START = datetime(2019, 6, 3, 9)  # no offset: 09:00 in the campaign's time zone
DRIVE_START = datetime(2019, 6, 3, 9, tzinfo=SHANGHAI)


def toml_text(value: object) -> str:
    """``value`` as TOML: mappings as inline tables, dates and times bare (a naive
    datetime is a local date-time), strings, numbers and booleans as :func:`toml_value`."""
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{key} = {toml_text(item)}" for key, item in value.items()) + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(map(toml_text, value)) + "]"
    if isinstance(value, date | time):
        return value.isoformat()
    return toml_value(value)


def campaign_text(campaign_id: str, *placements: Mapping[str, object], title: str = "Drive",
                  owner: str = "Publicity", timezone: str | None = None,
                  start: datetime = LOCAL_START, **schedule: object) -> str:
    """A campaign file: its ``[schedule]`` is ``start`` then ``schedule`` (``end``, ``cron``,
    ``send_window``, ``misfire``), one ``[[placements]]`` table a mapping of ``placements``;
    without ``timezone`` it is in the importer's default time zone."""
    lines = [f"id = {toml_text(campaign_id)}", f"title = {toml_text(title)}",
             f"owner = {toml_text(owner)}"]
    if timezone is not None:
        lines.append(f"timezone = {toml_text(timezone)}")
    lines.append("[schedule]")
    lines += [f"{key} = {toml_text(value)}" for key, value in {"start": start, **schedule}.items()]
    for placement in placements:
        lines.append("[[placements]]")
        lines += [f"{key} = {toml_text(value)}" for key, value in placement.items()]
    return "\n".join(lines) + "\n"


def sms_placement(*lists: str, body: str = "Report gang crime: call 110.",
                  **audience: object) -> dict[str, object]:
    """An SMS placement to the contact ``lists``, narrowed by ``audience`` (areas, tags...)."""
    return {"channel": "sms", "audience": {"lists": list(lists), **audience}, "body": body}


def sms_campaign_text(campaign_id: str = "drive", start: datetime = DRIVE_START, *,
                      end: datetime | None = None, cron: str | None = None,
                      misfire: str = "run-late", body: str = "Report gang crime: call 110.",
                      audience_list: str = "residents", title: str = "Drive",
                      owner: str = "Publicity") -> str:
    """A campaign file in Shanghai time with one SMS placement to ``audience_list``."""
    def moment(value: datetime) -> datetime:
        return value.astimezone(SHANGHAI).replace(microsecond=0)

    schedule: dict[str, object] = {"misfire": misfire}
    if end is not None:
        schedule["end"] = moment(end)
    if cron is not None:
        schedule["cron"] = cron
    return campaign_text(campaign_id, sms_placement(audience_list, body=body), title=title,
                         owner=owner, timezone="Asia/Shanghai", start=moment(start), **schedule)


def sandbox_config_text(database_url: str, api_base: str, public_url: str, *,
                        status_callback: bool = True, token_variable: str,
                        rate: float = 5000, timeout: float = 2) -> str:
    """A config.toml for a `dispatcher` subprocess sending SMS to the Twilio sandbox."""
    from dispatcher.sandbox import SANDBOX_ACCOUNT_SID

    return (f'[database]\nurl = "{database_url}"\n'
            f'[web]\npublic_url = "{public_url}"\n'
            '[channels.sms]\nprovider = "twilio"\n'
            f'account_sid = "{SANDBOX_ACCOUNT_SID}"\n'
            f'auth_token = "env:{token_variable}"\n'
            f'from = "+15005550006"\napi_base = "{api_base}"\n'
            f'rate = {rate}\nconcurrency = 16\ntimeout = {timeout}\n'
            f'status_callback = {"true" if status_callback else "false"}\n')
