"""Tencent Cloud SMS error codes (the SMS channel's Tencent accounts): what a call or one
number's ``SendStatusSet`` entry answered.

Every code :mod:`channels.sms.tencent_codes` classifies is here (the coverage test fails
when one is missing), with ``retry`` matching its class: codes the dispatcher retries or
looks up can be retried; a daily limit can be retried tomorrow; a refused number or an
opted-out person cannot. A Tencent-style code not listed is explained with a pointer to
Tencent's error code page.
"""

from __future__ import annotations

from dispatcher.error_codes import sms_actions as act
from dispatcher.error_codes.common import WAIT
from dispatcher.error_codes.entry import Code, Table
from dispatcher.i18n import N_

_FIX_SETTINGS = N_("Ask the administrator to fix the Tencent Cloud SMS account or settings "
                   "([channels.sms] in config.toml, or the SMS console), then retry the "
                   "failed rows.")

CODES: Table = {
    # Refused: the template, the signature, the content or the number.
    "FailedOperation.TemplateIncorrectOrUnapproved": Code(
        N_("The template is not approved, or the message does not match the approved "
           "template."), act.FIX_TEMPLATE, True),
    "FailedOperation.TemplateUnapprovedOrNotExist": Code(
        N_("Tencent Cloud does not know the template or it is not approved."),
        act.FIX_TEMPLATE, True),
    "FailedOperation.TemplateParamSetNotMatchApprovedTemplate": Code(
        N_("The number of template params does not match the approved template."),
        act.FIX_TEMPLATE, True),
    "FailedOperation.SignatureIncorrectOrUnapproved": Code(
        N_("The signature is not approved or not well formed (2 to 12 Chinese or Latin "
           "letters or digits)."), _FIX_SETTINGS, True),
    "FailedOperation.ContainSensitiveWord": Code(
        N_("The message holds a word the platform does not allow."), act.FIX_CONTENT),
    "InvalidParameter.DirtyWordFound": Code(
        N_("The message holds a forbidden word."), act.FIX_CONTENT),
    "FailedOperation.PhoneNumberInBlacklist": Code(
        N_("The number is on the do-not-disturb list: the person unsubscribed or is on "
           "the carrier's list."), act.OPTED_OUT),
    "FailedOperation.PhoneNumberParseFail": Code(
        N_("The number could not be read as an international (E.164) number."),
        act.FIX_NUMBER),
    "InvalidParameterValue.IncorrectPhoneNumber": Code(
        N_("The number is not a valid phone number."), act.FIX_NUMBER),
    "FailedOperation.MarketingSendTimeConstraint": Code(
        N_("Marketing messages may only be sent between 8:00 and 22:00."),
        N_("Retry the failed rows within those hours, and keep the campaign's send "
           "window within them."), True),
    "InvalidParameterValue.ContentLengthLimit": Code(
        N_("The message is too long for the platform."), act.FIX_TEMPLATE, True),
    "InvalidParameterValue.TemplateParameterFormatError": Code(
        N_("A verification code variable must be 0 to 6 digits."), act.FIX_TEMPLATE, True),
    "InvalidParameterValue.TemplateParameterLengthLimit": Code(
        N_("A template variable's value is longer than the account allows (6 characters "
           "by default for new accounts)."), act.FIX_TEMPLATE, True),
    "InvalidParameterValue.ProhibitedUseUrlInTemplateParameter": Code(
        N_("A template variable holds a web address, which the platform does not allow."),
        act.FIX_CONTENT),
    "UnauthorizedOperation.IndividualUserMarketingSmsPermissionDeny": Code(
        N_("An individual (not company) account cannot send marketing messages."),
        _FIX_SETTINGS, True),
    "UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber": Code(
        N_("Mainland and international numbers were sent in one request."),
        N_("Report it to the administrator (the dispatcher groups the numbers), then "
           "retry the failed rows."), True),
    "LimitExceeded.PhoneNumberCountLimit": Code(
        N_("More than 200 numbers were sent in one request to Tencent Cloud."),
        N_("Report it to the administrator (the batch size is set by the dispatcher), "
           "then retry the failed rows."), True),
    # Refused: the account and its settings.
    "InvalidParameterValue.SdkAppIdNotExist": Code(
        N_("Tencent Cloud does not know the SmsSdkAppId."), _FIX_SETTINGS, True),
    "UnauthorizedOperation.SmsSdkAppIdVerifyFail": Code(
        N_("The SmsSdkAppId does not belong to the account of the API key."),
        _FIX_SETTINGS, True),
    "UnauthorizedOperation.RequestIpNotInWhitelist": Code(
        N_("Tencent Cloud refused the request: our address is not on the account's "
           "allow-list."), _FIX_SETTINGS, True),
    "UnauthorizedOperation.SdkAppIdIsDisabled": Code(
        N_("The SmsSdkAppId is disabled."), _FIX_SETTINGS, True),
    "AuthFailure.SignatureFailure": Code(
        N_("Tencent Cloud refused the request's signature: the SecretKey is wrong."),
        _FIX_SETTINGS, True),
    "AuthFailure.SecretIdNotFound": Code(
        N_("Tencent Cloud does not know the SecretId."), _FIX_SETTINGS, True),
    "InternalError.RequestTimeException": Code(
        N_("Tencent Cloud refused the request's time: the server's clock is more than 10 "
           "minutes off; nothing was sent."),
        N_("Ask the administrator to set the server's clock right (NTP), then retry the "
           "failed rows."), True),
    # Daily limits: not today.
    "LimitExceeded.PhoneNumberDailyLimit": Code(
        N_("The number reached its daily limit of messages."), act.TOMORROW, True),
    "LimitExceeded.PhoneNumberSameContentDailyLimit": Code(
        N_("The number reached its daily limit of messages with the same content."),
        act.TOMORROW, True),
    "LimitExceeded.AppDailyLimit": Code(
        N_("The SMS application reached its daily sending limit."), act.TOMORROW, True),
    "LimitExceeded.AppMainlandChinaDailyLimit": Code(
        N_("The SMS application reached its daily limit for mainland numbers."),
        act.TOMORROW, True),
    # Not processed: the dispatcher tries again.
    "LimitExceeded.PhoneNumberThirtySecondLimit": Code(
        N_("The number reached its limit of messages per 30 seconds."), WAIT, True),
    "LimitExceeded.PhoneNumberOneHourLimit": Code(
        N_("The number reached its limit of messages per hour."), WAIT, True),
    "LimitExceeded.DeliveryFrequencyLimit": Code(
        N_("The message hit the account's frequency limits."), WAIT, True),
    "RequestLimitExceeded": Code(
        N_("Too many requests: Tencent Cloud did not process the message."), WAIT, True),
    "FailedOperation.InsufficientBalanceInSmsPackage": Code(
        N_("The SMS package is used up; nothing was sent."), act.TOP_UP, True),
    "UnauthorizedOperation.ServiceSuspendDueToArrears": Code(
        N_("The Tencent Cloud account is suspended for arrears; nothing was sent."),
        act.TOP_UP, True),
    # Perhaps taken: the dispatcher looks it up first.
    "InternalError.Timeout": Code(
        N_("Tencent Cloud timed out sending the message; it may or may not have been "
           "taken."), act.LOOKUP, True),
    "InternalError.SendAndRecvFail": Code(
        N_("Tencent Cloud timed out talking to the carrier; the message may or may not "
           "have been taken."), act.LOOKUP, True),
    "InternalError.OtherError": Code(
        N_("Tencent Cloud had an internal error; the message may or may not have been "
           "taken."), act.LOOKUP, True),
    "InternalError.UnknownError": Code(
        N_("Tencent Cloud had an unknown error; the message may or may not have been "
           "taken."), act.LOOKUP, True),
    "InternalError": Code(
        N_("The platform had an internal error; the message may or may not have been "
           "taken."), act.LOOKUP, True),
    # A status callback's report_status FAIL without an errmsg.
    "FAIL": Code(N_("Tencent Cloud reported the message undelivered without saying why."),
                 N_("Check the number with the person if you can; retry the failed rows "
                    "later, for example the next day."), True),
}

UNKNOWN = Code(N_("Tencent Cloud SMS error {code}: not described here."),
               N_("Look it up in Tencent Cloud's SMS error codes: "
                  "https://cloud.tencent.com/document/api/382/59177"))
