"""Tencent Cloud SMS (API 2021-01-11) error codes: which fail a row, which are retried,
which need a lookup first.

From the SDK's own list (``tencentcloud/sms/v20210111/errorcodes.py``) and Tencent's
"错误码" page (cloud.tencent.com/document/api/382/59177). The same codes come back for
the whole call (``Response.Error.Code``) and for one number (``SendStatusSet[].Code``).
Codes not listed follow their prefix: ``FailedOperation.*``, ``InvalidParameter*``,
``MissingParameter*``, ``UnsupportedOperation.*``, ``UnauthorizedOperation.*`` and
``AuthFailure.*`` fail, ``LimitExceeded.*`` and ``RequestLimitExceeded*`` retry,
``InternalError.*`` and anything else are unknown.

Per-number limits: the 30-second and one-hour ones retry; the daily ones fail the row
(the number takes no more today: the log offers a retry tomorrow).
"""

from __future__ import annotations

from collections.abc import Mapping

from channels.sms.code_class import CodeClass, Outcome, classify_in

__all__ = ["OPT_OUT", "PERMANENT", "RETRY", "UNKNOWN", "CodeClass", "classify"]

# The row fails for good as things stand (fix the number, the settings or the template).
PERMANENT: Mapping[str, str] = {
    "FailedOperation.TemplateIncorrectOrUnapproved": "template not approved or the content "
                                                     "does not match it",
    "FailedOperation.TemplateUnapprovedOrNotExist": "template not approved or not found",
    "FailedOperation.TemplateParamSetNotMatchApprovedTemplate": "the number of template "
                                                                "params does not match",
    "FailedOperation.SignatureIncorrectOrUnapproved": "signature not approved or malformed",
    "FailedOperation.ContainSensitiveWord": "the content holds a sensitive word",
    "FailedOperation.PhoneNumberInBlacklist": "the number is on the do-not-disturb list "
                                              "(unsubscribed, or the carrier's list)",
    "FailedOperation.PhoneNumberParseFail": "the number could not be parsed (not E.164)",
    "FailedOperation.MarketingSendTimeConstraint": "marketing SMS may only be sent from "
                                                   "8:00 to 22:00",
    "InvalidParameterValue.IncorrectPhoneNumber": "invalid phone number",
    "InvalidParameterValue.ContentLengthLimit": "the message is too long",
    "InvalidParameterValue.TemplateParameterFormatError": "a verification code variable "
                                                          "must be 0 to 6 digits",
    "InvalidParameterValue.TemplateParameterLengthLimit": "a template variable's value is "
                                                          "too long",
    "InvalidParameterValue.ProhibitedUseUrlInTemplateParameter": "a template variable holds "
                                                                 "a URL",
    "InvalidParameterValue.SdkAppIdNotExist": "SmsSdkAppId not found",
    "InvalidParameter.DirtyWordFound": "the content holds a forbidden word",
    "LimitExceeded.PhoneNumberDailyLimit": "the number reached its daily limit",
    "LimitExceeded.PhoneNumberSameContentDailyLimit": "the number reached its daily limit "
                                                      "for the same content",
    "LimitExceeded.AppDailyLimit": "the application's daily limit was reached",
    "LimitExceeded.AppMainlandChinaDailyLimit": "the application's daily mainland limit was "
                                                "reached",
    "LimitExceeded.PhoneNumberCountLimit": "more than 200 numbers in one request",
    "UnauthorizedOperation.SmsSdkAppIdVerifyFail": "the SmsSdkAppId is not the API key "
                                                   "account's",
    "UnauthorizedOperation.RequestIpNotInWhitelist": "the request's address is not on the "
                                                     "allow-list",
    "UnauthorizedOperation.SdkAppIdIsDisabled": "the SmsSdkAppId is disabled",
    "UnauthorizedOperation.IndividualUserMarketingSmsPermissionDeny": "an individual "
                                                                      "account cannot send "
                                                                      "marketing SMS",
    "UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber": "mainland and "
                                                                       "international "
                                                                       "numbers in one call",
    "AuthFailure.SignatureFailure": "request signature invalid (wrong SecretKey)",
    "AuthFailure.SecretIdNotFound": "SecretId not found",
    # Refused before processing: our server's clock is more than 10 minutes off (so the
    # SDK's list says); no resend helps until the clock is fixed.
    "InternalError.RequestTimeException": "request time refused: the server clock is off",
}
# Not processed; sending again later can work (after a top-up for the balance codes).
RETRY: Mapping[str, str] = {
    "LimitExceeded.PhoneNumberThirtySecondLimit": "per-number 30-second limit",
    "LimitExceeded.PhoneNumberOneHourLimit": "per-number one-hour limit",
    "LimitExceeded.DeliveryFrequencyLimit": "frequency limit policy",
    "RequestLimitExceeded": "the account's request rate limit",
    "FailedOperation.InsufficientBalanceInSmsPackage": "the SMS package is used up",
    "UnauthorizedOperation.ServiceSuspendDueToArrears": "service suspended for arrears",
}
# The platform may have taken the message: look it up before sending again.
UNKNOWN: Mapping[str, str] = {
    "InternalError.Timeout": "timed out sending the message",
    "InternalError.SendAndRecvFail": "timed out talking to the carrier",
    "InternalError.OtherError": "platform internal error",
    "InternalError.UnknownError": "platform unknown error",
    "InternalError": "platform internal error",
}
# The person refused our messages: the number goes on the opt-out list.
OPT_OUT = frozenset({"FailedOperation.PhoneNumberInBlacklist"})

_TABLES: Mapping[Outcome, Mapping[str, str]] = {
    "failed": PERMANENT, "retry": RETRY, "unknown": UNKNOWN}
_PREFIXES: tuple[tuple[str, Outcome], ...] = (
    ("FailedOperation", "failed"), ("InvalidParameter", "failed"),
    ("MissingParameter", "failed"), ("UnsupportedOperation", "failed"),
    ("UnauthorizedOperation", "failed"), ("AuthFailure", "failed"),
    ("LimitExceeded", "retry"), ("RequestLimitExceeded", "retry"),
    ("InternalError", "unknown"), ("", "unknown"))


def classify(code: str, message: str = "") -> CodeClass:
    """What Tencent's ``code`` (a call's or one number's) means for the row; ``message``
    is taken for symmetry with :func:`channels.sms.aliyun_codes.classify` and not read."""
    del message
    return classify_in(code, _TABLES, OPT_OUT, _PREFIXES, "Tencent")
