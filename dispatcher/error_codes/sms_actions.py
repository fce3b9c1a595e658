"""What an operator does about a domestic SMS platform's error: the actions Aliyun's and
Tencent Cloud's tables (:mod:`.aliyun`, :mod:`.tencent`) share."""

from __future__ import annotations

from dispatcher.i18n import N_

FIX_NUMBER = N_("Correct the number in the contact list (or remove it); sending again "
                "to the same number will fail the same way.")
FIX_TEMPLATE = N_("Check the template in the SMS console against [channels.sms.templates] "
                  "in config.toml and the placement's params, then retry the failed rows.")
FIX_CONTENT = N_("Change the wording with the content reviewers (a new template or "
                 "params, approved again) before sending again.")
TOP_UP = N_("Ask the administrator to top up the account or buy an SMS package; the "
            "dispatcher keeps trying for a while, and rows that still failed can be "
            "retried after the top-up.")
TOMORROW = N_("The limit resets the next day: retry the failed rows from the log "
              "tomorrow, or ask the administrator to raise the limit in the SMS console.")
OPTED_OUT = N_("Nothing to do: the number is on the opt-out list and will not be sent to "
               "again.")
LOOKUP = N_("The dispatcher checks with the platform before sending again. If the row "
            "failed, retry it later.")
