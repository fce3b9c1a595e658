"""``dispatcher logs`` and ``dispatcher failures`` explain error codes (in English).

A temporary SQLite database holds the campaign ``drive`` planned to three residents:
two rows failed with Twilio's 30003 (one detail naming a phone number), one with 21211.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from dispatcher.audience.contacts import import_contacts
from dispatcher.cli import main
from dispatcher.cli.failure_codes import failures
from dispatcher.context import AppContext
from dispatcher.delivery.transitions import Transition, advance
from dispatcher.storage.db import make_engine
from dispatcher.storage.tables import deliveries
from dispatcher.testing import plan_campaign, sms_campaign_text

CONTACTS = "phone,area,district\n13800000001,,\n13800000002,,\n13800000003,,\n"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    database = tmp_path / "test.db"
    path = tmp_path / "config.toml"
    path.write_text(f'[database]\nurl = "sqlite:///{database}"\n', encoding="utf-8")
    engine = make_engine(f"sqlite:///{database}")
    import_contacts(engine, io.StringIO(CONTACTS), "residents", "CN")
    plan_campaign(engine, sms_campaign_text())
    with engine.begin() as conn:
        ids = list(conn.execute(select(deliveries.c.id).order_by(deliveries.c.target))
                   .scalars())
        advance(conn, [Transition("failed", ids[0], code="30003",
                                  detail="unreachable: +8613800000001"),
                       Transition("failed", ids[1], code="30003", detail="unreachable"),
                       Transition("failed", ids[2], code="21211", detail="invalid To")],
                actor="engine")
    engine.dispose()
    return path


def run(*args: str, config: Path) -> Result:
    result = CliRunner(env={"COLUMNS": "250"}).invoke(main, ["--config", str(config), *args])
    assert result.exit_code == 0, result.output
    return result


def test_logs_explain_each_rows_code(config: Path) -> None:
    table = run("logs", "--status", "failed", config=config).output
    assert "what it means / what to do" in table
    assert table.count("The phone was unreachable") == 2
    assert table.count("The number is not a valid phone number.") == 1
    machine = run("logs", "--json", config=config).output
    assert "what it means" not in machine and "switched off" not in machine


def test_failures_group_codes_with_meaning_and_action(config: Path) -> None:
    app = AppContext(config_path=str(config))
    result = CliRunner(env={"COLUMNS": "250"}).invoke(failures, ["drive", "--json"], obj=app)
    assert result.exit_code == 0, result.output
    groups = json.loads(result.output)
    assert [(g["code"], g["rows"]) for g in groups] == [("30003", 2), ("21211", 1)]
    assert groups[0]["meaning"].startswith("The phone was unreachable")
    assert groups[0]["retry_helps"] is True and groups[1]["retry_helps"] is False
    assert "+8613800000001" not in result.output
    table = CliRunner(env={"COLUMNS": "250"}).invoke(failures, ["drive"], obj=app).output
    assert "what to do" in table and "30003" in table
