"""Cinemas and LED screens: booking refusals, play reports, and reports refused as
implausible (``refused_reports.reason``).

A cinema's booking system answers with an HTTP status (kept as the code) or a reason the
dispatcher names (``cancelled``, ``dropped``, ``no-system``); a venue's report that cannot
be true is refused with ``above_capacity``, ``above_schedule``, ``outside_dates`` or
``duplicate``.
"""

from __future__ import annotations

from dispatcher.error_codes.entry import Code, Table
from dispatcher.i18n import N_

_DUPLICATE = Code(N_("The venue reported the same play twice; the repeat was not counted."),
                  N_("Nothing to do."))
_OUTSIDE_DATES = Code(N_("The venue reported a play outside the campaign's dates; it was "
                         "not counted."),
                      N_("Ask the venue to check its clock and schedule."))

CINEMA: Table = {
    "no-system": Code(N_("The cinema's booking system is not in the settings."),
                      N_("Ask the administrator to add the booking system to "
                         "[channels.cinema] systems in config.toml, then retry the failed "
                         "rows."), True),
    "cancelled": Code(N_("The screening (or the booking) was cancelled by the cinema."),
                      N_("Nothing to do for this screening; the campaign's next plan books "
                         "other screenings.")),
    "dropped": Code(N_("The cinema reports the spot did not play at this screening."),
                    N_("Ask the cinema why, and whether the spot can play at another "
                       "screening.")),
    "400": Code(N_("The booking system refused the booking (an unknown preshow block or a "
                   "malformed request)."),
                N_("Check the placement's preshow position against the cinema's blocks, "
                   "then retry the failed rows."), True),
    "401": Code(N_("The booking system refused the cinema's token."),
                N_("Ask the administrator to give the cinema its current token (dispatcher "
                   "cinemas token), then retry the failed rows."), True),
    "404": Code(N_("The booking system does not know the cinema or the screening."),
                N_("Import the cinema's current showtimes (dispatcher showtimes import) and "
                   "plan again.")),
    "409": Code(N_("The booking was refused: the screening started or was cancelled, or its "
                   "preshow block is full."),
                N_("Nothing to do for this screening; choose other screenings if more are "
                   "needed.")),
    "above_capacity": Code(N_("The cinema reported more admissions than the auditorium has "
                              "seats; the report was not counted."),
                           N_("Ask the cinema to correct its report.")),
    "outside_dates": _OUTSIDE_DATES,
    "duplicate": _DUPLICATE,
}

LED: Table = {
    "above_schedule": Code(N_("The screen reported more plays than its schedule allows; the "
                              "extra plays were not counted."),
                           N_("Ask the screen's operator to check the player's schedule and "
                              "reports.")),
    "outside_dates": _OUTSIDE_DATES,
    "duplicate": _DUPLICATE,
}
