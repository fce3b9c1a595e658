"""The Tencent Cloud SMS client (API 2021-01-11 through its official SDK) a channel
account sends with, and what each answer means for the messages of a call.

``SendSms`` takes up to 200 numbers with one template param set and answers one
``SendStatusSet`` entry per number: its ``SerialNo`` is the row's ``provider_ref``, the
``sid`` of the status pushes. ``SessionContext`` carries the run (see
:mod:`channels.sms.domestic`) and comes back in ``PullSmsSendStatusByPhoneNumber``, the
lookup of a send whose answer was lost.

That lookup lists status reports, not accepted messages: a message the platform took
but whose report has not come yet is not there. So "not found" means "never got it"
only once ``report_wait`` has passed since the send; before that the lookup raises and
the engine asks again when the row's new lease ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
    TencentCloudSDKException,
)
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111 import models, sms_client

from channels.base import LookupResult, Message, SendResult
from channels.sms.domestic import all_results, national, never_connected_text, run_tag
from channels.sms.settings import TencentSettings
from channels.sms.tencent_codes import classify

THROTTLED_PAUSE = 1.0  # seconds the account waits after RequestLimitExceeded
LOOKUP_PAGE = 100  # PullSmsSendStatusByPhoneNumber's largest Limit
REPORT_STATES = {"SUCCESS": "delivered", "FAIL": "undelivered"}


class TooEarlyToTell(LookupError):
    """No status report yet, and the report may still come: look again later."""


class TencentAccount:
    """An SmsClient built from one account's settings (secrets revealed here)."""

    def __init__(self, settings: TencentSettings, report_wait: timedelta) -> None:
        secret_id = settings.secret_id
        assert settings.secret_key is not None  # parse_settings requires it
        endpoint = urlsplit(settings.endpoint or "https://sms.tencentcloudapi.com")
        http = HttpProfile(endpoint=endpoint.netloc, protocol=endpoint.scheme,
                           reqTimeout=max(1, round(settings.timeout)))
        self.client = sms_client.SmsClient(
            credential.Credential(secret_id if isinstance(secret_id, str)
                                  else secret_id.reveal(), settings.secret_key.reveal()),
            settings.region, ClientProfile(httpProfile=http))
        self.app_id = settings.sdk_app_id
        self.report_wait = report_wait

    def send(self, messages: Sequence[Message], sign_name: str, template: str,
             params: Sequence[str]) -> list[SendResult]:
        """One ``SendSms`` for ``messages`` (mainland numbers, one param set)."""
        request = models.SendSmsRequest()
        request.PhoneNumberSet = ["+86" + (national(m.address) or "") for m in messages]
        request.SmsSdkAppId = self.app_id
        request.SignName = sign_name
        request.TemplateId = template
        request.TemplateParamSet = list(params)
        request.SessionContext = run_tag(messages[0])
        try:
            answer = self.client.SendSms(request)
        except TencentCloudSDKException as exc:
            return _failed_call(messages, exc)
        except Exception as exc:  # a bug or an unreadable answer: looked up, never lost
            return all_results(messages, "unknown", None, f"{type(exc).__name__}: {exc}"[:500])
        statuses = {s.PhoneNumber: s for s in answer.SendStatusSet or []}
        return [_one(m, statuses.get("+86" + (national(m.address) or ""))) for m in messages]

    def find(self, message: Message, since: datetime) -> LookupResult:
        """The status report of this run's message to this number since ``since``;
        TooEarlyToTell while a report may still come. Errors raise."""
        request = models.PullSmsSendStatusByPhoneNumberRequest()
        aware = since if since.tzinfo else since.replace(tzinfo=UTC)
        request.BeginTime = int(aware.timestamp())
        request.EndTime = int(datetime.now(UTC).timestamp()) + 60
        request.PhoneNumber = "+86" + (national(message.address) or "")
        request.SmsSdkAppId = self.app_id
        request.Limit = LOOKUP_PAGE
        request.Offset = 0
        tag = run_tag(message)
        while True:
            found = self.client.PullSmsSendStatusByPhoneNumber(request).PullSmsSendStatusSet
            for report in found or []:
                if report.SessionContext == tag:
                    return LookupResult(True, report.SerialNo,
                                        REPORT_STATES.get(report.ReportStatus, "sent"),
                                        None if report.ReportStatus == "SUCCESS"
                                        else str(report.Description or "FAIL")[:64])
            if len(found or []) < LOOKUP_PAGE:
                break
            request.Offset += LOOKUP_PAGE
        if datetime.now(UTC) - aware < self.report_wait:
            raise TooEarlyToTell(f"no status report yet for a send since {aware:%H:%M:%S}; "
                                 f"asking again until {self.report_wait} has passed")
        return LookupResult(found=False)


def _one(message: Message, status: models.SendStatus | None) -> SendResult:
    if status is None:  # the answer left this number out: it may have been taken
        return SendResult(message.delivery_id, "unknown",
                          detail="tencent answered without this number")
    code = str(status.Code or "")
    if code == "Ok":
        return SendResult(message.delivery_id, "accepted", provider_ref=str(status.SerialNo),
                          units=int(status.Fee or 1), detail="tencent accepted")
    known = classify(code, str(status.Message or ""))
    return SendResult(message.delivery_id, known.outcome, code=code[:64],
                      detail=f"{known.description}: {status.Message}"[:500],
                      retry_after=THROTTLED_PAUSE if known.outcome == "retry" else None,
                      opt_out=known.opt_out)


def _failed_call(messages: Sequence[Message], exc: TencentCloudSDKException) -> list[SendResult]:
    """The whole call failed: a transport error (``ClientNetworkError``: refused means
    nothing was sent, a timeout may have been taken), a 5xx (``ServerNetworkError``), or
    the platform's error code."""
    code = str(exc.get_code() or "")
    text = str(exc.get_message() or "")
    if code == "ClientNetworkError":
        if never_connected_text(text):
            return all_results(messages, "retry", None, f"no connection: {text}"[:500])
        return all_results(messages, "unknown", None, f"no answer: {text}"[:500])
    if code == "ServerNetworkError":
        return all_results(messages, "unknown", "5xx", f"tencent answered an error: {text}"[:500])
    known = classify(code, text)
    return all_results(messages, known.outcome, code[:64], f"{known.description}: {text}"[:500],
                       retry_after=THROTTLED_PAUSE if known.outcome == "retry" else None,
                       opt_out=known.opt_out)
