"""Twilio's error codes (the SMS channel): its API's refusals and its carriers' receipts.

The codes the channel treats specially (``channels.twilio_client.PERMANENT_CODES``,
``RETRY_CODES``) and every code the Twilio sandbox answers or reports are here; the
coverage test fails when one is missing. A Twilio code not listed is explained with a
pointer to Twilio's own page for it.
"""

from __future__ import annotations

from dispatcher.error_codes.common import WAIT
from dispatcher.error_codes.entry import Code, Table
from dispatcher.i18n import N_

_FIX_NUMBER = N_("Correct the number in the contact list (or remove it); sending again "
                 "to the same number will fail the same way.")
_FIX_SETTINGS = N_("Ask the administrator to fix the SMS settings ([channels.sms] in "
                   "config.toml), then retry the failed rows.")

CODES: Table = {
    # The API refused the request.
    "20001": Code(N_("Twilio refused a parameter of the request."), _FIX_SETTINGS, True),
    "20003": Code(N_("Twilio refused the account SID or auth token: the credentials are "
                     "wrong or were revoked."), _FIX_SETTINGS, True),
    "20404": Code(N_("Twilio does not know the account or resource asked for (wrong "
                     "account SID or API address)."), _FIX_SETTINGS, True),
    "20429": Code(N_("Too many requests: Twilio did not process the message."), WAIT, True),
    "20500": Code(N_("Twilio had an internal error; the message may or may not have been "
                     "taken."), N_("The dispatcher checks with Twilio before sending "
                                   "again. If the row failed, retry it later."), True),
    "20503": Code(N_("Twilio was temporarily unavailable; nothing was sent."), WAIT, True),
    "21211": Code(N_("The number is not a valid phone number."), _FIX_NUMBER),
    "21212": Code(N_("The sender number or sender ID in the settings is not valid."),
                  _FIX_SETTINGS, True),
    "21214": Code(N_("The number cannot be reached by SMS."), _FIX_NUMBER),
    "21217": Code(N_("The number does not appear to be a valid phone number."), _FIX_NUMBER),
    "21401": Code(N_("The number is not a valid phone number."), _FIX_NUMBER),
    "21408": Code(N_("Sending to this country or region is not enabled on the Twilio "
                     "account."), N_("Ask the administrator to enable the region in the "
                                     "Twilio console (geographic permissions), then retry "
                                     "the failed rows."), True),
    "21602": Code(N_("The message body was empty."),
                  N_("Correct the placement's body in the campaign file, get it approved "
                     "again, then retry the failed rows."), True),
    "21603": Code(N_("No sender number or messaging service is set."), _FIX_SETTINGS, True),
    "21604": Code(N_("The row had no phone number."),
                  N_("Check the contact list for empty numbers and report the row to the "
                     "administrator.")),
    "21606": Code(N_("The sender number cannot send SMS."), _FIX_SETTINGS, True),
    "21609": Code(N_("Twilio refused the status callback address."),
                  N_("Ask the administrator to check [web] public_url in config.toml, then "
                     "retry the failed rows."), True),
    "21610": Code(N_("The person unsubscribed from our messages (replied STOP or TD)."),
                  N_("Nothing to do: the number is on the opt-out list and will not be "
                     "sent to again. Only the person can subscribe again.")),
    "21611": Code(N_("The sender's queue at Twilio is full; nothing was sent."),
                  N_("The dispatcher tries again by itself. If it happens often, ask the "
                     "administrator to lower the SMS rate."), True),
    "21612": Code(N_("The number cannot be reached from our sender number."),
                  N_("Ask the administrator to send through a sender or messaging service "
                     "that reaches this country, then retry the failed rows."), True),
    "21614": Code(N_("The number is not a mobile number (a landline cannot receive SMS)."),
                  _FIX_NUMBER),
    "21617": Code(N_("The message is longer than 1,600 characters."),
                  N_("Shorten the placement's body in the campaign file, get it approved "
                     "again, then retry the failed rows."), True),
    "21624": Code(N_("The message's validity period is not allowed (1 to 36,000 "
                     "seconds)."), _FIX_SETTINGS, True),
    "21701": Code(N_("The messaging service in the settings does not exist."),
                  _FIX_SETTINGS, True),
    # What the carriers reported (status callbacks and lookups).
    "30001": Code(N_("Too many messages were queued at Twilio; this one expired in the "
                     "queue."), N_("Ask the administrator to lower the SMS rate, then retry "
                                   "the failed rows."), True),
    "30002": Code(N_("The Twilio account is suspended."),
                  N_("Ask the administrator to contact Twilio about the account; retry "
                     "once it is active again."), True),
    "30003": Code(N_("The phone was unreachable (switched off or out of coverage)."),
                  N_("Retry the failed rows later, for example the next day."), True),
    "30004": Code(N_("The message was blocked: the person blocked our sender or opted "
                     "out with the carrier."),
                  N_("Nothing to do: the number is on the opt-out list and will not be "
                     "sent to again.")),
    "30005": Code(N_("The number is unknown to the carrier or no longer in service."),
                  _FIX_NUMBER),
    "30006": Code(N_("The number is a landline or its carrier cannot be reached."),
                  _FIX_NUMBER),
    "30007": Code(N_("The carrier filtered the message as spam."),
                  N_("Check the wording, links and signature with the content reviewers and "
                     "the sender's registration with the carrier before sending again.")),
    "30008": Code(N_("The carrier reported an unknown error."),
                  N_("Retry the failed rows once later; if it happens again, give Twilio "
                     "support the message's reference."), True),
    "30009": Code(N_("A part of a long message went missing on the way."),
                  N_("Retry the failed rows."), True),
    "30010": Code(N_("The message's price was above the maximum price set."),
                  _FIX_SETTINGS, True),
}

UNKNOWN = Code(N_("Twilio error {code}: not described here."),
               N_("Look it up at https://www.twilio.com/docs/errors/{code}."))
