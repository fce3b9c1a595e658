"""Sending a placement's messages through the account it names: Twilio one message per
call, Aliyun and Tencent in batches of an approved template.

Each account's client is built on first use (secrets are read then), once, and shared by
the engine's threads.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from channels.base import LookupResult, Message, Placement, SendLimits, SendResult
from channels.once import Once
from channels.sms.aliyun_client import AliyunAccount
from channels.sms.domestic import national, not_mainland
from channels.sms.settings import (
    Account,
    AliyunSettings,
    SmsSettings,
    TencentSettings,
    TwilioSettings,
)
from channels.sms.template_placements import contact_fields, message_params
from channels.sms.templates import count_chars
from channels.sms.tencent_client import TencentAccount
from channels.sms.twilio_client import TwilioAccount

SEND_BATCH_MOST = 100  # Aliyun SendBatchSms: numbers with params of their own per call
TENCENT_REPORT_WAIT = timedelta(minutes=10)  # see channels.sms.tencent_client


class SmsAccounts:
    """The configured accounts, each with its client built when first needed."""

    def __init__(self, settings: SmsSettings, report_wait: timedelta = TENCENT_REPORT_WAIT
                 ) -> None:
        self.settings = settings
        self._clients: dict[str, Once[Any]] = {
            name: Once(_builder(account, report_wait))
            for name, account in settings.accounts.items()}

    def of(self, placement: Placement) -> Account:
        return self.settings.account(placement.options.get("account"))

    def client(self, account: Account) -> Any:
        return self._clients[account.name].get()

    def twilio(self) -> TwilioAccount:
        """The default account's Twilio client (kept for callers that reach for it)."""
        client: TwilioAccount = self.client(self.settings.default)
        return client

    def limits(self, placement: Placement) -> SendLimits:
        account = self.of(placement)
        return SendLimits(f"{account.provider}:{_key_id(account)}", account.rate,
                          account.concurrency)

    def batch_size(self, placement: Placement) -> int:
        account = self.of(placement)
        if isinstance(account, TwilioSettings):
            return 1
        if contact_fields(placement.options):  # params of their own per number
            return min(SEND_BATCH_MOST, account.batch_size) if isinstance(
                account, AliyunSettings) else 1
        return account.batch_size

    def send_batch(self, messages: Sequence[Message]) -> list[SendResult]:
        """One call for messages of one placement of a domestic account; numbers that
        are not mainland mobiles fail without a call."""
        placement = messages[0].placement
        account = self.of(placement)
        results: dict[int, SendResult] = {
            m.delivery_id: not_mainland(m) for m in messages if national(m.address) is None}
        sendable = [m for m in messages if m.delivery_id not in results]
        if sendable:
            for result in self._call(account, placement, sendable):
                results[result.delivery_id] = result
        return [results[m.delivery_id] for m in messages]

    def lookup(self, message: Message, since: datetime) -> LookupResult:
        account = self.of(message.placement)
        client = self.client(account)
        if isinstance(account, TwilioSettings):
            raise TypeError("Twilio lookups are made by the channel")
        found: LookupResult = client.find(message, since)
        return found

    def _call(self, account: Account, placement: Placement, messages: Sequence[Message]
              ) -> list[SendResult]:
        template = self.settings.templates[str(placement.options["template"])]
        sign = str(placement.options.get("sign_name") or getattr(account, "sign_name", ""))
        params = [message_params(placement, m) for m in messages]
        units = count_chars(template.render(params[0]), sign).parts
        if isinstance(account, AliyunSettings):
            aliyun: AliyunAccount = self.client(account)
            return aliyun.send(messages, sign, template.code, params, units)  # type: ignore[arg-type]
        tencent: TencentAccount = self.client(account)
        return tencent.send(messages, sign, template.code, list(params[0]))


def _builder(account: Account, report_wait: timedelta) -> Any:
    if isinstance(account, AliyunSettings):
        return lambda: AliyunAccount(account)
    if isinstance(account, TencentSettings):
        return lambda: TencentAccount(account, report_wait)
    return lambda: TwilioAccount(account)


def _key_id(account: Account) -> str:
    value = (account.account_sid if isinstance(account, TwilioSettings)
             else account.access_key_id if isinstance(account, AliyunSettings)
             else account.secret_id)
    return value if isinstance(value, str) else value.reveal()
