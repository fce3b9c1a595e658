"""One time zone in every CLI listing (issue 16 §3).

Tables for people show wall-clock times in the campaign's zone (one campaign) or
config's ``timezone`` (lists of many), named in the column header, never UTC; ``--json``
keeps ISO 8601 with the offset. The stored times are set to 23:30 UTC, so a listing
that forgot to convert shows the wrong day as well as the wrong hour.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import update

from dispatcher.accounts.users import add_user, create_token, disable_user
from dispatcher.cli import main
from dispatcher.storage.db import make_engine
from dispatcher.storage.tables import (
    api_tokens,
    campaign_versions,
    campaigns,
    optouts,
    refused_reports,
    users,
)

REPO = Path(__file__).resolve().parents[2]
DRIVE = REPO / "campaigns" / "pingan-ding.toml"  # timezone = "Asia/Shanghai"
CONFIG_ZONE = "Asia/Urumqi"  # UTC+6: lists of many campaigns are told in config's zone
STORED = datetime(2019, 6, 1, 23, 30, tzinfo=UTC)
IN_CONFIG_ZONE = "2019-06-02 05:30"  # STORED at UTC+6
IN_CAMPAIGN_ZONE = "2019-06-02 07:30"  # STORED at UTC+8
PASSWORD = "correct horse battery"


class Cli:
    def __init__(self, tmp_path: Path) -> None:
        self.db = tmp_path / "test.db"
        self.config = tmp_path / "config.toml"
        self.config.write_text(f'timezone = "{CONFIG_ZONE}"\n[database]\n'
                               f'url = "sqlite:///{self.db}"\n', encoding="utf-8")

    def __call__(self, *args: str) -> Result:
        result = CliRunner(env={"COLUMNS": "250"}).invoke(
            main, ["--config", str(self.config), *args])
        assert result.exit_code == 0, result.output
        return result


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """A planned campaign, an opt-out, a refused venue report and a disabled user with an
    API token, every stored time set to :data:`STORED`."""
    tmp = tmp_path_factory.mktemp("times")
    cli = Cli(tmp)
    contacts = tmp / "residents.csv"
    contacts.write_text("phone,area,district\n13800138000,residential,丈八街道\n"
                        "13912345678,work,鱼化寨街道\n", encoding="utf-8")
    cli("contacts", "import", str(contacts), "--list", "residents")
    cli("optout", "add", "13912345678", "--channel", "sms")
    engine = make_engine(f"sqlite:///{cli.db}")
    add_user(engine, "chief", "approver", PASSWORD)
    cli("campaign", "apply", str(DRIVE), "--by", "planner")
    cli("campaign", "approve", "pingan-ding", "--by", "chief")
    cli("campaign", "plan", "pingan-ding", "--at", "2019-06-03T09:00")
    add_user(engine, "王小明", "operator", PASSWORD, display_name="王小明")
    create_token(engine, "王小明", "ci")
    disable_user(engine, "王小明", "chief")
    with engine.begin() as conn:
        conn.execute(refused_reports.insert().values(
            channel="led", venue="B_001", reason="above_schedule", detail="9 plays",
            received_at=STORED, fingerprint="f" * 64))
        for table, column in ((campaigns, "updated_at"), (campaign_versions, "created_at"),
                              (optouts, "created_at"), (api_tokens, "created_at")):
            conn.execute(update(table).values({column: STORED}))
        conn.execute(update(api_tokens).values(revoked_at=STORED, revoked_by="chief"))
        conn.execute(update(users).where(users.c.name == "王小明").values(disabled_at=STORED))
    engine.dispose()
    return cli


LISTINGS = [
    (("campaign", "list"), CONFIG_ZONE, IN_CONFIG_ZONE),
    (("campaign", "show", "pingan-ding"), "Asia/Shanghai", IN_CAMPAIGN_ZONE),
    (("user", "list"), CONFIG_ZONE, IN_CONFIG_ZONE),
    (("user", "tokens", "王小明"), CONFIG_ZONE, IN_CONFIG_ZONE),
    (("optout", "list"), CONFIG_ZONE, IN_CONFIG_ZONE),
    (("screens", "refused"), CONFIG_ZONE, IN_CONFIG_ZONE),
]


@pytest.mark.parametrize(("command", "zone", "shown"), LISTINGS,
                         ids=[" ".join(c[:2]) for c, _z, _s in LISTINGS])
def test_listings_show_local_times_under_a_zone_label(cli: Cli, command: tuple[str, ...],
                                                      zone: str, shown: str) -> None:
    out = cli(*command).stdout
    assert f"({zone})" in out, out
    assert shown in out, out
    assert "UTC" not in out and "+00:00" not in out and "2019-06-01 23:30" not in out, out


def test_campaign_show_tells_fire_times_and_schedule_in_the_campaign_zone(cli: Cli) -> None:
    out = cli("campaign", "show", "pingan-ding").stdout
    assert "fire time (Asia/Shanghai)" in out and "2019-06-03 09:00" in out
    assert "start 2019-06-03 09:00, end 2019-06-30 21:00" in out
    assert "2019-06-03 01:00" not in out and "+08:00" not in out


def test_planning_names_the_fire_time_in_the_campaign_zone(cli: Cli) -> None:
    again = cli("campaign", "plan", "pingan-ding", "--at", "2019-06-03T01:00+00:00").stdout
    assert "at 2019-06-03 09:00 (Asia/Shanghai) was already planned" in again


@pytest.mark.parametrize(("command", "key"), [
    (("campaign", "list", "--json"), "updated_at"),
    (("user", "list", "--json"), "disabled_at"),
    (("user", "tokens", "王小明", "--json"), "revoked_at"),
    (("optout", "list", "--json"), "created_at"),
    (("screens", "refused", "--json"), "received_at"),
])
def test_json_keeps_iso_8601_with_the_offset(cli: Cli, command: tuple[str, ...],
                                             key: str) -> None:
    value = json.loads(cli(*command).stdout)[-1][key]  # users: 王小明 sorts after chief
    assert "T" in value, value  # ISO 8601, not str(datetime)
    assert datetime.fromisoformat(value) == STORED
    assert datetime.fromisoformat(value).utcoffset() is not None
