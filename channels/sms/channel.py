"""SMS through Twilio, Aliyun or Tencent Cloud: validation, planning, sending, receipts.

A placement goes through one account (``account = "NAME"``, else the table's own): a
Twilio account sends its ``body`` one message per call; an Aliyun or Tencent account
sends an approved ``template`` with ``params`` in batches (:mod:`channels.sms.providers`).

Validation and planning need no credentials: they only read ``max_segments`` from the
settings. ``SmsChannel()`` with no settings is therefore a working, unconfigured channel
that the core can use to check and plan campaigns on a machine without ``[channels.sms]``;
``SmsChannel.from_config(table)`` is the configured one that also sends. Its Twilio
client is built at the first send or lookup (secrets are read then), once, and shared by
the engine's sending threads (see :mod:`channels.sms.twilio_client`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Self

from channels.audience import got, parse_audience, planned_audience
from channels.base import (
    AccountLimits,
    BatchSender,
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
    Message,
    Placement,
    PlacementContent,
    Problem,
    PushedEvents,
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
from channels.once import Once
from channels.placement_checks import name_problem, text_problem, unknown_keys
from channels.sms import pushes
from channels.sms.content import content_facts, template_facts
from channels.sms.providers import TENCENT_REPORT_WAIT, SmsAccounts
from channels.sms.segments import LIMITS, SegmentCount, count_segments, first_non_gsm
from channels.sms.settings import (
    MAX_SEGMENTS,
    Account,
    SmsSettings,
    TwilioSettings,
    is_int,
    parse_settings,
)
from channels.sms.template_placements import (
    contact_fields,
    preview_params,
    template_problems,
)
from channels.sms.templates import count_chars
from channels.sms.twilio_callbacks import (
    TWILIO_STATES,
    inbound_from,
    receipts_from,
    verified_form,
)
from channels.sms.twilio_client import TwilioAccount

MAX_BODY_CHARS = 1600  # Twilio's limit for one message body
HANDED_TO_CARRIER = ("sent", "delivered", "undelivered")
MOBILE_LINE_TYPES = ("mobile", "fixed_line_or_mobile")
PLACEMENT_KEYS = ("account", "audience", "body", "max_segments", "name", "params",
                  "sign_name", "template")
TEMPLATE_KEYS = ("params", "sign_name", "template")


class SmsChannel(ChannelBase[SmsSettings]):
    """Text messages to contacts' mobile phones, counted and rate-limited in segments."""

    name: ClassVar[str] = "sms"
    capabilities: ClassVar[Capabilities] = Capabilities(person_addressed=True,
                                                        waits_for_send_window=True)
    unconfigured: ClassVar[str] = ("sending SMS needs a [channels.sms] table with a "
                                   "provider and its credentials")

    def __init__(self, settings: SmsSettings | None = None,
                 report_wait: timedelta = TENCENT_REPORT_WAIT) -> None:
        """``settings`` None: unconfigured, able to validate and plan but not to send.
        ``report_wait``: how long a Tencent status report may take (see
        :mod:`channels.sms.tencent_client`)."""
        self.settings = settings
        self._accounts = Once(lambda: SmsAccounts(self.configured(), report_wait))

    @classmethod
    def from_config(cls, table: Mapping[str, Any]) -> Self:
        return cls(parse_settings(table))

    @property
    def default_max_segments(self) -> int:
        return self.settings.max_segments if self.settings else MAX_SEGMENTS

    def validate(self, options: Mapping[str, Any], context: ValidationContext) -> list[Problem]:
        problems = unknown_keys(options, PLACEMENT_KEYS)
        problems += parse_audience(options.get("audience"), context)[1]
        account, problem = self._account_of(options)
        if problem:
            return [*problems, problem]
        if _uses_template(options, account):
            return problems + self._template_problems(options, account)
        problems += [Problem((key,), f"is for the Aliyun and Tencent platforms' templates; "
                                     f"account {_account_name(options)} sends Twilio bodies")
                     for key in TEMPLATE_KEYS if key in options]
        checked = {key: check(options.get(key)) for key, check in _OPTION_CHECKS.items()}
        problems += [Problem((key,), message) for key, message in checked.items() if message]
        if checked["body"] is None and checked["max_segments"] is None:
            problems += self._segment_problems(options["body"], options.get("max_segments"))
        return problems

    def _account_of(self, options: Mapping[str, Any]) -> tuple[Account | None, Problem | None]:
        """The placement's account (None when not configured here)."""
        name = options.get("account")
        if name is not None and not isinstance(name, str):
            return None, Problem(("account",), "must be the name of an account in "
                                               "[channels.sms.accounts]")
        if self.settings is None:
            return None, None
        if name is not None and name not in self.settings.accounts:
            known = ", ".join(sorted(self.settings.accounts))
            return None, Problem(("account",), f'"{name}" is not a configured SMS account; '
                                               f"known: {known}")
        return self.settings.account(name), None

    def _template_problems(self, options: Mapping[str, Any], account: Account | None
                           ) -> list[Problem]:
        problems = [] if "body" not in options else [Problem(
            ("body",), "the Aliyun and Tencent platforms send approved templates only: "
                       "write template and params instead of body")]
        problems += [Problem((key,), check) for key, check in (
            ("max_segments", _cap_problem(options.get("max_segments"))),
            ("name", name_problem(options.get("name")))) if check]
        cap = options.get("max_segments") if is_int(options.get("max_segments")) else None
        sign = getattr(account, "sign_name", None) if account else None
        templates = self.settings.templates if self.settings else None
        problems += template_problems(options, templates, sign if account else "",
                                      cap or self.default_max_segments)
        template = templates.get(str(options.get("template"))) if templates else None
        if template is not None and account is not None and \
                template.platform != account.provider:
            problems.append(Problem(("template",), f"is a {template.platform} template; "
                                                   f"account {_account_name(options)} sends "
                                                   f"through {account.provider}"))
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
        account = self.settings.account(placement.options.get("account")) \
            if self.settings else None
        if _uses_template(placement.options, account):
            facts = template_facts(placement.options, self.settings, account)
        else:
            facts = content_facts(placement.options, account, self.default_max_segments)
        return PlacementContent(facts, audience)

    # Sending (the Sender protocol) ------------------------------------------------------

    def message_cost(self, placement: Placement) -> int:
        """Twilio counts segments; the domestic platforms count calls (a batch is one)."""
        if _uses_template(placement.options, self._configured_account(placement)):
            return 1
        return count_segments(str(placement.options.get("body", ""))).segments

    def limits(self) -> SendLimits:
        """The default account's rate; calls in flight over every account."""
        settings = self.configured()
        limits = self.accounts().limits(Placement(0, self.name, {}))
        return limits._replace(concurrency=settings.concurrency)

    def account_limits(self, placement: Placement) -> SendLimits:
        """Per account: Twilio segments, or the platform's API calls, per second."""
        return self.accounts().limits(placement)

    def batch_size(self, placement: Placement) -> int:
        return self.accounts().batch_size(placement) if self.settings else 1

    def contact_fields(self, placement: Placement) -> tuple[str, ...]:
        return contact_fields(placement.options)

    def send_batch(self, messages: Sequence[Message]) -> list[SendResult]:
        """One call: a Twilio message, or a batch of a domestic template."""
        if isinstance(self.accounts().of(messages[0].placement), TwilioSettings):
            return [self.send(message) for message in messages]
        return self.accounts().send_batch(messages)

    def send(self, message: Message) -> SendResult:
        """One message. Twilio: ``Messages.create``, its errors as results: 429/20429
        ``retry`` (with ``Retry-After``), permanent codes ``failed`` (21610 and 30004 with
        ``opt_out``), 5xx and timeouts ``unknown``, no connection ``retry``."""
        account = self.accounts().of(message.placement)
        if not isinstance(account, TwilioSettings):
            return self.accounts().send_batch([message])[0]
        client: TwilioAccount = self.accounts().client(account)
        body = str(message.placement.options["body"])
        params: dict[str, Any] = {"to": message.address, "body": body}
        if account.sender is not None:
            params["from_"] = account.sender
        else:
            params["messaging_service_sid"] = account.messaging_service_sid
        if account.status_callback and message.callback_url:
            params["status_callback"] = message.callback_url
        units = max(1, count_segments(body).segments)
        return client.create(message.delivery_id, params, units)

    def lookup(self, message: Message, since: datetime) -> LookupResult:
        """Whether the provider has this message since ``since`` (naive means UTC).
        Twilio: a message to this address with this body; Aliyun and Tencent: one of this
        run to this number. Errors raise: the engine asks again later rather than guess."""
        account = self.accounts().of(message.placement)
        if not isinstance(account, TwilioSettings):
            return self.accounts().lookup(message, since)
        client: TwilioAccount = self.accounts().client(account)
        body = str(message.placement.options["body"])
        found = client.find(message.address, body, since)
        if found is None:
            return LookupResult(found=False)
        code = None if found.error_code is None else str(found.error_code)
        return LookupResult(found=True, provider_ref=found.sid,
                            state=TWILIO_STATES.get(found.status, "sent"), code=code)

    def accounts(self) -> SmsAccounts:
        """The channel's accounts and their clients, built on first use (thread-safe)."""
        return self._accounts.get()

    def twilio(self) -> TwilioAccount:
        """The default account's Twilio client."""
        return self.accounts().twilio()

    def _configured_account(self, placement: Placement) -> Account | None:
        if self.settings is None:
            return None
        return self.settings.accounts.get(placement.options.get("account") or "default")

    # Receipts ------------------------------------------------------------------------------

    def parse_callback(self, request: CallbackRequest) -> list[Receipt]:
        return receipts_from(verified_form(self.settings, request), request.url)

    def parse_inbound(self, request: CallbackRequest) -> InboundMessage:
        return inbound_from(verified_form(self.settings, request))

    def push_accounts(self) -> list[str]:
        """Aliyun and Tencent accounts: their platforms push receipts and replies."""
        accounts = self.settings.accounts if self.settings else {}
        return [n for n, a in accounts.items() if not isinstance(a, TwilioSettings)]

    def parse_push(self, request: CallbackRequest, account: str, kind: str, token: str
                   ) -> PushedEvents:
        """An Aliyun or Tencent push to this account's URL (the PushReceiver protocol):
        SignatureError for a wrong token or address, MalformedRequest for a bad body."""
        found = self.settings.accounts.get(account) if self.settings else None
        if found is None or isinstance(found, TwilioSettings):
            raise SignatureError("no Aliyun or Tencent SMS account by that name")
        pushes.authenticate(found, token, request.client)
        return pushes.parse_push(found, kind, request)

    def reach(self, placement: Placement, states: Mapping[str, int],
              reports: Mapping[str, int]) -> dict[str, ReachFigure]:
        """Messages the carrier took (sent, delivered or undelivered), and their segments."""
        messages = rows_in(states, HANDED_TO_CARRIER)
        per_message = self._parts(placement)
        return {
            "message_times": ReachFigure(messages, "computed", "rows sent, delivered or "
                                         "undelivered (gross: one per message, not per person)"),
            "segments": ReachFigure(messages * per_message, "computed",
                                    f"message_times x {per_message} segment(s) per message"),
        }

    def _parts(self, placement: Placement) -> int:
        """Segments (Twilio) or billed parts (70/67 characters, signature included) of one
        message; a template's contact fields are counted at their sample values."""
        account = self._configured_account(placement)
        if not _uses_template(placement.options, account):
            return count_segments(str(placement.options.get("body", ""))).segments
        template = self.settings.templates.get(str(placement.options.get("template"))) \
            if self.settings else None
        if template is None:
            return 1
        sign = str(placement.options.get("sign_name") or getattr(account, "sign_name", ""))
        return count_chars(template.render(preview_params(placement.options.get(
            "params", {}))), sign).parts


def _uses_template(options: Mapping[str, Any], account: Account | None) -> bool:
    """A domestic account's placement; without settings, one that names a template."""
    if account is not None:
        return not isinstance(account, TwilioSettings)
    return "template" in options


def _account_name(options: Mapping[str, Any]) -> str:
    return str(options.get("account") or "default")


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


if TYPE_CHECKING:  # mypy checks that the plugin has each protocol it claims
    _channel: type[Channel] = SmsChannel
    _sender: type[Sender] = SmsChannel
    _batches: type[BatchSender] = SmsChannel
    _accounts: type[AccountLimits] = SmsChannel
    _receiver: type[CallbackReceiver] = SmsChannel
    _describer: type[ContentDescriber] = SmsChannel
