"""A WeChat placement: its options, its delivery rows and the API request of each row.

A mass send (``msgtype`` text, image or mpnews) reaches many followers in one request, so
its delivery row is the request, not a person: one row for all followers, one per tag,
and one per batch of 2 to 10,000 openids. A template message goes to one follower per
request, so its rows are openids. Row addresses name the placement, so two placements to
all followers are two broadcasts, never duplicates of each other::

    all@0            placement 0 to all followers
    tag:100@1        placement 1 to tag 100
    openids:2/3@2    placement 2, the second of its three openid batches
    oAbC...          a template message's follower
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from channels.base import ContentFact, Placement, Problem, Target, toml_value, type_name
from channels.placement_checks import name_problems, unknown_keys

MASS_TYPES = ("text", "image", "mpnews")
MSG_TYPES = (*MASS_TYPES, "template")
PLACEMENT_KEYS = ("audience", "content", "data", "media_id", "msgtype", "name",
                  "send_ignore_reprint", "template_id", "url")
AUDIENCE_KEYS = ("all", "tags", "openids")
MAX_OPENIDS = 10_000  # per message/mass/send request
MIN_OPENIDS = 2
MAX_TEXT = 2048  # characters of a text broadcast
OPENID = re.compile(r"[A-Za-z0-9_-]{20,64}")
_JOB = re.compile(r"(all|tag:(\d+)|openids:(\d+)/(\d+))@(\d+)")
_KEY_SPAN = 1 << 24  # job sort keys: placement index * span + job number


@dataclass(frozen=True)
class Job:
    """One mass-send request of a placement, as its row address names it."""

    kind: str  # "all", "tag" or "openids"
    tag: int | None = None
    batch: int = 0  # 1-based for openid batches
    batches: int = 0


def is_mass(options: Mapping[str, Any]) -> bool:
    return options.get("msgtype") in MASS_TYPES


# Validation ----------------------------------------------------------------------------


def problems(options: Mapping[str, Any]) -> list[Problem]:
    """Every problem with one placement's options (no I/O)."""
    found = unknown_keys(options, PLACEMENT_KEYS)
    msgtype = options.get("msgtype")
    if msgtype not in MSG_TYPES:
        what = "is required" if msgtype is None else f"is {toml_value(msgtype)}"
        return [*found, Problem(("msgtype",), f"{what}; allowed: " + ", ".join(MSG_TYPES))]
    found += _content_problems(str(msgtype), options)
    found += _audience_problems(str(msgtype), options.get("audience"))
    found += name_problems(options)
    return found


_NEEDS = {"text": ("content",), "image": ("media_id",), "mpnews": ("media_id",),
          "template": ("template_id", "data")}
_ALLOWS = {"text": ("content",), "image": ("media_id",),
           "mpnews": ("media_id", "send_ignore_reprint"),
           "template": ("template_id", "data", "url")}


def _content_problems(msgtype: str, options: Mapping[str, Any]) -> list[Problem]:
    found = []
    for key in ("content", "media_id", "template_id", "data", "url", "send_ignore_reprint"):
        present = key in options
        if key in _NEEDS[msgtype] and not present:
            found.append(Problem((key,), f'is required for msgtype = "{msgtype}"'))
        elif present and key not in _ALLOWS[msgtype]:
            users = [t for t, keys in _ALLOWS.items() if key in keys]
            found.append(Problem((key,), f'is not used by msgtype = "{msgtype}" (only by '
                                         + ", ".join(f'"{t}"' for t in users) + ")"))
    for key in ("content", "media_id", "template_id", "url"):
        value = options.get(key)
        if key in options and (not isinstance(value, str) or not value.strip()):
            found.append(Problem((key,), f"must be a non-empty string, got {type_name(value)}"))
    content = options.get("content")
    if isinstance(content, str) and len(content) > MAX_TEXT:
        found.append(Problem(("content",), f"is {len(content)} characters, more than "
                                           f"{MAX_TEXT} (the most one text broadcast holds)"))
    if "data" in options:
        found += _data_problems(options["data"])
    ignore = options.get("send_ignore_reprint", False)
    if not isinstance(ignore, bool):
        found.append(Problem(("send_ignore_reprint",), "must be true or false"))
    return found


def _data_problems(data: Any) -> list[Problem]:
    if not isinstance(data, dict) or not data:
        return [Problem(("data",), "must be a table of the template's fields, such as "
                                   'data = { first = "Notice", remark = "Call 110" }')]
    return [Problem(("data", key), "must be a string (the field's value)")
            for key, value in data.items() if not isinstance(value, str)]


def _audience_problems(msgtype: str, audience: Any) -> list[Problem]:
    example = ('audience = { all = true }, { tags = [100] } or { openids = ["o...", ...] }')
    if not isinstance(audience, dict):
        return [Problem(("audience",), f"is required: {example}")]
    unknown = [Problem(("audience", k), "unknown key; allowed: " + ", ".join(AUDIENCE_KEYS))
               for k in audience if k not in AUDIENCE_KEYS]
    given = [k for k in AUDIENCE_KEYS if k in audience]
    if len(given) != 1:
        return [*unknown, Problem(("audience",), f"must name exactly one of all, tags or "
                                                 f"openids: {example}")]
    kind = given[0]
    if msgtype == "template" and kind != "openids":
        return [*unknown, Problem(("audience", kind), "a template message goes to listed "
                                  "followers one by one: use openids = [...]")]
    return unknown + _audience_value_problems(kind, audience[kind], msgtype)


def _audience_value_problems(kind: str, value: Any, msgtype: str) -> list[Problem]:
    if kind == "all":
        return [] if value is True else [Problem(("audience", "all"), "must be true")]
    if kind == "tags":
        good = isinstance(value, list) and value and all(
            isinstance(t, int) and not isinstance(t, bool) and t >= 0 for t in value)
        if not good:
            return [Problem(("audience", "tags"), "must be a list of tag ids (integers from "
                                                  "the account's tags), such as [100, 101]")]
        return [] if len(set(value)) == len(value) else [
            Problem(("audience", "tags"), "lists a tag twice")]
    return _openid_problems(value, msgtype)


def _openid_problems(value: Any, msgtype: str) -> list[Problem]:
    least = MIN_OPENIDS if msgtype in MASS_TYPES else 1
    if not isinstance(value, list) or len(value) < least:
        return [Problem(("audience", "openids"), f"must be a list of at least {least} "
                        "openids (a mass send goes to 2 to 10,000 per request)")]
    found = []
    seen: set[str] = set()
    for i, openid in enumerate(value):
        if not isinstance(openid, str) or not OPENID.fullmatch(openid):
            found.append(Problem(("audience", "openids", i), f"{toml_value(openid)} is not "
                                 "an openid (20-64 letters, digits, _ or -)"))
        elif openid in seen:
            found.append(Problem(("audience", "openids", i), f"{openid} is listed twice"))
        seen.add(str(openid))
    return found


# Rows ----------------------------------------------------------------------------------


def jobs(options: Mapping[str, Any]) -> list[Job]:
    """The mass-send requests one firing of a mass placement makes."""
    audience = options["audience"]
    if "all" in audience:
        return [Job("all")]
    if "tags" in audience:
        return [Job("tag", tag=int(t)) for t in audience["tags"]]
    count = batch_count(len(audience["openids"]))
    return [Job("openids", batch=n, batches=count) for n in range(1, count + 1)]


def batch_count(openids: int) -> int:
    return -(-openids // MAX_OPENIDS)


def batch(openids: Sequence[str], number: int, batches: int) -> list[str]:
    """The ``number``-th (1-based) of ``batches`` near-equal slices: each has at least 2
    openids when the list has, and at most 10,000."""
    size, extra = divmod(len(openids), batches)
    start = (number - 1) * size + min(number - 1, extra)
    return list(openids[start:start + size + (1 if number <= extra else 0)])


def job_address(job: Job, placement: int) -> str:
    if job.kind == "all":
        return f"all@{placement}"
    if job.kind == "tag":
        return f"tag:{job.tag}@{placement}"
    return f"openids:{job.batch}/{job.batches}@{placement}"


def parse_job(address: str) -> Job | None:
    """The job a row address names; None for a template row (an openid)."""
    match = _JOB.fullmatch(address)
    if match is None:
        return None
    if match.group(1) == "all":
        return Job("all")
    if match.group(2) is not None:
        return Job("tag", tag=int(match.group(2)))
    return Job("openids", batch=int(match.group(3)), batches=int(match.group(4)))


def targets(placement: Placement) -> Iterator[Target]:
    """A placement's rows in ascending sort key: job numbers for mass sends; for template
    messages the openid's bytes as a number (equal only for equal openids)."""
    options = placement.options
    if is_mass(options):
        for number, job in enumerate(jobs(options)):
            yield Target(sort_key=placement.index * _KEY_SPAN + number,
                         address=job_address(job, placement.index))
        return
    keyed = sorted((int.from_bytes(o.encode(), "big"), o) for o in options["audience"]["openids"])
    for key, openid in keyed:
        yield Target(sort_key=key, address=openid)


# Requests ------------------------------------------------------------------------------


def content(options: Mapping[str, Any]) -> dict[str, Any]:
    """The message part of a mass-send or preview request."""
    msgtype = str(options["msgtype"])
    if msgtype == "text":
        return {"msgtype": "text", "text": {"content": options["content"]}}
    body: dict[str, Any] = {"msgtype": msgtype, msgtype: {"media_id": options["media_id"]}}
    if msgtype == "mpnews":
        body["send_ignore_reprint"] = int(bool(options.get("send_ignore_reprint", False)))
    return body


def mass_request(options: Mapping[str, Any], job: Job, clientmsgid: str
                 ) -> tuple[str, dict[str, Any]]:
    """(API path, body) of one job, in the current request shape (``filter.tag_id``:
    wechatpy 1.8's helpers still send the retired ``group_id``)."""
    body = {**content(options), "clientmsgid": clientmsgid}
    if job.kind == "all":
        return "message/mass/sendall", {"filter": {"is_to_all": True}, **body}
    if job.kind == "tag":
        return "message/mass/sendall", {"filter": {"is_to_all": False, "tag_id": job.tag},
                                        **body}
    openids = batch(options["audience"]["openids"], job.batch, job.batches)
    return "message/mass/send", {"touser": openids, **body}


def template_request(options: Mapping[str, Any], openid: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "touser": openid, "template_id": options["template_id"],
        "data": {key: {"value": value} for key, value in options["data"].items()}}
    if options.get("url"):
        body["url"] = options["url"]
    return body


def preview_request(options: Mapping[str, Any], to: str) -> dict[str, Any]:
    """A preview to a WeChat ID (``towxname``) or an openid (``touser``)."""
    key = "touser" if OPENID.fullmatch(to) and to.startswith("o") else "towxname"
    return {key: to, **content(options)}


# Review --------------------------------------------------------------------------------


def content_facts(options: Mapping[str, Any]) -> tuple[ContentFact, ...]:
    """What one validated placement sends, for the approver: its msgtype, the text or the
    material's media_id, or the template and its fields; to whom; in how many requests."""
    msgtype = str(options["msgtype"])
    facts = [ContentFact("msgtype", msgtype)]
    if msgtype == "text":
        text = str(options["content"])
        facts += [ContentFact("text", text), ContentFact("characters", len(text))]
    elif msgtype in ("image", "mpnews"):
        facts.append(ContentFact("media_id", str(options["media_id"])))
        if msgtype == "mpnews":
            facts.append(ContentFact("send_ignore_reprint",
                                     bool(options.get("send_ignore_reprint", False))))
    else:
        facts.append(ContentFact("template_id", str(options["template_id"])))
        facts.append(ContentFact("template_fields", (("field", "value"), *(
            (str(key), str(value)) for key, value in options["data"].items()))))
        if options.get("url"):
            facts.append(ContentFact("url", str(options["url"])))
    return (*facts, *_audience_facts(options))


def _audience_facts(options: Mapping[str, Any]) -> list[ContentFact]:
    audience = options["audience"]
    if "all" in audience:
        facts = [ContentFact("to_all", True)]
    elif "tags" in audience:
        facts = [ContentFact("tags", ", ".join(str(tag) for tag in audience["tags"]))]
    else:
        facts = [ContentFact("openids", len(audience["openids"]))]
    requests = len(jobs(options)) if is_mass(options) else len(audience["openids"])
    return [*facts, ContentFact("requests", requests)]
