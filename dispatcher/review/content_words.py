"""The words for the facts channels give about their placements (``channels.base.
ContentFact``): what each fact is called, how its value reads, and what an approver
should be warned about. Marked with ``N_`` here and translated when a page is made."""

from __future__ import annotations

from dispatcher.i18n import N_, _, ngettext, pgettext
from dispatcher.i18n.labels import L_, label

# The text as the recipient gets it, named for where it appears.
TEXT_LABELS = {
    "sms": N_("Message as the phone shows it"),
    "wechat": N_("Text of the broadcast"),
    "led": N_("Text on the screens"),
    "webhook": N_("Notice in the partner app"),
}
LABELS = {
    "text": N_("Text as received"),
    "sender": N_("Sender number"),
    "messaging_service": N_("Sent through Messaging Service"),
    "signature": N_("Signature"),
    "characters": N_("Characters"),
    "units": N_("Units the carrier counts"),
    "encoding": N_("Encoding"),
    "segments": N_("Segments (billed messages) per person"),
    "single_segment_limit": N_("Characters that fit in one segment"),
    "part_limit": N_("Characters per segment when split"),
    "max_segments": N_("Most segments allowed"),
    "parts": N_("Where the network splits it"),
    "msgtype": N_("Message type"),
    "media_id": N_("Material (media_id)"),
    "send_ignore_reprint": N_("Send even if judged a reprint"),
    "template_id": N_("Template"),
    "provider": N_("SMS platform"),
    "template_kind": N_("Template type"),
    "template_fields": N_("Template fields"),
    "url": N_("Link"),
    "to_all": N_("To all followers"),
    "tags": N_("To followers with tags"),
    "openids": N_("To listed followers"),
    "requests": N_("Requests per firing"),
    "media_url": N_("Media file"),
    "media_format": N_("Format"),
    "media_size": N_("Size (pixels)"),
    "media_bytes": N_("File size"),
    "duration": N_("Length of one play (seconds)"),
    "plays_per_hour": N_("Plays per hour"),
    "dayparts": N_("Dayparts"),
    "plays_per_day": N_("Plays per screen per day"),
    "screens": N_("Screens selected"),
    "plays_per_day_all": N_("Plays per day on all screens"),
    "screens_by_kind": N_("Screens by kind and district"),
    "spot": N_("Spot"),
    "position": N_("Preshow block"),
    "all_cinemas": N_("All cinemas"),
    "cinema_ids": N_("Cinemas"),
    "cinema_districts": N_("Cinemas in districts"),
    "dates": N_("Dates"),
    "exclude_ratings": N_("Films left out (ratings)"),
    "max_screenings": N_("At most this many screenings"),
    "screenings": N_("Screenings booked"),
    "screenings_full": N_("Screenings with no room left"),
    "cinemas": N_("Cinemas booked"),
    "expected_seats": N_("Expected audience (seats)"),
    "screening_list": N_("Screenings chosen"),
    "screenings_not_listed": N_("More screenings, not listed"),
    "endpoint": N_("Partner endpoint"),
    "endpoint_url": N_("Endpoint URL"),
}
COLUMNS = {
    "part": N_("Part"), "characters": N_("Characters"), "text": N_("Text"),
    "field": N_("Field"), "value": N_("Field value"), "kind": N_("Kind"),
    "district": N_("district"), "screens": N_("Screens"), "cinema": N_("Cinema"),
    "starts_at": N_("Starts"), "film": N_("Film"), "rating": N_("Rating"),
    "expected_seats": N_("Expected seats"),
}
ENCODINGS = {
    "GSM-7": N_("GSM-7 (Latin letters, digits and common signs only)"),
    "UCS-2": N_("UCS-2 (Chinese or other characters outside GSM-7)"),
}
# Machine values that read as words, by the column or fact that holds them.
WORDS = {
    "msgtype": (L_("msgtype", "text"), L_("msgtype", "image"), L_("msgtype", "mpnews"),
                L_("msgtype", "template")),
    "kind": (L_("screen_kind", "building"), L_("screen_kind", "outdoor"),
             L_("screen_kind", "facade"), L_("screen_kind", "shopfront")),
    "provider": (L_("sms_provider", "twilio"), L_("sms_provider", "aliyun"),
                 L_("sms_provider", "tencent")),
    "template_kind": (L_("sms_template_kind", "notification"),
                      L_("sms_template_kind", "marketing"),
                      L_("sms_template_kind", "verification")),
}


def fact_label(channel: str, key: str) -> str:
    if key == "text" and channel in TEXT_LABELS:
        return _(TEXT_LABELS[channel])
    return _(LABELS[key]) if key in LABELS else key


def column_label(column: str) -> str:
    return _(COLUMNS[column]) if column in COLUMNS else column


def fact_value(key: str, value: str | int | bool) -> str:
    """A value as people read it: yes/no, 1,234, a word for a machine value."""
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, int):
        return _size(value) if key == "media_bytes" else f"{value:,}"
    for context, name in WORDS.get(key, ()):
        if name == value:
            return pgettext(context, value)
    if key == "area":
        return label("area", value) if value else _("(no area type)")
    if key == "encoding" and value in ENCODINGS:
        return _(ENCODINGS[value])
    if not value:
        return _EMPTY.get(key, lambda: "")()
    return value


_EMPTY = {
    "signature": lambda: _("none"),
    "dayparts": lambda: _("all day"),
    "district": lambda: _("(no district)"),
}


def fact_note(key: str, value: object) -> str:
    """A warning for the approver about this fact, or ""."""
    if key == "signature" and value == "":
        return _("Mainland carriers refuse messages without a 【signature】 at the start or "
                 "the end of the text.")
    if key == "segments" and isinstance(value, int) and value > 1:
        return ngettext("Each person is sent {n} billed segment.",
                        "Each person is sent {n} billed segments.", value).format(n=value)
    if key == "screens" and value == 0:
        return _("No screen of the registry matches the selection: nothing will play.")
    if key == "screenings" and value == 0:
        return _("No scheduled screening matches: nothing will be booked.")
    if key == "screenings_full" and isinstance(value, int) and value > 0:
        return _("Their preshow block is full: they are skipped when the campaign is planned.")
    return ""


def _size(count: int) -> str:
    if count >= 1 << 20:
        return f"{count / (1 << 20):.1f} MB"
    if count >= 1 << 10:
        return f"{count / (1 << 10):.0f} KB"
    return f"{count} B"
