"""The ``[channels.sms]`` table: checked settings for the SMS channel.

Secrets stay unrevealed here, so a missing environment variable only matters when a
Twilio client is built to send.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from channels.base import toml_value
from channels.settings_checks import (
    MAX_TIMEOUT,
    SecretValue,
    api_base,
    boolean,
    failing,
    integer,
    is_int,
    is_secret,
    known_keys,
    positive_number,
    timeout,
)

__all__ = ["MAX_TIMEOUT", "SecretValue", "SmsSettings", "is_int", "parse_settings"]

MAX_SEGMENTS = 10
CONFIG_KEYS = ("account_sid", "api_base", "auth_token", "concurrency", "from",
               "max_segments", "messaging_service_sid", "provider", "rate", "status_callback",
               "timeout")
_fail = failing("channels.sms")
# E.164 number, short code, or alphanumeric sender ID (up to 11, at least one letter).
_SENDER = re.compile(r"\+[1-9]\d{6,14}|\d{3,8}|(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}")
_SERVICE_SID = re.compile(r"MG[0-9A-Za-z]+")


@dataclass(frozen=True)
class SmsSettings:
    """The checked ``[channels.sms]`` table. Exactly one of ``sender`` (the ``from`` key)
    and ``messaging_service_sid`` is set."""

    account_sid: str | SecretValue
    auth_token: SecretValue
    sender: str | None = None
    messaging_service_sid: str | None = None
    provider: str = "twilio"
    api_base: str | None = None
    rate: float = 10.0  # segments per second for the account
    max_segments: int = MAX_SEGMENTS  # default cap for placements that set none
    concurrency: int = 8
    status_callback: bool = True
    timeout: float = 10.0  # seconds for each Twilio API call (connect and read)


def parse_settings(table: Mapping[str, Any]) -> SmsSettings:
    """Check every key of ``[channels.sms]``; the first problem raises ConfigError.

    Secrets stay unrevealed here, so a missing environment variable only matters when a
    Twilio client is built to send.
    """
    known_keys(table, CONFIG_KEYS, _fail)
    provider = table.get("provider", "twilio")
    if provider != "twilio":
        _fail("provider", f'must be "twilio" (the only SMS provider), got {toml_value(provider)}')
    sender, service = _sender(table.get("from"), table.get("messaging_service_sid"))
    return SmsSettings(
        account_sid=_account_sid(table.get("account_sid")),
        auth_token=_auth_token(table.get("auth_token")),
        sender=sender, messaging_service_sid=service, provider=provider,
        api_base=api_base(table.get("api_base"), _fail, "http://127.0.0.1:8765"),
        rate=_rate(table.get("rate", 10)),
        max_segments=integer(table.get("max_segments", MAX_SEGMENTS), "max_segments", _fail,
                             MAX_SEGMENTS),
        concurrency=integer(table.get("concurrency", 8), "concurrency", _fail, None),
        status_callback=boolean(table.get("status_callback", True), "status_callback", _fail),
        timeout=timeout(table.get("timeout", 10), _fail))


def _account_sid(value: Any) -> str | SecretValue:
    if is_secret(value) or (isinstance(value, str) and value.startswith("AC")):
        return value
    example = 'account_sid = "env:TWILIO_ACCOUNT_SID"'
    if value is None:
        _fail("account_sid", f"is required: the Twilio Account SID, such as {example}")
    _fail("account_sid", 'must be a Twilio Account SID (it starts with "AC") or a reference '
                         f"such as {example}, got {toml_value(value)}")


def _auth_token(value: Any) -> SecretValue:
    if is_secret(value):
        return value
    wrong = "is required" if value in (None, "") else "must not be written in the file"
    _fail("auth_token", f'{wrong}: write auth_token = "env:TWILIO_AUTH_TOKEN" '
                        "and set that environment variable")


def _sender(sender: Any, service: Any) -> tuple[str | None, str | None]:
    """The ``from`` number or the Messaging Service SID: exactly one of them."""
    if sender is not None and service is not None:
        _fail("messaging_service_sid", "give either from or messaging_service_sid, not both")
    if service is not None:
        if not isinstance(service, str) or not _SERVICE_SID.fullmatch(service):
            _fail("messaging_service_sid", "must be a Twilio Messaging Service SID "
                                           f'(it starts with "MG"), got {toml_value(service)}')
        return None, service
    if sender is None:
        _fail("from", 'is required: a sender such as from = "+15005550006", '
                      'or messaging_service_sid = "MG..." instead')
    if not isinstance(sender, str) or not _SENDER.fullmatch(sender):
        _fail("from", 'must be a phone number in E.164 form such as "+15005550006", '
                      f"a short code or an alphanumeric sender ID, got {toml_value(sender)}")
    return sender, None


def _rate(value: Any) -> float:
    return positive_number(value, "rate", _fail, "segments per second, such as 10")


