"""The partner apps' answers (the ``webhook`` channel: parcel pick-up notices and the like).

A partner answers a notice with an HTTP status (kept as the code: ``400``, ``429``,
``503``) and may acknowledge it later as failed (``partner_failed``); ``endpoint`` is the
dispatcher's own code for a row whose endpoint left the configuration.
"""

from __future__ import annotations

from dispatcher.error_codes.entry import Code, Table
from dispatcher.i18n import N_

_ASK_PARTNER = N_("Ask the partner why (give them the row's id); retry the failed rows "
                  "once they have fixed it.")

CODES: Table = {
    "endpoint": Code(N_("The partner endpoint named in the placement is no longer in the "
                        "settings."),
                     N_("Ask the administrator to add the endpoint back to [channels.webhook] "
                        "in config.toml, then retry the failed rows."), True),
    "partner_failed": Code(N_("The partner app took the notice but reported that it could "
                              "not deliver it."), _ASK_PARTNER, True),
    "400": Code(N_("The partner app refused the notice (for example: the person is not a "
                   "user of the app)."),
                N_("Check the person's number with the partner; sending the same notice "
                   "again will be refused again.")),
    "401": Code(N_("The partner app refused our signature."),
                N_("Ask the administrator to check the endpoint's shared secret with the "
                   "partner, then retry the failed rows."), True),
    "403": Code(N_("The partner app does not allow us to send this notice."), _ASK_PARTNER,
                True),
    "404": Code(N_("The partner endpoint's address was not found."),
                N_("Ask the administrator to check the endpoint's URL in [channels.webhook], "
                   "then retry the failed rows."), True),
    "422": Code(N_("The partner app could not use the notice's content."), _ASK_PARTNER, True),
}
