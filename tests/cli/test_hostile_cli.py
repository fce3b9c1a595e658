"""Every command with hostile values: one error line, a non-zero exit, no traceback.

The table below names each case's command, its arguments and the text its error line
must carry (huge and negative numbers, nan, years 1 and 9999, unreadable and unwritable
paths). Every command of the click group also runs against a database that is down,
whose driver is missing and whose URL cannot be read; a command added later is run
that way too, or must be named in NO_DATABASE with a case of its own. Each hostile case
must leave the database as it was.

Commands run in-process through click's CliRunner; a few run through the installed
``dispatcher`` entry point to prove the real process prints no traceback either.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from dispatcher.cli import main

REPO = Path(__file__).resolve().parents[2]
DRIVE = REPO / "campaigns" / "pingan-ding.toml"
HUGE = str(10**30)
BIG_ID = str(2**63)  # one more than the database's largest integer
UNREADABLE = "/proc/no-such-dir/file.csv"  # no one can create files under /proc
UNWRITABLE = "/proc/forbidden"
DOWN = "postgresql+psycopg://dispatcher:s3cret-pw@127.0.0.1:1/dispatcher"
NO_DRIVER = "mysql://dispatcher:s3cret-pw@127.0.0.1/dispatcher"
NOT_A_URL = "not a url"
DATABASE_ERRORS = {
    DOWN: "error: cannot reach the database at "
          "postgresql+psycopg://dispatcher:***@127.0.0.1:1/dispatcher: ",
    NO_DRIVER: "error: the database URL mysql://dispatcher:***@127.0.0.1/dispatcher needs "
               "the driver 'MySQLdb', which is not installed",
    NOT_A_URL: "error: the database URL 'not a url' cannot be read; write it as ",
}
# Lines that carry a problem: "error: ...", click's usage "Error: ...", "FILE:LINE: ...".
ERROR_LINE = re.compile(r"^(error|Error): ")
FILE_LINE = re.compile(r"^\S+:\d+: ")

SCREENS = ("id,name,kind,district,area,resolution,audience_per_play,audience_source,"
           "controller,endpoint,tags\n")
SHOWTIMES = "id,cinema,auditorium,film,rating,start,expected_seats,status\n"


def cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def year_file(start: str = "2019-06-03T09:00:00", end: str = "2019-06-30T21:00:00") -> str:
    """A one-placement campaign; start is on line 5, end on line 6."""
    return (f'id = "hostile"\ntitle = "Hostile"\nowner = "Test"\n[schedule]\n'
            f'start = {start}\nend = {end}\n[[placements]]\nchannel = "sms"\n'
            'audience = { lists = ["residents"] }\nbody = "Call 110. Reply TD to stop."\n')


# Files the cases name as {NAME}; written into the workspace.
FILES: dict[str, str | bytes] = {
    "not-utf8.toml": b"\xff\xfe[database]\n",
    "year1.toml": year_file(start="0001-01-01T00:00:00"),
    "year9999.toml": year_file(end="9999-12-31T23:59:59-12:00"),
    "screens-audience.csv": SCREENS + "H-1,Hall,building,d,work,1080x1920,"
                            + "1" + "0" * 26 + ",count,pull,,\n",
    "screens-resolution.csv": SCREENS + "H-2,Hall,building,d,work,1" + "0" * 22
                              + "x1080,10,count,pull,,\n",
    "showtimes-year1.csv": SHOWTIMES + "S9,C01,1,Film,PG,0001-01-01T00:00:00,10,scheduled\n",
    "showtimes-year9999.csv": SHOWTIMES + "S9,C01,1,Film,PG,9999-12-31T23:00:00-12:00,10,"
                              "scheduled\n",
    "showtimes-seats.csv": SHOWTIMES + "S9,C01,1,Film,PG,2030-03-04T19:30:00,1" + "0" * 23
                           + ",scheduled\n",
    "cinemas-preshow.csv": "id,name,district,system,preshow\nC_1,X,d,cms,ads:" + "9" * 30
                           + "\n",
    "contacts-phone.csv": "phone,area,district\n" + "9" * 40 + ",residential,d\n",
    "optouts.csv": "phone,channel\n" + "9" * 40 + ",sms\n",
}


@dataclass(frozen=True)
class Case:
    """``dispatcher ARGS`` must fail with one line containing ``expect``.

    ``where`` is "stderr" for an ``error:`` line, "lines" for FILE:LINE lines (campaign
    files and CSV rows print one per problem, on stdout or stderr).
    """

    args: tuple[str, ...]
    expect: str
    where: str = "stderr"
    code: int | None = None
    env: dict[str, str] = field(default_factory=dict)
    stdin: str | None = None

    @property
    def id(self) -> str:
        return " ".join(self.args)[:80]


def case(*args: str, expect: str, **options: object) -> Case:
    return Case(tuple(args), expect, **options)  # type: ignore[arg-type]


USAGE = 2  # click's exit status for a value it refuses
CASES = [
    # dispatcher logs: cursors, times and limits the database cannot take (issue 15, #10)
    case("logs", "--cursor", cursor(f"2019-06-01T00:00:00+00:00|{BIG_ID}"),
         expect="is not one printed by `dispatcher logs`"),
    case("logs", "--cursor", cursor("2019-06-01T00:00:00+00:00|-5"),
         expect="is not one printed by `dispatcher logs`"),
    case("logs", "--cursor", cursor("0001-01-01T00:00:00+14:00|5"),
         expect="is not one printed by `dispatcher logs`"),
    case("logs", "--cursor", "%%%" * 1000, expect="is not one printed by `dispatcher logs`"),
    case("logs", "--since", "0001-01-01",
         expect="--since 0001-01-01T00:00:00: year 1 is out of range; allowed: years 1970 "
                "to 2999"),
    case("logs", "--until", "9999-12-31T23:00:00-12:00",
         expect="--until 9999-12-31T23:00:00-12:00: year 9999 is out of range"),
    case("logs", "--since", "yesterday", expect="is not an ISO 8601 date"),
    case("logs", "--limit", HUGE, expect="Invalid value for '--limit'", code=USAGE),
    case("logs", "--limit", "-1", expect="Invalid value for '--limit'", code=USAGE),
    case("logs", "--status", "skipped:%_", expect="is not a delivery state"),
    # campaign files and commands
    case("campaign", "validate", "{year1.toml}", where="lines",
         expect="year1.toml:5: schedule.start: 0001-01-01T00:00:00: year 1 is out of "
                "range; allowed: years 1970 to 2999"),
    case("campaign", "apply", "{year1.toml}", where="lines",
         expect="schedule.start: 0001-01-01T00:00:00: year 1 is out of range"),
    case("campaign", "validate", "{year9999.toml}", where="lines",
         expect="schedule.end: 9999-12-31T23:59:59-12:00: year 9999 is out of range"),
    case("campaign", "validate", UNREADABLE, where="lines", expect="cannot be read"),
    case("campaign", "plan", "pingan-ding", "--at", "0001-01-01T00:00:00",
         expect="--at 0001-01-01T00:00:00: year 1 is out of range"),
    case("campaign", "plan", "pingan-ding", "--at", "9999-12-31T23:00:00-12:00",
         expect="--at 9999-12-31T23:00:00-12:00: year 9999 is out of range"),
    case("campaign", "approve", "pingan-ding", "--by", "chief", "--version",
         "99999999999999999999", expect="Invalid value for '--version'", code=USAGE),
    case("campaign", "approve", "pingan-ding", "--by", "chief", "--version", str(2**63 - 1),
         expect="has no version 9223372036854775807"),
    case("campaign", "preview", "pingan-ding", "--channel", "wechat", "--to", "x",
         "--placement", HUGE, expect="has no placement"),
    case("campaign", "show", "不存在_%-" + "x" * 300, expect="no campaign"),
    case("campaign", "history", "no_such%", expect="no campaign"),
    case("campaign", "pause", "no-such", expect="no campaign"),
    case("campaign", "resume", "no-such", expect="no campaign"),
    case("campaign", "cancel", "no-such", expect="no campaign"),
    case("campaign", "list", env={"DISPATCHER_DATABASE_URL": DOWN},
         expect=DATABASE_ERRORS[DOWN]),
    case("retry", "no-such", "--status", "failed", expect="no campaign"),
    # reach
    case("reach", "record", "pingan-ding", "--channel", "print", "--metric", "posters",
         "--value", "1" + "0" * 23, expect="Invalid value for '--value'", code=USAGE),
    case("reach", "record", "pingan-ding", "--channel", "print", "--metric", "posters",
         "--value", "-1", expect="Invalid value for '--value'", code=USAGE),
    case("reach", "show", "no-such", expect="no campaign"),
    # sending
    case("run", "--until-idle", "--lease", "1e308", expect="Invalid value for '--lease'",
         code=USAGE),
    case("run", "--until-idle", "--lease", "nan", expect="'nan' is not a number", code=USAGE),
    case("run", "--until-idle", "--skip-grace", "1e308",
         expect="Invalid value for '--skip-grace'", code=USAGE),
    case("run", "--until-idle", "--max-attempts", HUGE,
         expect="Invalid value for '--max-attempts'", code=USAGE),
    case("worker", "--lease", "-1e308", expect="Invalid value for '--lease'", code=USAGE),
    case("worker", "--heartbeat", "nan", expect="'nan' is not a number", code=USAGE),
    case("status", "--timeout", "1e308", expect="Invalid value for '--timeout'", code=USAGE),
    case("status", "--max-lag", "nan", expect="'nan' is not a number", code=USAGE),
    case("schedule", "list", "--limit", HUGE, expect="Invalid value for '--limit'",
         code=USAGE),
    # output paths
    case("report", "pingan-ding", "--out", UNWRITABLE,
         expect=f"--out {UNWRITABLE}: cannot write there (No such file or directory)"),
    case("contacts", "generate", "--count", "3", "--out", "/proc/nope.csv",
         expect="--out /proc/nope.csv: cannot write there"),
    case("contacts", "generate", "--count", HUGE, "--out", "{generated.csv}",
         expect="Invalid value for '--count'", code=USAGE),
    case("demo", "--workdir", UNWRITABLE, expect=f"--workdir {UNWRITABLE}: cannot write"),
    case("demo", "--scale", HUGE, expect="Invalid value for '--scale'", code=USAGE),
    case("demo", "--rate", "nan", expect="'nan' is not a number", code=USAGE),
    # imports: a row the database could not store is that row's FILE:LINE problem
    case("contacts", "import", UNREADABLE, "--list", "x", expect="does not exist",
         code=USAGE),
    case("contacts", "import", "{contacts-phone.csv}", "--list", "x", "--show-invalid", HUGE,
         where="lines", expect="contacts-phone.csv:2: phone"),
    case("optout", "import", "{optouts.csv}", "--show-invalid", HUGE, where="lines",
         expect="optouts.csv:2: "),
    case("optout", "add", "+" + "9" * 40, expect="error: "),
    case("optout", "list", "--limit", HUGE, expect="Invalid value for '--limit'", code=USAGE),
    case("screens", "import", "{screens-audience.csv}", where="lines",
         expect="screens-audience.csv:2: audience_per_play"),
    case("screens", "import", "{screens-resolution.csv}", where="lines",
         expect="screens-resolution.csv:2: resolution"),
    case("screens", "show", "B_001", expect="no screen 'B_001'"),
    case("screens", "token", "不存在", expect="no screen"),
    case("screens", "plays", "no-such", expect="no campaign"),
    case("screens", "group", "add", "g", "tag=" + "x" * 10 + " bogus", expect="group rule"),
    case("screens", "list", env={"DISPATCHER_DATABASE_URL": NOT_A_URL},
         expect=DATABASE_ERRORS[NOT_A_URL]),
    case("showtimes", "import", "{showtimes-year1.csv}", where="lines",
         expect="showtimes-year1.csv:2: start"),
    case("showtimes", "import", "{showtimes-year9999.csv}", where="lines",
         expect="showtimes-year9999.csv:2: start"),
    case("showtimes", "import", "{showtimes-seats.csv}", where="lines",
         expect="showtimes-seats.csv:2: expected_seats"),
    case("cinemas", "import", "{cinemas-preshow.csv}", where="lines",
         expect="cinemas-preshow.csv:2: preshow"),
    case("cinemas", "token", "C_1", expect="C_1"),
    case("cinemas", "list", env={"DISPATCHER_DATABASE_URL": NO_DRIVER},
         expect=DATABASE_ERRORS[NO_DRIVER]),
    # users
    case("user", "add", "x" * 2000, "--role", "planner", "--password-stdin", stdin="short\n",
         expect="error: "),
    case("user", "role", "no_such%", "admin", expect="no user"),
    case("user", "token", "no_such%", expect="no user"),
    case("user", "list", env={"DISPATCHER_DATABASE_URL": DOWN}, expect=DATABASE_ERRORS[DOWN]),
    # the config, the database and the servers
    case("--config", "{not-utf8.toml}", "campaign", "list", code=USAGE,
         expect="not-utf8.toml: (file): is not UTF-8 text; save it as UTF-8"),
    case("db", "upgrade", "--revision", "9999", expect="--revision '9999'"),
    case("db", "status", env={"DISPATCHER_DATABASE_URL": DOWN}, expect=DATABASE_ERRORS[DOWN]),
    case("serve", "--listen", "127.0.0.1:99999999", expect="Invalid value for --listen",
         code=USAGE),
    case("sandbox", "serve", "--port", HUGE, expect="Invalid value for '--port'", code=USAGE),
    case("sandbox", "wechat", "--port", "-1", expect="Invalid value for '--port'", code=USAGE),
    case("sandbox", "partner", "--port", HUGE, expect="Invalid value for '--port'",
         code=USAGE),
    case("sandbox", "aliyun", "--port", HUGE, expect="Invalid value for '--port'", code=USAGE),
    case("sandbox", "tencent", "--port", HUGE, expect="Invalid value for '--port'",
         code=USAGE),
    case("sandbox", "led", "--screens", UNREADABLE, "--dispatcher", "http://127.0.0.1:9",
         expect="does not exist", code=USAGE),
    case("sandbox", "cinema", "--tokens", UNREADABLE, "--showtimes", UNREADABLE,
         "--dispatcher", "http://127.0.0.1:9", expect="does not exist", code=USAGE),
]

# Commands that never open the database: each needs a case of its own above.
NO_DATABASE = {
    ("contacts", "generate"): "writes a sample file",
    ("demo",): "makes its own workspace",
    ("sandbox", "cinema"): "a fake provider", ("sandbox", "led"): "a fake provider",
    ("sandbox", "partner"): "a fake provider", ("sandbox", "serve"): "a fake provider",
    ("sandbox", "wechat"): "a fake provider", ("sandbox", "aliyun"): "a fake provider",
    ("sandbox", "tencent"): "a fake provider",
    ("worker",): "refuses the local executor before it opens the database",
}


# The workspace: one SQLite database with the drive approved and planned, a screen, a
# cinema with a hall and a screening, and a user; built once, checked after every case.


@dataclass
class Workspace:
    root: Path
    config: Path
    database: Path

    def invoke(self, args: list[str], env: dict[str, str] | None = None,
               stdin: str | None = None) -> Result:
        runner = CliRunner(env={"COLUMNS": "200", "DISPATCHER_DATABASE_URL": "",
                                "DISPATCHER_DEBUG": "", **(env or {})})
        return runner.invoke(main, ["--config", str(self.config), *args], input=stdin)

    def fill(self, args: tuple[str, ...]) -> list[str]:
        return [str(self.root / arg[1:-1]) if arg.startswith("{") and arg.endswith("}")
                else arg for arg in args]


def checksum(database: Path) -> str:
    """Every table's rows, hashed: equal before and after a refused command."""
    digest = hashlib.sha256()
    with sqlite3.connect(database) as conn:
        tables = [name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        for table in tables:
            digest.update(table.encode())
            for row in conn.execute(f'SELECT * FROM "{table}" ORDER BY 1'):
                digest.update(repr(row).encode())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    root = tmp_path_factory.mktemp("hostile")
    config = root / "config.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{root}/dispatcher.db"\n', "utf-8")
    space = Workspace(root, config, root / "dispatcher.db")
    for name, content in FILES.items():
        if isinstance(content, bytes):
            (root / name).write_bytes(content)
        else:
            (root / name).write_text(content, encoding="utf-8")
    seed = {
        "residents.csv": "phone,area,district\n13800138000,residential,丈八街道\n",
        "screens.csv": SCREENS + "B-001,Lobby,building,丈八街道,work,1080x1920,10,count,"
                                 "pull,,lobby\n",
        "cinemas.csv": "id,name,district,system,preshow\nC01,Grand,丈八街道,cms,ads:60\n",
        "auditoriums.csv": "cinema,id,name,seats\nC01,1,Hall 1,100\n",
        "showtimes.csv": SHOWTIMES + "S1,C01,1,Film A,PG,2030-03-04T19:30:00+08:00,80,"
                                     "scheduled\n",
    }
    for name, text in seed.items():
        (root / name).write_text(text, encoding="utf-8")
    for args, stdin in (
            (["contacts", "import", f"{root}/residents.csv", "--list", "residents"], None),
            (["campaign", "apply", str(DRIVE)], None),
            (["user", "add", "chief", "--role", "admin", "--password-stdin"],
             "correct horse battery\n"),
            (["campaign", "approve", "pingan-ding", "--by", "chief"], None),
            (["campaign", "plan", "pingan-ding", "--at", "2019-06-03T09:00:00"], None),
            (["screens", "import", f"{root}/screens.csv"], None),
            (["cinemas", "import", f"{root}/cinemas.csv", "--auditoriums",
              f"{root}/auditoriums.csv"], None),
            (["showtimes", "import", f"{root}/showtimes.csv"], None)):
        result = space.invoke(args, stdin=stdin)
        assert result.exit_code == 0, (args, result.output)
    yield space


def error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if ERROR_LINE.match(line)]


def assert_refused(result: Result, expect: str, where: str = "stderr",
                   code: int | None = None) -> None:
    """A non-zero exit, no traceback, and exactly one line with the problem."""
    shown = f"exit {result.exit_code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        f"{result.exception!r} escaped\n{shown}"
    assert "Traceback" not in result.output, shown
    assert result.exit_code != 0, shown
    if code is not None:
        assert result.exit_code == code, shown
    if where == "stderr":
        lines = error_lines(result.stderr)
    else:  # FILE:LINE lines; at most one summary error line besides
        lines = [line for line in result.output.splitlines()
                 if FILE_LINE.match(line) and not ERROR_LINE.match(line)]
        assert len(error_lines(result.stderr)) <= 1, shown
    assert len(lines) == 1, shown
    assert expect in lines[0], shown


@pytest.mark.parametrize("hostile", CASES, ids=lambda c: c.id)
def test_a_hostile_value_is_one_error_line(workspace: Workspace, hostile: Case) -> None:
    before = checksum(workspace.database)
    result = workspace.invoke(workspace.fill(hostile.args), hostile.env, hostile.stdin)
    assert_refused(result, hostile.expect, hostile.where, hostile.code)
    assert checksum(workspace.database) == before, "a refused command changed the database"


# Every command, against a database it cannot use ------------------------------------------


def leaf_commands() -> dict[tuple[str, ...], click.Command]:
    """Every command of the group, by its words (``("campaign", "plan")``)."""
    found: dict[tuple[str, ...], click.Command] = {}

    def walk(command: click.Command, words: tuple[str, ...]) -> None:
        if isinstance(command, click.Group):
            ctx = click.Context(command)
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None, name
                walk(sub, (*words, name))
        else:
            found[words] = command

    walk(main, ())
    return found


def required_arguments(command: click.Command, root: Path) -> list[str]:
    """A plausible value for every required parameter: the command gets as far as
    opening the database."""
    args: list[str] = []
    for param in command.params:
        if not param.required:
            continue
        if isinstance(param.type, click.Choice):
            value = str(param.type.choices[0])
        elif isinstance(param.type, click.Path):
            value = str(DRIVE if param.type.file_okay else root)
        elif isinstance(param.type, click.types.IntParamType | click.types.FloatParamType):
            value = "1"
        else:  # a campaign id, a channel, a name: "sms" is each
            value = "sms"
        if isinstance(param, click.Option):
            args.append(param.opts[0])
        args.append(value)
    return args


DATABASE_COMMANDS = sorted(set(leaf_commands()) - set(NO_DATABASE))


def test_every_command_is_covered() -> None:
    """A command added later runs in test_every_command_without_its_database; one that
    does not open the database must be named in NO_DATABASE and have a hostile case."""
    commands = leaf_commands()
    assert set(NO_DATABASE) <= set(commands), "NO_DATABASE names a command that is gone"
    tried = {words for words in commands if any(
        list(c.args[:len(words)]) == list(words) for c in CASES)}
    untried = sorted(set(NO_DATABASE) - tried)
    assert not untried, f"commands without a hostile case of their own: {untried}"


@pytest.mark.parametrize("url", list(DATABASE_ERRORS), ids=["down", "no-driver", "not-a-url"])
@pytest.mark.parametrize("words", DATABASE_COMMANDS, ids=" ".join)
def test_every_command_without_its_database(workspace: Workspace, words: tuple[str, ...],
                                            url: str) -> None:
    command = leaf_commands()[words]
    args = [*words, *required_arguments(command, workspace.root)]
    if words == ("run",):
        args.append("--until-idle")
    result = workspace.invoke(args, {"DISPATCHER_DATABASE_URL": url},
                              stdin="correct horse battery\n" * 2)
    assert_refused(result, DATABASE_ERRORS[url])
    assert "s3cret-pw" not in result.output


# The last resort: a bug is one line too, its traceback kept in a private file ---------


def test_an_unexpected_failure_is_one_line_and_its_traceback_is_kept(
        workspace: Workspace, tmp_path: Path) -> None:
    """A stored campaign whose definition was damaged by hand makes `campaign show` fail
    where no check expects it: the user sees one line naming a file with the traceback;
    DISPATCHER_DEBUG=1 prints the traceback instead."""
    with sqlite3.connect(workspace.database) as source, \
            sqlite3.connect(tmp_path / "dispatcher.db") as copy:
        source.backup(copy)  # with what is still in the write-ahead log
    with sqlite3.connect(tmp_path / "dispatcher.db") as conn:
        conn.execute("UPDATE campaign_versions SET definition = '{\"id\": \"pingan-ding\"}'")
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path}/dispatcher.db"\n', "utf-8")
    damaged = Workspace(tmp_path, config, tmp_path / "dispatcher.db")
    result = damaged.invoke(["campaign", "show", "pingan-ding"])
    assert_refused(result, "error: internal error (KeyError: ", code=70)
    kept = re.search(r"the traceback is in (\S+) ", result.stderr)
    assert kept, result.stderr
    log = Path(kept.group(1))
    try:
        assert "Traceback (most recent call last)" in log.read_text("utf-8")
        assert log.stat().st_mode & 0o077 == 0, "the traceback file is private"
    finally:
        log.unlink()
    debug = damaged.invoke(["campaign", "show", "pingan-ding"], {"DISPATCHER_DEBUG": "1"})
    assert isinstance(debug.exception, KeyError)


# The real entry point -----------------------------------------------------------------


ENTRY_POINT_CASES = [
    case("logs", "--since", "0001-01-01", expect="year 1 is out of range"),
    case("report", "pingan-ding", "--out", UNWRITABLE, expect="cannot write there"),
    case("campaign", "list", env={"DISPATCHER_DATABASE_URL": DOWN},
         expect=DATABASE_ERRORS[DOWN]),
]


@pytest.mark.parametrize("hostile", ENTRY_POINT_CASES, ids=lambda c: c.id)
def test_the_installed_command_prints_no_traceback(workspace: Workspace,
                                                   hostile: Case) -> None:
    command = Path(sys.executable).with_name("dispatcher")
    env = {**os.environ, "DISPATCHER_DATABASE_URL": "", "DISPATCHER_DEBUG": "",
           **hostile.env}
    done = subprocess.run([str(command), "--config", str(workspace.config), *hostile.args],
                          capture_output=True, text=True, env=env, timeout=60, check=False)
    assert "Traceback" not in done.stderr + done.stdout, done.stderr
    assert done.returncode == 1, done.stderr
    lines = error_lines(done.stderr)
    assert len(lines) == 1 and hostile.expect in lines[0], done.stderr
