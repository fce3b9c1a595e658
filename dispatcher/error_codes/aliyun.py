"""Aliyun SMS error codes (the SMS channel's Aliyun accounts): API refusals and receipts.

Every code :mod:`channels.sms.aliyun_codes` classifies is here (the coverage test fails
when one is missing), with ``retry`` matching its class: codes the dispatcher retries or
looks up can be retried; a daily limit can be retried tomorrow; a refused number or an
opted-out person cannot. An ``isv.*`` or ``isp.*`` code not listed is explained with a
pointer to Aliyun's error code page.
"""

from __future__ import annotations

from dispatcher.error_codes import sms_actions as act
from dispatcher.error_codes.common import WAIT
from dispatcher.error_codes.entry import Code, Table
from dispatcher.i18n import N_

_FIX_SETTINGS = N_("Ask the administrator to fix the Aliyun SMS account or settings "
                   "([channels.sms] in config.toml, or the Aliyun SMS console), then retry "
                   "the failed rows.")
_LATER = N_("Check the number with the person if you can; retry the failed rows later, "
            "for example the next day.")

CODES: Table = {
    # The API refused the request (SendSms, SendBatchSms).
    "isv.MOBILE_NUMBER_ILLEGAL": Code(N_("The number is not a valid phone number."),
                                      act.FIX_NUMBER),
    "isv.MOBILE_COUNT_OVER_LIMIT": Code(N_("Too many numbers were sent in one request to "
                                           "Aliyun."),
                                        N_("Report it to the administrator (the batch size "
                                           "is set by the dispatcher), then retry the "
                                           "failed rows."), True),
    "isv.SMS_TEMPLATE_ILLEGAL": Code(N_("Aliyun does not know the template, it is not "
                                        "approved, or the params do not match it."),
                                     act.FIX_TEMPLATE, True),
    "isv.TEMPLATE_MISSING_PARAMETERS": Code(N_("A template variable was given no value."),
                                            act.FIX_TEMPLATE, True),
    "isv.INVALID_PARAMETERS": Code(N_("Aliyun refused a parameter of the request."),
                                   _FIX_SETTINGS, True),
    "isv.INVALID_JSON_PARAM": Code(N_("The template params were not text values."),
                                   act.FIX_TEMPLATE, True),
    "isv.PARAM_LENGTH_LIMIT": Code(N_("A template variable's value is too long."),
                                   act.FIX_TEMPLATE, True),
    "isv.PARAM_NOT_SUPPORT_URL": Code(N_("A template variable holds a web address, which "
                                         "the platform does not allow."), act.FIX_CONTENT),
    "isv.BLACK_KEY_CONTROL_LIMIT": Code(N_("A template variable holds a word on the "
                                           "platform's blacklist."), act.FIX_CONTENT),
    "isv.SMS_SIGNATURE_ILLEGAL": Code(N_("Aliyun does not know the signature or it is not "
                                         "approved."), _FIX_SETTINGS, True),
    "isv.SMS_SIGNATURE_SCENE_ILLEGAL": Code(N_("The signature's type does not allow this "
                                               "template (a verification-code signature "
                                               "sends only verification codes)."),
                                            _FIX_SETTINGS, True),
    "isv.SMS_SIGN_ILLEGAL": Code(N_("The signature is banned by the platform."),
                                 _FIX_SETTINGS, True),
    "isv.SMS_CONTENT_ILLEGAL": Code(N_("The message's content is forbidden by the "
                                       "platform."), act.FIX_CONTENT),
    "isv.DOMESTIC_NUMBER_NOT_SUPPORTED": Code(N_("An international template cannot send to "
                                                 "a mainland number."), _FIX_SETTINGS, True),
    "isv.DENY_IP_RANGE": Code(N_("Aliyun refused the request because it came from outside "
                                 "the mainland."), _FIX_SETTINGS, True),
    "isv.DAY_LIMIT_CONTROL": Code(N_("The account reached the daily sending limit set in "
                                     "the SMS console."), act.TOMORROW, True),
    "isv.MONTH_LIMIT_CONTROL": Code(N_("The account reached the monthly sending limit set "
                                       "in the SMS console."),
                                    N_("Ask the administrator to raise the monthly limit "
                                       "in the SMS console, then retry the failed rows."),
                                    True),
    "isv.PRODUCT_UN_SUBSCRIPT": Code(N_("The Aliyun account has not activated the SMS "
                                        "service."), _FIX_SETTINGS, True),
    "isv.ACCOUNT_NOT_EXISTS": Code(N_("Aliyun does not know the account: the AccessKey is "
                                      "wrong."), _FIX_SETTINGS, True),
    "isp.RAM_PERMISSION_DENY": Code(N_("The AccessKey's RAM user is not allowed to send "
                                       "SMS."), _FIX_SETTINGS, True),
    "InvalidAccessKeyId.NotFound": Code(N_("Aliyun does not know the AccessKey ID."),
                                        _FIX_SETTINGS, True),
    "SignatureDoesNotMatch": Code(N_("Aliyun refused the request's signature: the "
                                     "AccessKey secret is wrong."), _FIX_SETTINGS, True),
    # Not processed: the dispatcher tries again.
    "isv.BUSINESS_LIMIT_CONTROL": Code(
        N_("The number reached the platform's per-number limit (per minute, hour or "
           "day)."),
        N_("A minute or hour limit: nothing to do, the dispatcher tries again by itself. "
           "A daily limit (the detail says so): retry the failed rows from the log "
           "tomorrow."), True),
    "isv.AMOUNT_NOT_ENOUGH": Code(N_("The Aliyun account's balance is too low; nothing "
                                     "was sent."), act.TOP_UP, True),
    "isv.OUT_OF_SERVICE": Code(N_("The Aliyun SMS service is stopped because the balance "
                                  "ran out; nothing was sent."), act.TOP_UP, True),
    "Throttling.User": Code(N_("Too many requests: Aliyun did not process the message."),
                            WAIT, True),
    # Perhaps taken: the dispatcher looks it up first.
    "isp.SYSTEM_ERROR": Code(N_("Aliyun had a system error; the message may or may not "
                                "have been taken."), act.LOOKUP, True),
    "InternalError": Code(N_("The platform had an internal error; the message may or may "
                             "not have been taken."), act.LOOKUP, True),
    "ServiceUnavailable": Code(N_("The platform was temporarily unavailable; the message "
                                  "may or may not have been taken."), act.LOOKUP, True),
    # What the carriers reported (delivery receipts, QuerySendDetails).
    "MOBILE_IN_BLACK": Code(N_("The number is blacklisted: the person unsubscribed from "
                               "our signature or is on the carrier's blacklist."),
                            act.OPTED_OUT),
    "W-BLACK": Code(N_("The number is blacklisted: the person complained about messages "
                       "from our signature."), act.OPTED_OUT),
    "MOBILE_NOT_ON_SERVICE": Code(N_("The phone was unreachable: switched off, suspended, "
                                     "out of coverage or no longer in use."), _LATER, True),
    "INVALID_NUMBER": Code(N_("The carrier reported the number as not in a valid state "
                              "(switched off, suspended, unused or malformed)."), _LATER,
                           True),
    "MOBILE_ACCOUNT_ABNORMAL": Code(N_("The person's phone account is abnormal (for "
                                       "example in arrears or moved to another carrier)."),
                                    _LATER, True),
    "MOBLLE_TERMINAL_ERROR": Code(N_("The phone could not take the message (memory or SIM "
                                     "full, or a faulty handset)."), _LATER, True),
    "MOBILE_SEND_LIMIT": Code(N_("The number reached its daily or monthly limit of "
                                 "messages."), act.TOMORROW, True),
    "CONTENT_KEYWORD": Code(N_("The carrier blocked the message for a keyword in it."),
                            act.FIX_CONTENT),
    "CONTENT_ERROR": Code(N_("A marketing message had no opt-out hint (such as "
                             "拒收请回复R)."),
                          N_("Add the opt-out hint to the template, get it approved, then "
                             "retry the failed rows."), True),
    "REQUEST_SUCCESS": Code(N_("The platform took the message but the carrier never "
                               "reported whether it was delivered."),
                            N_("Nothing to do in most cases: the person's phone was "
                               "probably unreachable. Retry the row later if it matters."),
                            True),
    "FAILED": Code(N_("Aliyun reported the message undelivered without saying why."),
                   _LATER, True),
    # The dispatcher's own, for either domestic platform (channels.sms.domestic).
    "not_mainland": Code(N_("Not sent: Aliyun and Tencent Cloud accounts send only to "
                            "mainland mobile numbers (+86 1xx xxxx xxxx)."),
                         N_("Send to this number through an account that reaches it (such "
                            "as Twilio), or correct it in the contact list.")),
}

UNKNOWN = Code(N_("Aliyun SMS error {code}: not described here."),
               N_("Look it up in Aliyun's SMS error codes: "
                  "https://help.aliyun.com/zh/sms/developer-reference/api-error-codes"))
