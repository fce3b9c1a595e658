"""Deployment settings from ``config.toml``: the one place that parses them.

Lookup order: ``--config PATH``, then ``$DISPATCHER_CONFIG``, then ``./config.toml``; with
none of them the built-in defaults apply (SQLite under ``var/``, sandbox-ready SMS).
``$DISPATCHER_DATABASE_URL`` overrides ``database.url``. Secrets are written as
``"env:NAME"`` and kept as :class:`Secret` objects that read the environment only when a
provider client is built, so validating a campaign never needs credentials.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from dispatcher.errors import ConfigError
from dispatcher.i18n import normalise

ENV_PREFIX = "env:"
DEFAULT_STAGE = "approval"  # the one review stage when [review] names none
SECRET_KEY_PATTERN = re.compile(r"(token|secret|password|passwd|api_key|aes_key|private_key)$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

DEFAULT_DATABASE_URL = "sqlite:///var/dispatcher.db"


@dataclass(frozen=True)
class Secret:
    """A reference to an environment variable; never printed, read only on demand."""

    key: str
    env_name: str

    def reveal(self) -> str:
        value = os.environ.get(self.env_name)
        if not value:
            raise ConfigError(self.key, f"environment variable {self.env_name} is not set")
        return value

    def __repr__(self) -> str:
        return f"Secret(env:{self.env_name})"

    __str__ = __repr__


@dataclass(frozen=True)
class WebConfig:
    listen: str = "127.0.0.1:8080"
    public_url: str = "http://127.0.0.1:8080"
    # Signs session cookies; None: a random key per process (sign-ins end on restart).
    session_secret: Secret | None = None
    # The dashboard's language when neither the user nor the browser chose one.
    locale: str = "zh_CN"


@dataclass(frozen=True)
class FrequencyCap:
    """At most ``messages`` per person per ``days`` days, across all campaigns; ``per``
    "channel" counts each channel apart, "all" counts every channel together."""

    messages: int
    days: int
    per: str = "channel"


@dataclass(frozen=True)
class CeleryConfig:
    """The Celery executor: ``dispatcher run`` feeds tasks through ``broker_url`` to
    ``dispatcher worker`` processes, which share each provider's rate limit in Redis."""

    broker_url: str | Secret = "amqp://127.0.0.1:5672//"
    redis_url: str | Secret = "redis://127.0.0.1:6379/0"
    queue: str = "dispatcher"
    task_rows: int = 1000  # ids per task: a task names a run, a channel and an id range
    queued_tasks: int = 16  # tasks kept in the queue ahead of the workers

    def url(self, name: str) -> str:
        """``broker_url`` or ``redis_url`` with any environment reference read."""
        value = getattr(self, name)
        return value.reveal() if isinstance(value, Secret) else str(value)


@dataclass(frozen=True)
class ReviewConfig:
    """Review stages a campaign version passes, in order, before it is approved (and so
    before anything is planned from it): each by a different approver who did not store
    the version. The default is one stage."""

    stages: tuple[str, ...] = (DEFAULT_STAGE,)


@dataclass(frozen=True)
class Config:
    """Validated settings. ``channels`` holds each channel's raw table for its plugin."""

    database_url: str = DEFAULT_DATABASE_URL
    timezone: str = "Asia/Shanghai"
    default_region: str = "CN"
    web: WebConfig = field(default_factory=WebConfig)
    channels: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    frequency_cap: FrequencyCap | None = None
    executor: str = "local"
    celery: CeleryConfig = field(default_factory=CeleryConfig)
    review: ReviewConfig = field(default_factory=ReviewConfig)
    source: str | None = None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


TOP_LEVEL_KEYS = {"timezone", "default_region", "database", "web", "channels", "limits",
                  "executor", "celery", "review"}
EXECUTORS = ("local", "celery")
CELERY_KEYS = {"broker_url", "redis_url", "queue", "task_rows", "queued_tasks"}
LIMITS_KEYS = {"frequency_cap"}
CAP_KEYS = {"messages", "days", "per"}
DATABASE_KEYS = {"url"}
WEB_KEYS = {"listen", "public_url", "session_secret", "locale"}
REVIEW_KEYS = {"stages"}
MAX_STAGES = 5
MAX_STAGE_NAME = 32  # characters; review_approvals.stage holds 64


def find_config_path(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The config file to read, or None when the defaults apply."""
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError("--config", f"file {path} does not exist")
        return path
    from_env = os.environ.get("DISPATCHER_CONFIG")
    if from_env:
        path = Path(from_env)
        if not path.is_file():
            raise ConfigError("DISPATCHER_CONFIG", f"file {path} does not exist")
        return path
    local = Path("config.toml")
    return local if local.is_file() else None


def load_config(explicit: str | os.PathLike[str] | None = None) -> Config:
    path = find_config_path(explicit)
    raw: dict[str, Any] = {}
    source = str(path) if path else None
    if path is not None:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError("(file)", f"not valid TOML: {exc}", source) from exc
        except UnicodeDecodeError:
            raise ConfigError("(file)", "is not UTF-8 text; save it as UTF-8", source) from None
        except OSError as exc:
            raise ConfigError("(file)", f"cannot be read: {exc.strerror or exc}", source) from None
    return parse_config(raw, source=source, base_dir=path.parent if path else Path.cwd())


def parse_config(raw: Mapping[str, Any], source: str | None = None,
                 base_dir: Path | None = None) -> Config:
    """Check every key and build a :class:`Config`; the first problem raises ConfigError."""
    try:
        _reject_unknown(raw, TOP_LEVEL_KEYS, "")
        timezone = _string(raw, "timezone", "Asia/Shanghai")
        _check_timezone(timezone)
        region = _string(raw, "default_region", "CN")
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ConfigError("default_region", f"{region!r} is not a region code; use a "
                              "two-letter code such as \"CN\" or \"HK\"")
        database = _table(raw, "database")
        _reject_unknown(database, DATABASE_KEYS, "database.")
        url = os.environ.get("DISPATCHER_DATABASE_URL") or _string(
            database, "url", DEFAULT_DATABASE_URL, "database.url")
        web_raw = _table(raw, "web")
        _reject_unknown(web_raw, WEB_KEYS, "web.")
        web = WebConfig(
            listen=_string(web_raw, "listen", WebConfig.listen, "web.listen"),
            public_url=_string(web_raw, "public_url", WebConfig.public_url, "web.public_url"),
            session_secret=_optional_secret(web_raw, "session_secret", "web.session_secret"),
            locale=_locale(_string(web_raw, "locale", "zh-CN", "web.locale")),
        )
        channels_raw = _table(raw, "channels")
        channels = {name: _channel_table(name, table) for name, table in channels_raw.items()}
        cap = _frequency_cap(_table(raw, "limits"))
        executor = _string(raw, "executor", "local")
        if executor not in EXECUTORS:
            raise ConfigError("executor", f"must be \"local\" or \"celery\", got {executor!r}")
        if executor == "celery" and not url.startswith("postgresql"):
            raise ConfigError("executor", "the Celery executor needs PostgreSQL (workers on "
                              "several machines claim rows with FOR UPDATE SKIP LOCKED); set "
                              "database.url or DISPATCHER_DATABASE_URL to postgresql+psycopg://")
        celery = _celery(_table(raw, "celery"))
        review = _review(_table(raw, "review"))
    except ConfigError as exc:
        if source and exc.source is None:
            raise ConfigError(exc.key, exc.message, source) from None
        raise
    return Config(database_url=_absolute_sqlite(url, base_dir), timezone=timezone,
                  default_region=region, web=web, channels=channels, frequency_cap=cap,
                  executor=executor, celery=celery, review=review, source=source)


def _celery(table: Mapping[str, Any]) -> CeleryConfig:
    _reject_unknown(table, CELERY_KEYS, "celery.")
    defaults = CeleryConfig()
    numbers = {}
    for name in ("task_rows", "queued_tasks"):
        value = table.get(name, getattr(defaults, name))
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"celery.{name}", f"must be a positive whole number, got {value!r}")
        numbers[name] = value
    return CeleryConfig(broker_url=_url(table, "broker_url", defaults.broker_url),
                        redis_url=_url(table, "redis_url", defaults.redis_url),
                        queue=_string(table, "queue", defaults.queue, "celery.queue"),
                        **numbers)


def _review(table: Mapping[str, Any]) -> ReviewConfig:
    """``[review] stages = ["初审", "复审", "终审"]``: 1 to 5 distinct names, in order."""
    _reject_unknown(table, REVIEW_KEYS, "review.")
    if "stages" not in table:
        return ReviewConfig()
    value = table["stages"]
    example = 'write stages = ["初审", "复审", "终审"]'
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_STAGES:
        raise ConfigError("review.stages", f"must be a list of 1 to {MAX_STAGES} stage names; "
                          f"{example}")
    stages: list[str] = []
    for position, name in enumerate(value, start=1):
        key = f"review.stages[{position}]"
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(key, f"must be a non-empty name, got {name!r}; {example}")
        name = name.strip()
        if len(name) > MAX_STAGE_NAME or not name.isprintable():
            raise ConfigError(key, f"{name[:40]!r}: a stage name is at most {MAX_STAGE_NAME} "
                              "printable characters")
        if name in stages:
            raise ConfigError(key, f"{name!r} is named twice; each stage needs its own name")
        stages.append(name)
    return ReviewConfig(tuple(stages))


def _url(table: Mapping[str, Any], name: str, default: str | Secret) -> str | Secret:
    """A service URL; one that carries a password must come from the environment."""
    key = f"celery.{name}"
    value = _secret_or_value(key, table.get(name, default))
    if isinstance(value, Secret):
        return value
    if not isinstance(value, str) or "://" not in value:
        raise ConfigError(key, f"must be a URL such as {default!r}, got {value!r}")
    if re.match(r"^[a-z0-9+]+://[^/@]*:[^/@]+@", value):
        raise ConfigError(key, "this URL carries a password; write \"env:NAME\" and set the "
                          "environment variable NAME to the URL")
    return value


def _frequency_cap(limits: Mapping[str, Any]) -> FrequencyCap | None:
    _reject_unknown(limits, LIMITS_KEYS, "limits.")
    if "frequency_cap" not in limits:
        return None
    table = limits["frequency_cap"]
    key = "limits.frequency_cap"
    if not isinstance(table, dict):
        raise ConfigError(key, "must be a table such as { messages = 3, days = 7 }")
    _reject_unknown(table, CAP_KEYS, f"{key}.")
    numbers = {}
    for name in ("messages", "days"):
        value = table.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"{key}.{name}", f"must be a positive whole number, got {value!r}")
        numbers[name] = value
    per = table.get("per", "channel")
    if per not in ("channel", "all"):
        raise ConfigError(f"{key}.per", f"must be \"channel\" or \"all\", got {per!r}")
    return FrequencyCap(numbers["messages"], numbers["days"], per)


def _channel_table(name: str, table: Any) -> dict[str, Any]:
    key = f"channels.{name}"
    if not isinstance(table, dict):
        raise ConfigError(key, "must be a table such as [channels.sms]")
    return {k: _secret_or_value(f"{key}.{k}", v) for k, v in table.items()}


def _secret_or_value(key: str, value: Any) -> Any:
    """Turn ``"env:NAME"`` into a Secret; refuse secrets written into the file."""
    if isinstance(value, dict):
        return {k: _secret_or_value(f"{key}.{k}", v) for k, v in value.items()}
    is_secret_key = SECRET_KEY_PATTERN.search(key.rsplit(".", 1)[-1]) is not None
    if isinstance(value, str) and value.startswith(ENV_PREFIX):
        env_name = value[len(ENV_PREFIX):]
        if not _ENV_NAME.match(env_name):
            raise ConfigError(key, f"{value!r} is not a valid environment reference; "
                              "write \"env:NAME\" with letters, digits and _")
        return Secret(key, env_name)
    if is_secret_key and value not in ("", None):
        raise ConfigError(key, "secrets must not be written in the file; write "
                          "\"env:NAME\" and set the environment variable NAME")
    return value


def _optional_secret(table: Mapping[str, Any], key: str, full_key: str) -> Secret | None:
    value = _secret_or_value(full_key, table.get(key))
    if value is None or isinstance(value, Secret):
        return value
    raise ConfigError(full_key, 'write "env:NAME" and set the environment variable NAME')


def _check_timezone(name: str, key: str = "timezone") -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(key, f"{name!r} is not an IANA time zone; use a name such as "
                          "\"Asia/Shanghai\"") from None


def _locale(value: str) -> str:
    found = normalise(value)
    if found is None:
        raise ConfigError("web.locale", f"{value!r} is not a language of the dashboard: "
                          "use zh-CN (简体中文), en (English) or zh-TW (繁體中文)")
    return found


def _absolute_sqlite(url: str, base_dir: Path | None) -> str:
    """Make a relative SQLite path relative to the config file's folder, not the cwd."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url == "sqlite:///:memory:" or base_dir is None:
        return url
    path = Path(url[len(prefix):])
    if path.is_absolute():
        return url
    return prefix + str((base_dir / path).resolve())


def _reject_unknown(table: Mapping[str, Any], allowed: set[str], prefix: str) -> None:
    for key in table:
        if key not in allowed:
            raise ConfigError(f"{prefix}{key}", "unknown key; allowed here: "
                              + ", ".join(sorted(allowed)))


def _table(raw: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(key, f"must be a table ([{key}])")
    return value


def _string(raw: Mapping[str, Any], key: str, default: str, full_key: str | None = None) -> str:
    value = raw.get(key, default)
    if not isinstance(value, str) or not value:
        raise ConfigError(full_key or key, f"must be a non-empty string, got {value!r}")
    return value
