"""Aliyun SMS (dysmsapi 2017-05-25) error codes: which fail a row, which are retried,
which need a lookup first.

From Aliyun's "国内消息API错误码" (help.aliyun.com/document_detail/101346) for the API's
``Code``, and its receipt error codes (document_detail/101347) for a report's
``err_code``. Codes not listed follow their prefix: ``isv.*`` (the caller's side) fail,
``isp.*`` (the platform's side) and anything else are unknown, ``Throttling*`` retries.

``isv.BUSINESS_LIMIT_CONTROL`` is one code for the per-number limits at three scales
(minute, hour, day); only its ``Message`` tells them apart ("触发天级流控Permits:10",
"触发分钟级流控Permits:1"), so :func:`classify` reads it: the daily limit fails the row
(the number takes no more today; the log offers a retry tomorrow), the others retry.
"""

from __future__ import annotations

from collections.abc import Mapping

from channels.sms.code_class import CodeClass, Outcome, classify_in

__all__ = ["BUSINESS_LIMIT", "OPT_OUT", "PERMANENT", "RETRY", "UNKNOWN", "CodeClass",
           "classify"]

BUSINESS_LIMIT = "isv.BUSINESS_LIMIT_CONTROL"

# The row fails for good as things stand (fix the number, the settings or the template).
PERMANENT: Mapping[str, str] = {
    "isv.MOBILE_NUMBER_ILLEGAL": "invalid phone number",
    "isv.MOBILE_COUNT_OVER_LIMIT": "too many phone numbers in one request",
    "isv.SMS_TEMPLATE_ILLEGAL": "template not found or not approved, or its params do "
                                "not match it",
    "isv.TEMPLATE_MISSING_PARAMETERS": "a template variable was given no value",
    "isv.INVALID_PARAMETERS": "a request parameter is invalid",
    "isv.INVALID_JSON_PARAM": "template params are not a JSON object of string values",
    "isv.PARAM_LENGTH_LIMIT": "a template variable's value is too long",
    "isv.PARAM_NOT_SUPPORT_URL": "a template variable holds a URL",
    "isv.BLACK_KEY_CONTROL_LIMIT": "a template variable holds a blacklisted keyword",
    "isv.SMS_SIGNATURE_ILLEGAL": "signature not found or not approved",
    "isv.SMS_SIGNATURE_SCENE_ILLEGAL": "the signature's type does not allow this template",
    "isv.SMS_SIGN_ILLEGAL": "the signature is banned",
    "isv.SMS_CONTENT_ILLEGAL": "the content is forbidden",
    "isv.DOMESTIC_NUMBER_NOT_SUPPORTED": "an international template cannot send to a "
                                         "mainland number",
    "isv.DENY_IP_RANGE": "the request came from an address outside the mainland",
    "isv.DAY_LIMIT_CONTROL": "the account's daily sending limit was reached",
    "isv.MONTH_LIMIT_CONTROL": "the account's monthly sending limit was reached",
    "isv.PRODUCT_UN_SUBSCRIPT": "the account has not activated the SMS service",
    "isv.ACCOUNT_NOT_EXISTS": "no such account (wrong AccessKey)",
    "isp.RAM_PERMISSION_DENY": "the AccessKey's RAM user may not send SMS",
    "InvalidAccessKeyId.NotFound": "AccessKey ID not found",
    "SignatureDoesNotMatch": "request signature mismatch (wrong AccessKey secret)",
    # Receipts (err_code of a delivery report): the carrier did not deliver.
    "MOBILE_IN_BLACK": "the number is on a blacklist (unsubscribed from this signature, or "
                       "the carrier's blacklist)",
    "W-BLACK": "the number is on a blacklist (the person complained about our messages)",
    "MOBILE_NOT_ON_SERVICE": "the number is out of service, switched off or out of "
                             "coverage",
    "INVALID_NUMBER": "the number is not in a valid state or not a valid number",
    "MOBILE_ACCOUNT_ABNORMAL": "the subscriber's account is abnormal (arrears, ported)",
    "MOBLLE_TERMINAL_ERROR": "handset problem (memory or SIM full)",  # Aliyun's spelling
    "MOBILE_SEND_LIMIT": "the number reached its daily or monthly limit",
    "CONTENT_KEYWORD": "the carrier blocked the content for a keyword",
    "CONTENT_ERROR": "a marketing message without an opt-out hint",
}
# Not processed; sending again later can work (after a top-up for the balance codes).
RETRY: Mapping[str, str] = {
    BUSINESS_LIMIT: "per-number rate limit (minute or hour)",
    "isv.AMOUNT_NOT_ENOUGH": "insufficient balance",
    "isv.OUT_OF_SERVICE": "service stopped for insufficient balance",
    "Throttling.User": "the account's request rate limit",
}
# The platform may have taken the message: look it up before sending again.
UNKNOWN: Mapping[str, str] = {
    "isp.SYSTEM_ERROR": "platform system error",
    "InternalError": "platform internal error",
    "ServiceUnavailable": "platform temporarily unavailable",
    "REQUEST_SUCCESS": "accepted, but the carrier never reported the delivery",
}
# The person refused our messages: the number goes on the opt-out list.
OPT_OUT = frozenset({"MOBILE_IN_BLACK", "W-BLACK"})

_TABLES: Mapping[Outcome, Mapping[str, str]] = {
    "failed": PERMANENT, "retry": RETRY, "unknown": UNKNOWN}
_PREFIXES: tuple[tuple[str, Outcome], ...] = (
    ("Throttling", "retry"), ("isv.", "failed"), ("isp.", "unknown"), ("", "unknown"))
_DAILY = ("天级", "day")  # how the message names the daily scale


def classify(code: str, message: str = "") -> CodeClass:
    """What Aliyun's ``code`` (the API's ``Code`` or a receipt's ``err_code``) means for
    the row; ``message`` (its ``Message``) only matters for the per-number limit."""
    if code.strip() == BUSINESS_LIMIT and any(word in message.lower() for word in _DAILY):
        return CodeClass("failed", "per-number daily limit reached: retry tomorrow")
    return classify_in(code, _TABLES, OPT_OUT, _PREFIXES, "Aliyun")
