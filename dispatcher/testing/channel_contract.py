"""The channel contract, checked: :func:`check_channel` runs a plugin through what the
core will ask of it, in the plugin's own tests (docs/writing-a-channel.md)."""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable, Iterator, Mapping
from itertools import pairwise
from typing import Any, Protocol, TypeVar, get_args

from channels.base import (
    SKIP_REASONS,
    AccountLimits,
    BatchSender,
    CallbackReceiver,
    CampaignCheck,
    Capabilities,
    Channel,
    ChannelBase,
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
    type_name,
)
from dispatcher.testing.inventory import SampleInventory, inventory_context, sample_inventory

T = TypeVar("T")

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
    inventory = inventory or sample_inventory()
    for channel in channels:
        _check_validate(channel, options, inventory)
        _check_targets(channel, placement, inventory)
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
    if isinstance(channel, BatchSender):
        size = _calling(channel, "batch_size", lambda: channel.batch_size(placement))
        _require(type(size) is int and size >= 1, channel,
                 f"batch_size must be a whole number of at least 1, got {size!r}")
        fields = _calling(channel, "contact_fields", lambda: channel.contact_fields(placement))
        _require(isinstance(fields, tuple) and all(isinstance(f, str) for f in fields),
                 channel, f"contact_fields must be a tuple of field names, got {fields!r}")
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
    from dispatcher.web.hooks import AccountScoped, EventReceiver, PushReceiver

    return (Channel, Sender, BatchSender, AccountLimits, CallbackReceiver, ContentDescriber,
            CampaignCheck, SignageChannel, VenueChannel, Previewer, ReachPoller,
            EventReceiver, PushReceiver, AccountScoped, NonceBearer)


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
