"""The ``[channels.sms]`` table: the SMS channel's provider accounts and templates.

The table itself is the default account (``provider = "twilio" | "aliyun" |
"tencent"`` and that provider's keys); ``[channels.sms.accounts.NAME]`` tables add
accounts a placement may name with ``account = "NAME"``, each with its own rate limit;
``[channels.sms.templates]`` lists the approved templates of the domestic platforms.

Secrets stay unrevealed here, so a missing environment variable only matters when a
provider client is built to send.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from channels.base import toml_value
from channels.settings_checks import (
    MAX_TIMEOUT,
    Fail,
    SecretValue,
    api_base,
    boolean,
    failing,
    integer,
    is_int,
    is_secret,
    known_keys,
    positive_number,
    secret,
    timeout,
)
from channels.sms.templates import SmsTemplate, parse_templates

__all__ = ["MAX_TIMEOUT", "Account", "AliyunSettings", "SecretValue", "SmsSettings",
           "TencentSettings", "TwilioSettings", "is_int", "parse_settings"]

MAX_SEGMENTS = 10
DEFAULT_ACCOUNT = "default"
PROVIDERS = ("twilio", "aliyun", "tencent")
# The most numbers one call takes: Aliyun SendSms 1,000 (SendBatchSms 100 with per-number
# params), Tencent SendSms 200 (../shared/FACTS.md "Domestic SMS").
MOST_PER_CALL = {"aliyun": 1000, "tencent": 200}
TABLE_KEYS = ("accounts", "max_segments", "templates")  # only in [channels.sms] itself
TWILIO_KEYS = ("account_sid", "api_base", "auth_token", "concurrency", "from",
               "messaging_service_sid", "provider", "rate", "status_callback", "timeout")
DOMESTIC_KEYS = ("batch_size", "callback_sources", "callback_token", "concurrency",
                 "endpoint", "previous_callback_token", "provider", "rate", "sign_name",
                 "timeout")
ALIYUN_KEYS = ("access_key_id", "access_key_secret", *DOMESTIC_KEYS)
TENCENT_KEYS = ("region", "sdk_app_id", "secret_id", "secret_key", *DOMESTIC_KEYS)
KEYS = {"twilio": TWILIO_KEYS, "aliyun": ALIYUN_KEYS, "tencent": TENCENT_KEYS}
# E.164 number, short code, or alphanumeric sender ID (up to 11, at least one letter).
_SENDER = re.compile(r"\+[1-9]\d{6,14}|\d{3,8}|(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}")
_SERVICE_SID = re.compile(r"MG[0-9A-Za-z]+")
_ACCOUNT_NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")
_SDK_APP_ID = re.compile(r"14[0-9]{8}")
_REGION = re.compile(r"[a-z]{2,4}-[a-z]+(?:-[0-9]+)?")


@dataclass(frozen=True)
class TwilioSettings:
    """One Twilio account. Exactly one of ``sender`` (the ``from`` key) and
    ``messaging_service_sid`` is set."""

    account_sid: str | SecretValue
    auth_token: SecretValue
    sender: str | None = None
    messaging_service_sid: str | None = None
    api_base: str | None = None
    rate: float = 10.0  # segments per second for the account
    concurrency: int = 8
    status_callback: bool = True
    timeout: float = 10.0  # seconds for each Twilio API call (connect and read)
    name: str = DEFAULT_ACCOUNT
    provider: Literal["twilio"] = "twilio"


@dataclass(frozen=True)
class DomesticSettings:
    """What the Aliyun and Tencent accounts share: the platform's endpoint, the default
    signature, the rate in API calls per second (both platforms count requests), numbers
    per call, and how their unsigned receipt pushes are authenticated (a path token,
    the previous one still accepted while it is being rotated, and source addresses)."""

    endpoint: str | None = None  # "http://127.0.0.1:8767": the sandbox; None: the platform
    sign_name: str | None = None
    rate: float = 100.0
    concurrency: int = 8
    timeout: float = 10.0
    batch_size: int = 1000
    callback_token: SecretValue | None = None
    previous_callback_token: SecretValue | None = None
    callback_sources: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    name: str = DEFAULT_ACCOUNT


@dataclass(frozen=True)
class AliyunSettings(DomesticSettings):
    access_key_id: str | SecretValue = ""
    access_key_secret: SecretValue | None = None
    provider: Literal["aliyun"] = "aliyun"


@dataclass(frozen=True)
class TencentSettings(DomesticSettings):
    secret_id: str | SecretValue = ""
    secret_key: SecretValue | None = None
    sdk_app_id: str = ""
    region: str = "ap-guangzhou"
    provider: Literal["tencent"] = "tencent"


Account = TwilioSettings | AliyunSettings | TencentSettings


@dataclass(frozen=True)
class SmsSettings:
    """The checked ``[channels.sms]`` table: accounts by name (``default`` is the table's
    own), the approved templates, and the default cap on segments."""

    accounts: Mapping[str, Account]
    templates: Mapping[str, SmsTemplate] = field(default_factory=dict)
    max_segments: int = MAX_SEGMENTS  # default cap for placements that set none

    @property
    def default(self) -> Account:
        return self.accounts[DEFAULT_ACCOUNT]

    @property
    def rate(self) -> float:
        return self.default.rate

    @property
    def concurrency(self) -> int:
        """Calls in flight at once over every account (each keeps its own)."""
        return sum(account.concurrency for account in self.accounts.values())

    def account(self, name: str | None) -> Account:
        return self.accounts[name or DEFAULT_ACCOUNT]


def parse_settings(table: Mapping[str, Any]) -> SmsSettings:
    """Check every key of ``[channels.sms]``; the first problem raises ConfigError."""
    fail = failing("channels.sms")
    accounts = {DEFAULT_ACCOUNT: parse_account(table, DEFAULT_ACCOUNT, fail, TABLE_KEYS)}
    extra = table.get("accounts", {})
    if not isinstance(extra, Mapping):
        fail("accounts", "must hold one table per account, such as "
                         '[channels.sms.accounts.tencent] with provider = "tencent"')
    for name, account in extra.items():
        where = failing(f"channels.sms.accounts.{name}")
        if not _ACCOUNT_NAME.fullmatch(str(name)) or name == DEFAULT_ACCOUNT:
            fail(f"accounts.{name}", "an account's name is 1 to 32 lower-case letters, digits, "
                                     '_ and - starting with a letter, other than "default"')
        if not isinstance(account, Mapping):
            fail(f"accounts.{name}", "must be a table with provider and its keys")
        accounts[name] = parse_account(account, name, where)
    templates = table.get("templates", {})
    if not isinstance(templates, Mapping):
        fail("templates", 'must be a table of template codes, such as SMS_123 = "..."')
    return SmsSettings(
        accounts=accounts, templates=parse_templates(templates, _under("templates", fail)),
        max_segments=integer(table.get("max_segments", MAX_SEGMENTS), "max_segments", fail,
                             MAX_SEGMENTS))


def parse_account(table: Mapping[str, Any], name: str, fail: Fail,
                  table_keys: tuple[str, ...] = ()) -> Account:
    """One account's keys (``table_keys``: others the table may hold, checked elsewhere)."""
    provider = table.get("provider", "twilio" if name == DEFAULT_ACCOUNT else None)
    if provider not in PROVIDERS:
        fail("provider", 'must be "twilio", "aliyun" or "tencent", got '
                         f"{toml_value(provider) if provider is not None else 'nothing'}")
    known_keys(table, sorted((*KEYS[provider], *table_keys)), fail)
    if provider == "twilio":
        return _twilio(table, name, fail)
    shared = _domestic(table, name, provider, fail)
    if provider == "aliyun":
        return AliyunSettings(
            **shared, access_key_id=_key_id(table.get("access_key_id"), "access_key_id",
                                            "ALIYUN_ACCESS_KEY_ID", fail),
            access_key_secret=_secret(table.get("access_key_secret"), "access_key_secret",
                                      "ALIYUN_ACCESS_KEY_SECRET", fail))
    return TencentSettings(
        **shared, secret_id=_key_id(table.get("secret_id"), "secret_id", "TENCENT_SECRET_ID",
                                    fail),
        secret_key=_secret(table.get("secret_key"), "secret_key", "TENCENT_SECRET_KEY", fail),
        sdk_app_id=_sdk_app_id(table.get("sdk_app_id"), fail),
        region=_region(table.get("region", "ap-guangzhou"), fail))


def _twilio(table: Mapping[str, Any], name: str, fail: Fail) -> TwilioSettings:
    sender, service = _sender(table.get("from"), table.get("messaging_service_sid"), fail)
    return TwilioSettings(
        account_sid=_account_sid(table.get("account_sid"), fail),
        auth_token=_auth_token(table.get("auth_token"), fail),
        sender=sender, messaging_service_sid=service,
        api_base=api_base(table.get("api_base"), fail, "http://127.0.0.1:8765"),
        rate=positive_number(table.get("rate", 10), "rate", fail,
                             "segments per second, such as 10"),
        concurrency=integer(table.get("concurrency", 8), "concurrency", fail, None),
        status_callback=boolean(table.get("status_callback", True), "status_callback", fail),
        timeout=timeout(table.get("timeout", 10), fail), name=name)


def _domestic(table: Mapping[str, Any], name: str, provider: str, fail: Fail
              ) -> dict[str, Any]:
    most = MOST_PER_CALL[provider]
    return {
        "endpoint": _endpoint(table.get("endpoint"), fail),
        "sign_name": _sign_name(table.get("sign_name"), fail),
        "rate": positive_number(table.get("rate", 100), "rate", fail,
                                "API calls per second, such as 100"),
        "concurrency": integer(table.get("concurrency", 8), "concurrency", fail, None),
        "timeout": timeout(table.get("timeout", 10), fail),
        "batch_size": integer(table.get("batch_size", most), "batch_size", fail, most),
        "callback_token": _optional_secret(table, "callback_token", fail),
        "previous_callback_token": _optional_secret(table, "previous_callback_token", fail),
        "callback_sources": _sources(table.get("callback_sources", []), fail),
        "name": name,
    }


def _under(prefix: str, fail: Fail) -> Fail:
    def nested(key: str, message: str) -> Any:
        fail(f"{prefix}.{key}", message)

    return nested


def _endpoint(value: Any, fail: Fail) -> str | None:
    """The platform's API address: ``http://127.0.0.1:8767`` (a sandbox) or an https one;
    None for the platform's own."""
    if value is None:
        return None
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc \
            or parts.path.strip("/"):
        fail("endpoint", 'must be an http or https address such as "http://127.0.0.1:8767" '
                         f"(no path), got {toml_value(value)}")
    return str(value).rstrip("/")


def _sign_name(value: Any, fail: Fail) -> str | None:
    if value is None:
        return None
    from channels.sms.templates import sign_name_problem

    problem = sign_name_problem(value)
    if problem:
        fail("sign_name", problem)
    return str(value)


def _optional_secret(table: Mapping[str, Any], key: str, fail: Fail) -> SecretValue | None:
    value = table.get(key)
    if value is None:
        return None
    return secret(value, key, fail, f'must not be written in the file: write {key} = '
                                    '"env:SMS_CALLBACK_TOKEN" and set that variable')


def _sources(value: Any, fail: Fail
             ) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    example = 'such as ["100.100.0.0/16", "203.0.113.7"]'
    if not isinstance(value, list):
        fail("callback_sources", f"must be a list of addresses or networks {example}, "
                                 f"got {toml_value(value)}")
    networks = []
    for item in value:
        try:
            networks.append(ipaddress.ip_network(str(item), strict=False))
        except ValueError:
            fail("callback_sources", f"{toml_value(item)} is not an address or network; "
                                     f"write them {example}")
    return tuple(networks)


def _key_id(value: Any, key: str, env: str, fail: Fail) -> str | SecretValue:
    if is_secret(value) or (isinstance(value, str) and value.strip()):
        return value
    fail(key, f'is required: write {key} = "env:{env}" (or the id itself)')


def _secret(value: Any, key: str, env: str, fail: Fail) -> SecretValue:
    wrong = "is required" if value in (None, "") else "must not be written in the file"
    return secret(value, key, fail, f'{wrong}: write {key} = "env:{env}" and set that '
                                    "environment variable")


def _sdk_app_id(value: Any, fail: Fail) -> str:
    text = str(value) if is_int(value) or isinstance(value, str) else ""
    if not _SDK_APP_ID.fullmatch(text):
        fail("sdk_app_id", "must be the SMS application's SdkAppId, 10 digits starting with "
                           f'14, such as "1400000000", got {toml_value(value)}')
    return text


def _region(value: Any, fail: Fail) -> str:
    if not isinstance(value, str) or not _REGION.fullmatch(value):
        fail("region", 'must be a Tencent Cloud region such as "ap-guangzhou", '
                       f"got {toml_value(value)}")
    return value


def _account_sid(value: Any, fail: Fail) -> str | SecretValue:
    if is_secret(value) or (isinstance(value, str) and value.startswith("AC")):
        return value
    example = 'account_sid = "env:TWILIO_ACCOUNT_SID"'
    if value is None:
        fail("account_sid", f"is required: the Twilio Account SID, such as {example}")
    fail("account_sid", 'must be a Twilio Account SID (it starts with "AC") or a reference '
                        f"such as {example}, got {toml_value(value)}")


def _auth_token(value: Any, fail: Fail) -> SecretValue:
    if is_secret(value):
        return value
    wrong = "is required" if value in (None, "") else "must not be written in the file"
    fail("auth_token", f'{wrong}: write auth_token = "env:TWILIO_AUTH_TOKEN" '
                       "and set that environment variable")


def _sender(sender: Any, service: Any, fail: Fail) -> tuple[str | None, str | None]:
    """The ``from`` number or the Messaging Service SID: exactly one of them."""
    if sender is not None and service is not None:
        fail("messaging_service_sid", "give either from or messaging_service_sid, not both")
    if service is not None:
        if not isinstance(service, str) or not _SERVICE_SID.fullmatch(service):
            fail("messaging_service_sid", "must be a Twilio Messaging Service SID "
                                          f'(it starts with "MG"), got {toml_value(service)}')
        return None, service
    if sender is None:
        fail("from", 'is required: a sender such as from = "+15005550006", '
                     'or messaging_service_sid = "MG..." instead')
    if not isinstance(sender, str) or not _SENDER.fullmatch(sender):
        fail("from", 'must be a phone number in E.164 form such as "+15005550006", '
                     f"a short code or an alphanumeric sender ID, got {toml_value(sender)}")
    return sender, None
