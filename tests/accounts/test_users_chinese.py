"""User names, display names and departments in Chinese (issue 16 §1).

A user is added, changed and listed with ``dispatcher user`` on SQLite and PostgreSQL,
signs in through the login form (posted as a browser posts it: UTF-8, form-encoded), and
carries the display name and department into every way a request is authenticated
(password, session cookie, API token). Bad names are refused with a message naming what
was wrong, and nothing is stored.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from dispatcher import registry
from dispatcher.accounts.users import (
    add_user,
    authenticate,
    create_token,
    list_accounts,
    session_user,
    session_version,
    set_profile,
    token_user,
)
from dispatcher.cli import main
from dispatcher.config import parse_config
from dispatcher.errors import DispatcherError
from dispatcher.storage.tables import users
from dispatcher.web.app import create_app

PASSWORD = "correct horse battery"
SECRET_ENV = "TEST_USERS_CHINESE_SECRET"


class Cli:
    """``dispatcher`` against the test's database (SQLite or PostgreSQL)."""

    def __init__(self, tmp_path: Path, db_url: str) -> None:
        self.config = tmp_path / "config.toml"
        self.config.write_text(f'[database]\nurl = "{db_url}"\n', encoding="utf-8")

    def __call__(self, *args: str, stdin: str | None = None, code: int = 0) -> Result:
        result = CliRunner(env={"COLUMNS": "200"}).invoke(
            main, ["--config", str(self.config), *args], input=stdin)
        assert result.exit_code == code, result.output
        return result


@pytest.fixture
def cli(tmp_path: Path, db_url: str, engine: Engine) -> Cli:
    return Cli(tmp_path, db_url)  # ``engine``: the database is migrated first


def stored_names(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(users.c.name).order_by(users.c.name)).scalars())


# The CLI: add, set, list ---------------------------------------------------------------

def test_a_chinese_user_is_added_changed_and_listed(cli: Cli, engine: Engine) -> None:
    added = cli("user", "add", "王小明", "--role", "operator", "--display-name", "王小明",
                "--department", "宣传科", "--password-stdin", stdin=PASSWORD + "\n")
    assert "user 王小明 added with role operator" in added.stdout
    cli("user", "add", "lihua", "--role", "approver", "--department", "  办公室 ",
        "--password-stdin", stdin=PASSWORD + "\n")
    table = cli("user", "list").stdout
    assert re.search(r"王小明\s*│\s*王小明\s*│\s*宣传科\s*│\s*operator", table), table
    assert re.search(r"lihua\s*│\s*│\s*办公室\s*│\s*approver", table), table  # ends trimmed
    listed = {a["name"]: a for a in json.loads(cli("user", "list", "--json").stdout)}
    assert listed["王小明"]["display_name"] == "王小明"
    assert listed["王小明"]["department"] == "宣传科" and listed["王小明"]["role"] == "operator"
    assert listed["lihua"]["display_name"] is None

    cli("user", "set", "lihua", "--display-name", "李华", "--department", "")
    again = {a.name: a for a in list_accounts(engine)}
    assert (again["lihua"].display_name, again["lihua"].department) == ("李华", None)
    assert (again["王小明"].display_name, again["王小明"].department) == ("王小明", "宣传科")


def test_set_without_a_change_or_for_a_stranger_says_so(cli: Cli) -> None:
    cli("user", "add", "王小明", "--role", "planner", "--password-stdin",
        stdin=PASSWORD + "\n")
    assert "nothing to change" in cli("user", "set", "王小明", code=1).stderr
    assert "no user '张三'" in cli("user", "set", "张三", "--department", "宣传科", code=1).stderr
    assert "no user '张三'" in cli("user", "set", "张三", code=1).stderr


BAD_NAMES = [
    ("王 小明", "a space is not allowed"),
    ("王小明\u3000", "a space (U+3000) is not allowed"),
    ("wang\x07", "the control character U+0007 is not allowed"),
    ("王" * 65, "it has 65 characters"),
    ("ops/王小明", "'/' is not allowed"),
    ("王小明?x=1", "'?' is not allowed"),
    ("-rf", "it starts with '-'"),
    ("", "it is empty"),
]


@pytest.mark.parametrize(("name", "problem"), BAD_NAMES)
def test_a_bad_name_is_refused_with_what_is_allowed(cli: Cli, engine: Engine, name: str,
                                                    problem: str) -> None:
    refused = cli("user", "add", "--role", "planner", "--password-stdin", "--", name,
                  stdin=PASSWORD + "\n", code=1).stderr
    assert refused.startswith("error: user name ") and problem in refused, refused
    assert "letters (any script" in refused and "Traceback" not in refused
    assert len(refused.splitlines()) == 1  # a control character is shown escaped
    assert stored_names(engine) == []


@pytest.mark.parametrize(("option", "text", "problem"), [
    ("--display-name", "王小明\n宣传科", "the control character U+000A"),
    ("--department", "宣" * 65, "it has 65 characters"),
    ("--display-name", "王\u202e明", "the invisible character U+202E"),
])
def test_bad_profile_text_is_refused(cli: Cli, engine: Engine, option: str, text: str,
                                     problem: str) -> None:
    refused = cli("user", "add", "王小明", "--role", "planner", option, text, "--password-stdin",
                  stdin=PASSWORD + "\n", code=1).stderr
    assert problem in refused and "1-64 characters of plain text" in refused, refused
    assert stored_names(engine) == []


def test_64_chinese_characters_fit_on_every_database(engine: Engine) -> None:
    name, shown = "王" * 64, "明" * 64
    add_user(engine, name, "planner", PASSWORD, display_name=shown, department="科" * 64)
    account = list_accounts(engine)[0]
    assert (account.name, account.display_name, account.department) == (name, shown, "科" * 64)
    with engine.connect() as conn:
        assert conn.execute(select(func.length(users.c.name))).scalar() == 64


def test_names_are_nfc_and_a_look_alike_is_refused(engine: Engine) -> None:
    decomposed = "jose\u0301"  # as some keyboards type josé
    added = add_user(engine, decomposed, "planner", PASSWORD)
    assert added.name == unicodedata.normalize("NFC", decomposed) == "jos\u00e9"
    assert stored_names(engine) == ["jos\u00e9"]
    assert authenticate(engine, decomposed, PASSWORD) is not None  # either form signs in
    assert authenticate(engine, "jos\u00e9", PASSWORD) is not None
    for alike in ("JOSÉ", "ｊｏｓé"):  # case, full width
        with pytest.raises(DispatcherError, match="only in case or width"):
            add_user(engine, alike, "planner", PASSWORD)
    assert stored_names(engine) == ["jos\u00e9"]


# Signing in ------------------------------------------------------------------------------

@pytest.fixture
def client(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv(SECRET_ENV, "session-secret-for-tests-0123456789")
    config = parse_config({"web": {"public_url": "http://testserver",
                                   "session_secret": f"env:{SECRET_ENV}"}})
    app = create_app(engine, config, registry.build_channels({}))
    with TestClient(app, follow_redirects=False,
                    headers={"Accept-Language": "en"}) as test_client:
        yield test_client


def login(client: TestClient, name: str, password: str = PASSWORD) -> int:
    page = client.get("/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf, "the login page has no CSRF field"
    return client.post("/login", data={"name": name, "password": password,
                                       "csrf": csrf.group(1), "next": "/campaigns"}
                       ).status_code


def test_a_chinese_user_signs_in_and_the_page_names_them(client: TestClient,
                                                         engine: Engine) -> None:
    add_user(engine, "王小明", "operator", PASSWORD, display_name="小明", department="宣传科")
    assert login(client, "王小明", "wrong password!") == 401
    assert login(client, "王小", PASSWORD) == 401  # names are compared exactly
    assert login(client, "王小明") == 303
    page = client.get("/campaigns")
    assert page.status_code == 200 and "<span>小明 (" in page.text  # the display name


def test_every_way_in_carries_the_display_name(engine: Engine) -> None:
    add_user(engine, "王小明", "approver", PASSWORD, display_name="王小明",
             department="宣传科")
    set_profile(engine, "王小明", display_name="小明")
    by_password = authenticate(engine, "王小明", PASSWORD)
    version = session_version(engine, "王小明")
    assert version is not None
    by_session = session_user(engine, "王小明", version)
    by_token = token_user(engine, create_token(engine, "王小明", "ci"))
    for found in (by_password, by_session, by_token):
        assert found is not None
        assert (found.name, found.role, found.display_name, found.department) == (
            "王小明", "approver", "小明", "宣传科")
        assert found.shown_name == "小明"
