from __future__ import annotations

from pathlib import Path

import pytest

from dispatcher.config import Secret, load_config, parse_config
from dispatcher.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def test_repository_config_is_valid_and_documented() -> None:
    config = load_config(REPO / "config.toml")
    assert config.timezone == "Asia/Shanghai"
    assert config.default_region == "CN"
    assert config.database_url == f"sqlite:///{REPO / 'var' / 'dispatcher.db'}"
    assert isinstance(config.channels["sms"]["auth_token"], Secret)
    text = (REPO / "config.toml").read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(text):
        if "=" in line and not line.lstrip().startswith("#"):
            block = []  # the lines above this key, up to a blank line
            for above in reversed(text[:number]):
                if not above.strip():
                    break
                block.append(above)
            assert any(a.lstrip().startswith("#") for a in block), f"undocumented: {line}"


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DISPATCHER_CONFIG", raising=False)
    monkeypatch.delenv("DISPATCHER_DATABASE_URL", raising=False)
    config = load_config()
    assert config.source is None
    assert config.database_url == f"sqlite:///{tmp_path.resolve() / 'var' / 'dispatcher.db'}"


def test_environment_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "other.toml"
    path.write_text('timezone = "Asia/Hong_Kong"\n', encoding="utf-8")
    monkeypatch.setenv("DISPATCHER_CONFIG", str(path))
    monkeypatch.setenv("DISPATCHER_DATABASE_URL", "postgresql+psycopg://db/x")
    config = load_config()
    assert config.timezone == "Asia/Hong_Kong"
    assert config.database_url == "postgresql+psycopg://db/x"


@pytest.mark.parametrize(("raw", "message"), [
    ({"timezon": "x"}, "timezon: unknown key; allowed here: celery, channels, database, "
                       "default_region, executor, limits, review, timezone, web"),
    ({"timezone": "Mars/Base"}, 'timezone: \'Mars/Base\' is not an IANA time zone; use a name '
                                'such as "Asia/Shanghai"'),
    ({"default_region": "ZZ"}, "default_region: 'ZZ' is not a region code"),
    ({"database": {"uri": "x"}}, "database.uri: unknown key; allowed here: url"),
    ({"database": "sqlite"}, "database: must be a table ([database])"),
    ({"web": {"public_url": 5}}, "web.public_url: must be a non-empty string, got 5"),
    ({"channels": {"sms": {"auth_token": "hunter2"}}},
     "channels.sms.auth_token: secrets must not be written in the file"),
    ({"channels": {"sms": {"auth_token": "env:1BAD"}}},
     "channels.sms.auth_token: 'env:1BAD' is not a valid environment reference"),
    ({"channels": {"sms": "on"}}, "channels.sms: must be a table such as [channels.sms]"),
    ({"executor": "threads"}, 'executor: must be "local" or "celery", got \'threads\''),
    ({"executor": "celery"}, "executor: the Celery executor needs PostgreSQL"),
    ({"celery": {"broker_url": "amqp://ops:hunter2@mq.example//"}},
     "celery.broker_url: this URL carries a password; write \"env:NAME\""),
    ({"celery": {"redis_url": "localhost"}}, "celery.redis_url: must be a URL such as"),
    ({"celery": {"task_rows": 0}}, "celery.task_rows: must be a positive whole number, got 0"),
    ({"celery": {"workers": 4}}, "celery.workers: unknown key; allowed here: broker_url, "
                                 "queue, queued_tasks, redis_url, task_rows"),
])
def test_bad_config_names_the_key(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(raw, source="config.toml")
    assert str(error.value).startswith(f"config.toml: {message}")


def test_celery_executor_reads_urls_from_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    config = parse_config({"executor": "celery",
                           "database": {"url": "postgresql+psycopg://db/x"},
                           "celery": {"broker_url": "env:BROKER_URL", "task_rows": 500}})
    assert config.executor == "celery"
    assert config.celery.task_rows == 500
    assert config.celery.url("redis_url") == "redis://127.0.0.1:6379/0"
    assert "hunter2" not in repr(config)
    monkeypatch.setenv("BROKER_URL", "amqp://ops:hunter2@mq.example//")
    assert config.celery.url("broker_url") == "amqp://ops:hunter2@mq.example//"


def test_secrets_are_read_only_when_revealed(monkeypatch: pytest.MonkeyPatch) -> None:
    config = parse_config({"channels": {"sms": {"auth_token": "env:T_TOKEN"}}})
    secret = config.channels["sms"]["auth_token"]
    assert "T_TOKEN" in repr(secret) and "s3cret" not in repr(secret)
    monkeypatch.delenv("T_TOKEN", raising=False)
    with pytest.raises(ConfigError, match=r"channels\.sms\.auth_token: environment variable "
                                          r"T_TOKEN is not set"):
        secret.reveal()
    monkeypatch.setenv("T_TOKEN", "s3cret")
    assert secret.reveal() == "s3cret"


def test_invalid_toml_is_one_error(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("timezone = \n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)
