"""One delivery row's story: every state change with its time and where it came from.

Operators asking "what happened to this number" read it on ``/logs/{id}``. It is built
from the ``delivery_events`` the row collected (each transition appends one, with its
actor) and from the row and its run: rows are created by planning a run, which records
one event for the whole run, so the run's planning time opens the story.

Each event is given a *source*, the question operators ask of it: ``plan`` (planning
created or skipped the row), ``send`` (the engine handed it to the provider, or the
provider answered), ``lookup`` (a lost answer was asked for again), ``receipt`` (the
provider's later report), ``retry`` (the engine requeued it after a temporary error),
``venue`` (a cinema's or screen's report) and ``operator`` (a person's action: retry,
cancel).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from dispatcher.i18n import pgettext
from dispatcher.i18n.labels import L_, label
from dispatcher.storage.db import as_utc
from dispatcher.storage.tables import campaigns, contacts, deliveries, delivery_events, runs

SOURCES = ("plan", "send", "lookup", "receipt", "retry", "venue", "operator")
# The words people read for the sources, marked for the catalogs (context "event_source").
_SOURCE_WORDS = {word: (context, word) for context, word in (
    L_("event_source", "plan"), L_("event_source", "send"), L_("event_source", "lookup"),
    L_("event_source", "receipt"), L_("event_source", "retry"), L_("event_source", "venue"),
    L_("event_source", "operator"))}
_RETRY_EVENT = L_("event", "retry")  # the engine requeued the row: not a state
# The system's actors as people read them; a person's actor is their user name.
_ACTOR_WORDS = {"engine": L_("actor", "dispatcher"), "webhook": L_("actor", "provider"),
                "cinema": L_("actor", "cinema"), "controller": L_("actor", "screen"),
                "planner": L_("actor", "planner"), "demo planner": L_("actor", "planner"),
                "scheduler": L_("actor", "scheduler")}
# Who writes events (dispatcher/*.py ``actor=``); anyone else is a person's name.
_SYSTEM_SOURCES = {"engine": "send", "webhook": "receipt", "cinema": "venue",
                   "controller": "venue", "planner": "plan", "demo planner": "plan",
                   "scheduler": "plan"}
LOOKUP_DETAIL = "found by lookup"  # what recording.py writes after a lookup
MAX_EVENTS = 500  # a row has a handful; a runaway retry loop is shown in part


@dataclass(frozen=True)
class Event:
    at: datetime
    source: str  # one of SOURCES
    actor: str
    event: str  # the state moved to (planned, sending, sent, ...) or "retry"
    detail: str | None


@dataclass(frozen=True)
class History:
    row: dict[str, Any]  # the deliveries row with campaign, title, contact name, district
    planned_at: datetime | None  # when its run was planned (the row's creation)
    events: list[Event]

    @property
    def retryable(self) -> bool:
        """Only failed rows are requeued (``retry_row``), as "retry failed" does."""
        return bool(self.row["status"] == "failed")


def source_of(actor: str, event: str, detail: str | None) -> str:
    """Which kind of step an event records (see the module docstring)."""
    system = _SYSTEM_SOURCES.get(actor)
    if system is None:
        return "operator"
    if system == "send" and event == "retry":
        return "retry"
    if system == "send" and detail == LOOKUP_DETAIL:
        return "lookup"
    return system


def history(engine: Engine, delivery_id: int) -> History | None:
    """The row ``delivery_id`` and its events, oldest first; None when there is no such
    row. Three indexed lookups: the row (with its run, campaign and contact), its events
    (by ``delivery_id``)."""
    query = (select(deliveries, runs.c.campaign_id.label("campaign"),
                    runs.c.planned_at, runs.c.fire_time, campaigns.c.title,
                    contacts.c.name.label("contact_name"), contacts.c.district,
                    contacts.c.area)
             .join(runs, runs.c.id == deliveries.c.run_id)
             .join(campaigns, campaigns.c.id == runs.c.campaign_id)
             .outerjoin(contacts, contacts.c.id == deliveries.c.contact_id)
             .where(deliveries.c.id == delivery_id))
    events = (select(delivery_events.c.at, delivery_events.c.actor, delivery_events.c.event,
                     delivery_events.c.detail)
              .where(delivery_events.c.delivery_id == delivery_id)
              .order_by(delivery_events.c.at, delivery_events.c.id).limit(MAX_EVENTS))
    with engine.connect() as conn:
        found = conn.execute(query).mappings().first()
        if found is None:
            return None
        rows = conn.execute(events).all()
    row = dict(found)
    for column in ("updated_at", "planned_at", "fire_time", "next_attempt_at",
                   "lease_until", "attempt_started_at"):
        row[column] = as_utc(row[column]) if row[column] is not None else None
    return History(row=row, planned_at=row["planned_at"], events=[
        Event(as_utc(at), source_of(actor, event, detail), actor, event, detail)
        for at, actor, event, detail in rows])


def source_label(source: str) -> str:
    """``send`` -> 发送 (in the current locale)."""
    found = _SOURCE_WORDS.get(source)
    return pgettext(*found) if found else source


def event_label(event: str) -> str:
    """A state's label, or the word for the engine's ``retry`` event."""
    return pgettext(*_RETRY_EVENT) if event == "retry" else label("state", event)


def actor_label(actor: str) -> str:
    """``engine`` -> 系统; a user's name as it is."""
    found = _ACTOR_WORDS.get(actor)
    return pgettext(*found) if found else actor
