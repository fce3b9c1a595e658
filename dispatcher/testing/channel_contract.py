"""Helpers for tests of the dispatcher and of third-party channel plugins.

They drive the public functions exactly as the CLI does: parse a campaign file's text
with the installed (unconfigured) channels, store it, and plan one firing;
:func:`campaign_text` writes such a file from its placements' mappings.
:func:`check_channel` checks a plugin against the channel contract, in the plugin's own
tests (docs/writing-a-channel.md), with :func:`sample_inventory` to plan from.
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Any, Protocol, TypeVar, get_args
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select

from channels.base import (
    SKIP_REASONS,
    Audience,
    CallbackReceiver,
    CampaignCheck,
    Capabilities,
    Channel,
    ChannelBase,
    Contact,
    ContentDescriber,
    Inventory,
    Placement,
    Problem,
    ReachFigure,
    ReachSource,
    Sender,
    SendLimits,
    Target,
    ValidationContext,
    toml_value,
    type_name,
)
from channels.venues import Booking, Screen, Screening
from dispatcher import registry
from dispatcher.approval import lifecycle
from dispatcher.campaigns.model import Campaign, parse_campaign
from dispatcher.campaigns.versions import load_stored
from dispatcher.delivery.transitions import Transition, advance
from dispatcher.planning.campaign_store import apply_campaign
from dispatcher.planning.planner import PlanResult, plan_run
from dispatcher.storage.tables import deliveries

T = TypeVar("T")

FIRE_TIME = datetime(2019, 6, 3, 1, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def unconfigured_channel(name: str) -> Channel:
    """An installed channel without its ``[channels.NAME]`` table: it validates and plans."""
    return registry.build_channel(name, {})


def store_campaign(engine: Engine, text: str, file: str = "campaign.toml",
                   approve_as: str | None = "approver", actor: str = "planner") -> Campaign:
    """Parse ``text`` (AssertionError listing the problems if any), store it as ``actor``,
    and approve the stored version as ``approve_as`` (None leaves it awaiting approval)."""
    campaign, issues = parse_campaign(text, file, default_timezone="Asia/Shanghai",
                                      channel_for=unconfigured_channel,
                                      context=ValidationContext())
    assert campaign is not None, "\n".join(map(str, issues))
    apply_campaign(engine, campaign, file, text, actor=actor)
    if approve_as is not None:
        lifecycle.approve(engine, campaign.id, approve_as)
    return campaign


def plan_stored(engine: Engine, campaign_id: str, fire_time: datetime = FIRE_TIME
                ) -> PlanResult:
    """Plan the firing at ``fire_time`` of the stored campaign's current version."""
    campaign, version = load_stored(engine, campaign_id)
    return plan_run(engine, campaign, version, fire_time, unconfigured_channel)


def plan_campaign(engine: Engine, text: str, fire_time: datetime = FIRE_TIME) -> PlanResult:
    """Store the campaign in ``text`` and plan its firing at ``fire_time``."""
    return plan_stored(engine, store_campaign(engine, text).id, fire_time)


def delivery_ids(engine: Engine) -> list[int]:
    """Every delivery row's id, in the order of the rows' addresses."""
    with engine.connect() as conn:
        return list(conn.execute(select(deliveries.c.id).order_by(deliveries.c.target))
                    .scalars())


def fail_first(engine: Engine, count: int, code: str) -> None:
    """The first ``count`` delivery rows (by address) failed with the provider's ``code``."""
    failed = [Transition("failed", delivery_id=row, code=code)
              for row in delivery_ids(engine)[:count]]
    with engine.begin() as conn:
        advance(conn, failed, actor="engine")


# Campaign files -----------------------------------------------------------------------------

LOCAL_START = datetime(2019, 6, 3, 9)  # no offset: 09:00 in the campaign's time zone
DRIVE_START = datetime(2019, 6, 3, 9, tzinfo=SHANGHAI)


def toml_text(value: object) -> str:
    """``value`` as TOML: mappings as inline tables, dates and times bare (a naive
    datetime is a local date-time), strings, numbers and booleans as :func:`toml_value`."""
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{key} = {toml_text(item)}" for key, item in value.items()) + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(map(toml_text, value)) + "]"
    if isinstance(value, date | time):
        return value.isoformat()
    return toml_value(value)


def campaign_text(campaign_id: str, *placements: Mapping[str, object], title: str = "Drive",
                  owner: str = "Publicity", timezone: str | None = None,
                  start: datetime = LOCAL_START, **schedule: object) -> str:
    """A campaign file: its ``[schedule]`` is ``start`` then ``schedule`` (``end``, ``cron``,
    ``send_window``, ``misfire``), one ``[[placements]]`` table a mapping of ``placements``;
    without ``timezone`` it is in the importer's default time zone."""
    lines = [f"id = {toml_text(campaign_id)}", f"title = {toml_text(title)}",
             f"owner = {toml_text(owner)}"]
    if timezone is not None:
        lines.append(f"timezone = {toml_text(timezone)}")
    lines.append("[schedule]")
    lines += [f"{key} = {toml_text(value)}" for key, value in {"start": start, **schedule}.items()]
    for placement in placements:
        lines.append("[[placements]]")
        lines += [f"{key} = {toml_text(value)}" for key, value in placement.items()]
    return "\n".join(lines) + "\n"


def sms_placement(*lists: str, body: str = "Report gang crime: call 110.",
                  **audience: object) -> dict[str, object]:
    """An SMS placement to the contact ``lists``, narrowed by ``audience`` (areas, tags...)."""
    return {"channel": "sms", "audience": {"lists": list(lists), **audience}, "body": body}


def sms_campaign_text(campaign_id: str = "drive", start: datetime = DRIVE_START, *,
                      end: datetime | None = None, cron: str | None = None,
                      misfire: str = "run-late", body: str = "Report gang crime: call 110.",
                      audience_list: str = "residents", title: str = "Drive",
                      owner: str = "Publicity") -> str:
    """A campaign file in Shanghai time with one SMS placement to ``audience_list``."""
    def moment(value: datetime) -> datetime:
        return value.astimezone(SHANGHAI).replace(microsecond=0)

    schedule: dict[str, object] = {"misfire": misfire}
    if end is not None:
        schedule["end"] = moment(end)
    if cron is not None:
        schedule["cron"] = cron
    return campaign_text(campaign_id, sms_placement(audience_list, body=body), title=title,
                         owner=owner, timezone="Asia/Shanghai", start=moment(start), **schedule)


def sandbox_config_text(database_url: str, api_base: str, public_url: str, *,
                        status_callback: bool = True, token_variable: str,
                        rate: float = 5000, timeout: float = 2) -> str:
    """A config.toml for a `dispatcher` subprocess sending SMS to the Twilio sandbox."""
    from dispatcher.sandbox import SANDBOX_ACCOUNT_SID

    return (f'[database]\nurl = "{database_url}"\n'
            f'[web]\npublic_url = "{public_url}"\n'
            '[channels.sms]\nprovider = "twilio"\n'
            f'account_sid = "{SANDBOX_ACCOUNT_SID}"\n'
            f'auth_token = "env:{token_variable}"\n'
            f'from = "+15005550006"\napi_base = "{api_base}"\n'
            f'rate = {rate}\nconcurrency = 16\ntimeout = {timeout}\n'
            f'status_callback = {"true" if status_callback else "false"}\n')


# A small in-memory inventory, for planning without a database -----------------------------

SAMPLE_LISTS = ("residents", "workers")


def _person(number: int, line_type: str, area: str, district: str, lists: str,
            opted_out: bool = False) -> tuple[Contact, frozenset[str]]:
    contact = Contact(number, f"+86138000000{number:02d}", line_type, area, district,
                      opted_out=opted_out)
    return contact, frozenset(lists.split())


def _screen(screen_id: str, kind: str, area: str, size: tuple[int, int],
            audience: int) -> Screen:
    return Screen(screen_id, f"{kind} {screen_id}", kind, "Xinan", area, *size,
                  ("jpg", "png", "mp4", "text"), "Asia/Shanghai", audience, "pull", None)


def _screening(screening_id: str, cinema: str, starts: datetime, rating: str = "PG",
               booked: tuple[Booking, ...] = ()) -> Screening:
    return Screening(screening_id, cinema, "cms", "Xinan", "Film", rating, starts, 180, 120,
                     (("ads", 120), ("trailers", 300)), booked)


@dataclass
class SampleInventory:
    """An Inventory over a few contacts, screens and screenings (Shanghai, June 2019).

    ``drawn`` lists the ids of the contacts streamed so far, so a test can see that a
    channel reads its audience lazily.
    """

    people: tuple[tuple[Contact, frozenset[str]], ...]
    registry: tuple[Screen, ...]
    groups: Mapping[str, frozenset[str]]
    schedule: tuple[Screening, ...]
    drawn: list[int] = field(default_factory=list)

    def contacts(self, audience: Audience, channel: str) -> Iterator[Contact]:
        for contact, lists in self.people:
            memberships = len(lists & set(audience.lists))
            if memberships and _in_audience(contact, audience):
                self.drawn.append(contact.id)
                yield contact._replace(memberships=memberships)

    def screens(self) -> list[Screen]:
        return sorted(self.registry, key=lambda screen: screen.id)

    def screen_groups(self) -> Mapping[str, frozenset[str]]:
        return self.groups

    def screenings(self) -> list[Screening]:
        return sorted(self.schedule, key=lambda screening: screening.starts_at)


def _in_audience(contact: Contact, audience: Audience) -> bool:
    return ((not audience.areas or contact.area in audience.areas)
            and (not audience.districts or contact.district in audience.districts))


def sample_inventory() -> SampleInventory:
    """Five contacts on lists "residents" and "workers" (one opted out, one fixed line),
    four screens (group "lobbies"), three screenings from 2019-06-03 (one NC-17, one whose
    "ads" block is fully booked)."""
    evening = datetime(2019, 6, 3, 19, 30, tzinfo=SHANGHAI)
    return SampleInventory(
        people=(_person(1, "mobile", "residential", "Xinan", "residents"),
                _person(2, "mobile", "work", "Xinan", "residents workers"),
                _person(3, "fixed_line", "residential", "Yuhua", "residents"),
                _person(4, "mobile", "residential", "Yuhua", "residents", opted_out=True),
                _person(5, "mobile", "street", "Xinan", "workers")),
        registry=(_screen("B-001", "building", "work", (1080, 1920), 12),
                  _screen("B-002", "building", "residential", (1080, 1920), 12),
                  _screen("F-001", "facade", "street", (3840, 1080), 600),
                  _screen("O-001", "outdoor", "street", (1920, 1080), 150)),
        groups={"lobbies": frozenset({"B-001", "B-002"})},
        schedule=(_screening("C01-20190603-1-1930", "C01", evening),
                  _screening("C02-20190603-2-2100", "C02", evening.replace(hour=21),
                             rating="NC-17"),
                  _screening("C01-20190604-1-1930", "C01", evening + timedelta(days=1),
                             booked=(Booking("ads", "other", 120),))))


def inventory_context(inventory: Inventory) -> ValidationContext:
    """What the core would look up before validating, from ``inventory``."""
    known = None
    if isinstance(inventory, SampleInventory):
        known = frozenset(name for _, lists in inventory.people for name in lists)
    return ValidationContext(known_lists=known, screens=tuple(inventory.screens()),
                             screen_groups=inventory.screen_groups(),
                             screenings=tuple(inventory.screenings()))


# The channel contract, for plugin authors' own tests --------------------------------------

UNKNOWN_KEY = "no_such_option"
SOME_STATES = {"planned": 2, "sending": 1, "sent": 3, "delivered": 5, "undelivered": 1,
               "failed": 1, "skipped": 2}


def check_channel(cls: type[Any], options: Mapping[str, Any], *,
                  table: Mapping[str, Any] | None = None,
                  inventory: Inventory | None = None) -> None:
    """Assert that the plugin class ``cls`` keeps the channel contract.

    ``options`` is a valid placement of the channel (its keys without ``channel``);
    ``table`` a valid ``[channels.NAME]`` table, as the core hands it (``"env:NAME"``
    values as objects with ``reveal()``), to check the configured instance too;
    ``inventory`` what the placement's targets are drawn from (:func:`sample_inventory`
    by default). An AssertionError names the plugin and the rule it breaks.
    """
    _check_class(cls)
    channels = [_built(cls, None)] + ([_built(cls, table)] if table is not None else [])
    placement = Placement(0, cls.name, dict(options))
    for channel in channels:
        _check_validate(channel, options, inventory or sample_inventory())
        _check_targets(channel, placement, inventory or sample_inventory())
        _check_reach(channel, placement)
        _check_protocols(channel)
        _check_sending(channel, placement, configured=channel is not channels[0])


def _who(plugin: object) -> str:
    cls = plugin if isinstance(plugin, type) else type(plugin)
    return f"channel plugin {getattr(cls, 'name', None)!r} ({cls.__module__}.{cls.__qualname__})"


def _require(ok: bool, plugin: object, rule: str) -> None:
    """Raised, not asserted, so the check also holds under ``python -O``."""
    if not ok:
        raise AssertionError(f"{_who(plugin)}: {rule}")


def _calling(plugin: object, what: str, call: Callable[[], T]) -> T:
    try:
        return call()
    except Exception as exc:
        raise AssertionError(f"{_who(plugin)}: {what} raised {type(exc).__name__}: {exc}"
                             ) from exc


def _check_class(cls: type[Any]) -> None:
    name = getattr(cls, "name", None)
    _require(isinstance(name, str) and re.fullmatch(r"[a-z][a-z0-9_]*", name) is not None, cls,
             f"name must be a lowercase identifier such as \"noticeboard\", got {name!r}")
    _require(isinstance(getattr(cls, "capabilities", None), Capabilities), cls,
             "capabilities must be a channels.base.Capabilities")


def _built(cls: type[Any], table: Mapping[str, Any] | None) -> Any:
    if table is None:
        return _calling(cls, f"{cls.__name__}() (the unconfigured channel)", cls)
    channel = _calling(cls, "from_config(table)", lambda: cls.from_config(table))
    _require(isinstance(channel, cls), cls, f"from_config must return a {cls.__name__}, "
                                            f"got {type(channel).__name__}")
    return channel


# Validation ---------------------------------------------------------------------------------


def _check_validate(channel: Any, options: Mapping[str, Any], inventory: Inventory) -> None:
    for context in (ValidationContext(), inventory_context(inventory)):
        found = _problems(channel, options, context, "the valid options")
        _require(not found, channel, "validate found problems in the options given as valid: "
                 + "; ".join(f"{'.'.join(map(str, p.path))}: {p.message}" for p in found))
    _problems(channel, {}, ValidationContext(), "empty options")
    wrong = {**options, UNKNOWN_KEY: 1}
    found = _problems(channel, wrong, ValidationContext(), f"the unknown key {UNKNOWN_KEY!r}")
    _require(any(p.path[:1] == (UNKNOWN_KEY,) for p in found), channel,
             f"validate must report the unknown key {UNKNOWN_KEY!r} as a Problem at "
             f"path ({UNKNOWN_KEY!r},), so the planner sees which line to fix")
    for key, value in options.items():
        odd = 12345 if isinstance(value, str) else "?"
        found = _problems(channel, {**options, key: odd}, ValidationContext(),
                          f"{key} = {odd!r}")
        _require(any(p.path[:1] == (key,) for p in found), channel,
                 f"validate must report {key} = {odd!r} ({type_name(odd)} where "
                 f"{type_name(value)} is valid) as a Problem at path ({key!r}, ...)")


def _problems(channel: Any, options: Mapping[str, Any], context: ValidationContext,
              what: str) -> list[Problem]:
    found = _calling(channel, f"validate on {what} (a wrong value is a Problem, never an "
                              "exception)", lambda: channel.validate(options, context))
    _require(isinstance(found, list) and all(isinstance(p, Problem) for p in found), channel,
             f"validate must return a list of Problem, got {found!r} for {what}")
    for problem in found:
        _require(isinstance(problem.path, tuple) and all(
            isinstance(part, str | int) for part in problem.path) and bool(problem.message),
            channel, f"a Problem needs a tuple path of keys and indexes and a message, got "
                     f"{problem!r}")
    return list(found)


# Planning -----------------------------------------------------------------------------------


def _check_targets(channel: Any, placement: Placement, inventory: Inventory) -> None:
    if isinstance(inventory, SampleInventory):
        inventory.drawn.clear()
    stream = _calling(channel, "targets", lambda: channel.targets(placement, inventory))
    _require(isinstance(stream, Iterator), channel, "targets must return a lazy iterator "
             f"(yield each Target), not {type(stream).__name__}: an audience may be millions")
    _check_lazy(channel, inventory, None, asked=False)
    first = _calling(channel, "targets (the first)", lambda: next(stream, None))
    _check_lazy(channel, inventory, first, asked=True)
    rest = _calling(channel, "targets", lambda: list(stream))
    _require(first is not None, channel, "targets yielded nothing from the inventory; pass "
             "check_channel(..., inventory=...) with what the options select")
    found = [first, *rest]
    for target in found:
        _require(isinstance(target, Target) and isinstance(target.sort_key, int), channel,
                 f"targets must yield channels.base.Target values, got {target!r}")
        _require(target.skip_reason in (None, *SKIP_REASONS) and target.copies >= 1, channel,
                 f"a Target's skip_reason is None or one of {', '.join(SKIP_REASONS)} and "
                 f"its copies at least 1, got {target!r}")
    _check_order(channel, found)


def _check_lazy(channel: Any, inventory: Inventory, first: Target | None, *,
                asked: bool) -> None:
    """No contact read before the first target is asked for, and at most one read past
    the contact of the first target (seen with a SampleInventory, which counts them)."""
    if not isinstance(inventory, SampleInventory):
        return
    drawn = inventory.drawn
    if not asked:
        _require(not drawn, channel, f"targets read {len(drawn)} contacts before its first "
                 "target was asked for; yield each target as its contact is streamed")
    elif first is not None and first.contact_id in drawn:
        _require(len(drawn) <= drawn.index(first.contact_id) + 2, channel,
                 f"targets read {len(drawn)} contacts to yield its first target (contact "
                 f"{first.contact_id}); yield each target as its contact is streamed")


def _check_order(channel: Any, targets: list[Target]) -> None:
    keys: dict[str, int] = {}
    for before, after in pairwise(targets):
        _require(before.sort_key <= after.sort_key, channel, "targets must come in ascending "
                 f"sort_key order (the planner merges placements by it): {before.address} "
                 f"(key {before.sort_key}) came before {after.address} (key {after.sort_key})")
    for target in targets:
        key = keys.setdefault(target.address, target.sort_key)
        _require(key == target.sort_key, channel, f"address {target.address} came with keys "
                 f"{key} and {target.sort_key}; one address always has the same key")


# Reach --------------------------------------------------------------------------------------


def _check_reach(channel: Any, placement: Placement) -> None:
    empty = _figures(channel, placement, {}, {}, "no rows")
    reports = dict.fromkeys(empty, 3)
    some = _figures(channel, placement, SOME_STATES, reports, "some rows")
    _require(set(some) == set(empty), channel, "reach must give the same metrics whatever "
             f"the rows: {sorted(empty)} for no rows, {sorted(some)} for some")


def _figures(channel: Any, placement: Placement, states: Mapping[str, int],
             reports: Mapping[str, int], what: str) -> dict[str, ReachFigure]:
    figures: dict[str, ReachFigure] = _calling(
        channel, f"reach for {what}", lambda: channel.reach(placement, states, reports))
    _require(isinstance(figures, dict), channel, f"reach must return a dict, got {figures!r}")
    for metric, figure in figures.items():
        _require(isinstance(metric, str) and isinstance(figure, ReachFigure), channel,
                 f"reach must map metric names to ReachFigure values, got {metric!r}: "
                 f"{figure!r}")
        _require(type(figure.value) is int and figure.value >= 0, channel, f"reach {metric} "
                 f"for {what} must be a whole number of at least 0, got {figure.value!r}")
        _require(figure.source in get_args(ReachSource) and bool(figure.method), channel,
                 f"reach {metric} needs a source ({', '.join(get_args(ReachSource))}) and "
                 f"a method saying how it was counted, got {figure!r}")
    return figures


# Sending ------------------------------------------------------------------------------------


def _check_sending(channel: Any, placement: Placement, *, configured: bool) -> None:
    if not isinstance(channel, Sender):
        return
    ready = _calling(channel, "ready", channel.ready)
    _require(ready is configured, channel, "ready() must be False for the unconfigured "
             "channel (cls()) and True for one built by from_config, got "
             f"{ready!r} for the {'configured' if configured else 'unconfigured'} one")
    cost = _calling(channel, "message_cost", lambda: channel.message_cost(placement))
    _require(type(cost) is int and cost >= 1, channel,
             f"message_cost must be a whole number of at least 1, got {cost!r}")
    if configured:
        limits = _calling(channel, "limits", channel.limits)
        _require(isinstance(limits, SendLimits) and bool(limits.key), channel,
                 f"limits must return a SendLimits with an account key, got {limits!r}")
        _require(math.isfinite(limits.rate) and limits.rate > 0 and limits.concurrency >= 1,
                 channel, f"limits need a rate above 0 and a concurrency of at least 1, got "
                          f"{limits!r}")


# Protocols ----------------------------------------------------------------------------------


def protocols() -> tuple[type, ...]:
    """Every protocol the core asks a channel about with ``isinstance``: those of
    ``channels.base`` and those beside the core code that calls them."""
    from dispatcher.delivery.seen_nonces import NonceBearer
    from dispatcher.planning.previews import Previewer
    from dispatcher.reach.polling import ReachPoller
    from dispatcher.venues.protocols import SignageChannel, VenueChannel
    from dispatcher.web.hooks import AccountScoped, EventReceiver

    return (Channel, Sender, CallbackReceiver, ContentDescriber, CampaignCheck,
            SignageChannel, VenueChannel, Previewer, ReachPoller, EventReceiver,
            AccountScoped, NonceBearer)


def _check_protocols(channel: Any) -> None:
    """A protocol is claimed by having any of its methods (beyond ChannelBase's defaults):
    then the channel must have all of them, and every method named like a protocol's
    must take the arguments the core passes."""
    for protocol in protocols():
        methods = _protocol_methods(protocol)
        present = [name for name in methods if hasattr(channel, name)]
        claimed = [name for name in present if not hasattr(ChannelBase, name)]
        missing = sorted(set(methods) - set(present))
        _require(not claimed or isinstance(channel, protocol), channel,
                 f"has {', '.join(claimed)} of {protocol.__name__} but not all of it "
                 f"(missing: {', '.join(missing) or 'an attribute'}); implement it all or none")
        for name in present:
            _check_arity(channel, protocol, name)


def _protocol_methods(protocol: type) -> list[str]:
    names: list[str] = []
    for base in protocol.__mro__:
        if getattr(base, "_is_protocol", False) and base is not Protocol:
            names += [name for name, value in vars(base).items() if not name.startswith("_")
                      and (callable(value) or isinstance(value, classmethod))]
    return names


def _check_arity(channel: Any, protocol: type, name: str) -> None:
    mine = getattr(channel, name)
    _require(callable(mine), channel, f"{name} shadows {protocol.__name__}.{name} with a "
                                      "value that is not a method")
    wanted = _signature(getattr(protocol, name), bound=isinstance(
        inspect.getattr_static(protocol, name), classmethod))
    have = inspect.signature(mine)
    need, most = _positional(wanted)
    takes_need, takes_most = _positional(have)
    keyword_only = [p.name for p in have.parameters.values()
                    if p.kind is p.KEYWORD_ONLY and p.default is p.empty]
    _require(takes_need <= need and takes_most >= most and not keyword_only, channel,
             f"{name}{have} does not take the arguments of {protocol.__name__}.{name}{wanted}"
             ", which the core passes")


def _signature(function: Callable[..., Any], *, bound: bool) -> inspect.Signature:
    signature = inspect.signature(function)
    if bound:
        return signature
    return signature.replace(parameters=list(signature.parameters.values())[1:])


def _positional(signature: inspect.Signature) -> tuple[int, float]:
    """How many positional arguments it needs, and how many it takes at most."""
    params = list(signature.parameters.values())
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    needed = sum(1 for p in positional if p.default is p.empty)
    spread = any(p.kind is p.VAR_POSITIONAL for p in params)
    return needed, math.inf if spread else len(positional)
