"""The ``[channels.wechat]`` table: one WeChat official account.

Secrets (the AppSecret, the server token, the EncodingAESKey) stay unrevealed until a
client is built or a callback is checked.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from channels.base import toml_value
from channels.settings_checks import (
    SecretValue,
    api_base,
    failing,
    integer,
    is_secret,
    known_keys,
    positive_number,
    timeout,
)

CONFIG_KEYS = ("account_type", "api_base", "appid", "clientmsgid_prefix", "concurrency",
               "encoding_aes_key", "limit_wait", "mass_per_minute", "rate", "secret",
               "timeout", "token")
_fail = failing("channels.wechat")
ACCOUNT_TYPES = ("service", "subscription")
MASS_PER_MINUTE = 60  # WeChat accepts at most 60 mass-send requests a minute
_APPID = re.compile(r"wx[0-9a-zA-Z]{14,30}")
_PREFIX = re.compile(r"[A-Za-z0-9_-]{1,16}")


@dataclass(frozen=True)
class WeChatSettings:
    appid: str | SecretValue
    secret: SecretValue
    token: SecretValue  # the server token WeChat signs its callbacks with
    account_type: str  # "service" or "subscription": their broadcast quotas differ
    encoding_aes_key: SecretValue | None = None  # set: encrypted (safe) mode callbacks
    api_base: str | None = None
    rate: float = 20.0  # API calls per second (template sends; mass sends are slower)
    mass_per_minute: int = MASS_PER_MINUTE
    concurrency: int = 4
    timeout: float = 10.0
    clientmsgid_prefix: str = "dsp"  # makes clientmsgid unique to this deployment
    limit_wait: float = 60.0  # seconds the account rests after 45009 (limits are per minute)

    @property
    def mass_cost(self) -> int:
        """Rate units one mass send costs, so they go at most ``mass_per_minute``."""
        return max(1, math.ceil(self.rate * 60 / self.mass_per_minute))

    def reveal_appid(self) -> str:
        return self.appid if isinstance(self.appid, str) else self.appid.reveal()


def parse_settings(table: Mapping[str, Any]) -> WeChatSettings:
    """Check every key of ``[channels.wechat]``; the first problem raises ConfigError."""
    known_keys(table, CONFIG_KEYS, _fail)
    account_type = table.get("account_type")
    if account_type not in ACCOUNT_TYPES:
        _fail("account_type", f'must be "service" or "subscription" (their broadcast quotas '
                              f"differ), got {toml_value(account_type)}")
    prefix = table.get("clientmsgid_prefix", "dsp")
    if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
        _fail("clientmsgid_prefix", "must be 1-16 letters, digits, _ or -, such as "
                                    f'"district-a", got {toml_value(prefix)}')
    aes_key = table.get("encoding_aes_key")
    return WeChatSettings(
        appid=_appid(table.get("appid")),
        secret=_secret(table, "secret", "WECHAT_APPSECRET", "the account's AppSecret"),
        token=_secret(table, "token", "WECHAT_TOKEN", "the server token set in the "
                                                      "account's server configuration"),
        account_type=str(account_type),
        encoding_aes_key=None if aes_key is None else _secret(
            table, "encoding_aes_key", "WECHAT_AES_KEY", "the EncodingAESKey"),
        api_base=api_base(table.get("api_base"), _fail, "http://127.0.0.1:8766"),
        rate=positive_number(table.get("rate", 20), "rate", _fail,
                             "API calls per second, such as 20"),
        mass_per_minute=integer(table.get("mass_per_minute", MASS_PER_MINUTE),
                                "mass_per_minute", _fail, MASS_PER_MINUTE),
        concurrency=integer(table.get("concurrency", 4), "concurrency", _fail, None),
        timeout=timeout(table.get("timeout", 10), _fail),
        clientmsgid_prefix=prefix,
        limit_wait=positive_number(table.get("limit_wait", 60), "limit_wait", _fail,
                                   "seconds to rest after WeChat's 45009, such as 60"))


def _appid(value: Any) -> str | SecretValue:
    if is_secret(value) or (isinstance(value, str) and _APPID.fullmatch(value)):
        return value
    if value is None:
        _fail("appid", 'is required: the account\'s AppID, such as appid = "wx1234567890abcdef"')
    _fail("appid", 'must be an AppID (it starts with "wx") or a reference such as '
                   f'"env:WECHAT_APPID", got {toml_value(value)}')


def _secret(table: Mapping[str, Any], key: str, variable: str, what: str) -> SecretValue:
    value = table.get(key)
    if is_secret(value):
        return value
    wrong = "is required" if value in (None, "") else "must not be written in the file"
    _fail(key, f'{wrong} ({what}): write {key} = "env:{variable}" and set that '
               "environment variable")
