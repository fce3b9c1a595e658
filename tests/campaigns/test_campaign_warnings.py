"""`campaign validate`/`apply` against the clock and the contacts (issue 16, section 4):
a schedule with no firing ahead warns, a campaign that never ran is not `completed`, and
an audience district or area that matches no contact of its lists is a problem."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import update

from dispatcher.cli import main
from dispatcher.storage.db import make_engine
from dispatcher.storage.tables import runs

PAST = 'start = 2019-06-03T09:00:00\nend = 2019-06-30T21:00:00\ncron = "0 9 * * 1"'
FUTURE = 'start = 2099-06-03T09:00:00\nend = 2099-06-30T21:00:00\ncron = "0 9 * * 1"'
ONE_SHOT_PAST = "start = 2019-06-03T09:00:00"
PAST_WARNING = "schedule: all firings are in the past: nothing will be sent"

# District names of several shapes: LIKE wildcards, hyphens, Chinese, very long.
DISTRICTS = ["丈八街道", "鱼化寨街道", "a_b", "100%", "x-y", "长" * 300]


class Cli:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.db = tmp_path / "d.db"
        self.config = tmp_path / "config.toml"
        self.config.write_text(f'[database]\nurl = "sqlite:///{self.db}"\n', encoding="utf-8")

    def __call__(self, *args: str, code: int = 0) -> Result:
        result = CliRunner(env={"COLUMNS": "200"}).invoke(
            main, ["--config", str(self.config), *args])
        assert result.exit_code == code, result.output
        return result

    def contacts(self, name: str, rows: list[tuple[str, str]]) -> None:
        path = self.tmp / f"{name}.csv"
        lines = [f"1380013{i:04d},{area},{district}" for i, (area, district) in enumerate(rows)]
        if name != "residents":  # other phones, so lists do not share contacts
            lines = [f"1391234{i:04d},{area},{district}" for i, (area, district)
                     in enumerate(rows)]
        path.write_text("phone,area,district\n" + "\n".join(lines) + "\n", encoding="utf-8")
        self("contacts", "import", str(path), "--list", name)

    def campaign(self, schedule: str, audience: str = '{ lists = ["residents"] }',
                 campaign_id: str = "drive-1") -> Path:
        path = self.tmp / f"{campaign_id}.toml"
        path.write_text(f'# a comment\nid = "{campaign_id}"\ntitle = "平安"\nowner = "宣传部"\n'
                        'timezone = "Asia/Shanghai"\n\n'
                        f"[schedule]\n{schedule}\n\n"
                        f'[[placements]]\nchannel = "sms"\naudience = {audience}\n'
                        'body = "Report gang crime: call 110."\n', encoding="utf-8")
        return path


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    made = Cli(tmp_path)
    made.contacts("residents", [("residential", d) for d in DISTRICTS] + [("work", "丈八街道")])
    return made


# 1. No firing ahead: a warning on stderr, at the [schedule] line; exit status unchanged.

@pytest.mark.parametrize("schedule", [PAST, ONE_SHOT_PAST + '\nmisfire = "skip"',
                                      'start = 2019-06-03T09:00:00\nend = 2019-06-04T09:00:00'])
def test_past_schedule_warns_and_validates(cli: Cli, schedule: str) -> None:
    path = cli.campaign(schedule)
    result = cli("campaign", "validate", str(path))
    assert result.stdout == ""
    assert f"warning: {path}:7: {PAST_WARNING}\n" in result.stderr
    assert f"{path}: ok (drive-1" in result.stderr
    report = json.loads(cli("campaign", "validate", "--json", str(path)).stdout)
    assert report[0]["ok"] is True
    assert report[0]["warnings"] == [{"file": str(path), "line": 7, "path": "schedule",
                                      "message": PAST_WARNING.removeprefix("schedule: ")}]


def test_apply_warns_but_stores(cli: Cli) -> None:
    path = cli.campaign(PAST)
    applied = cli("campaign", "apply", str(path), "--json")
    assert json.loads(applied.stdout)["changed"] is True  # stdout stays clean JSON
    assert f"warning: {path}:7: {PAST_WARNING}" in applied.stderr


def test_a_run_late_one_shot_says_it_may_still_go_out_late(cli: Cli) -> None:
    path = cli.campaign(ONE_SHOT_PAST)
    stderr = cli("campaign", "validate", str(path)).stderr
    assert "nothing will be sent on time" in stderr and "late" in stderr


@pytest.mark.parametrize("schedule", [FUTURE, "start = 2099-01-01T00:00:00",
                                      'start = 2019-06-03T09:00:00\nend = 2099-06-30T21:00:00\n'
                                      'cron = "0 9 * * 1"'])
def test_a_firing_ahead_does_not_warn(cli: Cli, schedule: str) -> None:
    path = cli.campaign(schedule)
    assert "warning" not in cli("campaign", "validate", str(path)).stderr
    assert "warning" not in cli("campaign", "apply", str(path)).stderr


def test_warnings_do_not_hide_problems(cli: Cli) -> None:
    past = cli.campaign(PAST, campaign_id="old-one")
    broken = cli.campaign(PAST + "\nmisfire = \"never\"", campaign_id="broken")
    result = cli("campaign", "validate", str(past), str(broken), code=1)
    assert f"{broken}:11: schedule.misfire:" in result.stdout
    assert result.stderr.count("warning:") == 1  # the broken file has no schedule to judge


# 2. A campaign whose firings are over but that never ran is not `completed`.

def test_never_ran_is_expired_and_ran_is_completed(cli: Cli) -> None:
    CliRunner().invoke(main, ["--config", str(cli.config), "user", "add", "chief", "--role",
                              "approver", "--password-stdin"], input="correct horse battery\n")
    for name in ("never-ran", "ran-once"):
        cli("campaign", "apply", str(cli.campaign(PAST, campaign_id=name)))
        cli("campaign", "approve", name, "--by", "chief")
    cli("campaign", "plan", "ran-once", "--at", "2019-06-03T09:00:00")
    with make_engine(f"sqlite:///{cli.db}").begin() as conn:
        conn.execute(update(runs).values(status="completed"))
    listed = {c["id"]: c["status"] for c in json.loads(cli("campaign", "list", "--json").stdout)}
    assert listed == {"never-ran": "expired", "ran-once": "completed"}
    table = cli("campaign", "list").stdout
    assert "expired (never ran)" in table and "completed" in table
    shown = cli("campaign", "show", "never-ran").stdout
    assert "(version 1, expired (never ran))" in shown and "completed" not in shown
    assert json.loads(cli("campaign", "show", "ran-once", "--json").stdout)["status"] \
        == "completed"


# 3. Audience districts and areas are checked against the contacts of the lists.

@pytest.mark.parametrize("district", DISTRICTS)
def test_districts_that_exist_pass(cli: Cli, district: str) -> None:
    listed = json.dumps([district], ensure_ascii=False)
    path = cli.campaign(FUTURE, f'{{ lists = ["residents"], districts = {listed} }}')
    result = cli("campaign", "validate", str(path))
    assert result.stdout == "" and "warning" not in result.stderr


@pytest.mark.parametrize("typo", ["丈八街道x", "a%b", "a_", "100", "10_%", "x", "长" * 301,
                                  "丈八"])
def test_a_district_matching_no_contact_is_a_problem(cli: Cli, typo: str) -> None:
    audience = ('{ lists = ["residents"], districts = ["丈八街道", '
                f'{json.dumps(typo, ensure_ascii=False)}] }}')
    path = cli.campaign(FUTURE, audience)
    result = cli("campaign", "validate", str(path), code=1)
    shown = ", ".join(json.dumps(d, ensure_ascii=False) for d in sorted(DISTRICTS))
    assert result.stdout == (
        f"{path}:14: placements[0].audience.districts[1]: "
        f"{json.dumps(typo, ensure_ascii=False)} matches no contact in lists residents; "
        f"known districts: {shown}\n")
    refused = cli("campaign", "apply", str(path), code=1)
    assert "nothing was stored" in refused.stderr
    assert cli("campaign", "list", "--json").stdout.strip() == "[]"


def test_districts_are_those_of_the_audience_lists(cli: Cli) -> None:
    cli.contacts("workers", [("work", f"district-{i:02d}") for i in range(12)])
    only_workers = ('{ lists = ["residents"], districts = ["district-03"] }')
    problem = cli("campaign", "validate", str(cli.campaign(FUTURE, only_workers)), code=1)
    assert '"district-03" matches no contact in lists residents;' in problem.stdout
    both = '{ lists = ["residents", "workers"], districts = ["district-03", "nope"] }'
    result = cli("campaign", "validate", str(cli.campaign(FUTURE, both)), code=1).stdout
    assert result.count("\n") == 1  # district-03 is a worker's district
    assert '"nope" matches no contact in lists residents, workers; known districts: ' in result
    assert result.rstrip().endswith(", ...")  # 18 districts: ten are shown
    assert result.count('"district-') + result.count('"100%"') <= 10


def test_unknown_lists_are_one_problem_not_two(cli: Cli) -> None:
    audience = '{ lists = ["nobody"], districts = ["丈八街道x"] }'
    result = cli("campaign", "validate", str(cli.campaign(FUTURE, audience)), code=1).stdout
    assert 'unknown contact list "nobody"' in result and "matches no contact" not in result


def test_areas_matching_nobody_are_a_problem_and_some_a_warning(cli: Cli) -> None:
    nobody = '{ lists = ["residents"], areas = ["street", "activity"] }'
    path = cli.campaign(FUTURE, nobody)
    result = cli("campaign", "validate", str(path), code=1)
    assert result.stdout == (
        f'{path}:14: placements[0].audience.areas[0]: "street" matches no contact in lists '
        'residents; known areas: "residential", "work"\n'
        f'{path}:14: placements[0].audience.areas[1]: "activity" matches no contact in lists '
        'residents; known areas: "residential", "work"\n')
    some = '{ lists = ["residents"], areas = ["residential", "street"] }'
    path = cli.campaign(FUTURE, some)
    warned = cli("campaign", "validate", str(path))
    assert warned.stdout == ""
    assert f'warning: {path}:14: placements[0].audience.areas[1]: "street" matches no ' \
        "contact" in warned.stderr
    assert "stored version 1" in cli("campaign", "apply", str(path)).stdout


def test_a_list_without_districts_says_so(cli: Cli) -> None:
    cli.contacts("bare", [("residential", "")])
    audience = '{ lists = ["bare"], districts = ["丈八街道"] }'
    result = cli("campaign", "validate", str(cli.campaign(FUTURE, audience)), code=1).stdout
    assert "no contact of these lists has a district" in result
