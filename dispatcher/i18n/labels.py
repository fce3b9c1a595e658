"""What people read for the machine names: states, channels, metrics, areas, roles, actions.

The machine names stay in the database, the JSON, the API, CSV headers for machines and
the CLI's ``--json``; a page, a report or a spreadsheet for people shows :func:`label`.
Each word is translated with a gettext context (``state``, ``channel``...), so one
English word may have different Chinese words in different places.
"""

from __future__ import annotations

from collections.abc import Mapping

from dispatcher.i18n import pgettext


def L_(context: str, message: str) -> tuple[str, str]:
    """Mark a context-qualified word for the catalogs (extracted as ``pgettext``)."""
    return context, message


# Babel extracts the calls below with the keyword "L_:1c,2" (see babel.cfg).
KINDS: Mapping[str, tuple[tuple[str, str], ...]] = {
    "state": (
        L_("state", "planned"), L_("state", "sending"), L_("state", "sent"),
        L_("state", "delivered"), L_("state", "undelivered"), L_("state", "failed"),
        L_("state", "skipped"), L_("state", "pending"), L_("state", "targets"),
    ),
    "skip_reason": (
        L_("skip_reason", "opted_out"), L_("skip_reason", "invalid"),
        L_("skip_reason", "duplicate"), L_("skip_reason", "capped"),
        L_("skip_reason", "outside_window"), L_("skip_reason", "cancelled"),
    ),
    "campaign_status": (
        L_("campaign_status", "draft"), L_("campaign_status", "approved"),
        L_("campaign_status", "scheduled"), L_("campaign_status", "running"),
        L_("campaign_status", "paused"), L_("campaign_status", "cancelled"),
        L_("campaign_status", "completed"), L_("campaign_status", "expired"),
        L_("campaign_status", "in review"),
    ),
    "run_status": (
        L_("run_status", "planning"), L_("run_status", "planned"),
        L_("run_status", "paused"), L_("run_status", "cancelled"),
        L_("run_status", "completed"),
    ),
    "channel": (
        L_("channel", "sms"), L_("channel", "wechat"), L_("channel", "led"),
        L_("channel", "cinema"), L_("channel", "webhook"), L_("channel", "print"),
    ),
    "metric": (
        L_("metric", "segments"), L_("metric", "message_times"), L_("metric", "recipients"),
        L_("metric", "reads"), L_("metric", "shares"), L_("metric", "screens"),
        L_("metric", "plays"), L_("metric", "impressions"), L_("metric", "screenings"),
        L_("metric", "admissions"), L_("metric", "posters"), L_("metric", "notice_sets"),
        L_("metric", "boards"), L_("metric", "brochures"), L_("metric", "talks"),
    ),
    "source": (
        L_("source", "provider"), L_("source", "dispatcher"), L_("source", "venue"),
        L_("source", "estimate"), L_("source", "manual"), L_("source", "computed"),
    ),
    "area": (
        L_("area", "residential"), L_("area", "work"), L_("area", "activity"),
        L_("area", "street"),
    ),
    "role": (
        L_("role", "planner"), L_("role", "approver"), L_("role", "operator"),
        L_("role", "admin"),
    ),
    "action": (
        L_("action", "apply"), L_("action", "approve"), L_("action", "plan"),
        L_("action", "fire"), L_("action", "missed"), L_("action", "pause"),
        L_("action", "resume"), L_("action", "cancel"), L_("action", "retry"),
        L_("action", "preview"), L_("action", "reach"), L_("action", "review"),
    ),
}


def label(kind: str, name: str | None) -> str:
    """The word people read for machine name ``name`` of ``kind``; ``skipped:capped``
    reads as both parts. An unknown name is shown as it is (never hidden)."""
    if name is None:
        return ""
    if kind == "state" and name.startswith("skipped:"):
        reason = name.partition(":")[2]
        return f"{pgettext('state', 'skipped')} ({label('skip_reason', reason)})"
    if (kind, name) not in _KNOWN:
        return name
    return pgettext(kind, name)


_KNOWN = {pair for pairs in KINDS.values() for pair in pairs}
