"""The ``dispatcher`` command end to end on a temporary SQLite database."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from dispatcher.cli import main

REPO = Path(__file__).resolve().parents[2]
DRIVE = REPO / "campaigns" / "pingan-ding.toml"


class Cli:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.config = tmp_path / "config.toml"
        self.config.write_text('[database]\nurl = "sqlite:///var/test.db"\n', encoding="utf-8")

    def __call__(self, *args: str, code: int = 0, stdin: str | None = None) -> Result:
        result = CliRunner(env={"COLUMNS": "200"}).invoke(
            main, ["--config", str(self.config), *args], input=stdin)
        assert result.exit_code == code, result.output
        return result

    def approver(self, name: str = "chief") -> None:
        """Add ``name`` with the approver role: `campaign approve --by` names a user."""
        self("user", "add", name, "--role", "approver", "--password-stdin",
             stdin="correct horse battery\n")


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


@pytest.fixture
def planned(cli: Cli) -> Cli:
    contacts = cli.tmp / "residents.csv"
    contacts.write_text("phone,area,district\n13800138000,residential,丈八街道\n"
                        "13912345678,work,鱼化寨街道\n02988888888,street,丈八街道\n",
                        encoding="utf-8")
    cli("contacts", "import", str(contacts), "--list", "residents")
    cli("optout", "add", "13912345678", "--channel", "sms")
    cli("campaign", "apply", str(DRIVE))
    cli.approver("chief")
    cli("campaign", "approve", "pingan-ding", "--by", "chief")
    cli("campaign", "plan", "pingan-ding")
    return cli


def test_every_command_has_help(cli: Cli) -> None:
    for command in (["campaign", "validate"], ["campaign", "apply"], ["campaign", "list"],
                    ["campaign", "show"], ["campaign", "plan"], ["logs"], ["reach"],
                    ["db", "upgrade"], ["contacts", "import"], ["optout", "add"]):
        assert "Usage:" in cli(*command, "--help").output


def test_validate_the_drive_and_a_broken_file(cli: Cli) -> None:
    contacts = cli.tmp / "residents.csv"
    contacts.write_text("phone,area,district\n13800138000,residential,丈八街道\n", "utf-8")
    cli("contacts", "import", str(contacts), "--list", "residents")
    assert "ok (pingan-ding" in cli("campaign", "validate", str(DRIVE)).stderr
    broken = REPO / "tests" / "campaigns" / "campaign_corpus" / "11-end-before-start.toml"
    result = cli("campaign", "validate", str(DRIVE), str(broken), code=1)
    assert result.stdout == f"{broken}:9: schedule.end: 2019-05-30 21:00 is not after " \
        "schedule.start (2019-06-03 09:00); end must be later than start\n"
    assert cli("campaign", "list", "--json").stdout.strip() == "[]"  # nothing stored


def test_apply_stores_versions_only_on_change(planned: Cli) -> None:
    assert "unchanged (version 1)" in planned("campaign", "apply", str(DRIVE)).output
    edited = planned.tmp / "drive.toml"
    edited.write_text("# a comment does not make a version\n" + DRIVE.read_text("utf-8"),
                      encoding="utf-8")
    assert "unchanged (version 1)" in planned("campaign", "apply", str(edited)).output
    edited.write_text(DRIVE.read_text("utf-8").replace("max_segments = 2", "max_segments = 3"),
                      encoding="utf-8")
    assert "stored version 2" in planned("campaign", "apply", str(edited)).output
    listed = json.loads(planned("campaign", "list", "--json").stdout)
    assert [(c["id"], c["version"], c["runs"]) for c in listed] == [("pingan-ding", 2, 1)]
    shown = json.loads(planned("campaign", "show", "pingan-ding", "--json").stdout)
    assert [v["version"] for v in shown["versions"]] == [1, 2]
    assert shown["placements"][0]["max_segments"] == 3
    assert shown["runs"][0]["version"] == 1
    planned("campaign", "show", "nope", code=1)


def test_plan_twice_is_a_no_op(planned: Cli) -> None:
    again = json.loads(planned("campaign", "plan", "pingan-ding", "--json").stdout)
    assert again["created"] is False


def test_reach_json_has_the_design_shape(planned: Cli) -> None:
    reach = json.loads(planned("reach", "pingan-ding", "--json").stdout)
    assert reach["campaign"] == "pingan-ding" and reach["runs"] == 1
    sms = reach["channels"]["sms"]
    assert {k: sms[k] for k in ("targets", "pending", "sent", "delivered", "undelivered",
                                "failed")} == {"targets": 3, "pending": 1, "sent": 0,
                                               "delivered": 0, "undelivered": 0, "failed": 0}
    assert sms["skipped"]["opted_out"] == 1 and sms["skipped"]["invalid"] == 1
    assert sms["reach"] == {"message_times": 0, "segments": 0}
    assert "sms" in planned("reach", "pingan-ding").stdout


def test_logs_mask_numbers_and_export(planned: Cli) -> None:
    table = planned("logs").stdout
    assert "+86 138****8000" in table and "13800138000" not in table
    lines = [json.loads(line) for line in planned("logs", "--json").stdout.splitlines()]
    assert sorted(r["target"] for r in lines) == ["+86 138****8000", "+86 138****8000",
                                                  "+86 139****5678", "+86 298****888",
                                                  "all@1"]  # sms x3, webhook, wechat
    full = planned("logs", "--json", "--unmask", "--status", "skipped:opted_out").stdout
    assert [json.loads(line)["target"] for line in full.splitlines()] == ["+8613912345678"]
    exported = list(csv.DictReader(io.StringIO(planned("logs", "--csv", "--limit", "0",
                                                       "--channel", "sms").stdout)))
    assert len(exported) == 3 and {r["status"] for r in exported} == {"planned", "skipped"}
    assert planned("logs", "--target", "139 1234 5678", "--json").stdout.count("\n") == 1
    planned("logs", "--status", "lost", code=1)


def test_logs_pages_with_a_cursor(planned: Cli) -> None:
    ids: list[int] = []
    args = ["logs", "--json", "--limit", "2"]
    for _page in range(5):
        shown = planned(*args)
        ids += [json.loads(line)["id"] for line in shown.stdout.splitlines()]
        cursor = re.search(r"--cursor (\S+)", shown.stderr)
        if cursor is None:
            break
        args = ["logs", "--json", "--limit", "2", "--cursor", cursor.group(1)]
    assert sorted(ids, reverse=True) == ids and len(set(ids)) == len(ids) == 5


def test_apply_json_and_logs_time_filters(planned: Cli) -> None:
    applied = json.loads(planned("campaign", "apply", str(DRIVE), "--json").stdout)
    assert applied == {"campaign": "pingan-ding", "version": 1, "changed": False}
    assert planned("logs", "--json", "--since", "2000-01-01").stdout.count("\n") == 5
    assert planned("logs", "--json", "--until", "2000-01-01").stdout == ""
    assert planned("logs", "--json", "--since", "2999-01-01T00:00+08:00").stdout == ""
    assert "is not an ISO 8601" in planned("logs", "--since", "yesterday", code=1).stderr


def test_bad_config_is_one_error_naming_the_key(cli: Cli) -> None:
    cli.config.write_text('[channels.sms]\nrate = -1\n', encoding="utf-8")
    result = cli("campaign", "validate", str(DRIVE), code=2)
    assert result.stderr.startswith(f"error: {cli.config}: channels.sms.")


def test_pause_resume_cancel_and_retry_commands(planned: Cli) -> None:
    assert "pingan-ding: paused run(s) 1" in planned("campaign", "pause", "pingan-ding").stdout
    assert "no run to pause" in planned("campaign", "pause", "pingan-ding", code=1).stderr
    assert "resumed run(s) 1" in planned("campaign", "resume", "pingan-ding").stdout
    cancelled = planned("campaign", "cancel", "pingan-ding").stdout
    assert "cancelled run(s) 1; 3 row(s) skipped(cancelled)" in cancelled  # SMS, letter, notice
    retried = planned("retry", "pingan-ding", "--status", "failed").stdout
    assert retried == "pingan-ding: 0 failed row(s) requeued\n"
    assert "Usage:" in planned("retry", "pingan-ding", "--status", "sent", code=2).output


def test_approval_and_history_commands(cli: Cli) -> None:
    contacts = cli.tmp / "residents.csv"
    contacts.write_text("phone,area,district\n13800138000,residential,丈八街道\n", "utf-8")
    cli("contacts", "import", str(contacts), "--list", "residents")
    assert "approve it with" in cli("campaign", "apply", str(DRIVE), "--by", "li").stdout
    refused = cli("campaign", "plan", "pingan-ding", code=1).stderr
    assert "version 1 is not approved" in refused
    assert "no such user" in cli("campaign", "approve", "pingan-ding", "--by", "chief",
                                 code=1).stderr
    cli.approver("chief")
    assert "version 1 approved" in cli("campaign", "approve", "pingan-ding", "--by",
                                       "chief").stdout
    cli("campaign", "plan", "pingan-ding")
    entries = json.loads(cli("campaign", "history", "pingan-ding", "--json").stdout)
    assert [(e["actor"], e["action"]) for e in entries] == [
        ("li", "apply"), ("chief", "approve"), ("planner", "plan")]
    shown = json.loads(cli("campaign", "show", "pingan-ding", "--json").stdout)
    assert shown["versions"][0]["approved_by"] == "chief"
    assert "chief" in cli("campaign", "history", "pingan-ding").stdout


def test_reach_record_enters_offline_figures(planned: Cli) -> None:
    done = planned("reach", "record", "pingan-ding", "--channel", "print", "--metric",
                   "posters", "--value", "60000", "--district", "丈八街道", "--by", "clerk")
    assert "print.posters = 60,000 recorded" in done.stdout
    planned("reach", "record", "pingan-ding", "--channel", "print", "--metric", "posters",
            "--value", "500", "--by", "clerk2")
    reach = json.loads(planned("reach", "pingan-ding", "--json").stdout)
    printed = reach["channels"]["print"]
    assert printed["reach"] == {"posters": 60500} and printed["targets"] == 0
    assert printed["reach_sources"]["posters"] == {
        "source": "manual", "method": "entered by hand by clerk, clerk2"}
    assert "reach" in planned("campaign", "history", "pingan-ding").stdout
    bad = planned("reach", "record", "pingan-ding", "--channel", "Print!", "--metric", "x",
                  "--value", "1", "--by", "clerk", code=1)
    assert "--channel 'Print!'" in bad.stderr
    planned("reach", "record", "nope", "--channel", "print", "--metric", "x", "--value", "1",
            "--by", "clerk", code=1)
