"""Ending sessions and API tokens: sign-out on the server, disabled users, revoked tokens,
the login limits, and the ``dispatcher user`` commands that do it.

Pages and the API are called through FastAPI's TestClient on SQLite and PostgreSQL; the
session cookies are Starlette's, signed with a known ``web.session_secret`` so that stale
and forged cookies can be made exactly as a thief holding an old one would send them.
"""

from __future__ import annotations

import json
import re
from base64 import b64encode
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import itsdangerous
import pytest
from click.testing import CliRunner, Result
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from dispatcher import registry
from dispatcher.accounts.users import (
    add_user,
    create_token,
    disable_user,
    enable_user,
    end_sessions,
    list_tokens,
    revoke_tokens,
    set_role,
)
from dispatcher.cli import main
from dispatcher.config import parse_config
from dispatcher.errors import DispatcherError, NotFoundError
from dispatcher.storage.db import make_engine
from dispatcher.storage.tables import api_tokens
from dispatcher.web.app import create_app
from dispatcher.web.auth import LoginLimiter

SECRET = "session-secret-for-tests-0123456789"
SECRET_ENV = "TEST_SESSIONS_SECRET"
COOKIE = "dispatcher_session"
PASSWORD = "correct horse battery"
# User names of every shape the name rule allows: "_", "-", ".", digits, 64 characters.
NAMES = ["ops_1", "ops-2", "ops.3", "o" + "x" * 63]
# Names that are no user: LIKE wildcards, a near miss, Chinese, very long.
STRANGERS = ["ops%", "ops_", "op__1", "ops_1 ", "管理员", "n" * 500]
ENGLISH = {"Accept-Language": "en"}  # the pages' words these tests read


@pytest.fixture
def app(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    config = parse_config({"web": {"public_url": "http://testserver",
                                   "session_secret": f"env:{SECRET_ENV}"}})
    for name in [*NAMES, "other"]:
        add_user(engine, name, "operator", PASSWORD)
    return create_app(engine, config, registry.build_channels({}))


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, follow_redirects=False, headers=ENGLISH) as test_client:
        yield test_client


def browser(app: FastAPI, cookie: str | None = None) -> TestClient:
    """Another browser, optionally holding a copied session cookie."""
    fresh = TestClient(app, follow_redirects=False, headers=ENGLISH)
    if cookie is not None:
        fresh.cookies.set(COOKIE, cookie)
    return fresh


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def try_login(client: TestClient, name: str, password: str = PASSWORD) -> int:
    token = csrf_of(client.get("/login").text)
    return client.post("/login", data={"name": name, "password": password, "csrf": token,
                                       "next": "/campaigns"}).status_code


def sign_in(client: TestClient, name: str) -> str:
    """Sign ``name`` in; returns the session's CSRF token (as the logout form holds it)."""
    assert try_login(client, name) == 303
    return csrf_of(client.get("/campaigns").text)


def signed_in(client: TestClient) -> bool:
    """Whether the client's session opens a page (else it is sent to /login)."""
    answer = client.get("/campaigns")
    if answer.status_code == 303:
        assert answer.headers["location"].startswith("/login?next=")
        return False
    assert answer.status_code == 200, answer.text
    return True


def forged_cookie(session: dict[str, Any]) -> str:
    """A cookie exactly as Starlette's SessionMiddleware signs ``session``."""
    data = b64encode(json.dumps(session).encode())
    return itsdangerous.TimestampSigner(SECRET).sign(data).decode()


def api_status(client: TestClient, token: str) -> int:
    return client.get("/api/campaigns", headers={"Authorization": f"Bearer {token}"}
                      ).status_code


# Sign-out ends the session on the server ------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_a_cookie_replayed_after_logout_is_sent_to_login(
        app: FastAPI, client: TestClient, name: str) -> None:
    csrf = sign_in(client, name)
    stolen = client.cookies[COOKIE]
    assert signed_in(browser(app, stolen))  # a copy works while the session lives
    answer = client.post("/logout", data={"csrf": csrf})
    assert (answer.status_code, answer.headers["location"]) == (303, "/login")
    replay = browser(app, stolen)
    assert not signed_in(replay)
    assert replay.get("/logs").status_code == 303
    assert not signed_in(client)


def test_logout_ends_every_session_of_that_user_only(app: FastAPI, client: TestClient) -> None:
    csrf = sign_in(client, "ops_1")
    laptop, other = browser(app), browser(app)
    sign_in(laptop, "ops_1")
    sign_in(other, "other")
    client.post("/logout", data={"csrf": csrf})
    assert not signed_in(laptop)
    assert signed_in(other)
    sign_in(laptop, "ops_1")  # signing in again works
    assert signed_in(laptop)


def test_an_ended_cookie_cannot_sign_its_user_out_again(app: FastAPI,
                                                        client: TestClient) -> None:
    csrf = sign_in(client, "ops-2")
    stolen = client.cookies[COOKIE]
    client.post("/logout", data={"csrf": csrf})
    sign_in(client, "ops-2")
    thief = browser(app, stolen)
    assert thief.post("/logout", data={"csrf": csrf}).status_code == 303
    assert signed_in(client)


def test_the_session_is_checked_against_the_database(app: FastAPI, engine: Engine) -> None:
    """Valid signatures on stale or odd contents: only the current version opens pages."""
    end_sessions(engine, "ops_1")  # version 1 now: True and 1.0 would compare equal
    good = {"user": "ops_1", "version": 1, "csrf": "x"}
    assert signed_in(browser(app, forged_cookie(good)))  # the harness signs as the app does
    for session in ({"user": "ops_1", "csrf": "x"},  # a cookie from before versions
                    {"user": "ops_1", "version": 0}, {"user": "ops_1", "version": 2},
                    {"user": "ops_1", "version": "1"}, {"user": "ops_1", "version": True},
                    {"user": "ops_1", "version": 1.0}, {"user": "ops_1", "version": None},
                    {"user": ["ops_1"], "version": 1}, {"user": "ops_%", "version": 1},
                    {"user": "ops_1", "version": [1]}, {"user": "ops_1", "version": 2**70},
                    {"user": "管理员", "version": 1}, {"user": "o" * 5000, "version": 1}):
        assert not signed_in(browser(app, forged_cookie(session))), session
    unsigned = b64encode(json.dumps(good).encode()).decode()
    other_key = itsdangerous.TimestampSigner("another secret").sign(
        b64encode(json.dumps(good).encode())).decode()
    for cookie in (unsigned, other_key, forged_cookie(good)[:-3] + "AAA"):
        assert not signed_in(browser(app, cookie))


def test_a_role_change_ends_the_sessions(app: FastAPI, client: TestClient,
                                         engine: Engine) -> None:
    sign_in(client, "ops.3")
    set_role(engine, "ops.3", "planner")
    assert not signed_in(client)
    sign_in(client, "ops.3")
    assert signed_in(client)


# Disabled users --------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_a_disabled_user_is_stopped_at_once(app: FastAPI, client: TestClient, engine: Engine,
                                            name: str) -> None:
    token = create_token(engine, name, "ci")
    sign_in(client, name)
    kept = client.cookies[COOKIE]
    assert api_status(client, token) == 200
    assert disable_user(engine, name, by="chief") is True
    assert disable_user(engine, name, by="chief") is False  # once is enough
    assert not signed_in(browser(app, kept))
    assert api_status(client, token) == 401
    assert try_login(browser(app), name) == 401
    with pytest.raises(DispatcherError, match="is disabled"):
        create_token(engine, name, "another")

    assert enable_user(engine, name) is True
    assert api_status(client, token) == 200  # not revoked: it works again
    assert not signed_in(browser(app, kept))  # sessions from before stay ended
    assert try_login(browser(app), name) == 303


@pytest.mark.parametrize("name", STRANGERS)
def test_unknown_users_are_named_in_the_error(engine: Engine, name: str) -> None:
    add_user(engine, "ops_1", "planner", PASSWORD)
    for act in (lambda: disable_user(engine, name, by="chief"),
                lambda: enable_user(engine, name), lambda: list_tokens(engine, name),
                lambda: revoke_tokens(engine, name, None, by="chief"),
                lambda: create_token(engine, name, "ci"),
                lambda: set_role(engine, name, "admin")):
        with pytest.raises(NotFoundError, match="no user"):
            act()


# API tokens ------------------------------------------------------------------------------

@dataclass
class Tokens:
    engine: Engine
    client: TestClient
    made: dict[str, str]

    def alive(self) -> dict[str, bool]:
        return {label: api_status(self.client, token) == 200
                for label, token in self.made.items()}


LABELS = ["ci", "grafana", "看板", "ci_2", "l" * 64]


@pytest.fixture
def tokens(engine: Engine, client: TestClient) -> Tokens:
    made = {label: create_token(engine, "ops_1", label) for label in LABELS}
    return Tokens(engine, client, made)


def revoked_by(tokens: Tokens, selector: str | None) -> list[str]:
    return [t.label for t in revoke_tokens(tokens.engine, "ops_1", selector, by="chief")]


@pytest.mark.parametrize("label", LABELS)
def test_a_revoked_token_answers_401_at_once(tokens: Tokens, label: str) -> None:
    assert all(tokens.alive().values())
    assert revoked_by(tokens, label) == [label]
    assert tokens.alive() == {other: other != label for other in LABELS}


def test_a_token_is_named_by_its_id_prefix_or_itself(tokens: Tokens) -> None:
    listed = {t.label: t for t in list_tokens(tokens.engine, "ops_1")}
    assert revoked_by(tokens, str(listed["ci"].id)) == ["ci"]
    prefix = listed["grafana"].prefix
    assert prefix is not None and tokens.made["grafana"].startswith(prefix)
    assert revoked_by(tokens, prefix[:-1]) == ["grafana"]
    assert revoked_by(tokens, tokens.made["看板"]) == ["看板"]
    assert tokens.alive() == {"ci": False, "grafana": False, "看板": False, "ci_2": True,
                              "l" * 64: True}


@pytest.mark.parametrize("selector", ["c%", "ci%", "c_", "_", "%", "CI", "ci ", "", "dsp_",
                                      "看", "l" * 65, "0", "dsp_" + "x" * 40])
def test_a_selector_naming_no_token_revokes_nothing(tokens: Tokens, selector: str) -> None:
    with pytest.raises(NotFoundError, match="no active API token"):
        revoke_tokens(tokens.engine, "ops_1", selector, by="chief")
    assert all(tokens.alive().values())


def test_a_label_held_twice_is_refused_as_ambiguous(tokens: Tokens) -> None:
    tokens.made["ci again"] = create_token(tokens.engine, "ops_1", "ci")
    with pytest.raises(DispatcherError, match="names 2 active API tokens"):
        revoke_tokens(tokens.engine, "ops_1", "ci", by="chief")
    assert all(tokens.alive().values())


def test_revoke_all_and_revoked_tokens_stay_revoked(tokens: Tokens, engine: Engine) -> None:
    other = create_token(engine, "other", "ci")
    assert sorted(revoked_by(tokens, None)) == sorted(LABELS)
    assert not any(tokens.alive().values())
    assert api_status(tokens.client, other) == 200  # another user's token is untouched
    assert revoked_by(tokens, None) == []
    disable_user(engine, "ops_1", by="chief")
    enable_user(engine, "ops_1")
    assert not any(tokens.alive().values())
    with pytest.raises(NotFoundError):  # revoked tokens are no longer chosen
        revoke_tokens(engine, "ops_1", "ci", by="chief")


def test_the_listing_keeps_no_token(tokens: Tokens, engine: Engine) -> None:
    api_status(tokens.client, tokens.made["ci"])
    revoke_tokens(engine, "ops_1", "grafana", by="chief")
    listed = {t.label: t for t in list_tokens(engine, "ops_1")}
    assert listed["ci"].last_used_at is not None and listed["grafana"].last_used_at is None
    assert listed["grafana"].revoked_by == "chief" and listed["ci"].revoked_at is None
    with engine.connect() as conn:
        stored = " ".join(str(value) for row in conn.execute(select(api_tokens))
                          for value in row)
    for token in tokens.made.values():
        assert token not in stored and token[len("dsp_"):] not in stored


@pytest.mark.parametrize("label", ["", " ci", "ci\n", "dsp_ci", "l" * 65, "a\x00b"])
def test_malformed_labels_are_refused(engine: Engine, label: str) -> None:
    add_user(engine, "ops_1", "planner", PASSWORD)
    with pytest.raises(DispatcherError, match="token label"):
        create_token(engine, "ops_1", label)


# Login limits ----------------------------------------------------------------------------

OTHER_NAMES = ["victim_1", "vi%", "管理员", "v-" * 3000]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_success_does_not_reset_the_address_count() -> None:
    clock = Clock()
    limiter = LoginLimiter(max_failures=5, window=900, clock=clock)
    address = "203.0.113.7"
    for name in OTHER_NAMES:
        limiter.failed(name, address)
    limiter.succeeded("mallory", address)
    assert not limiter.blocked("victim_1", address)
    limiter.failed(OTHER_NAMES[0], address)  # the fifth failure from this address
    limiter.succeeded("mallory", address)
    assert limiter.blocked("mallory", address)
    assert limiter.blocked("someone-else", address)
    assert not limiter.blocked("mallory", "203.0.113.8")
    clock.now += 901
    assert not limiter.blocked("mallory", address)


def test_a_success_clears_the_names_count() -> None:
    limiter = LoginLimiter(max_failures=5, window=900, clock=Clock())
    for index in range(4):
        limiter.failed("ops_1", f"198.51.100.{index}")
    limiter.succeeded("ops_1", "198.51.100.9")
    for index in range(4):
        limiter.failed("ops_1", f"198.51.100.{10 + index}")
    assert not limiter.blocked("ops_1", "198.51.100.20")
    limiter.failed("ops_1", "198.51.100.30")
    assert limiter.blocked("ops_1", "198.51.100.20")


def test_many_names_tried_once_do_not_pile_up() -> None:
    clock = Clock()
    limiter = LoginLimiter(max_failures=5, window=900, clock=clock)

    def batch(first: int) -> None:
        for index in range(first, first + 12_000):
            limiter.failed(f"name-{index}", f"10.{index // 65536}.{index // 256 % 256}."
                                            f"{index % 256}")

    batch(0)
    clock.now += 901
    batch(12_000)
    keys = limiter._failures
    assert "name:name-1" not in keys and "name:name-23999" in keys  # expired keys dropped
    assert len(keys) <= 2 * 24_000
    assert not limiter.blocked("name-1", "10.0.0.1")


def test_four_failures_and_a_success_repeated_reach_the_limit(client: TestClient) -> None:
    round_one = [try_login(client, name, "wrong password!") for name in OTHER_NAMES]
    assert round_one == [401] * 4
    assert try_login(client, "ops_1") == 303
    assert try_login(client, OTHER_NAMES[0], "wrong password!") == 401  # fifth failure
    assert try_login(client, OTHER_NAMES[1], "wrong password!") == 429
    assert try_login(client, "ops_1") == 429  # the address is blocked, right password or not


# dispatcher user ... ---------------------------------------------------------------------

class Cli:
    def __init__(self, tmp_path: Path, url: str) -> None:
        self.config = tmp_path / "config.toml"
        self.config.write_text(f'[database]\nurl = "{url}"\n', encoding="utf-8")

    def __call__(self, *args: str, code: int = 0, stdin: str | None = None) -> Result:
        result = CliRunner(env={"COLUMNS": "200"}).invoke(
            main, ["--config", str(self.config), *args], input=stdin)
        assert result.exit_code == code, result.output
        assert "Traceback" not in result.output
        return result

    def error(self, *args: str) -> str:
        """The one ``error: ...`` line a failing command prints, exit status 1."""
        result = self(*args, code=1)
        assert result.stdout == ""
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
        return lines[0]


@pytest.fixture
def cli(tmp_path: Path, sqlite_url: str) -> Cli:
    cli = Cli(tmp_path, sqlite_url)
    cli("user", "add", "ops_1", "--role", "operator", "--password-stdin", stdin=PASSWORD)
    return cli


@pytest.fixture
def api(sqlite_url: str) -> Iterator[TestClient]:
    """The API over the database the commands write."""
    engine = make_engine(sqlite_url)
    with TestClient(create_app(engine, parse_config({}), {})) as client:
        yield client
    engine.dispose()


def test_every_user_command_has_help(cli: Cli) -> None:
    for command in ("add", "list", "role", "token", "tokens", "disable", "enable"):
        assert "Usage:" in cli("user", command, "--help").output
    helped = cli("user", "token", "--help").output
    assert "--revoke" in helped and "--revoke-all" in helped


def test_tokens_are_listed_and_revoked_from_the_command_line(
        cli: Cli, api: TestClient) -> None:
    first = cli("user", "token", "ops_1", "--label", "grafana").output.strip()
    second = cli("user", "token", "ops_1", "--label", "ci_2").output.strip()
    assert api_status(api, first) == api_status(api, second) == 200
    listing = cli("user", "tokens", "ops_1").output
    assert "grafana" in listing and "ci_2" in listing and first[:10] in listing
    assert first not in listing and second not in listing
    assert "revoked token" in cli("user", "token", "ops_1", "--revoke", "grafana").output
    assert (api_status(api, first), api_status(api, second)) == (401, 200)
    [entry, _] = json.loads(cli("user", "tokens", "ops_1", "--json").output)
    assert entry["label"] == "grafana" and entry["revoked_at"] is not None
    cli("user", "token", "ops_1", "--revoke-all")
    assert api_status(api, second) == 401


def test_disable_and_enable_from_the_command_line(cli: Cli, api: TestClient) -> None:
    token = cli("user", "token", "ops_1").output.strip()
    assert "disabled by chief" in cli("user", "disable", "ops_1", "--by", "chief").output
    assert api_status(api, token) == 401
    [account] = json.loads(cli("user", "list", "--json").output)
    assert (account["disabled"], account["disabled_by"]) == (True, "chief")
    assert "by chief" in cli("user", "list").output
    assert "already" in cli("user", "disable", "ops_1").output
    assert "enabled" in cli("user", "enable", "ops_1").output
    assert api_status(api, token) == 200


@pytest.mark.parametrize("name", STRANGERS)
def test_commands_on_an_unknown_user_print_one_error(cli: Cli, name: str) -> None:
    for args in (["disable", name], ["enable", name], ["tokens", name], ["token", name],
                 ["token", name, "--revoke", "ci"], ["token", name, "--revoke-all"],
                 ["role", name, "admin"]):
        assert "no user" in cli.error("user", *args)


@pytest.mark.parametrize("selector", ["nope", "c%", "_", "看板", "x" * 1000])
def test_an_unknown_token_label_prints_one_error(cli: Cli, selector: str) -> None:
    cli("user", "token", "ops_1", "--label", "ci")
    line = cli.error("user", "token", "ops_1", "--revoke", selector)
    assert "no active API token" in line and "dispatcher user tokens ops_1" in line
    assert len(line) < 300


def test_conflicting_token_options_print_one_error(cli: Cli) -> None:
    cli("user", "token", "ops_1", "--label", "ci")
    cli("user", "token", "ops_1", "--label", "ci")
    assert "names 2 active API tokens" in cli.error("user", "token", "ops_1", "--revoke", "ci")
    assert "one of" in cli.error("user", "token", "ops_1", "--revoke", "ci", "--revoke-all")
    assert "one of" in cli.error("user", "token", "ops_1", "--label", "x", "--revoke-all")
    assert "token label" in cli.error("user", "token", "ops_1", "--label", "dsp_x")
