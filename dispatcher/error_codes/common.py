"""Codes every channel can record: the dispatcher's own, HTTP statuses, and skip reasons.

The engine writes ``retries`` when it gave up after the last attempt and no provider code
was given, ``network`` when the provider could not be reached, ``http`` when a provider
answered an HTTP error instead of a result. A provider's bare HTTP status (``429``,
``503``) is explained here unless its channel's table says more.
"""

from __future__ import annotations

from dispatcher.error_codes.entry import Code, Table
from dispatcher.i18n import N_

# What to do about a code the dispatcher retries by itself (every channel's tables use it).
WAIT = N_("Nothing to do: the dispatcher waits and tries again by itself. If rows still "
          "failed, retry them later.")
_ADMIN = N_("Ask the administrator to check the channel's settings in config.toml, then "
            "retry the failed rows.")

ENGINE: Table = {
    "retries": Code(N_("The dispatcher gave up after its last attempt: the provider kept "
                       "answering 'try again later' or could not be reached."),
                    N_("Check that the provider is up (see the detail), then retry the "
                       "failed rows."), True),
    "network": Code(N_("The provider could not be reached over the network."), WAIT, True),
    "http": Code(N_("The provider answered with an HTTP error instead of a result."), WAIT,
                 True),
}

HTTP: Table = {
    "400": Code(N_("The provider refused the request as malformed (HTTP 400)."), _ADMIN, True),
    "401": Code(N_("The provider refused our credentials (HTTP 401)."), _ADMIN, True),
    "403": Code(N_("The provider does not allow this request (HTTP 403)."), _ADMIN, True),
    "404": Code(N_("The provider's address was not found (HTTP 404)."), _ADMIN, True),
    "408": Code(N_("The provider timed out waiting for the request (HTTP 408)."), WAIT, True),
    "409": Code(N_("The provider refused the request as conflicting with its state "
                   "(HTTP 409)."), N_("See the detail for what the provider said."), False),
    "413": Code(N_("The request was too large for the provider (HTTP 413)."), _ADMIN, True),
    "422": Code(N_("The provider could not use the request's content (HTTP 422)."), _ADMIN,
                True),
    "429": Code(N_("Too many requests: the provider asked us to slow down (HTTP 429)."), WAIT,
                True),
    "500": Code(N_("The provider had an internal error (HTTP 500)."), WAIT, True),
    "502": Code(N_("A gateway before the provider failed (HTTP 502)."), WAIT, True),
    "503": Code(N_("The provider was temporarily unavailable (HTTP 503)."), WAIT, True),
    "504": Code(N_("A gateway before the provider timed out (HTTP 504)."), WAIT, True),
}

CLIENT_ERROR = Code(N_("The provider refused the request (HTTP {code})."), _ADMIN, True)
SERVER_ERROR = Code(N_("The provider had an error (HTTP {code})."), WAIT, True)

SKIP_REASONS: Table = {
    "opted_out": Code(N_("Not sent: the person is on the opt-out list for this channel."),
                      N_("Nothing to do; only the person can subscribe again.")),
    "invalid": Code(N_("Not sent: the address cannot receive this channel's messages (for "
                       "example a landline for SMS)."),
                    N_("Correct the contact's number in the contact list.")),
    "duplicate": Code(N_("Not sent again: the same address appears more than once in the "
                         "audience; one message went to it."), N_("Nothing to do.")),
    "capped": Code(N_("Not sent: the person already received the most messages allowed in "
                      "the frequency cap's period."),
                   N_("Nothing to do; the cap protects people from too many messages.")),
    "outside_window": Code(N_("Not sent: the firing fell outside the send window and the "
                              "campaign skips such rows."),
                           N_("Change the campaign's send window or misfire policy if these "
                              "people should be reached.")),
    "cancelled": Code(N_("Not sent: the run was cancelled before this row was sent."),
                      N_("Nothing to do.")),
}
