"""The Channel protocol and the value objects passed between the core and the plugins.

A plugin is one class in one module, registered under the ``dispatcher.channels`` entry
point group. Plugins import this module and their provider library, never the core: the
core hands them what they need (their config table, a placement, an inventory) as
arguments, so a third-party package can add a channel without touching this repository.

Every plugin is a :class:`Channel` (validate, plan, count reach). What only some can do
is a small protocol each: :class:`Sender`, :class:`CallbackReceiver`,
:class:`ContentDescriber`, :class:`CampaignCheck`. Protocols that one channel implements
live beside the core code that calls them (``dispatcher.venues.protocols``,
``dispatcher.planning.previews``, ``dispatcher.reach.polling``, ``dispatcher.web.hooks``).
:class:`ChannelBase` holds the defaults the plugins share.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import (
    Any,
    ClassVar,
    Generic,
    Literal,
    NamedTuple,
    Protocol,
    Self,
    TypeVar,
    runtime_checkable,
)

from channels.venues import Screen, Screening

# Delivery states and skip reasons (DESIGN.md "Delivery states"): the user contract.
STATES = ("planned", "sending", "sent", "delivered", "undelivered", "failed", "skipped")
SKIP_REASONS = ("opted_out", "invalid", "duplicate", "capped", "outside_window", "cancelled")

AREA_TYPES = ("residential", "work", "activity", "street")

PathPart = str | int


class ConfigError(Exception):
    """A bad deployment setting; the message names the key (``channels.sms.rate: ...``)."""

    exit_code = 2

    def __init__(self, key: str, message: str, source: str | None = None) -> None:
        self.key = key
        self.message = message
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{key}: {message}")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a placement, at ``path`` relative to the placement table."""

    path: tuple[PathPart, ...]
    message: str


@dataclass(frozen=True)
class Capabilities:
    """What the core reads of a channel before planning and sending its rows.

    ``person_addressed``: each row is one person's address (the frequency cap counts
    them). ``waits_for_send_window``: rows wait for the campaign's send window (a WeChat
    broadcast reaches people but its row is a job: not person-addressed, yet it waits).
    """

    person_addressed: bool
    waits_for_send_window: bool


@dataclass(frozen=True)
class ValidationContext:
    """Facts the core looked up before validation, so ``validate`` does no I/O.

    ``known_lists`` is None when no database is available; the list check is skipped then.
    ``screens`` (the registry), ``screen_groups`` (group name: screen ids) and
    ``screenings`` (scheduled, with their bookings) likewise.
    """

    known_lists: frozenset[str] | None = None
    screens: tuple[Screen, ...] | None = None
    screen_groups: Mapping[str, frozenset[str]] | None = None
    screenings: tuple[Screening, ...] | None = None


@dataclass(frozen=True)
class Audience:
    """Who a person-addressed placement goes to: members of ``lists`` filtered by the rest."""

    lists: tuple[str, ...]
    areas: tuple[str, ...] = ()
    districts: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()


class Contact(NamedTuple):
    """One person as the inventory streams them: each contact once per audience query.

    A NamedTuple, like :class:`Target`: millions are made per plan, and a tuple is made
    several times faster than a frozen dataclass.

    ``memberships`` counts the audience's lists that hold this person (more than one means
    the extra appearances are duplicates); ``opted_out`` is for the channel being planned.
    """

    id: int
    phone: str
    line_type: str
    area: str | None
    district: str | None
    memberships: int = 1
    opted_out: bool = False


class Inventory(Protocol):
    """The core's read-only view of contacts and screens, given to ``Channel.targets``."""

    def contacts(self, audience: Audience, channel: str) -> Iterator[Contact]:
        """Stream the audience's contacts in ascending ``id`` order, never all at once."""
        ...

    def screens(self) -> list[Screen]:
        """The screen registry, in ``id`` order (hundreds, not millions)."""
        ...

    def screen_groups(self) -> Mapping[str, frozenset[str]]:
        """Each screen group's member ids."""
        ...

    def screenings(self) -> list[Screening]:
        """Scheduled screenings with their bookings, by start (thousands, not millions)."""
        ...


class Target(NamedTuple):
    """One planned recipient. ``copies`` above 1 records duplicates of the same address.

    A channel yields its targets in ascending ``sort_key`` order, and one address always
    has the same key (person-addressed channels use the contact id). The planner merges
    the streams of several placements of one channel by this key to find duplicates
    without holding the audience in memory.
    """

    sort_key: int
    address: str
    contact_id: int | None = None
    skip_reason: str | None = None
    detail: str | None = None
    copies: int = 1


@dataclass(frozen=True)
class Placement:
    """One ``[[placements]]`` table of a campaign, already checked by its plugin."""

    index: int
    channel: str
    options: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class Channel(Protocol):
    """What every channel plugin provides for validation and planning.

    ``Cls()`` with no arguments must give an unconfigured instance that can validate and
    plan (used when the deployment has no ``[channels.NAME]`` table); sending needs
    ``from_config``.
    """

    name: ClassVar[str]
    capabilities: ClassVar[Capabilities]

    def __init__(self) -> None: ...

    @classmethod
    def from_config(cls, table: Mapping[str, Any]) -> Self:
        """Build from the ``[channels.NAME]`` table; raise ConfigError naming a bad key."""
        ...

    def validate(self, options: Mapping[str, Any], context: ValidationContext) -> list[Problem]:
        """Every problem with one placement's options (without ``channel``); no I/O."""
        ...

    def targets(self, placement: Placement, inventory: Inventory) -> Iterator[Target]:
        """Stream the placement's targets lazily, in ascending address order."""
        ...

    def reach(self, placement: Placement, states: Mapping[str, int],
              reports: Mapping[str, int]) -> dict[str, ReachFigure]:
        """Figures for one placement, from its row counts by state ("sent", "delivered"...)
        or from its provider's reports (each metric's latest value per row, summed)."""
        ...


ReachSource = Literal["provider", "computed", "manual"]


@dataclass(frozen=True)
class ReachFigure:
    """One reach number and how it was counted (DESIGN.md "Reach")."""

    value: int
    source: ReachSource
    method: str


def reported(reports: Mapping[str, int], metric: str, method: str,
             source: ReachSource = "provider") -> ReachFigure:
    """A figure from the provider's reports: 0 until the first report."""
    return ReachFigure(reports.get(metric, 0), source, method)


def rows_in(states: Mapping[str, int], names: Iterable[str]) -> int:
    """How many rows are in any of the states ``names``."""
    return sum(states.get(name, 0) for name in names)


# Sending (DESIGN.md "Delivery states" and the reliability policy) -------------------------

# Final states rank highest; a state only ever moves to a higher rank (forward only).
STATE_RANK = {"planned": 0, "sending": 1, "sent": 2, "delivered": 3, "undelivered": 3,
              "failed": 3, "skipped": 3}


class Message(NamedTuple):
    """One delivery row handed to a channel to send."""

    delivery_id: int
    address: str
    placement: Placement
    attempt: int  # 1 for the first try
    callback_url: str | None = None  # where the provider should post receipts for this row
    run_id: int = 0  # the run the row belongs to: one address is sent once per run
    # The contact's fields a placement asked for (``BatchSender.contact_fields``): name...
    fields: Mapping[str, str] | None = None


class SendResult(NamedTuple):
    """What became of one Message. Provider errors are results, never exceptions.

    ``outcome``:
    - ``accepted``: the provider took it (``provider_ref`` set);
    - ``failed``: the provider refused it for good (``code``, e.g. 21211);
    - ``retry``: certainly not sent (429, connection refused): send again after a backoff,
      no sooner than ``retry_after`` seconds when the provider said so;
    - ``unknown``: the provider may have taken it (5xx, timeout): never re-send before
      ``lookup`` has said it did not.
    """

    delivery_id: int
    outcome: Literal["accepted", "failed", "retry", "unknown"]
    provider_ref: str | None = None
    code: str | None = None
    detail: str | None = None
    retry_after: float | None = None
    opt_out: bool = False  # the provider says the recipient unsubscribed or blocked us
    units: int = 1  # what the message cost in the channel's rate unit (Twilio: segments)
    # What the provider answered that later reports refer to (WeChat: msg_data_id).
    provider_data: str | None = None


class LookupResult(NamedTuple):
    """What the provider knows of a send whose outcome was lost."""

    found: bool
    provider_ref: str | None = None
    state: str | None = None  # sent, delivered, undelivered or failed
    code: str | None = None


class Receipt(NamedTuple):
    """A provider's report on one message, already verified and mapped to our states."""

    provider_ref: str
    state: Literal["sent", "delivered", "undelivered", "failed"]
    delivery_id: int | None = None  # when the callback URL carried it
    code: str | None = None
    detail: str | None = None
    opt_out: bool = False  # the error says the recipient unsubscribed or blocked us
    # Which of the channel's accounts signed the callback (a partner endpoint's name), where
    # the channel has several with secrets of their own: the row must belong to it.
    signer: str | None = None


class InboundMessage(NamedTuple):
    """A message a person sent us (a reply): ``opt_out`` when it asks to stop."""

    address: str
    body: str
    opt_out: bool


class CallbackRequest(NamedTuple):
    """An HTTP request from a provider, as the web app received it."""

    url: str  # the full public URL the provider called, with the query string
    headers: Mapping[str, str]
    form: Mapping[str, str]
    body: bytes = b""  # the raw body (XML events); form is empty then
    client: str | None = None  # the address the request came from (an allow-list's input)


class PushedEvents(NamedTuple):
    """What one unsigned push from a provider said (the domestic SMS platforms post JSON
    arrays of receipts or replies), and the exact bodies its provider takes as "received"
    and as "push this again later".
    """

    receipts: list[Receipt]
    replies: list[InboundMessage]
    received: str
    again: str


class SignatureError(Exception):
    """A provider callback whose signature is missing or wrong: answer 403, change nothing."""


class MalformedRequest(ValueError):
    """A callback whose body cannot be read (bad XML or JSON, not UTF-8, a value out of
    range): answer 400 to that request alone, change nothing. Raised only after the
    request's signature or token was checked, where the provider signs the body."""


class SendLimits(NamedTuple):
    """How fast a channel may send: ``rate`` units (see ``message_cost``) per second
    shared by every send of the account ``key``, and at most ``concurrency`` sends at once."""

    key: str
    rate: float
    concurrency: int


@runtime_checkable
class Sender(Protocol):
    """A channel that sends. The engine owns concurrency, rate limits and retries."""

    capabilities: ClassVar[Capabilities]

    def ready(self) -> bool:
        """Whether it can send: built from its ``[channels.NAME]`` table. The engine leaves
        the rows of channels that are not ready waiting."""
        ...

    def limits(self) -> SendLimits:
        """The account's rate and how many sends may run at once (only when ready)."""
        ...

    def message_cost(self, placement: Placement) -> int:
        """Units of the channel's rate one message costs (Twilio: segments)."""
        ...

    def send(self, message: Message) -> SendResult:
        """Send one message; provider errors are results, never exceptions."""
        ...

    def lookup(self, message: Message, since: datetime) -> LookupResult:
        """Whether the provider has a send of ``message`` created at or after ``since``."""
        ...


@runtime_checkable
class BatchSender(Protocol):
    """A sender whose provider takes many messages in one call (Aliyun's SendSms takes a
    thousand numbers). The engine claims rows, groups them by run and placement, and hands
    each group of at most ``batch_size`` messages to one ``send_batch``: one claim, one
    call, one record. A call costs ``message_cost`` of the account's rate, as one message
    does (the domestic platforms count requests)."""

    def batch_size(self, placement: Placement) -> int:
        """Most messages of this placement one call takes (1: one at a time, ``send``)."""
        ...

    def contact_fields(self, placement: Placement) -> tuple[str, ...]:
        """Contact fields (``name``, ``district``) its messages carry in ``fields``."""
        ...

    def send_batch(self, messages: Sequence[Message]) -> list[SendResult]:
        """Send messages of one placement in one provider call; one result per message,
        in order. Provider errors are results, never exceptions."""
        ...


@runtime_checkable
class AccountLimits(Protocol):
    """A sender with several provider accounts, a placement naming one: each account has
    its own rate and concurrency (``Sender.limits`` is then the channel's total)."""

    def account_limits(self, placement: Placement) -> SendLimits:
        ...


@runtime_checkable
class CallbackReceiver(Protocol):
    """A channel whose provider posts receipts and replies to the web app."""

    def parse_callback(self, request: CallbackRequest) -> list[Receipt]:
        """Verify the signature (SignatureError otherwise) and map the statuses."""
        ...

    def parse_inbound(self, request: CallbackRequest) -> InboundMessage:
        """Verify the signature (SignatureError otherwise) and read a reply."""
        ...


# Provider reports: counts a provider gives for a send that reached many people --------------


class ReachReport(NamedTuple):
    """One figure a provider reported for one delivery row, at one period.

    ``period`` is "" for a figure reported once (a WeChat job's SentCount) or an ISO date
    for figures reported by day, cumulative up to that day (article reads). Reporting the
    same (row, metric, period) again replaces the value: repeats change nothing.
    Rows are found by ``delivery_id`` or else by ``provider_ref``.
    """

    metric: str
    value: int
    period: str = ""
    delivery_id: int | None = None
    provider_ref: str | None = None


class ProviderEvents(NamedTuple):
    """What one event callback said: state changes, and figures for reach."""

    receipts: list[Receipt]
    reports: list[ReachReport]


class SentRow(NamedTuple):
    """A row the provider may report on later, as a reach poller is given it
    (``dispatcher.reach.polling``)."""

    delivery_id: int
    placement: Placement
    provider_ref: str
    provider_data: str | None
    sent_at: datetime


# Content review: what a placement sends, read by the approver before approving ----------

FactValue = str | int | bool | tuple[tuple[str | int, ...], ...]


class ContentFact(NamedTuple):
    """One thing an approver reads about what a placement sends.

    ``key`` is a machine name the core puts in the reader's words (``text``, ``encoding``,
    ``segments``, ``screens_by_kind`` ...; an unknown key is shown as it is). ``value`` is
    as it goes out: the words exactly as the recipient gets them, a number, a yes/no, or
    a breakdown whose first row names its columns (machine names too).
    """

    key: str
    value: FactValue


class PlacementContent(NamedTuple):
    """What one placement sends and, for a person-addressed one, to whom: the core counts
    ``audience`` in the database (by district and area type, minus opted-out and capped)."""

    facts: tuple[ContentFact, ...]
    audience: Audience | None = None


@runtime_checkable
class ContentDescriber(Protocol):
    """A channel that says what one placement will send, for review before approval:
    from the placement, the channel's settings and the inventory, with no provider call."""

    def describe(self, placement: Placement, inventory: Inventory) -> PlacementContent:
        ...


@runtime_checkable
class CampaignCheck(Protocol):
    """A channel that checks a campaign's placements together: provider quotas over its
    firings (WeChat broadcasts), or a screen's hour overcommitted (LED share of voice)."""

    def check_campaign(self, placements: Sequence[Placement], firings: Sequence[datetime],
                       context: ValidationContext) -> list[tuple[int, Problem]]:
        """(placement index, problem) for this channel's placements of one campaign, given
        its firings (the first few weeks of them, in the campaign's time zone)."""
        ...


class SendSettings(Protocol):
    """What :class:`ChannelBase` reads of a plugin's parsed ``[channels.NAME]`` table."""

    @property
    def rate(self) -> float: ...

    @property
    def concurrency(self) -> int: ...


SettingsT = TypeVar("SettingsT", bound=SendSettings)


class ChannelBase(Generic[SettingsT]):
    """The defaults plugins share: ``settings`` None is an unconfigured channel, able to
    validate and plan but not to send (see :class:`Channel`).

    A plugin names itself, says what it needs to send (``unconfigured``, the end of the
    "is not configured" error) and overrides a default only where it differs: the account
    ``key`` of its limits (one account per channel by default), its ``message_cost``.
    """

    name: ClassVar[str]
    capabilities: ClassVar[Capabilities]
    unconfigured: ClassVar[str]  # e.g. "booking needs a [channels.cinema] table with ..."
    settings: SettingsT | None

    def ready(self) -> bool:
        return self.settings is not None

    def configured(self) -> SettingsT:
        """The settings; ConfigError naming ``channels.NAME`` when there are none."""
        if self.settings is None:
            raise ConfigError(f"channels.{self.name}", f"is not configured: {self.unconfigured}")
        return self.settings

    def limits(self) -> SendLimits:
        settings = self.configured()
        return SendLimits(self.name, settings.rate, settings.concurrency)

    def message_cost(self, placement: Placement) -> int:
        return 1


class ChannelError(Exception):
    """A provider refused a direct request (a preview): the message says what and why."""


# A row that is not one person (a broadcast to all followers, a tag, a batch of openids,
# a screen) names it and its placement: "all@0", "tag:100@1", "openids:2/3@2",
# "screen:B-001@3". Such addresses
# identify nobody, so logs show them unmasked; every other address is masked.
_GROUP_ADDRESS = re.compile(r"[a-z]+(?::[\w./-]+)?@[0-9]+")


def is_group_address(address: str) -> bool:
    return _GROUP_ADDRESS.fullmatch(address) is not None


def type_name(value: object) -> str:
    """A TOML value's type as a planner would say it: "a string", "an integer", ..."""
    from datetime import date, datetime, time

    kinds: tuple[tuple[type | tuple[type, ...], str], ...] = (
        (bool, "a boolean"), (int, "an integer"), (float, "a float"), (str, "a string"),
        (dict, "a table"), (list, "an array"), (datetime, "a date-time"), (date, "a date"),
        (time, "a time"),
    )
    for kind, name in kinds:
        if isinstance(value, kind):
            return name
    return type(value).__name__


def toml_value(value: object) -> str:
    """A value as it would be written in TOML: "fax", 5, true."""
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False) if isinstance(value, str) else repr(value)
