"""WeChat's errcodes and the statuses of its job events (the ``wechat`` channel).

An API call's errcode (``40003``), a broadcast's ``MASSSENDJOBFINISH`` status (``send
fail``, or ``err(N)`` when WeChat's review refused the content or the administrator did
not confirm it) and a template message's ``TEMPLATESENDJOBFINISH`` status
(``failed:user block``). A code not listed is explained with a pointer to WeChat's list.
"""

from __future__ import annotations

from dispatcher.error_codes.common import WAIT
from dispatcher.error_codes.entry import Code, Table
from dispatcher.i18n import N_

_FIX_SETTINGS = N_("Ask the administrator to check the official account's settings "
                   "([channels.wechat] in config.toml and the WeChat admin console), then "
                   "retry the failed rows.")
_FIX_CONTENT = N_("Correct the placement in the campaign file, get it approved again, then "
                  "retry the failed rows.")
_REVIEW = N_("Revise the content with the content reviewers and send a new version; "
             "sending the same content again will be refused again.")

CODES: Table = {
    "-1": Code(N_("WeChat was busy and did not take the request."), WAIT, True),
    "40001": Code(N_("WeChat refused the access token (the AppSecret is wrong, or another "
                     "system fetched a new token)."), _FIX_SETTINGS, True),
    "40002": Code(N_("WeChat refused the token request (invalid grant type)."),
                  _FIX_SETTINGS, True),
    "40003": Code(N_("The openid is not a follower of this official account."),
                  N_("Check that the openid belongs to this account's followers; it will "
                     "fail the same way again.")),
    "40007": Code(N_("The media_id is not in the account's material library."), _FIX_CONTENT,
                  True),
    "40008": Code(N_("WeChat does not accept this message type here."), _FIX_CONTENT, True),
    "40013": Code(N_("The AppID in the settings is not valid."), _FIX_SETTINGS, True),
    "40014": Code(N_("The access token is not valid."), _FIX_SETTINGS, True),
    "40037": Code(N_("The template_id is not one of the account's templates."),
                  _FIX_CONTENT, True),
    "40050": Code(N_("The tag is not one of the account's follower tags."), _FIX_CONTENT,
                  True),
    "40097": Code(N_("WeChat refused an argument of the request."), _FIX_CONTENT, True),
    "40125": Code(N_("The AppSecret in the settings is not valid."), _FIX_SETTINGS, True),
    "40130": Code(N_("A broadcast by openid needs 2 to 10,000 openids."), _FIX_CONTENT, True),
    "40132": Code(N_("The WeChat ID given for the preview is not valid."),
                  N_("Use the WeChat ID of a follower of the account for the preview.")),
    "40164": Code(N_("The server's IP address is not on the account's IP whitelist."),
                  N_("Ask the administrator to add the server's IP address to the "
                     "whitelist in the WeChat admin console, then retry the failed rows."),
                  True),
    "41001": Code(N_("The request carried no access token."), _FIX_SETTINGS, True),
    "42001": Code(N_("The access token expired."), WAIT, True),
    "43004": Code(N_("The person no longer follows the official account."),
                  N_("Nothing to do: the follower is on the opt-out list and will not be "
                     "sent to again.")),
    "43101": Code(N_("The person declined this kind of message."),
                  N_("Nothing to do: sending again will be refused.")),
    "44002": Code(N_("The request was empty."), _FIX_CONTENT, True),
    "45009": Code(N_("Too many calls to WeChat's interface."), WAIT, True),
    "45028": Code(N_("No broadcast quota left (a subscription account broadcasts once a "
                     "day; a service account reaches each follower at most 4 times a "
                     "month)."),
                  N_("Retry the failed rows when the quota renews (the next day or the "
                     "next month)."), True),
    "45047": Code(N_("Too many customer-service messages to this follower."),
                  N_("Wait until the follower writes to the account again, then retry."),
                  True),
    "45065": Code(N_("WeChat had already sent a broadcast with this message id; it counts "
                     "as sent."), N_("Nothing to do.")),
    "45066": Code(N_("The same broadcast was sent again within a minute."), WAIT, True),
    "47001": Code(N_("WeChat could not read the request's data."), _FIX_CONTENT, True),
    "47003": Code(N_("A template field is missing or does not fit the template."),
                  _FIX_CONTENT, True),
    "48001": Code(N_("The official account has no permission for this interface (it may "
                     "need verification)."),
                  N_("Ask the administrator to check the account's interface permissions "
                     "in the WeChat admin console.")),
    "50002": Code(N_("The official account is restricted, or the person's account is."),
                  N_("Ask the administrator to check the account's notices in the WeChat "
                     "admin console.")),
    "61500": Code(N_("WeChat's statistics for that date are not ready yet."), WAIT, True),
    "61501": Code(N_("WeChat's statistics do not cover that date range."), WAIT, True),
    # The dispatcher's own words for what happened around a WeChat call.
    "http": Code(N_("WeChat answered with an HTTP error instead of a result."), WAIT, True),
    "unverified": Code(N_("The answer to a template message was lost; it is counted as sent "
                          "because a template message cannot be looked up, and sending it "
                          "again could send it twice."), N_("Nothing to do.")),
    # MASSSENDJOBFINISH: the broadcast's outcome.
    "send fail": Code(N_("WeChat could not complete the broadcast."),
                      N_("Check the account's broadcast records in the WeChat admin console; "
                         "retry the failed rows if nothing went out."), True),
    "err(10001)": Code(N_("WeChat's review refused the broadcast: suspected advertising."),
                       _REVIEW),
    "err(20001)": Code(N_("WeChat's review refused the broadcast: suspected political "
                          "content."), _REVIEW),
    "err(20002)": Code(N_("WeChat's review refused the broadcast: suspected pornography."),
                       _REVIEW),
    "err(20004)": Code(N_("WeChat's review refused the broadcast: suspected social "
                          "incident content."), _REVIEW),
    "err(20006)": Code(N_("WeChat's review refused the broadcast: suspected illegal or "
                          "criminal content."), _REVIEW),
    "err(20008)": Code(N_("WeChat's review refused the broadcast: suspected fraud."),
                       _REVIEW),
    "err(20013)": Code(N_("WeChat's review refused the broadcast: suspected copyright "
                          "infringement."), _REVIEW),
    "err(21000)": Code(N_("WeChat's review refused the broadcast for another reason."),
                       _REVIEW),
    "err(22000)": Code(N_("WeChat's review refused the broadcast: suspected cross-promotion "
                          "between accounts."), _REVIEW),
    "err(30001)": Code(N_("WeChat's originality check failed, and the article was set not "
                          "to be sent if judged a repost."),
                       N_("Retry the failed rows; if it fails again, change the article's "
                          "repost setting."), True),
    "err(30002)": Code(N_("WeChat's originality check refused the article."), _REVIEW),
    "err(30003)": Code(N_("WeChat judged the article a repost, and it was set not to be sent "
                          "then."), N_("Change the article's repost setting or mark the "
                                       "source, then retry the failed rows."), True),
    "err(40001)": Code(N_("The account's administrator refused the broadcast (broadcast "
                          "protection)."),
                       N_("Ask the administrator why; retry the failed rows once it is "
                          "agreed."), True),
    "err(40002)": Code(N_("The account's administrator did not confirm the broadcast within "
                          "30 minutes (broadcast protection)."),
                       N_("Tell the administrator to watch for the confirmation, then retry "
                          "the failed rows."), True),
    # TEMPLATESENDJOBFINISH: a template message's outcome.
    "failed:user block": Code(N_("The person blocked the account's template messages."),
                              N_("Nothing to do: the follower is on the opt-out list and will "
                                 "not be sent to again.")),
    "failed: system failed": Code(N_("WeChat failed to deliver the template message (a "
                                     "system failure on WeChat's side)."),
                                  N_("Retry the failed rows later."), True),
}

UNKNOWN = Code(N_("WeChat error {code}: not described here."),
               N_("Look it up in WeChat's list of global return codes."))
UNKNOWN_REVIEW = Code(N_("WeChat's review refused the broadcast ({code})."), _REVIEW)
