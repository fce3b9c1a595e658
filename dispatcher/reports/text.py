"""The report's words: the summary paragraph in the drive's own style, and its footnotes.

"短信 320万余条次；……影院映前广告 500余场次、观众 10万余人次": each figure from the reach
object, rounded down with "more than" (:mod:`dispatcher.i18n.amounts`), gross counts labelled as
such (条次, 人次), estimates named as estimates, and each numbered to a footnote with its
source and method. Every word comes from the gettext catalogs, translated in the locale
the report is written in (``i18n.use_locale``): Simplified by default, Traditional or
English when asked.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from dispatcher.i18n import N_, _, pgettext
from dispatcher.i18n.amounts import approximate
from dispatcher.i18n.labels import L_, label

# Units: figures of one unit share a chart panel and its scale; each unit has a heading
# (context "unit": "Screens" here is a count of screens, not the dashboard's page).
UNITS = {
    "messages": L_("unit", "Messages (message-times)"),
    "people": L_("unit", "People reached (person-times, gross)"),
    "reads": L_("unit", "Article reads (times)"),
    "plays": L_("unit", "Plays (times)"),
    "screens": L_("unit", "Screens"),
    "screenings": L_("unit", "Screenings"),
    "posters": L_("unit", "Posters (sheets)"),
    "notice_sets": L_("unit", "Notice sets"),
    "boards": L_("unit", "Display boards"),
    "brochures": L_("unit", "Brochures (copies)"),
    "talks": L_("unit", "Talks (sessions)"),
}


@dataclass(frozen=True)
class Phrase:
    """How one figure is stated: a catalog string with ``{amount}``, and its unit."""

    channel: str
    metric: str
    text: str
    unit: str


# The figures a summary states, in the drive's order.
PHRASES = (
    Phrase("sms", "message_times", N_("SMS {amount} message-times"), "messages"),
    Phrase("wechat", "recipients",
           N_("WeChat official-account pushes {amount} recipient-times"), "people"),
    Phrase("wechat", "reads", N_("article reads {amount}"), "reads"),
    Phrase("webhook", "message_times", N_("partner-app notices {amount} message-times"),
           "messages"),
    Phrase("led", "screens", N_("LED screens {amount}"), "screens"),
    Phrase("led", "plays", N_("plays {amount}"), "plays"),
    Phrase("led", "impressions", N_("estimated viewers {amount} person-times"), "people"),
    Phrase("cinema", "screenings", N_("cinema pre-show spots {amount} screenings"),
           "screenings"),
    Phrase("cinema", "admissions", N_("audience {amount} person-times"), "people"),
)
# Hand-entered figures (the print run and the like), on whatever channel they were entered.
MANUAL = {
    "posters": N_("posters {amount}"),
    "notice_sets": N_("notice sets {amount}"),
    "boards": N_("display boards {amount}"),
    "brochures": N_("brochures {amount}"),
    "talks": N_("talks {amount}"),
}
ANY_METRIC = N_("{label} {amount}")

# The methods channels and hand entries give (channels/*.py, manual_reach.py), as
# catalog strings: a footnote states the method in the report's language. A method no
# template matches is shown as the channel wrote it.
METHODS = (
    N_("rows sent, delivered or undelivered (gross: one per message, not per person)"),
    N_("message_times x {segments} segment(s) per message"),
    N_("rows sent or delivered (gross: one per notice, not per person)"),
    N_("template messages with a TEMPLATESENDJOBFINISH success event (one per follower)"),
    N_("SentCount of each broadcast's MASSSENDJOBFINISH event (gross)"),
    N_("int_page_read_count of datacube getarticletotal, latest day reported (up to "
       "{days} days after sending; gross page reads)"),
    N_("share_count of datacube getarticletotal, latest day reported (gross)"),
    N_("screens with at least one proof-of-play record"),
    N_("sum of proof-of-play counts (each play once, however often its batch was sent)"),
    N_("plays x audience_per_play of each screen (its audience_source in the registry; "
       "gross)"),
    N_("screenings whose play log confirms the spot played"),
    N_("attendance of those screenings as the cinemas report it (gross: a person at two "
       "screenings counts twice)"),
    N_("entered by hand by {people}"),
)
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Figure:
    channel: str
    metric: str
    value: int
    source: str
    method: str
    phrase: str
    unit: str

    def stated(self) -> str:
        """The figure as the summary states it ("短信 320万余条次"), in the current locale."""
        return _(self.phrase).format(amount=approximate(self.value),
                                     label=label("metric", self.metric))

    def unit_heading(self) -> str:
        if self.unit in UNITS:
            return pgettext(*UNITS[self.unit])
        return label("metric", self.unit)


@dataclass(frozen=True)
class Summary:
    text: str
    notes: list[str]


def figures(reach: dict[str, Any]) -> list[Figure]:
    """The figures to state, in the drive's order, with their footnote data."""
    found = []
    channels = reach["channels"]
    for phrase in PHRASES:
        data = channels.get(phrase.channel)
        if data is None or phrase.metric not in data["reach"]:
            continue
        source = data["reach_sources"][phrase.metric]
        found.append(Figure(phrase.channel, phrase.metric, int(data["reach"][phrase.metric]),
                            source["source"], source["method"], phrase.text, phrase.unit))
    return found + list(_manual(channels))


def _manual(channels: dict[str, Any]) -> Iterator[Figure]:
    """Hand-entered figures the phrases above do not state already."""
    order = list(MANUAL)
    phrased = {(phrase.channel, phrase.metric) for phrase in PHRASES}
    for channel, data in sorted(channels.items()):
        for metric, value in sorted(data["reach"].items(),
                                    key=lambda kv: (order.index(kv[0]) if kv[0] in order
                                                    else len(order), kv[0])):
            source = data["reach_sources"][metric]
            if source["source"] == "manual" and (channel, metric) not in phrased:
                yield Figure(channel, metric, int(value), "manual", source["method"],
                             MANUAL.get(metric, ANY_METRIC), metric)


def summary(title: str, reach: dict[str, Any]) -> Summary:
    """The paragraph (figures of one channel joined by 、, channels by ；) and its notes."""
    found = figures(reach)
    if not found:
        return Summary(_("{title}: no reach figures yet.").format(title=title), [])
    channels: dict[str, list[str]] = {}
    for number, figure in enumerate(found, 1):
        channels.setdefault(figure.channel, []).append(f"{figure.stated()}[{number}]")
    stated = pgettext("list", "; ").join(pgettext("list", ", ").join(parts)
                                         for parts in channels.values())
    text = _("{title}: {figures}. All counts are gross (times, not unique people); "
             "estimates are derived as the footnotes say.").format(title=title,
                                                                   figures=stated)
    return Summary(text, [f"[{n}] {footnote(f)}" for n, f in enumerate(found, 1)])


def footnote(figure: Figure) -> str:
    """Where a figure comes from and how it was counted, in the report's language."""
    return _("{channel} · {metric}: source: {source}; method: {method}").format(
        channel=channel_label(figure.channel), metric=label("metric", figure.metric),
        source=source_label(figure.source), method=method_text(figure.method))


def channel_label(name: str) -> str:
    """A channel's name; "print", the channel of the hand-entered print run, too."""
    if name == "print":
        return pgettext("channel", "print")
    return label("channel", name)


def source_label(name: str) -> str:
    """provider, computed or manual, as people read it."""
    if name == "computed":
        return pgettext("source", "computed")
    return label("source", name)


def method_text(method: str) -> str:
    """``method`` in the report's language, or as the channel wrote it when no template
    of :data:`METHODS` fits."""
    translated = translate_method(method)
    return method if translated is None else translated


def translate_method(method: str) -> str | None:
    """``method`` in the current locale when every part of it (a sum over placements
    joins their methods with "; ") matches a template of :data:`METHODS`; else None."""
    parts = _parse(method)
    return None if parts is None else pgettext("list", "; ").join(parts)


def _parse(method: str) -> list[str] | None:
    ends = [m.start() for m in re.finditer("; ", method)] + [len(method)]
    for end in ends:
        head = _translated(method[:end])
        if head is None:
            continue
        if end == len(method):
            return [head]
        rest = _parse(method[end + 2:])
        if rest is not None:
            return [head, *rest]
    return None


def _translated(part: str) -> str | None:
    for template, pattern in _patterns():
        match = pattern.fullmatch(part)
        if match:
            return _(template).format(**match.groupdict())
    return None


@cache
def _patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """Each template as a regular expression whose groups are its placeholders."""
    found = []
    for template in METHODS:
        pieces = _PLACEHOLDER.split(template)  # literal, name, literal, name...
        pattern = "".join(re.escape(piece) if i % 2 == 0 else f"(?P<{piece}>.+?)"
                          for i, piece in enumerate(pieces))
        found.append((template, re.compile(pattern, re.DOTALL)))
    return tuple(found)
