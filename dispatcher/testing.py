"""Helpers for tests of the dispatcher and of third-party channel plugins.

They drive the public functions exactly as the CLI does: parse a campaign file's text
with the installed (unconfigured) channels, store it, and plan one firing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from channels.base import Channel, ValidationContext, toml_value
from dispatcher import registry
from dispatcher.approval import lifecycle
from dispatcher.campaigns.model import Campaign, parse_campaign
from dispatcher.campaigns.versions import load_stored
from dispatcher.planning.campaign_store import apply_campaign
from dispatcher.planning.planner import PlanResult, plan_run

FIRE_TIME = datetime(2019, 6, 3, 1, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def unconfigured_channel(name: str) -> Channel:
    """An installed channel without its ``[channels.NAME]`` table: it validates and plans."""
    return registry.build_channel(name, {})


def store_campaign(engine: Engine, text: str, file: str = "campaign.toml",
                   approve_as: str | None = "approver") -> Campaign:
    """Parse ``text`` (AssertionError listing the problems if any), store it, and approve
    the stored version as ``approve_as`` (None leaves it awaiting approval)."""
    campaign, issues = parse_campaign(text, file, default_timezone="Asia/Shanghai",
                                      channel_for=unconfigured_channel,
                                      context=ValidationContext())
    assert campaign is not None, "\n".join(map(str, issues))
    apply_campaign(engine, campaign, file, text, actor="planner")
    if approve_as is not None:
        lifecycle.approve(engine, campaign.id, approve_as)
    return campaign


def plan_campaign(engine: Engine, text: str, fire_time: datetime = FIRE_TIME) -> PlanResult:
    """Store the campaign in ``text`` and plan its firing at ``fire_time``."""
    stored = store_campaign(engine, text)
    campaign, version = load_stored(engine, stored.id)
    return plan_run(engine, campaign, version, fire_time, unconfigured_channel)


DRIVE_START = datetime(2019, 6, 3, 9, tzinfo=SHANGHAI)


def sms_campaign_text(campaign_id: str = "drive", start: datetime = DRIVE_START, *,
                      end: datetime | None = None, cron: str | None = None,
                      misfire: str = "run-late", body: str = "Report gang crime: call 110.",
                      audience_list: str = "residents", title: str = "Drive",
                      owner: str = "Publicity") -> str:
    """A campaign file in Shanghai time with one SMS placement to ``audience_list``."""
    def moment(value: datetime) -> str:
        return value.astimezone(SHANGHAI).replace(microsecond=0).isoformat()

    lines = [f'id = "{campaign_id}"', f"title = {toml_value(title)}",
             f"owner = {toml_value(owner)}",
             'timezone = "Asia/Shanghai"', "[schedule]", f"start = {moment(start)}",
             f'misfire = "{misfire}"']
    if end is not None:
        lines.append(f"end = {moment(end)}")
    if cron is not None:
        lines.append(f'cron = "{cron}"')
    lines += ["[[placements]]", 'channel = "sms"',
              f'audience = {{ lists = ["{audience_list}"] }}', f"body = {toml_value(body)}"]
    return "\n".join(lines) + "\n"


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
