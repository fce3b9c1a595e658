"""SMS through Twilio: settings, placement validation, planning, sending and receipts.

Validation and planning need no credentials: they only read ``max_segments`` from the
settings. ``SmsChannel()`` with no settings is therefore a working, unconfigured channel
that the core can use to check and plan campaigns on a machine without ``[channels.sms]``;
``SmsChannel.from_config(table)`` is the configured one that also sends. Its Twilio
client is built at the first send or lookup (secrets are read then), once, and shared by
the engine's sending threads (see :mod:`channels.sms.twilio_client`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self
from urllib.parse import parse_qs, urlsplit

from twilio.request_validator import RequestValidator

from channels.audience import got, parse_audience, planned_audience
from channels.base import (
    CallbackReceiver,
    CallbackRequest,
    Capabilities,
    Channel,
    ChannelBase,
    Contact,
    ContentDescriber,
    InboundMessage,
    Inventory,
    LookupResult,
    MalformedRequest,
    Message,
    Placement,
    PlacementContent,
    Problem,
    ReachFigure,
    Receipt,
    Sender,
    SendLimits,
    SendResult,
    SignatureError,
    Target,
    ValidationContext,
    rows_in,
)
from channels.delivery_ids import DELIVERY_PARAM, parse_delivery_id, shown
from channels.once import Once
from channels.placement_checks import name_problem, text_problem, unknown_keys
from channels.sms.content import content_facts
from channels.sms.segments import LIMITS, SegmentCount, count_segments, first_non_gsm
from channels.sms.settings import MAX_SEGMENTS, SmsSettings, is_int, parse_settings
from channels.sms.twilio_client import OPT_OUT_CODES, TwilioAccount

MAX_BODY_CHARS = 1600  # Twilio's limit for one message body
HANDED_TO_CARRIER = ("sent", "delivered", "undelivered")
MOBILE_LINE_TYPES = ("mobile", "fixed_line_or_mobile")
PLACEMENT_KEYS = ("audience", "body", "max_segments", "name")


class SmsChannel(ChannelBase[SmsSettings]):
    """Text messages to contacts' mobile phones, counted and rate-limited in segments."""

    name: ClassVar[str] = "sms"
    capabilities: ClassVar[Capabilities] = Capabilities(person_addressed=True,
                                                        waits_for_send_window=True)
    unconfigured: ClassVar[str] = ("sending SMS needs a [channels.sms] table with "
                                   "account_sid, auth_token and from")

    def __init__(self, settings: SmsSettings | None = None) -> None:
        """``settings`` None: unconfigured, able to validate and plan but not to send."""
        self.settings = settings
        self._account = Once(lambda: TwilioAccount(self.configured()))

    @classmethod
    def from_config(cls, table: Mapping[str, Any]) -> Self:
        return cls(parse_settings(table))

    @property
    def default_max_segments(self) -> int:
        return self.settings.max_segments if self.settings else MAX_SEGMENTS

    def validate(self, options: Mapping[str, Any], context: ValidationContext) -> list[Problem]:
        problems = unknown_keys(options, PLACEMENT_KEYS)
        problems += parse_audience(options.get("audience"), context)[1]
        checked = {key: check(options.get(key)) for key, check in _OPTION_CHECKS.items()}
        problems += [Problem((key,), message) for key, message in checked.items() if message]
        if checked["body"] is None and checked["max_segments"] is None:
            problems += self._segment_problems(options["body"], options.get("max_segments"))
        return problems

    def _segment_problems(self, body: str, cap: int | None) -> list[Problem]:
        count = count_segments(body)
        limit = self.default_max_segments if cap is None else cap
        if count.segments <= limit:
            return []
        origin = " (the default)" if cap is None else ""
        return [Problem(("body",), f"is {_describe(count, body)}, more than max_segments = "
                                   f"{limit}{origin}; shorten it or raise max_segments "
                                   f"({_rules(count)})")]

    def targets(self, placement: Placement, inventory: Inventory) -> Iterator[Target]:
        for contact in inventory.contacts(planned_audience(placement), self.name):
            reason, detail = _skip(contact)
            yield Target(sort_key=contact.id, address=contact.phone, contact_id=contact.id,
                         skip_reason=reason,
                         detail=detail, copies=contact.memberships)

    def describe(self, placement: Placement, inventory: Inventory) -> PlacementContent:
        """The body as the phone shows it, its sender, encoding and segments, and the
        audience (the ContentDescriber protocol)."""
        audience = parse_audience(placement.options.get("audience"), ValidationContext())[0]
        return PlacementContent(content_facts(placement.options, self.settings,
                                              self.default_max_segments), audience)

    # Sending (the Sender protocol) ------------------------------------------------------

    def message_cost(self, placement: Placement) -> int:
        return count_segments(str(placement.options.get("body", ""))).segments

    def limits(self) -> SendLimits:
        """Per Twilio account: segments per second, and its calls in flight at once."""
        settings = self.configured()
        sid = settings.account_sid
        return SendLimits(f"twilio:{sid if isinstance(sid, str) else sid.reveal()}",
                          settings.rate, settings.concurrency)

    def send(self, message: Message) -> SendResult:
        """One ``Messages.create``. Twilio's errors become results: 429/20429 ``retry``
        (with ``Retry-After``), permanent codes ``failed`` (21610 and 30004 with
        ``opt_out``), 5xx and timeouts ``unknown``, no connection ``retry``."""
        account, settings = self.twilio(), self.configured()
        body = str(message.placement.options["body"])
        params: dict[str, Any] = {"to": message.address, "body": body}
        if settings.sender is not None:
            params["from_"] = settings.sender
        else:
            params["messaging_service_sid"] = settings.messaging_service_sid
        if settings.status_callback and message.callback_url:
            params["status_callback"] = message.callback_url
        units = max(1, count_segments(body).segments)
        return account.create(message.delivery_id, params, units)

    def lookup(self, message: Message, since: datetime) -> LookupResult:
        """Whether Twilio has a message to this address with this body created at or after
        ``since`` (naive means UTC). Errors raise (TwilioException, requests'
        RequestException): the engine asks again later rather than guess."""
        body = str(message.placement.options["body"])
        found = self.twilio().find(message.address, body, since)
        if found is None:
            return LookupResult(found=False)
        code = None if found.error_code is None else str(found.error_code)
        return LookupResult(found=True, provider_ref=found.sid,
                            state=TWILIO_STATES.get(found.status, "sent"), code=code)

    def twilio(self) -> TwilioAccount:
        """The channel's one Twilio client, built on first use (thread-safe)."""
        return self._account.get()

    # Receipts ------------------------------------------------------------------------------

    def parse_callback(self, request: CallbackRequest) -> list[Receipt]:
        return receipts_from(verified_form(self.settings, request), request.url)

    def parse_inbound(self, request: CallbackRequest) -> InboundMessage:
        return inbound_from(verified_form(self.settings, request))

    def reach(self, placement: Placement, states: Mapping[str, int],
              reports: Mapping[str, int]) -> dict[str, ReachFigure]:
        """Messages the carrier took (sent, delivered or undelivered), and their segments."""
        messages = rows_in(states, HANDED_TO_CARRIER)
        per_message = count_segments(str(placement.options.get("body", ""))).segments
        return {
            "message_times": ReachFigure(messages, "computed", "rows sent, delivered or "
                                         "undelivered (gross: one per message, not per person)"),
            "segments": ReachFigure(messages * per_message, "computed",
                                    f"message_times x {per_message} segment(s) per message"),
        }


def _skip(contact: Contact) -> tuple[str | None, str | None]:
    if contact.opted_out:
        return "opted_out", None
    if contact.line_type not in MOBILE_LINE_TYPES:
        return "invalid", f"not a mobile number ({contact.line_type})"
    return None, None


# Placement options: each check returns what is wrong with a value (None: absent or good).

def _body_problem(value: Any) -> str | None:
    return text_problem(value, 'the message text, such as body = "Report crime: call 110"',
                        MAX_BODY_CHARS, " (the most one message can hold)")


def _cap_problem(value: Any) -> str | None:
    if value is None:
        return None
    if not is_int(value):
        return f"must be an integer from 1 to {MAX_SEGMENTS}, {got(value)}"
    if not 1 <= value <= MAX_SEGMENTS:
        return f"must be an integer from 1 to {MAX_SEGMENTS}, got {value}"
    return None


def _describe(count: SegmentCount, body: str) -> str:
    """``3 segments (UCS-2 because of "中", 150 characters)``"""
    why = ""
    if count.encoding == "UCS-2":
        char = first_non_gsm(body) or ""
        why = f' because of "{char}"' if char.isprintable() else f" because of U+{ord(char):04X}"
    return f"{count.segments} segments ({count.encoding}{why}, {count.units} characters)"


def _rules(count: SegmentCount) -> str:
    single, part = LIMITS[count.encoding]
    double = "each of ^ { } \\ [ ] ~ | € counts as 2" if count.encoding == "GSM-7" else (
        "an emoji counts as 2")
    return (f"{count.encoding}: {single} characters in one segment, {part} per segment "
            f"when split; {double}")


_OPTION_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "body": _body_problem, "max_segments": _cap_problem, "name": name_problem}


# Receipts and replies ----------------------------------------------------------------

# Twilio's message statuses as our delivery states (DESIGN.md "Delivery states").
TWILIO_STATES: dict[str, Literal["sent", "delivered", "undelivered", "failed"]] = {
    "accepted": "sent", "scheduled": "sent", "queued": "sent", "sending": "sent",
    "sent": "sent", "delivered": "delivered", "read": "delivered",
    "undelivered": "undelivered", "failed": "failed", "canceled": "failed",
}
OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "TD",
                           "退订", "取消订阅"})
OPT_OUT_CODE_TEXTS = frozenset(str(code) for code in OPT_OUT_CODES)
# What a row holds (Twilio's SIDs are 34 characters, its error codes 5 digits).
MAX_SID_CHARS = 64
MAX_CODE_CHARS = 32
SENDER = re.compile(r"\+?[0-9]{3,15}", re.ASCII)  # a reply's From: E.164, or a national number


def verified_form(settings: SmsSettings | None, request: CallbackRequest) -> Mapping[str, str]:
    """The form of a request whose X-Twilio-Signature matches; SignatureError otherwise."""
    if settings is None:
        raise SignatureError("the sms channel is not configured: no auth token to check with")
    signature = _header(request.headers, "X-Twilio-Signature")
    validator = RequestValidator(settings.auth_token.reveal())
    if not signature or not validator.validate(request.url, dict(request.form), signature):
        raise SignatureError("X-Twilio-Signature is missing or does not match")
    return request.form


def receipts_from(form: Mapping[str, str], url: str) -> list[Receipt]:
    """The status callback as a receipt (none for a status we do not track).

    The URL is signed with the form, so a ``d`` that is not a delivery id, or a
    MessageSid or ErrorCode longer than a row holds, is malformed (MalformedRequest).
    """
    status = (form.get("MessageStatus") or form.get("SmsStatus") or "").lower()
    ref = form.get("MessageSid") or form.get("SmsSid")
    state = TWILIO_STATES.get(status)
    if state is None or not ref:
        return []
    code = form.get("ErrorCode") or None
    _check_length("MessageSid", ref, MAX_SID_CHARS)
    _check_length("ErrorCode", code or "", MAX_CODE_CHARS)
    return [Receipt(provider_ref=ref, state=state, delivery_id=_delivery_id(url), code=code,
                    detail=f"twilio {status}", opt_out=code in OPT_OUT_CODE_TEXTS)]


def inbound_from(form: Mapping[str, str]) -> InboundMessage:
    """The reply; MalformedRequest when From is not a phone number (E.164: at most 15
    digits), such as a 30-digit number, ``1e30`` or a number after a NUL."""
    sender = form.get("From", "")
    if not SENDER.fullmatch(sender):  # not echoed: it may be most of a phone number
        raise MalformedRequest("From must be the sender's phone number, + and 3 to 15 "
                               f"digits; got {len(sender)} characters that are not")
    body = form.get("Body", "")
    return InboundMessage(address=sender, body=body,
                          opt_out=body.strip().upper() in OPT_OUT_WORDS)


def _delivery_id(url: str) -> int | None:
    """The StatusCallback URL's ``d`` (None without one)."""
    values = parse_qs(urlsplit(url).query).get(DELIVERY_PARAM, [])
    if not values:
        return None
    if len(values) > 1:
        raise MalformedRequest(f"the callback URL carries {DELIVERY_PARAM} {len(values)} "
                               "times; expected one delivery id")
    return parse_delivery_id(values[0], f"the callback URL's {DELIVERY_PARAM}")


def _check_length(name: str, value: str, limit: int) -> None:
    if len(value) > limit:
        raise MalformedRequest(f"{name} is {len(value)} characters, more than {limit}; "
                               f"got {shown(value)}")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lowered), None)


if TYPE_CHECKING:  # mypy checks that the plugin has each protocol it claims
    _channel: type[Channel] = SmsChannel
    _sender: type[Sender] = SmsChannel
    _receiver: type[CallbackReceiver] = SmsChannel
    _describer: type[ContentDescriber] = SmsChannel
